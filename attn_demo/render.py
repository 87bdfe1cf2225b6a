"""Pictures from arrays: numpy, PIL and matplotlib colormaps only (no torch).

Images are HxWx3 uint8 arrays. Heat maps are small float arrays over an
attention grid; `heat_overlay` upsamples one bilinearly to the picture size
and alpha-blends it in colour over the image.
"""
from __future__ import annotations

import io

import matplotlib
import numpy as np
from PIL import Image, ImageDraw

from .errors import InputError

COLORMAPS = ("inferno", "magma", "viridis", "plasma", "turbo", "jet", "hot", "cividis", "gray")
# Bright, distinct marker colours for pinned query points (first one for a single click).
MARKER_COLORS = ((0, 255, 255), (255, 0, 255), (255, 220, 0), (0, 255, 80),
                 (255, 128, 0), (80, 160, 255), (255, 255, 255), (255, 60, 60))


def to_uint8(images) -> np.ndarray:
    """Generator output in [-1, 1], (3, H, W) or (B, 3, H, W) -> (H, W, 3) / (B, H, W, 3) uint8."""
    a = np.asarray(images, dtype=np.float32)
    a = np.moveaxis(a, -3, -1)
    return np.clip(np.rint((a + 1.0) * 127.5), 0, 255).astype(np.uint8)


def upscale_nearest(img: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel becomes a factor x factor block, so a click lands on one source pixel."""
    if factor == 1:
        return img
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def colormap(name: str):
    if name not in COLORMAPS:
        raise InputError(f"unknown colormap {name!r}; choose one of {', '.join(COLORMAPS)}")
    return matplotlib.colormaps[name]


def colorize(values: np.ndarray, cmap: str = "inferno") -> np.ndarray:
    """Values in [0, 1] -> uint8 RGB through a matplotlib colormap."""
    lut = (colormap(cmap)(np.linspace(0.0, 1.0, 256))[:, :3] * 255).round().astype(np.uint8)
    idx = np.clip(np.rint(np.asarray(values, dtype=np.float32) * 255), 0, 255).astype(np.intp)
    return lut[idx]


def upsample_bilinear(heat: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of a float map with cell-centre alignment (PIL's 'F' mode)."""
    heat = np.ascontiguousarray(heat, dtype=np.float32)
    if heat.shape == (height, width):
        return heat
    return np.asarray(Image.fromarray(heat).resize((width, height), Image.BILINEAR))  # mode "F"


def normalize_map(heat: np.ndarray) -> np.ndarray:
    """Scale a non-negative map to [0, 1] by its maximum (all-zero stays zero)."""
    heat = np.asarray(heat, dtype=np.float32)
    peak = float(heat.max()) if heat.size else 0.0
    return heat / peak if peak > 0 else np.zeros_like(heat)


def heat_overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.6,
                 cmap: str = "inferno") -> np.ndarray:
    """Blend a heat map (any grid) over an HxWx3 image: (1-alpha)*image + alpha*colour."""
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"opacity must be in [0, 1], got {alpha}")
    h, w = image.shape[:2]
    colour = colorize(normalize_map(upsample_bilinear(heat, w, h)), cmap).astype(np.float32)
    out = (1.0 - alpha) * image.astype(np.float32) + alpha * colour
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def draw_marker(img: np.ndarray, x: float, y: float, color=(0, 255, 255), radius: int = 6,
                label: str | None = None) -> np.ndarray:
    """A ring with a dark outline and a centre dot at (x, y), on a copy of img."""
    pil = Image.fromarray(img)
    d = ImageDraw.Draw(pil)
    r = radius
    d.ellipse((x - r - 1, y - r - 1, x + r + 1, y + r + 1), outline=(0, 0, 0), width=4)
    d.ellipse((x - r, y - r, x + r, y + r), outline=tuple(color), width=2)
    d.ellipse((x - 1, y - 1, x + 1, y + 1), fill=tuple(color))
    if label:
        d.text((x + r + 2, y - r - 2), label, fill=tuple(color), stroke_width=2, stroke_fill=(0, 0, 0))
    return np.asarray(pil)


def image_grid(images, nrow: int | None = None, pad: int = 2, fill: int = 255) -> np.ndarray:
    """(B, H, W, 3) uint8 -> one picture, nrow images per row, `pad` pixels between them."""
    images = np.asarray(images)
    b, h, w, c = images.shape
    nrow = nrow or int(np.ceil(np.sqrt(b)))
    rows = int(np.ceil(b / nrow))
    grid = np.full((rows * h + (rows + 1) * pad, nrow * w + (nrow + 1) * pad, c), fill, np.uint8)
    for i, img in enumerate(images):
        r, col = divmod(i, nrow)
        y0, x0 = pad + r * (h + pad), pad + col * (w + pad)
        grid[y0:y0 + h, x0:x0 + w] = img
    return grid


def encode_png(img: np.ndarray, compress_level: int = 1, pnginfo=None) -> bytes:
    """PNG bytes. Level 1 is ~5x faster than PIL's default and still lossless."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=compress_level, pnginfo=pnginfo)
    return buf.getvalue()


def save_png(img: np.ndarray, path, compress_level: int = 6) -> None:
    Image.fromarray(img).save(path, format="PNG", compress_level=compress_level)
