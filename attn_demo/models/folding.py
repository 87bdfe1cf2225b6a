"""The served generator: a trained one rebuilt for inference, the same function in fewer operations.

`fold_for_inference(G)` builds new modules from a trained generator and leaves
the trained one as it is:

- spectral norm baked in (`plain_copy`): the normalised weights are computed
  once, so no power iteration runs per request;
- each up-block's "nearest 2x upsample, 3x3 conv" becomes one stride-2
  transposed conv on the small map (`upsample_conv_weight`: the same function
  with 16/36 of the multiply-adds), run on the smallest maps as four matrix
  products, one per output phase (`phase_upsample_conv`);
- the norms' eval-mode affine maps are computed once (`FrozenNorm`); an
  unconditional norm that directly follows a conv is folded into that conv,
  and so is the output BatchNorm into the last block;
- each dot-kind attention layer's projections become two matrices and an
  output matrix with gamma folded in (`FusedSelfAttention2d`); additive
  attention, which has no fused kernel, is served as trained;
- the stem's weight is kept input-major (`input_major_linear`).

Each fold is exact up to float rounding; tests/models/test_model.py compares the
folded generator with the trained one in eval mode. `skip` leaves folds out,
so the benchmark's ablation can measure what each one buys.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from .attention import SelfAttention2d
from .layers import ConditionalBatchNorm2d, UpBlock, batchnorm_affine
from .networks import Generator

FOLDS = ("norms", "attention", "phases", "stem")   # what `skip` may name


def plain_copy(model: nn.Module) -> nn.Module:
    """A copy of `model` in eval mode with each spectral-norm parametrisation replaced by the weight it
    yields (eval mode uses the stored u/v vectors, without a power-iteration update): the same
    function, without the per-call normalisation. `model` is left as it is."""
    model = copy.deepcopy(model).eval()
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            weight = module.weight.detach()
            # Not parametrize.remove_parametrizations: it edits the parametrised class that
            # parametrize made for the original module, which a deep copy shares with it. The copy
            # takes the plain class back (the base of that class) and the weight as a parameter.
            module.__class__ = type(module).__bases__[0]
            del module._modules["parametrizations"]
            module.weight = nn.Parameter(weight)
    return model


def upsample_conv_weight(weight: torch.Tensor) -> torch.Tensor:
    """The ConvTranspose2d(kernel 4, stride 2, padding 1) weight that equals a
    nearest 2x upsample followed by a 3x3 conv (padding 1) of `weight`.

    weight: (Cout, Cin, 3, 3) -> (Cin, Cout, 4, 4). Along each axis, output pixel
    2i sees upsampled pixels 2i-1, 2i, 2i+1 = input pixels i-1, i, i: tap 3 of the
    transposed kernel is k[0] and tap 1 is k[1] + k[2]; pixel 2i+1 sees i, i, i+1:
    tap 2 is k[0] + k[1] and tap 0 is k[2]. Zero padding maps to zero padding.
    """
    m = weight.new_tensor([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]])
    return torch.einsum("sa,oiab,tb->iost", m, weight, m).contiguous()


def upsample_conv_phases(weight: torch.Tensor) -> torch.Tensor:
    """The transposed-conv weight of `upsample_conv_weight`, (Cin, Cout, 4, 4), as one matrix per
    output phase: (4, Cin * 4, Cout), for `phase_upsample_conv`.

    Output pixel (2h + i, 2w + j) is phase 2i + j. It sees the input pixels h - 1 + i + a,
    w - 1 + j + b for a, b in {0, 1} through the transposed kernel's tap (3 - i - 2a, 3 - j - 2b);
    rows are ordered (a, b, input channel).
    """
    taps = [[3, 1], [2, 0]]                      # taps[i][a] = 3 - i - 2a
    return torch.stack([weight[:, :, taps[i]][:, :, :, taps[j]].permute(2, 3, 0, 1).flatten(0, 2)
                        for i in (0, 1) for j in (0, 1)]).contiguous()


def phase_upsample_conv(x: torch.Tensor, phases: torch.Tensor, add: torch.Tensor) -> torch.Tensor:
    """conv_transpose2d(x, W, stride=2, padding=1) plus `add` (N, Cout, H, W) broadcast to each 2x2
    output cell, as four matrix products (one per phase, `upsample_conv_phases(W)`) in one bmm.

    The same function as the transposed conv, faster on a CPU for small maps, where oneDNN's
    transposed conv is slow (`FoldedUpBlock.use_phases` picks the path; figures in
    docs/PERFORMANCE_NOTES.md). Returns a channels_last tensor.
    """
    n, c, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1)                     # (N, H+2, W+2, C)
    windows = padded.unfold(1, 2, 1).unfold(2, 2, 1).permute(0, 1, 2, 4, 5, 3)   # (N, H+1, W+1, 2, 2, C), a view
    cols = torch.stack([windows[:, i:i + h, j:j + w] for i in (0, 1) for j in (0, 1)])   # (4, N, H, W, 2, 2, C)
    out = torch.baddbmm(add.permute(0, 2, 3, 1).reshape(1, n * h * w, -1), cols.view(4, n * h * w, 4 * c), phases)
    cout = out.shape[-1]
    return out.view(2, 2, n, h, w, cout).permute(2, 3, 0, 4, 1, 5).reshape(n, 2 * h, 2 * w, cout).permute(0, 3, 1, 2)


class FrozenNorm(nn.Module):
    """A ConditionalBatchNorm2d's eval-mode map, computed once: per class (or once, unconditional)
    a scale and a shift per channel, so a forward is a lookup and one multiply-add."""

    def __init__(self, norm: ConditionalBatchNorm2d):
        super().__init__()
        self.conditional = norm.num_classes > 0
        with torch.no_grad():
            self.register_buffer("table", torch.cat(norm.eval_affine(None), dim=1))   # (classes or 1, 2C)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        table = F.embedding(y, self.table) if self.conditional and y is not None else self.table
        scale, shift = table.chunk(2, dim=1)
        return torch.addcmul(shift[:, :, None, None], x, scale[:, :, None, None])


class NoNorm(nn.Module):
    """Where a norm was folded into the conv before it."""

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return x


class FoldedUpBlock(nn.Module):
    """An `UpBlock` (with plain weights, eval mode) as the transposed conv it computes:
    norm1-ReLU-conv1, norm2-ReLU, stride-2 transposed conv; the 1x1 skip added to each 2x2 cell.

    `after` = (scale, shift) folds a per-channel affine map that follows the block (the output
    BatchNorm) into both branches' last convs. `norms=False` keeps the trained norms (the
    ablation), `phases=False` always runs the transposed conv.
    """

    def __init__(self, block: UpBlock, norms: bool = True, phases: bool = True,
                 after: tuple[torch.Tensor, torch.Tensor] | None = None):
        super().__init__()
        if parametrize.is_parametrized(block.conv2, "weight"):
            raise RuntimeError("fold spectral norm first (plain_copy): the transposed conv is built from the plain weight")
        self.conv1, self.skip = copy.deepcopy(block.conv1), copy.deepcopy(block.skip)
        self.norm1 = FrozenNorm(block.bn1) if norms else copy.deepcopy(block.bn1)
        self.norm2: nn.Module = FrozenNorm(block.bn2) if norms else copy.deepcopy(block.bn2)
        w = block.conv2.weight.detach()
        self.up = nn.ConvTranspose2d(w.shape[1], w.shape[0], 4, stride=2, padding=1,
                                     bias=block.conv2.bias is not None).to(w.device, w.dtype)
        with torch.no_grad():
            self.up.weight.copy_(upsample_conv_weight(w))
            if block.conv2.bias is not None:
                self.up.bias.copy_(block.conv2.bias.detach())
            if norms and block.bn2.num_classes == 0:
                # An unconditional norm2 directly follows conv1: fold it into conv1's weight and bias.
                scale, shift = (t[0] for t in block.bn2.eval_affine(None))
                self.conv1.weight.mul_(scale[:, None, None, None])
                self.conv1.bias.mul_(scale).add_(shift)
                self.norm2 = NoNorm()
            if after is not None:
                scale, shift = after
                self.up.weight.mul_(scale[None, :, None, None])   # (Cin, Cout, 4, 4)
                self.up.bias.mul_(scale).add_(shift)
                self.skip.weight.mul_(scale[:, None, None, None])  # (Cout, Cin, 1, 1)
                self.skip.bias.mul_(scale)
        self.register_buffer("phases", upsample_conv_phases(self.up.weight.detach()) if phases else None,
                             persistent=False)

    def use_phases(self, h: torch.Tensor) -> bool:
        """The per-phase matrix product where it beat oneDNN's transposed conv on the project's
        CPUs, layer by layer (docs/PERFORMANCE_NOTES.md): 4x4 maps at any batch, 8x8 maps up to
        batch 4; the transposed conv elsewhere, on CUDA, and with autograd on."""
        n, _, hh, ww = h.shape
        return (self.phases is not None and h.device.type == "cpu" and not torch.is_grad_enabled()
                and (hh * ww <= 16 or (hh * ww <= 64 and n <= 4)))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        # ReLU in place: each input is a fresh output (of a norm, or of conv1 where norm2 is folded).
        h = self.conv1(F.relu_(self.norm1(x, y)))
        s = self.skip(x)       # the 1x1 conv commutes with nearest upsampling: run on the small map
        if self.use_phases(h):
            add = s if self.up.bias is None else s + self.up.bias[:, None, None]
            out = phase_upsample_conv(F.relu_(self.norm2(h, y)), self.phases, add)
            # channels_last; back to NCHW for a model kept in NCHW (whose convs expect it)
            return out if self.up.weight.is_contiguous(memory_format=torch.channels_last) else out.contiguous()
        h = self.up(F.relu_(self.norm2(h, y)))
        b, c, hh, ww = s.shape
        h.view(b, c, hh, 2, ww, 2).add_(s.view(b, c, hh, 1, ww, 1))   # in place: h is the conv's fresh output
        return h


class FusedSelfAttention2d(nn.Module):
    """A `SelfAttention2d` (plain weights) with its projections fused: one product for q, one for k
    and v (contiguous, so that one pooling serves both), and one for the output, gamma folded in,
    plus the residual. q and k are zero-padded to the value head size, which leaves every dot
    product unchanged and lets the fused kernel of scaled_dot_product_attention run.

    The probe's recorder reads `queries_keys`, `key_grid`, `scale` and `gamma` as on the trained
    module: they come from the kept plain projections (`source`), unpadded."""

    def __init__(self, attn: SelfAttention2d):
        super().__init__()
        if parametrize.is_parametrized(attn.query, "weight"):
            raise RuntimeError("fold spectral norm first (plain_copy): the fused matrices use the plain weights")
        if not attn.fusable:
            raise ValueError("only the plain dot kinds have a fused form: additive attention, registers, the "
                             "null slot, whitening and the context path are served as trained")
        self.source = attn
        self.heads, self.v_dim, self.pool, self.scale = attn.heads, attn.v_dim, attn.pool, attn.scale
        d, heads, qk = attn.v_dim, attn.heads, attn.qk_dim
        with torch.no_grad():
            q, k, v, out = (m.weight.detach()[:, :, 0, 0] for m in (attn.query, attn.key, attn.value, attn.out))
            qkv = q.new_zeros(3, heads, d, attn.channels)
            qkv[0, :, :qk] = q.view(heads, qk, -1)
            qkv[1, :, :qk] = k.view(heads, qk, -1)
            qkv[2] = v.view(heads, d, -1)
            # (C, heads * dv), (C, 2 * heads * dv) and (heads * dv, C)
            self.register_buffer("w_q", qkv[0].flatten(0, 1).t().contiguous(), persistent=False)
            self.register_buffer("w_kv", qkv[1:].flatten(0, 2).t().contiguous(), persistent=False)
            self.register_buffer("w_out", (attn.gamma.detach() * out).t().contiguous(), persistent=False)

    @property
    def gamma(self) -> torch.Tensor:
        return self.source.gamma

    @property
    def kind(self) -> str:
        return self.source.kind

    @property
    def w(self) -> None:
        return None

    def key_grid(self, height: int, width: int) -> tuple[int, int]:
        return self.source.key_grid(height, width)

    def queries_keys(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.source.queries_keys(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        hd = self.heads * self.v_dim
        pixels = x.permute(0, 2, 3, 1).reshape(b * h * w, c)      # a view for channels_last x
        q = torch.mm(pixels, self.w_q).view(b, h * w, self.heads, self.v_dim).transpose(1, 2)   # (B, heads, Nq, dv)
        kv = torch.mm(pixels, self.w_kv).view(b, h, w, 2 * hd)
        if self.pool:
            kv = F.max_pool2d(kv.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
        kv = kv.reshape(b, -1, 2, self.heads, self.v_dim).permute(2, 0, 3, 1, 4)   # (2, B, heads, Nk, dv)
        o = F.scaled_dot_product_attention(q, kv[0], kv[1], scale=self.scale)     # (B, heads, Nq, dv)
        out = torch.addmm(pixels, o.transpose(1, 2).reshape(b * h * w, hd), self.w_out)
        out = out.view(b, h, w, c).permute(0, 3, 1, 2)                # channels_last
        # back to NCHW for a model kept in NCHW (whose convs expect it)
        return out if x.is_contiguous(memory_format=torch.channels_last) else out.contiguous()


def input_major_linear(linear: nn.Linear) -> nn.Linear:
    """A copy of `linear` whose (out, in) weight is a transposed view of an (in, out) tensor: the same
    values and function. nn.Linear then hands MKL a plain row-major matrix; at batch 1 the stem
    multiplies one z by a weight read from memory, not cache, and streams faster in that layout
    (figures in docs/PERFORMANCE_NOTES.md)."""
    out = copy.deepcopy(linear)
    out.weight.data = out.weight.data.t().contiguous().t()
    return out


class FoldedGenerator(nn.Module):
    """A Generator rebuilt for inference (see the module docstring); `forward`,
    `attention_layers` and `latent_from_seeds` are the Generator's own: only the modules
    they call differ."""

    forward = Generator.forward
    attention_layers = Generator.attention_layers
    latent_from_seeds = Generator.latent_from_seeds

    def __init__(self, generator: Generator, skip: tuple[str, ...] = ()):
        super().__init__()
        unknown = set(skip) - set(FOLDS)
        if unknown:
            raise ValueError(f"unknown folds to skip: {sorted(unknown)}; choose from {FOLDS}")
        plain = plain_copy(generator)
        self.cfg = plain.cfg
        self.stem = plain.stem if "stem" in skip else input_major_linear(plain.stem)
        # The output BatchNorm folds into the last block unless an attention layer or a skip-layer
        # excitation's gate (a product: the norm does not commute with it) sits between them.
        last_size = str(self.cfg.g_sizes()[-1])
        fold_out = last_size not in plain.attn and last_size not in plain.sle
        last = len(plain.blocks) - 1
        self.blocks = nn.ModuleList(
            FoldedUpBlock(b, norms="norms" not in skip, phases="phases" not in skip,
                          after=batchnorm_affine(plain.out_bn) if fold_out and i == last else None)
            for i, b in enumerate(plain.blocks))
        # the dot kinds fuse their projections; additive attention is served as trained (query chunks)
        self.attn = nn.ModuleDict({k: a if "attention" in skip or not a.fusable else FusedSelfAttention2d(a)
                                   for k, a in plain.attn.items()})
        self.out_bn = nn.Identity() if fold_out else plain.out_bn
        self.out_conv = plain.out_conv
        self.sle = plain.sle              # skip-layer excitation, served as trained
        self.fade = None                  # served models never fade in (training/grow.py)
        self.eval()


def fold_for_inference(generator: Generator, skip: tuple[str, ...] = ()) -> FoldedGenerator:
    """The generator as the engine serves it (see the module docstring); `generator` is not changed."""
    return FoldedGenerator(generator, skip)
