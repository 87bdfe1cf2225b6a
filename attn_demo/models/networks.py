"""SAGAN-style generator and discriminator, built from a `ModelConfig` alone.

Layout (resolution 64, width w, attention at 32):

    G: z -> linear -> (8w, 4, 4) -> up 4w@8 -> up 2w@16 -> up w@32 -> attn@32
         -> up w/2@64 -> BN-ReLU-conv3x3 -> tanh          (B, 3, 64, 64) in [-1, 1]
    D: x -> down w@32 -> attn@32 -> down 2w@16 -> down 4w@8 -> down 8w@4
         -> ReLU-sum -> linear (+ projection <embed(y), h>)     logits (B,)

`ModelConfig.g_sizes/g_channels/d_sizes/d_channels` is the table both are
built from. Forward passes return tensors only; attention maps are captured
from outside by `serving.probe.AttentionRecorder`. The served generator is
built from a trained one by `folding.fold_for_inference`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import SelfAttention2d
from .canvas import CanvasGenerator
from .config import ModelConfig
from .latents import z_from_seed
from .layers import DownBlock, UpBlock, _sn, sn_conv, sn_embedding, sn_linear, without_spectral_norm


def _attention(cfg: ModelConfig, channels: int) -> SelfAttention2d:
    return SelfAttention2d(channels, **cfg.attention_options())


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        sizes, chans = cfg.g_sizes(), cfg.g_channels()
        self.stem = sn_linear(cfg.z_dim, chans[0] * 4 * 4)
        self.blocks = nn.ModuleList()
        self.attn = nn.ModuleDict()  # keyed by feature-map size, e.g. "32"
        for i in range(cfg.num_up):
            self.blocks.append(UpBlock(chans[i], chans[i + 1], cfg.num_classes))
            if sizes[i + 1] in cfg.g_attn:
                self.attn[str(sizes[i + 1])] = _attention(cfg, chans[i + 1])
        # skip-layer excitation (FastGAN, off unless cfg.g_sle): the low-res features gate the high-res channels
        self.sle = nn.ModuleDict({str(hi): SkipExcitation(chans[sizes.index(lo)], chans[sizes.index(hi)], cfg.sle_gate)
                                  for lo, hi in (cfg.sle_pairs() if cfg.g_sle else [])})
        self.out_bn = nn.BatchNorm2d(chans[-1])
        self.out_conv = sn_conv(chans[-1], 3)
        self.fade: FadeIn | None = None      # a warm start's fade-in (training/grow.py); never shipped

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z: (B, z_dim); y: (B,) class indices or None -> images (B, 3, R, R) in [-1, 1]."""
        if self.cfg.num_classes > 0 and y is None:
            raise ValueError("this generator is class-conditional: pass class indices y")
        h = self.stem(z).view(z.shape[0], -1, 4, 4)
        before_last, features = h, {}
        for block, size in zip(self.blocks, self.cfg.g_sizes()[1:]):
            before_last = h
            h = block(h, y)
            if str(size) in self.sle:
                h = h * self.sle[str(size)](features[size // 4])
            if str(size) in self.attn:
                h = self.attn[str(size)](h)
            if self.sle:
                features[size] = h
        out = torch.tanh(self.out_conv(F.relu_(self.out_bn(h))))   # in place: h is fresh, as in the blocks
        if self.fade is not None and float(self.fade.alpha) < 1:
            out = self.fade(before_last, out)
        return out

    def attention_layers(self) -> dict[str, SelfAttention2d]:
        """Attention blocks by name ("G32", ...), in forward order."""
        return {f"G{size}": module for size, module in self.attn.items()}

    def sample_latent(self, batch: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Training latents (from `generator`, else the global RNG): (B, z_dim) standard normal."""
        return torch.randn(batch, self.cfg.z_dim, generator=generator, device=device)

    def latent_from_seeds(self, seeds) -> torch.Tensor:
        """The seed contract's latents (latents.z_from_seed), one per seed: (B, z_dim) on the CPU."""
        return torch.stack([z_from_seed(s, self.cfg.z_dim) for s in seeds])


class SkipExcitation(nn.Module):
    """FastGAN's skip-layer excitation: low-res features -> per-channel gates in (0, 1) for a
    high-res map (4x4 average pool, 4x4 conv to 1x1, LeakyReLU, 1x1 conv, sigmoid).

    gate="open" forms the gate as 1 + mix * tanh(.) with a learned scalar mix that starts at 0, as
    attention's gamma does: the identity at step 0, so a warm start keeps its copied stages' output
    (the sigmoid gate starts at 0.5 and halves them), gates in (1 - |mix|, 1 + |mix|) after."""

    def __init__(self, cin: int, cout: int, gate: str = "sigmoid"):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.conv1 = _sn(nn.Conv2d(cin, cout, 4))
        self.conv2 = _sn(nn.Conv2d(cout, cout, 1))
        self.gate = gate
        if gate == "open":
            self.mix = nn.Parameter(torch.zeros(()))

    def forward(self, low: torch.Tensor) -> torch.Tensor:
        t = self.conv2(F.leaky_relu(self.conv1(self.pool(low)), 0.1))     # (B, C, 1, 1)
        return 1 + self.mix * torch.tanh(t) if self.gate == "open" else torch.sigmoid(t)


class FadeIn(nn.Module):
    """Progressive growing's fade-in for a warm-started generator: the smaller model's output head
    (BN-ReLU-conv-tanh) on the features before the last up-block, upsampled 2x (nearest), blended
    with the new output as (1 - alpha) * old + alpha * new; the trainer moves alpha from 0 to 1."""

    def __init__(self, channels: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.conv = sn_conv(channels, 3)
        self.register_buffer("alpha", torch.zeros(()))

    def forward(self, h: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        old = torch.tanh(self.conv(F.relu(self.bn(h))))
        old = F.interpolate(old, scale_factor=2, mode="nearest")
        a = self.alpha.to(new.dtype)
        return torch.lerp(old.to(new.dtype), new, a)


def build_generator(cfg: ModelConfig) -> nn.Module:
    """The generator `cfg` describes: networks.Generator, or canvas.CanvasGenerator for kind "canvas"."""
    return CanvasGenerator(cfg) if cfg.kind == "canvas" else Generator(cfg)


class MinibatchStd(nn.Module):
    """ProGAN's minibatch standard deviation, as a residual: h + conv([h, s]).

    s is one value per group of up to MAX_GROUP images (the largest group size of 4, 2 or 1 that
    divides the batch; consecutive images form a group), broadcast over the feature map: the
    standard deviation of each feature over the group, averaged over channels and positions. A
    lone image (the studio's probe of D) has s = 0.
    """

    MAX_GROUP = 4

    def __init__(self, channels: int):
        super().__init__()
        self.conv = sn_conv(channels + 1, channels)

    @classmethod
    def group_size(cls, batch: int) -> int:
        return next(g for g in (cls.MAX_GROUP, 2, 1) if batch % g == 0)

    @classmethod
    def spread(cls, h: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, 1, H, W): each image's group's standard deviation, one value."""
        b, _, height, width = h.shape
        g = cls.group_size(b)
        grouped = h.float().reshape(b // g, g, -1)
        std = (grouped.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(dim=1)     # (B / g,)
        return std.repeat_interleave(g).to(h.dtype).view(b, 1, 1, 1).expand(b, 1, height, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.conv(torch.cat([h, self.spread(h)], dim=1))


class Discriminator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.blocks = nn.ModuleList()
        self.attn = nn.ModuleDict()
        cin = 3
        for i, (size, cout) in enumerate(zip(cfg.d_sizes(), cfg.d_channels())):
            self.blocks.append(DownBlock(cin, cout, first=(i == 0)))
            if size in cfg.d_attn:
                self.attn[str(size)] = _attention(cfg, cout)
            cin = cout
        self.mbstd = MinibatchStd(cin) if cfg.d_mbstd else None
        self.head = sn_linear(cin, 1)
        self.embed = sn_embedding(cfg.num_classes, cin) if cfg.num_classes > 0 else None
        self.projected = None    # a pretrained feature branch (training/projected.py), training only

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, 3, R, R) -> real/fake logits (B,)."""
        h = x
        for block, size in zip(self.blocks, self.cfg.d_sizes()):
            h = block(h)
            if str(size) in self.attn:
                h = self.attn[str(size)](h)
        if self.mbstd is not None:
            h = self.mbstd(h)
        h = F.relu(h).sum(dim=(2, 3))           # (B, C) global sum pooling
        out = self.head(h).squeeze(1)
        if self.embed is not None:
            if y is None:
                raise ValueError("this discriminator is class-conditional: pass class indices y")
            out = out + (self.embed(y) * h).sum(dim=1)  # projection discriminator
        if self.projected is not None:
            out = out + self.projected(x, y)
        return out

    def attention_layers(self) -> dict[str, SelfAttention2d]:
        return {f"D{size}": module for size, module in self.attn.items()}


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def generator_parameters(cfg: ModelConfig) -> int:
    """G's parameter count for `cfg`, as trained, without allocating anything (meta device;
    no spectral-norm state, whose initial power iterations there would take seconds)."""
    with torch.device("meta"), without_spectral_norm():
        return count_parameters(build_generator(cfg))
