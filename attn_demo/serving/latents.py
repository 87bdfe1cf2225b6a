"""Latent paths: the routes an animation takes through latent space (torch only).

Used by every loop the studio makes (studio/core.Studio.interpolate for image models,
studio/textures/desk.CanvasDesk.loop for canvas fields) and open to the CLI:

- `slerp_path`: spherical interpolation from latent to latent, optionally closed back to the
  first, which keeps Gaussian latents at a typical norm;
- `loop_angles` and `loop_point`: the exact loop z(theta) = a cos(theta) + b sin(theta) through
  a (theta 0) and b (theta pi/2). With a and b independent N(0, I) draws every point is itself
  a draw from the prior, and the last frame meets the first. It works on any tensor shape
  (a z, a batch, a canvas model's whole latent field).
"""
from __future__ import annotations

import math

import torch


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation, which keeps Gaussian latents at a typical norm."""
    cos = float(torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12))
    omega = math.acos(max(-1.0, min(1.0, cos)))
    if omega < 1e-6:
        return a + (b - a) * t
    return (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)


def slerp_path(zs: list[torch.Tensor], frames: int, closed: bool) -> torch.Tensor:
    """(steps * frames, z_dim): `frames` per step from zs[0] to zs[-1] (both included), or with
    `closed` around zs and back to zs[0] (which is not repeated at the end)."""
    route = zs + [zs[0]] if closed else zs
    ts = torch.linspace(0, 1, frames + 1)[:-1] if closed else torch.linspace(0, 1, frames)
    return torch.stack([slerp(route[i], route[i + 1], float(t)) for i in range(len(route) - 1) for t in ts])


def loop_angles(frames: int) -> list[float]:
    """The exact loop's angles: `frames` steps of 2 pi / frames from 0 (2 pi itself is frame 0 again)."""
    return [2 * math.pi * i / frames for i in range(frames)]


def loop_point(a: torch.Tensor, b: torch.Tensor, theta: float) -> torch.Tensor:
    """a cos(theta) + b sin(theta): a at 0, b at pi / 2, a draw from the prior all the way round."""
    return math.cos(theta) * a + math.sin(theta) * b
