"""Spectral-norm layer factories and the residual blocks of G and D, as trained.

Every conv and linear of both networks is spectrally normalised
(`torch.nn.utils.parametrizations.spectral_norm`, one power iteration per
training forward). Each block here has one forward path, the one training
runs; the served generator is built from these blocks by `folding.py`, which
makes new modules that compute the same function with fewer operations.
"""
from __future__ import annotations

import contextlib
import contextvars

import torch
import torch.nn.functional as F
from torch import nn
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

    def eval_affine(self, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-channel scale and shift this norm applies in eval mode: (B, C) each for class
        indices y, (1, C) when unconditional; with y None, one row per class."""
        if self.num_classes == 0:
            scale, shift = batchnorm_affine(self.bn)
            return scale[None], shift[None]
        gain, bias = (self.embed.weight if y is None else self.embed(y)).chunk(2, dim=1)
        scale = (1 + gain) * torch.rsqrt(self.bn.running_var + self.bn.eps)
        return scale, bias - self.bn.running_mean * scale

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
    artefacts on flat emoji backgrounds. (The served generator computes the
    same pair as one transposed conv: `folding.FoldedUpBlock`.)
    """

    def __init__(self, cin: int, cout: int, num_classes: int, conv=sn_conv, blur: nn.Module | None = None,
                 noise: int = 0):
        """conv: the factory of its convolutions, (cin, cout, kernel) -> module (models/canvas.py
        passes one whose 3x3 convolutions wrap around); blur: a fixed low-pass after the upsampling
        (a canvas model's `g_blur`), or None; noise: per-pixel noise channels added after the
        upsampling, each output channel with its own learned strength, 0 at the start (a canvas
        model's `g_noise`)."""
        super().__init__()
        self.blur = blur
        self.noise_strength = nn.Parameter(torch.zeros(cout, noise)) if noise else None
        self.bn1 = ConditionalBatchNorm2d(cin, num_classes)
        self.conv1 = conv(cin, cout)
        self.bn2 = ConditionalBatchNorm2d(cout, num_classes)
        self.conv2 = conv(cout, cout)
        self.skip = conv(cin, cout, kernel=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None, noise: torch.Tensor | None = None) -> torch.Tensor:
        """noise: (B, noise, 2H, 2W) at the output's size, with a block built to take it."""
        # ReLU in place: the norms' outputs are fresh and their backward does not need them.
        h = self.conv1(F.relu_(self.bn1(x, y)))
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        if self.blur is not None:
            h = self.blur(h)
        if self.noise_strength is not None:
            h = h + F.conv2d(noise.to(h.dtype), self.noise_strength.to(h.dtype)[:, :, None, None])
        h = self.conv2(F.relu_(self.bn2(h, y)))
        # The 1x1 conv commutes with nearest upsampling: run it on the small map, and add it to
        # each 2x2 cell by broadcasting instead of upsampling it. In place: h is the conv's fresh
        # output, which its backward does not need.
        s = self.skip(x)
        b, c, hh, ww = s.shape
        h.view(b, c, hh, 2, ww, 2).add_(s.view(b, c, hh, 1, ww, 1))
        return h


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
