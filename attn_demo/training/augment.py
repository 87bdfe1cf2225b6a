"""DiffAugment (Zhao et al. 2020): differentiable augmentations for small data sets.

The same random policy is applied to real and fake images before D sees
them, and gradients flow through it to G, so D cannot simply memorise the
few real images. Images are in [-1, 1]; every op is per-sample random.
Random numbers come from torch's default generator on the images' device,
whose state the trainer saves and restores.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def _rand(x: torch.Tensor, *shape) -> torch.Tensor:
    return torch.rand(x.shape[0], *shape, device=x.device, dtype=x.dtype)


def color(x: torch.Tensor) -> torch.Tensor:
    x = x + (_rand(x, 1, 1, 1) - 0.5)                                 # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, 1, 1, 1) * 2) + mean                   # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, 1, 1, 1) + 0.5) + mean              # contrast


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio * size pixels, filling with zeros."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    tx = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    rows = (torch.arange(h, device=x.device)[None, :, None] + ty + sh)  # (B, H, 1) in padded coords
    cols = (torch.arange(w, device=x.device)[None, None, :] + tx + sw)  # (B, 1, W)
    padded = F.pad(x, (sw, sw, sh, sh))
    batch = torch.arange(b, device=x.device)[:, None, None]
    # padded[b, :, rows, cols] gathered as (B, H, W, C) -> (B, C, H, W)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous(
        memory_format=torch.channels_last if x.is_contiguous(memory_format=torch.channels_last)
        else torch.contiguous_format)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of ratio * size per image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h, (b, 1, 1), device=x.device) - ch // 2   # centre anywhere
    left = torch.randint(0, w, (b, 1, 1), device=x.device) - cw // 2
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)   # (B, H, W)
    return x * (~inside)[:, None].to(x.dtype)


def diff_augment(x: torch.Tensor, policy: tuple[str, ...]) -> torch.Tensor:
    for name in POLICIES:       # fixed order, whatever order the policy lists
        if name in policy:
            x = {"color": color, "translation": translation, "cutout": cutout}[name](x)
    return x
