"""Material maps derived from a texture, for a material slot: a height map and a normal map.

The height is the texture's luminance (Rec. 709), stretched to the full range: bright stones stand
out of dark mortar, which is what a designer wants from a colour map with no height of its own.
The normal map is the height's gradient (central differences, across the wrap where the texture
tiles, so the normal map tiles too), in the OpenGL convention: x right in red, y up in green,
z out of the surface in blue (flip green for DirectX engines).
"""
from __future__ import annotations

import numpy as np

from ..checks import check_finite
from ..models.canvas import TILINGS


def height_map(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W) float32 in [0, 1]: luminance stretched to the full range."""
    lum = image.astype(np.float32) @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    lo, hi = float(lum.min()), float(lum.max())
    return ((lum - lo) / (hi - lo) if hi > lo else np.zeros_like(lum)).astype(np.float32)


def height_png16(height: np.ndarray) -> np.ndarray:
    """A height in [0, 1] as 16-bit grey pixels (for a displacement slot)."""
    return np.round(np.clip(height, 0, 1) * 65535).astype(np.uint16)


def _gradient(h: np.ndarray, axis: int, wrap: bool) -> np.ndarray:
    if wrap:
        return (np.roll(h, -1, axis) - np.roll(h, 1, axis)) / 2
    return np.gradient(h, axis=axis)


def normal_map(height: np.ndarray, strength: float = 4.0, tiling: str = "both") -> np.ndarray:
    """(H, W) height in [0, 1] -> (H, W, 3) uint8 tangent-space normals (OpenGL: green up).
    `strength`: how many pixels high a full-range step of the height stands."""
    strength = check_finite("normal-map strength", strength, 0.0, 100.0)
    if tiling not in TILINGS:
        raise ValueError(f"tiling must be one of {TILINGS}")
    dx = _gradient(height, 1, tiling in ("both", "x"))
    dy = _gradient(height, 0, tiling == "both")
    # the surface z = strength * h(x, y); image rows grow downwards, the normal's y points up
    n = np.stack([-strength * dx, strength * dy, np.ones_like(height)], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return np.round((n * 0.5 + 0.5) * 255).astype(np.uint8)


def tiled_preview(image: np.ndarray, tiling: str = "both", max_side: int = 1536) -> np.ndarray:
    """The texture repeated 3 x 3 (a band: 3 x 1) to judge its seams by eye, shrunk so the
    picture's longer side is at most `max_side`."""
    from PIL import Image
    reps = (1, 3) if tiling == "x" else (3, 3)
    h, w = image.shape[:2]
    f = min(1.0, max_side / max(w * reps[1], h * reps[0]))
    if f < 1.0:
        tile = Image.fromarray(image).resize((max(1, round(w * f)), max(1, round(h * f))), Image.BOX)   # no blending past the edge: no false seam
        image = np.asarray(tile)
    return np.tile(image, (*reps, 1))
