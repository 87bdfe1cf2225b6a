"""Spectral-norm layer factories and the residual blocks of G and D.

Every conv and linear of both networks is spectrally normalised
(`torch.nn.utils.parametrizations.spectral_norm`, one power iteration per
training forward). For inference, `fold_for_inference` bakes the normalised
weights in once, so no power iteration runs per request, and turns each
"nearest 2x upsample, then 3x3 conv" of G into one transposed conv on the small
map (the same function with 16/36 of the multiply-adds), which on the smallest
maps runs as four matrix products, one per output phase (`phase_upsample_conv`).
"""
from __future__ import annotations

import contextlib
import contextvars

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm


_SPECTRAL = contextvars.ContextVar("spectral_norm", default=True)


@contextlib.contextmanager
def without_spectral_norm():
    """Build models with plain layers: the same parameters, no spectral-norm state.

    For counting the parameters a config asks for on the meta device, where
    spectral norm's initial power iterations would take seconds.
    """
    token = _SPECTRAL.set(False)
    try:
        yield
    finally:
        _SPECTRAL.reset(token)


def _sn(module: nn.Module) -> nn.Module:
    return spectral_norm(module) if _SPECTRAL.get() else module


def sn_conv(cin: int, cout: int, kernel: int = 3, bias: bool = True) -> nn.Module:
    return _sn(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias))


def sn_linear(cin: int, cout: int, bias: bool = True) -> nn.Module:
    return _sn(nn.Linear(cin, cout, bias=bias))


def sn_embedding(num: int, dim: int) -> nn.Module:
    return _sn(nn.Embedding(num, dim))


def fold_spectral_norm(model: nn.Module) -> nn.Module:
    """Replace each spectral-norm parametrisation by the weight it currently yields.

    Call on a model in eval mode (then the stored u/v vectors are used as they
    are, without a power-iteration update), after loading its weights. The
    result computes exactly what the parametrised model computes in eval mode.
    """
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
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

    The same function as the transposed conv, faster on CPU for small maps: at batch 1 oneDNN's
    transposed conv of a 4x4 map with 256 channels takes ~3x as long as this product
    (`UpBlock._phase_path` picks the path). Returns a channels_last tensor.
    """
    n, c, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1)                     # (N, H+2, W+2, C)
    windows = padded.unfold(1, 2, 1).unfold(2, 2, 1).permute(0, 1, 2, 4, 5, 3)   # (N, H+1, W+1, 2, 2, C), a view
    cols = torch.stack([windows[:, i:i + h, j:j + w] for i in (0, 1) for j in (0, 1)])   # (4, N, H, W, 2, 2, C)
    out = torch.baddbmm(add.permute(0, 2, 3, 1).reshape(1, n * h * w, -1), cols.view(4, n * h * w, 4 * c), phases)
    cout = out.shape[-1]
    return out.view(2, 2, n, h, w, cout).permute(2, 3, 0, 4, 1, 5).reshape(n, 2 * h, 2 * w, cout).permute(0, 3, 1, 2)


def fold_for_inference(model: nn.Module) -> nn.Module:
    """`fold_spectral_norm`, then fold G's upsample-and-conv pairs (`UpBlock.fold_upsample`),
    its blocks' norms (`UpBlock.fold_norms`), its attention projections (`SelfAttention2d.fold`),
    its output BatchNorm (`Generator.fold_output_norm`), and stores its stem's weight
    input-major (`Generator.transpose_stem`).

    For a model in eval mode whose weights are loaded; it computes what the
    model computed, up to float rounding, and is no longer trainable as such.
    """
    fold_spectral_norm(model)
    modules = list(model.modules())
    for module in modules:
        if isinstance(module, UpBlock):
            module.fold_upsample()
            module.fold_norms()
        if hasattr(module, "fused_q"):   # a SelfAttention2d (that module imports this one)
            module.fold()
    for module in modules:
        if hasattr(module, "fold_output_norm"):  # a Generator, once its blocks are folded
            module.fold_output_norm()
            module.transpose_stem()
    return model


def batchnorm_affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-channel (scale, shift) an affine BatchNorm applies in eval mode."""
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose gain and bias come from a class embedding (SAGAN/BigGAN G).

    With num_classes == 0 it is a plain affine BatchNorm2d, and `y` is ignored.
    """

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        if num_classes > 0:
            self.bn = nn.BatchNorm2d(channels, affine=False)
            # gain 1 + 0, bias 0 at start (given, not drawn: no random init to throw away)
            self.embed = nn.Embedding.from_pretrained(torch.zeros(num_classes, 2 * channels), freeze=False)
        else:
            self.bn = nn.BatchNorm2d(channels)
        # (classes or 1, 2C): the eval-mode scales and shifts, set by `freeze` for inference
        self.register_buffer("frozen", None, persistent=False)

    def eval_affine(self, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-channel scale and shift this norm applies in eval mode: (B, C) each for class
        indices y, (1, C) when unconditional; with y None, one row per class."""
        if self.frozen is None:
            if self.num_classes == 0:
                table = torch.cat(batchnorm_affine(self.bn))[None]
            else:
                gain, bias = (self.embed.weight if y is None else self.embed(y)).chunk(2, dim=1)
                scale = (1 + gain) * torch.rsqrt(self.bn.running_var + self.bn.eps)
                table = torch.cat([scale, bias - self.bn.running_mean * scale], dim=1)
        else:
            table = self.frozen if self.num_classes == 0 or y is None else F.embedding(y, self.frozen)
        return table.chunk(2, dim=1)

    def freeze(self) -> None:
        """For inference: compute the eval-mode scales and shifts (per class) once, so that a
        forward is a lookup and one multiply-add instead of ~9 small ops. Later changes to the
        statistics or the embedding are not seen; call again after them."""
        if self.training:
            raise RuntimeError("freeze a norm in eval mode")
        self.frozen = None
        with torch.no_grad():
            self.frozen = torch.cat(self.eval_affine(None), dim=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if self.training:
            out = self.bn(x)
            if self.num_classes == 0:
                return out
            gain, bias = self.embed(y).chunk(2, dim=1)  # (B, C) each
            return out * (1 + gain[:, :, None, None]) + bias[:, :, None, None]
        # eval: one per-(image, channel) affine map, one pass over x
        scale, shift = self.eval_affine(y)
        return torch.addcmul(shift[:, :, None, None], x, scale[:, :, None, None])


class UpBlock(nn.Module):
    """G residual block: BN-ReLU-conv, nearest upsample, BN-ReLU-conv; 1x1 skip.

    The first conv changes the channel count at the low resolution and the
    second refines at the high one, which halves the cost of BigGAN's block
    (both convs after the upsample) on a CPU. Upsampling is nearest-neighbour
    followed by a conv, not a transposed conv, which leaves checkerboard
    artefacts on flat emoji backgrounds. (For inference the pair is folded into
    the transposed conv that computes the same function: `fold_upsample`.)
    """

    def __init__(self, cin: int, cout: int, num_classes: int):
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(cin, num_classes)
        self.conv1 = sn_conv(cin, cout)
        self.bn2: ConditionalBatchNorm2d | None = ConditionalBatchNorm2d(cout, num_classes)  # None once folded
        self.conv2 = sn_conv(cout, cout)
        self.skip = sn_conv(cin, cout, kernel=1)
        self.up_conv2: nn.ConvTranspose2d | None = None  # set by fold_upsample
        self.register_buffer("up_phases", None, persistent=False)   # its weight per phase, likewise

    def fold_upsample(self) -> None:
        """Replace "upsample, BN, ReLU, conv2" by "BN, ReLU, transposed conv" at the low resolution.

        Exact in eval mode: BN then is a per-channel affine map and ReLU acts per
        pixel, so both commute with nearest upsampling, and `upsample_conv_weight`
        turns upsample + 3x3 conv into one stride-2 transposed conv (2.25x fewer
        multiply-adds). Call after `fold_spectral_norm`; a second call does nothing.
        """
        if self.up_conv2 is not None:
            return
        if self.training:
            raise RuntimeError("fold the upsampling of a block in eval mode")
        if parametrize.is_parametrized(self.conv2, "weight"):
            raise RuntimeError("fold spectral norm first: the transposed conv is built from the plain weight")
        w = self.conv2.weight.detach()
        up = nn.ConvTranspose2d(w.shape[1], w.shape[0], 4, stride=2, padding=1,
                                bias=self.conv2.bias is not None).to(w.device, w.dtype)
        up.weight.data.copy_(upsample_conv_weight(w))
        if self.conv2.bias is not None:
            up.bias.data.copy_(self.conv2.bias.detach())
        self.up_conv2 = up.requires_grad_(self.conv2.weight.requires_grad)
        self.up_phases = upsample_conv_phases(up.weight.detach())
        del self.conv2

    def fold_affine_after(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        """Make the block return scale * out + shift (per channel), e.g. an eval-mode BatchNorm
        that follows it: both branches end in a conv, so scale their weights and biases."""
        if self.up_conv2 is None:
            raise RuntimeError("fold_upsample first")
        with torch.no_grad():
            self.up_conv2.weight.mul_(scale[None, :, None, None])   # (Cin, Cout, 4, 4)
            self.up_conv2.bias.mul_(scale).add_(shift)
            self.skip.weight.mul_(scale[:, None, None, None])        # (Cout, Cin, 1, 1)
            self.skip.bias.mul_(scale)
            self.up_phases = upsample_conv_phases(self.up_conv2.weight.detach())

    def fold_norms(self) -> None:
        """For inference (eval mode, after `fold_spectral_norm`): freeze both norms' eval-mode
        affine maps (`ConditionalBatchNorm2d.freeze`), and when bn2 is unconditional fold it
        into conv1, which it directly follows (one pass less over the block's middle map)."""
        self.bn1.freeze()
        if self.bn2 is None:
            return
        if self.bn2.num_classes > 0:
            self.bn2.freeze()
            return
        if parametrize.is_parametrized(self.conv1, "weight"):
            raise RuntimeError("fold spectral norm first: the norm folds into the plain weight")
        with torch.no_grad():
            scale, shift = (t[0] for t in self.bn2.eval_affine(None))
            self.conv1.weight.mul_(scale[:, None, None, None])
            self.conv1.bias.mul_(scale).add_(shift)
        self.bn2 = None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        # ReLU in place: the norms' outputs are fresh and their backward does not need them.
        h = self.conv1(F.relu_(self.bn1(x, y)))
        # The 1x1 conv commutes with nearest upsampling: run it on the small map,
        # and add it to each 2x2 cell by broadcasting instead of upsampling it.
        s = self.skip(x)
        if self.up_conv2 is None:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = self.conv2(self._norm2_relu(h, y))
        elif self._phase_path(h):
            bias = self.up_conv2.bias
            out = phase_upsample_conv(self._norm2_relu(h, y), self.up_phases,
                                      s if bias is None else s + bias[:, None, None])
            # channels_last; back to NCHW for a model kept in NCHW (whose convs expect it)
            return out if self.up_conv2.weight.is_contiguous(memory_format=torch.channels_last) else out.contiguous()
        else:
            h = self.up_conv2(self._norm2_relu(h, y))
        # in place: h is the conv's fresh output, which its backward does not need
        b, c, hh, ww = s.shape
        h.view(b, c, hh, 2, ww, 2).add_(s.view(b, c, hh, 1, ww, 1))
        return h

    def _norm2_relu(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if self.bn2 is None:    # folded into conv1: h is that conv's fresh output
            return F.relu_(h)
        return F.relu_(self.bn2(h, y))

    def _phase_path(self, h: torch.Tensor) -> bool:
        """The per-phase matrix product where it beat oneDNN's transposed conv on this CPU, layer
        by layer (docs/PERFORMANCE_NOTES.md): 4x4 maps at any batch (0.34x the time at batch 1,
        0.74x at 64), 8x8 maps up to batch 4 (0.58x at batch 1, 1.15x at 64); the transposed
        conv elsewhere, on CUDA, and with autograd on (its weight is the parameter)."""
        n, _, hh, ww = h.shape
        return (self.up_phases is not None and h.device.type == "cpu" and not torch.is_grad_enabled()
                and (hh * ww <= 16 or (hh * ww <= 64 and n <= 4)))


class DownBlock(nn.Module):
    """D residual block: (ReLU)-conv-ReLU-avgpool-conv, plus a pooled 1x1 skip.

    Mirror of `UpBlock`: the first conv works at the input resolution, the
    channel-widening conv after the 2x2 average pool. The first block of D
    takes the RGB image, so it has no pre-activation and widens at once.
    """

    def __init__(self, cin: int, cout: int, first: bool = False):
        super().__init__()
        self.first = first
        mid = cout if first else cin
        self.conv1 = sn_conv(cin, mid)
        self.conv2 = sn_conv(mid, cout)
        self.skip = sn_conv(cin, cout, kernel=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = F.avg_pool2d(F.relu(self.conv1(h)), 2)
        h = self.conv2(h)
        # Average pooling and a 1x1 conv commute: pool first, on fewer channels.
        return h + self.skip(F.avg_pool2d(x, 2))
