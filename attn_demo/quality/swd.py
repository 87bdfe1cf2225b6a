"""Sliced Wasserstein distance between image sets (Karras et al. 2018, ProGAN), weight-free.

Follows progressive_growing_of_gans/metrics/sliced_wasserstein.py:

1. a Laplacian pyramid of every image (5x5 binomial filter, mirror edges,
   as cv2.pyrDown/pyrUp), from full resolution down to 16x16; the last
   level is the low-pass residual;
2. `patches` random 7x7 neighbourhoods per image and level, each a
   3*7*7 = 147-d descriptor (64 per image by default; ProGAN took 128 of
   16k images, but the sorts of step 4 dominate the cost, which grows with
   patches x directions). Unlike ProGAN, both sets share the
   positions: with two independent draws, even a set against itself would
   score about 20 (x1e3) at 128 images of 32 px;
3. per level and per set, every channel normalised by its mean and std over
   all descriptors of that set (so a global colour shift is not counted);
4. `repeats` x `directions` random unit directions; project both sets, sort
   each projection, and average |sorted real - sorted fake|;
5. the result times 1e3 (as ProGAN reports it), per level and averaged.

Lower is better. Every random draw comes from one generator seeded by `seed`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import InputError

NHOOD = 7
SCALE = 1e3               # ProGAN multiplies every distance by 10^3
_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
_KERNEL = torch.outer(_BINOMIAL, _BINOMIAL) / 256.0          # (5, 5), sums to 1


def _filter(x: torch.Tensor, gain: float) -> torch.Tensor:
    c = x.shape[1]
    weight = (_KERNEL * gain).to(x)[None, None].expand(c, 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), weight, groups=c)  # reflect = scipy 'mirror'


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    return _filter(x, 1.0)[:, :, ::2, ::2]


def pyr_up(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    up = x.new_zeros(b, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return _filter(up, 4.0)


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """(B, C, R, R) -> [band-pass at R, R/2, ..., low-pass residual at R / 2^(levels-1)]."""
    pyramid = [x]
    for _ in range(1, levels):
        pyramid.append(pyr_down(pyramid[-1]))
        pyramid[-2] = pyramid[-2] - pyr_up(pyramid[-1])
    return pyramid


def level_sizes(resolution: int, min_resolution: int = 16) -> list[int]:
    if resolution < min_resolution or resolution & (resolution - 1):
        raise InputError(f"SWD needs a power-of-two image size >= {min_resolution}, got {resolution}")
    return [resolution >> i for i in range(int(math.log2(resolution // min_resolution)) + 1)]


def _descriptors(level: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """level (B, C, H, W), patch corners ys/xs (B, P) -> (B * P, C, 7, 7)."""
    b, c = level.shape[:2]
    off = torch.arange(NHOOD)
    rows = ys[:, :, None, None] + off[None, None, :, None]      # (B, P, 7, 1)
    cols = xs[:, :, None, None] + off[None, None, None, :]      # (B, P, 1, 7)
    patches = level[torch.arange(b)[:, None, None, None], :, rows, cols]   # (B, P, 7, 7, C)
    return patches.permute(0, 1, 4, 2, 3).reshape(-1, c, NHOOD, NHOOD)


def _normalise(desc: torch.Tensor) -> torch.Tensor:
    """(M, C, 7, 7) -> (M, C*49), each channel to zero mean, unit std over all of the set's patches."""
    mean = desc.mean(dim=(0, 2, 3), keepdim=True)
    std = desc.std(dim=(0, 2, 3), keepdim=True, unbiased=False).clamp_min(1e-8)
    return ((desc - mean) / std).reshape(desc.shape[0], -1)


def patch_corners(n: int, resolution: int, gen: torch.Generator, patches: int = 64,
                  min_resolution: int = 16) -> list[torch.Tensor]:
    """Random top-left corners of 7x7 patches: one (2, n, patches) tensor (ys, xs) per level."""
    return [torch.randint(0, s - NHOOD + 1, (2, n, patches), generator=gen)
            for s in level_sizes(resolution, min_resolution)]


def set_descriptors(images: torch.Tensor, corners: list[torch.Tensor], batch: int = 64) -> list[torch.Tensor]:
    """uint8 or float images (N, 3, R, R) -> one normalised (N * patches, 147) tensor per level."""
    per_level: list[list[torch.Tensor]] = [[] for _ in corners]
    for start in range(0, images.shape[0], batch):
        x = images[start:start + batch].float()
        for i, level in enumerate(laplacian_pyramid(x, len(corners))):
            ys, xs = corners[i][:, start:start + batch]
            per_level[i].append(_descriptors(level, ys, xs))
    return [_normalise(torch.cat(d)) for d in per_level]


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, gen: torch.Generator,
                       directions: int = 128, repeats: int = 4) -> float:
    """Mean over random unit directions of the 1-D Wasserstein-1 distance between projections.

    a, b: (M, D) descriptor sets of the same size M."""
    if a.shape != b.shape:
        raise InputError(f"sliced Wasserstein needs equal-sized sets, got {tuple(a.shape)} and {tuple(b.shape)}")
    dists = []
    for _ in range(repeats):
        dirs = torch.randn(a.shape[1], directions, generator=gen)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)             # (D, directions), unit columns
        # (directions, M): sorting along the contiguous last axis is the fast way round.
        proj_a = torch.sort(dirs.t() @ a.t(), dim=1).values
        proj_b = torch.sort(dirs.t() @ b.t(), dim=1).values
        dists.append((proj_a - proj_b).abs().mean())
    return float(torch.stack(dists).mean())


@torch.no_grad()
def swd(real: torch.Tensor, fake: torch.Tensor, seed: int = 0, patches: int = 64,
        directions: int = 128, repeats: int = 4, min_resolution: int = 16) -> dict:
    """SWD x 1e3 between two equal-sized image sets (N, 3, R, R), uint8 or float.

    Returns {"levels": {resolution: swd_x1e3}, "mean": average over levels}."""
    if real.shape != fake.shape or real.ndim != 4:
        raise InputError(f"SWD compares two sets of the same shape (N, 3, R, R), got "
                         f"{tuple(real.shape)} and {tuple(fake.shape)}")
    gen = torch.Generator().manual_seed(seed)
    # Both sets use the same patch positions (image i of each set gets the same corners). The
    # images are unpaired, so this adds no bias, and removes one source of noise: a set
    # against itself scores exactly 0 (see the module docstring).
    corners = patch_corners(real.shape[0], real.shape[-1], gen, patches, min_resolution)
    desc_real, desc_fake = set_descriptors(real, corners), set_descriptors(fake, corners)
    sizes = level_sizes(real.shape[-1], min_resolution)
    levels = {s: SCALE * sliced_wasserstein(a, b, gen, directions, repeats)
              for s, a, b in zip(sizes, desc_real, desc_fake)}
    return {"levels": levels, "mean": sum(levels.values()) / len(levels)}
