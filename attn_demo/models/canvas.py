"""The canvas generator: a periodic, fully convolutional SAGAN that paints any size (issue #22).

Its input is a field of latents on a coarse grid, one local latent per cell
of `cell` pixels (ModelConfig.cell: 16 px for the first canvases, 8 for a finer field), with a global latent broadcast to every cell (as
PSGAN does), so a canvas of w x h cells is (w * cell) x (h * cell) pixels:

    field (B, z_local + z_dim, h, w) -> 1x1 conv -> up-blocks (nearest x2, [blur,] [+ noise,] 3x3 convs)
        -> self-attention at the sizes of `g_attn` (the field's own too) -> BN-ReLU-conv -> tanh

With `g_global` off the generator ignores the field's global part: the class alone sets what
a whole canvas shares, and distant cells agree only through attention over the field.

With `g_noise` the field also carries g_noise * cell^2 values per cell after the z_local ones
(ModelConfig.local_values): pixel-shuffled, they are one noise value per canvas pixel, which
every up-block adds at its own size (averaged over the pixels a feature covers, scaled back to
unit variance), so fine detail has a source with no grid and still moves with its cell.

Every 3x3 convolution pads by wrapping around (`TilingConv2d`), nearest
upsampling and 1x1 convolutions touch no border, and self-attention has no
positional term: the generator is periodic by construction, so a canvas tiles
exactly. `set_tiling` switches the wrap at render time: both axes (a tile),
x only (a band around a cylinder: y pads by reflection) or none. Training always
wraps both axes, on random crops of tiling textures, with the SAGAN
discriminator (networks.Discriminator) on crops of `resolution` pixels.

`ModelConfig.resolution` is the training crop size; `g_sizes` are the feature
sizes of such a crop (its field is resolution / cell cells square).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import SelfAttention2d
from .config import ModelConfig
from .latents import z_from_seed
from .layers import UpBlock, _sn

TILINGS = ("both", "x", "none")
# Serving canvases over STRIP_ABOVE pixels paints the stages after the last attention layer in row
# strips of about STRIP_PIXELS output pixels each, with STRIP_HALO rows of context (issue #22: a
# 2048 x 2048 canvas in under 2 GB).
STRIP_ABOVE = 1 << 20
STRIP_PIXELS = 1 << 20
STRIP_HALO = 4


class TilingConv2d(nn.Conv2d):
    """A convolution whose padding wraps around in both axes, in x only, or in neither; an edge that does
    not wrap is padded by reflection (zeros, which training never shows the model, draw stripes
    along the edge: measured on the texture model, 2026-12-06)."""

    tiling = "both"

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        p = self.kernel_size[0] // 2
        if p:
            if self.tiling == "both":
                x = F.pad(x, (p, p, p, p), mode="circular")
            elif self.tiling == "x":
                x = _edge_pad(F.pad(x, (p, p, 0, 0), mode="circular"), (0, 0, p, p))
            else:
                x = _edge_pad(x, (p, p, p, p))
        return F.conv2d(x, weight, bias, self.stride, 0, self.dilation, self.groups)


def _edge_pad(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """Reflection padding; replication where a side is too short to reflect (a canvas one cell high)."""
    short = (pad[0] and x.shape[-1] <= pad[0]) or (pad[2] and x.shape[-2] <= pad[2])
    return F.pad(x, pad, mode="replicate" if short else "reflect")


def tiling_conv(cin: int, cout: int, kernel: int = 3, bias: bool = True) -> nn.Module:
    return _sn(TilingConv2d(cin, cout, kernel, padding=0, bias=bias))


class TilingBlur(nn.Module):
    """A fixed [1, 2, 1] x [1, 2, 1] / 16 blur of every channel, padded as the canvas tiles (wrapping, or
    reflecting at an edge that does not wrap): after nearest upsampling it removes the grid's fixed
    imprint (issue #36) and keeps the canvas periodic and shift-equivariant by whole cells."""

    tiling = "both"

    def __init__(self):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("kernel", (k[:, None] * k[None, :] / 16).view(1, 1, 3, 3), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tiling == "both":
            x = F.pad(x, (1, 1, 1, 1), mode="circular")
        elif self.tiling == "x":
            x = _edge_pad(F.pad(x, (1, 1, 0, 0), mode="circular"), (0, 0, 1, 1))
        else:
            x = _edge_pad(x, (1, 1, 1, 1))
        c = x.shape[1]
        return F.conv2d(x, self.kernel.to(x.dtype).expand(c, 1, 3, 3), groups=c)


class CanvasGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.z_local < 1:
            raise ValueError("a canvas generator needs local latents (ModelConfig.z_local >= 1)")
        self.cfg = cfg
        sizes, chans = cfg.g_sizes(), cfg.g_channels()
        self.stem = tiling_conv(cfg.z_local + (cfg.z_dim if cfg.g_global else 0), chans[0], kernel=1)
        self.blocks = nn.ModuleList()
        self.attn = nn.ModuleDict()
        if sizes[0] in cfg.g_attn:
            # attention over the field itself (with a fine cell), keys not pooled: a field may be an odd
            # number of cells, and a shift by one cell would move a 2x2 pooling grid
            self.attn[str(sizes[0])] = SelfAttention2d(chans[0], **{**cfg.attention_options(), "pool": False})
        for i in range(cfg.g_up):
            self.blocks.append(UpBlock(chans[i], chans[i + 1], cfg.num_classes, conv=tiling_conv,
                                       blur=TilingBlur() if cfg.g_blur else None, noise=cfg.g_noise))
            if sizes[i + 1] in cfg.g_attn:
                self.attn[str(sizes[i + 1])] = SelfAttention2d(chans[i + 1], **cfg.attention_options())
        self.out_bn = nn.BatchNorm2d(chans[-1])
        self.out_conv = tiling_conv(chans[-1], 3)

    @property
    def cell(self) -> int:
        """Pixels per latent cell along each axis."""
        return 2 ** self.cfg.g_up

    def set_tiling(self, tiling: str) -> "CanvasGenerator":
        if tiling not in TILINGS:
            raise ValueError(f"tiling must be one of {', '.join(TILINGS)}, got {tiling!r}")
        for m in self.modules():
            if isinstance(m, (TilingConv2d, TilingBlur)):
                m.tiling = tiling
        return self

    def sample_field(self, batch: int, cells: tuple[int, int], generator: torch.Generator | None = None,
                     device=None) -> torch.Tensor:
        """A latent field of (rows, cols) cells: local latents (and noise) per cell, one global latent
        per image broadcast to its cells; (B, local_values + z_dim, rows, cols), standard normal."""
        rows, cols = cells
        local = torch.randn(batch, self.cfg.local_values, rows, cols, generator=generator, device=device)
        glob = torch.randn(batch, self.cfg.z_dim, 1, 1, generator=generator, device=device)
        return torch.cat([local, glob.expand(-1, -1, rows, cols)], dim=1)

    def crop_cells(self) -> tuple[int, int]:
        """The field of one training crop: (rows, cols) cells."""
        side = self.cfg.resolution // self.cell
        return side, side

    def sample_latent(self, batch: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Training latents (from `generator`, else the global RNG): the field of one crop per image."""
        return self.sample_field(batch, self.crop_cells(), generator, device)

    def drop_global(self, field: torch.Tensor, drop: torch.Tensor) -> torch.Tensor:
        """The field with the global latent zeroed for the images where `drop` (B,) is true: those
        canvases must agree across cells without it, through attention over the field (training's
        `global_dropout`; a model with g_global off has nothing to drop)."""
        if not self.cfg.g_global:
            raise ValueError("this generator has no global latent (g_global off): nothing to drop")
        keep = (~drop).to(field.dtype)[:, None, None, None]
        k = self.cfg.local_values
        return torch.cat([field[:, :k], field[:, k:] * keep], dim=1)

    def latent_from_seeds(self, seeds, cells: tuple[int, int] | None = None) -> torch.Tensor:
        """The seed contract for fields: the global latent is latents.z_from_seed(seed, z_dim) (a SAGAN
        model's z for that seed), the local ones (noise included) the values after the first z_dim of
        z_from_seed(seed, z_dim + local_values * rows * cols), in raster order;
        (B, local_values + z_dim, rows, cols) on the CPU. The same seed and size give the same canvas
        on any machine."""
        rows, cols = cells or self.crop_cells()
        k = self.cfg.local_values
        fields = []
        for s in seeds:
            local = z_from_seed(s, self.cfg.z_dim + k * rows * cols)[self.cfg.z_dim:]
            glob = z_from_seed(s, self.cfg.z_dim)[:, None, None].expand(-1, rows, cols)
            fields.append(torch.cat([local.view(k, rows, cols), glob]))
        return torch.stack(fields)

    def forward(self, field: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """field: (B, local_values + z_dim, rows, cols); y: (B,) classes or None ->
        images (B, 3, rows * cell, cols * cell) in [-1, 1]."""
        if field.ndim != 4 or field.shape[1] != self.cfg.local_values + self.cfg.z_dim:
            raise ValueError(f"a latent field is (B, {self.cfg.local_values + self.cfg.z_dim}, rows, cols), "
                             f"got {tuple(field.shape)}")
        if self.cfg.num_classes > 0 and y is None:
            raise ValueError("this generator is class-conditional: pass class indices y")
        field, noise = self.split_field(field)
        h = self.stem(field)
        if str(self.cfg.g_sizes()[0]) in self.attn:
            h = self.attn[str(self.cfg.g_sizes()[0])](h)
        sizes = self.cfg.g_sizes()[1:]
        after = 1 + max((i for i, s in enumerate(sizes) if str(s) in self.attn), default=-1)
        for i, (block, size) in enumerate(zip(self.blocks, sizes)):
            if i == after and self._in_strips(h, i):
                return self._paint_strips(h, y, i, noise)
            h = block(h, y, self.noise_at(noise, i))
            if str(size) in self.attn:
                h = self.attn[str(size)](h)
        return self._to_rgb(h)

    def split_field(self, field: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A field -> the stem's input (z_local, and the global latent unless g_global is off) and the
        per-pixel noise, (B, g_noise, rows * cell, cols * cell), or None without g_noise."""
        k, n = self.cfg.z_local, self.cfg.local_values
        noise = None if n == k else F.pixel_shuffle(field[:, k:n], self.cell)
        if not self.cfg.g_global:
            return field[:, :k], noise
        return (field if n == k else torch.cat([field[:, :k], field[:, n:]], dim=1)), noise

    def noise_at(self, noise: torch.Tensor | None, i: int) -> torch.Tensor | None:
        """Block i's noise: the per-pixel noise averaged over the f x f pixels each of its output
        features covers, times f (unit variance again)."""
        if noise is None:
            return None
        f = 2 ** (len(self.blocks) - 1 - i)
        return noise if f == 1 else F.avg_pool2d(noise, f) * f

    def _to_rgb(self, h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))

    def _in_strips(self, h: torch.Tensor, start: int) -> bool:
        """Paint the stages after the last attention layer in strips? Only to serve (no gradients, eval
        BatchNorm) a canvas over STRIP_ABOVE pixels whose map is tall enough to cut."""
        up = 2 ** (len(self.blocks) - start)
        big = h.shape[-2] * h.shape[-1] * up * up > STRIP_ABOVE
        return big and not self.training and not torch.is_grad_enabled() and h.shape[-2] > 2 * STRIP_HALO + 1

    def _paint_strips(self, h: torch.Tensor, y: torch.Tensor | None, start: int,
                      noise: torch.Tensor | None = None) -> torch.Tensor:
        """The blocks from `start` on and the RGB head, strip by strip of the map's rows, each with
        STRIP_HALO rows of context on both sides (across the wrap where the canvas wraps in y; none
        at an edge that does not, where the convolutions' own reflection applies). Those stages are
        convolutions, eval BatchNorm and nearest upsampling only, whose reach back into this map is
        under 3 rows, so every kept row sees what it would see in one pass: the same canvas, with
        the memory of one strip instead of the whole canvas at full resolution."""
        rows, cols = h.shape[-2:]
        up = 2 ** (len(self.blocks) - start)
        wrap_y = self.out_conv.tiling == "both"
        step = max(STRIP_HALO, STRIP_PIXELS // (cols * up * up))      # rows of this map per strip
        out = h.new_empty(h.shape[0], 3, rows * up, cols * up)
        for r0 in range(0, rows, step):
            r1 = min(rows, r0 + step)
            if wrap_y:
                a, b = r0 - STRIP_HALO, r1 + STRIP_HALO
            else:
                a, b = max(0, r0 - STRIP_HALO), min(rows, r1 + STRIP_HALO)
            idx = torch.arange(a, b, device=h.device) % rows
            x = h[:, :, idx]
            strip_noise = None if noise is None else noise[:, :, (idx[:, None] * up + torch.arange(
                up, device=h.device)).flatten()]              # the same rows of the per-pixel noise
            for j, block in enumerate(self.blocks[start:]):
                x = block(x, y, self.noise_at(strip_noise, start + j))
            x = self._to_rgb(x)
            out[:, :, r0 * up:r1 * up] = x[:, :, (r0 - a) * up:(r1 - a) * up]
        return out

    def attention_layers(self) -> dict[str, SelfAttention2d]:
        """Attention blocks by their size in a training crop ("G16", ...), in forward order."""
        return {f"G{size}": module for size, module in self.attn.items()}
