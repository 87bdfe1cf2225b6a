"""Pictures from arrays: numpy and PIL only (no torch; matplotlib's colormaps as stored palettes).

Images are HxWx3 uint8 arrays. Heat maps are small float arrays over an
attention grid; `overlay_picture` upsamples one bilinearly to the picture
size and alpha-blends it in colour over the (nearest-upscaled) image.
"""
from __future__ import annotations

import functools
import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import InputError

PALETTES_FILE = Path(__file__).with_name("palettes.npz")
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
    h, w, c = img.shape
    return np.broadcast_to(img[:, None, :, None], (h, factor, w, factor, c)).reshape(h * factor, w * factor, c)


def colormap(name: str) -> str:
    """The name, checked: one of COLORMAPS."""
    if name not in COLORMAPS:
        raise InputError(f"unknown colormap {name!r}; choose one of {', '.join(COLORMAPS)}")
    return name


@functools.lru_cache(maxsize=None)
def palette(name: str) -> bytes:
    """A 256-entry RGB palette of a colormap, as bytes for PIL's putpalette.

    Stored in PALETTES_FILE (written from matplotlib by scripts/palettes.py):
    importing matplotlib would slow the app's start (docs/PERFORMANCE_NOTES.md).
    """
    with np.load(PALETTES_FILE) as tables:
        return tables[colormap(name)].astype(np.uint8).tobytes()


@functools.lru_cache(maxsize=64)
def resize_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of a bilinear resize along one axis, as PIL computes them: a triangle
    filter on pixel centres (widened by the ratio when shrinking), renormalised at the edges.
    Every row sums to 1."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centre = (np.arange(n_out) + 0.5) * scale                   # output pixel centres, in input pixels
    w = np.maximum(1.0 - np.abs(np.arange(n_in) + 0.5 - centre[:, None]) / support, 0.0)
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


def map_levels(heat: np.ndarray, width: int, height: int, vmax: float | None = None) -> np.ndarray:
    """A non-negative map (h, w) scaled by `vmax` (default: its own maximum; values above are
    clipped) to 0..255 and resized bilinearly to
    (height, width), as uint8 levels (an all-zero map stays zero). The resize is two small matrix
    products in float (Wy @ map @ Wx^T): faster than PIL's resize of the 8-bit map at 512 px
    (docs/PERFORMANCE_NOTES.md), without its rounding of the map to 8 bits before interpolating."""
    heat = np.asarray(heat, dtype=np.float32)
    peak = vmax if vmax is not None else (float(heat.max()) if heat.size else 0.0)
    if not peak > 0:
        return np.zeros((height, width), np.uint8)
    # +0.5 then truncation rounds; the weights' rows sum to 1, so the offset passes through as is
    scaled = np.clip(heat * (255.0 / peak), 0.0, 255.0) + 0.5
    levels = resize_weights(heat.shape[0], height) @ (scaled @ resize_weights(heat.shape[1], width).T)
    return levels.astype(np.uint8)


def heat_colours(heat: np.ndarray, width: int, height: int, cmap: str = "inferno",
                 vmax: float | None = None) -> Image.Image:
    """The colour picture of a map: its levels (`map_levels`) coloured through the colormap."""
    colormap(cmap)
    grey = Image.fromarray(map_levels(heat, width, height, vmax))
    grey.putpalette(palette(cmap))                      # "L" becomes "P" with this palette
    return grey.convert("RGB")


def overlay_picture(image: np.ndarray, heat: np.ndarray, scale: int = 1, alpha: float = 0.6,
                    cmap: str = "inferno", marker=None, vmax: float | None = None) -> np.ndarray:
    """image (H, W, 3) upscaled by `scale` (nearest), the map blended over it:
    (1 - alpha) * image + alpha * colour, and an optional marker (x, y, colour, radius)
    in output pixels. PIL's C routines and two small matrix products (`map_levels`); the upscaled
    image is kept for the next click on it (the click's cost: docs/PERFORMANCE.md)."""
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"opacity must be in [0, 1], got {alpha}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"overlay_picture takes an HxWx3 uint8 image, got {image.dtype} {image.shape}")
    base = _upscaled(np.ascontiguousarray(image).tobytes(), image.shape, scale)
    out = Image.blend(base, heat_colours(heat, base.width, base.height, cmap, vmax), alpha)
    if marker is not None:
        _marker(ImageDraw.Draw(out), *marker)
    return np.asarray(out)


@functools.lru_cache(maxsize=4)
def _upscaled(pixels: bytes, shape: tuple, scale: int) -> Image.Image:
    """The image, nearest-upscaled, kept for the next clicks on it (keyed by its pixels; callers
    never draw on it: Image.blend returns a new picture)."""
    base = Image.frombytes("RGB", (shape[1], shape[0]), pixels)
    return base.resize((base.width * scale, base.height * scale), Image.NEAREST) if scale != 1 else base


def colour_bar(cmap: str, vmax: float, ticks: list[tuple[float, str]], title: str, width: int = 512,
               height: int = 44) -> np.ndarray:
    """A legend for a map: the colormap from 0 to `vmax` left to right, with `ticks` (value, label)
    marked at their place on it and a title; an HxWx3 uint8 picture of `width` pixels. Ticks come in
    order of importance: a label that would overlap an earlier one is left out (its mark stays)."""
    colormap(cmap)
    pal = np.frombuffer(palette(cmap), np.uint8).reshape(256, 3)
    bar = pal[np.minimum(255, np.arange(width) * 256 // width)]                 # (width, 3)
    out = Image.new("RGB", (width, height), (24, 24, 28))
    out.paste(Image.fromarray(np.ascontiguousarray(np.broadcast_to(bar, (14, width, 3)))), (0, 14))
    d = ImageDraw.Draw(out)
    d.font = _default_font()     # the font a new Draw loads (decoded afresh each time): a click's legend, ~half its cost
    d.text((2, 0), title, fill=(230, 230, 230))
    taken: list[tuple[float, float]] = []
    for value, label in ticks:
        if not 0 <= value <= vmax:
            continue
        x = min(width - 1, int(round(value / vmax * (width - 1))))
        d.line([(x, 12), (x, 30)], fill=(255, 255, 255), width=1)
        left, right = d.textbbox((0, 0), label)[0::2]
        start = max(0, min(width - (right - left), x - (right - left) // 2))
        span = (start - 4, start + (right - left) + 4)
        if all(span[1] <= a or span[0] >= b for a, b in taken):
            d.text((start, 31), label, fill=(230, 230, 230))
            taken.append(span)
    return np.asarray(out)


def marker_point(x: int, y: int, size: tuple[int, int], side: int) -> tuple[float, float]:
    """Where the click on pixel (x, y) of a (width, height) picture lands in a side x side picture of
    the same image: the clicked pixel's centre, scaled."""
    return (x + 0.5) * side / size[0], (y + 0.5) * side / size[1]


def _marker(d: ImageDraw.ImageDraw, x: float, y: float, color=(0, 255, 255), radius: int = 6,
            label: str | None = None) -> None:
    r = radius
    d.ellipse((x - r - 1, y - r - 1, x + r + 1, y + r + 1), outline=(0, 0, 0), width=4)
    d.ellipse((x - r, y - r, x + r, y + r), outline=tuple(color), width=2)
    d.ellipse((x - 1, y - 1, x + 1, y + 1), fill=tuple(color))
    if label:
        d.text((x + r + 2, y - r - 2), label, fill=tuple(color), stroke_width=2, stroke_fill=(0, 0, 0))


def draw_marker(img: np.ndarray, x: float, y: float, color=(0, 255, 255), radius: int = 6,
                label: str | None = None) -> np.ndarray:
    """A ring with a dark outline and a centre dot at (x, y), on a copy of img."""
    pil = Image.fromarray(img)
    _marker(ImageDraw.Draw(pil), x, y, color, radius, label)
    return np.asarray(pil)


@functools.lru_cache(maxsize=1)
def _default_font():
    """Pillow's default font, as ImageDraw.Draw loads it for every new drawing, loaded once."""
    return ImageFont.load_default()


@functools.lru_cache(maxsize=4)
def label_font(size: int = 11):
    """The labels' font: one with Greek (the γ of "G16  γ +0.42"), matplotlib's DejaVu Sans (found
    without importing matplotlib); Pillow's default where it is missing (which draws γ as a box)."""
    import importlib.util
    spec = importlib.util.find_spec("matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def labelled_grid(rows: list[list[np.ndarray]], row_labels: list[str], col_labels: list[str],
                  pad: int = 4, label_height: int = 16, label_width: int = 120) -> np.ndarray:
    """Tiles (HxWx3 uint8, all the same size) in rows, each row labelled on its left and each
    column on top, on a dark background; a row may have fewer tiles than there are columns."""
    h, w = rows[0][0].shape[:2]
    ncol = max(len(r) for r in rows)
    width = label_width + ncol * (w + pad) + pad
    height = label_height + len(rows) * (h + pad) + pad
    out = Image.new("RGB", (width, height), (24, 24, 28))
    d = ImageDraw.Draw(out)
    for j, text in enumerate(col_labels[:ncol]):
        d.text((label_width + pad + j * (w + pad), 2), text, fill=(230, 230, 230), font=label_font())
    for i, (tiles, text) in enumerate(zip(rows, row_labels)):
        y = label_height + pad + i * (h + pad)
        d.text((4, y + h // 2 - 6), text, fill=(230, 230, 230), font=label_font())
        for j, tile in enumerate(tiles):
            out.paste(Image.fromarray(tile), (label_width + pad + j * (w + pad), y))
    return np.asarray(out)


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


_PNG_COLOR = {1: 0, 3: 2, 4: 6}   # channels -> PNG colour type: grey, RGB, RGBA


def encode_png(img: np.ndarray, compress_level: int = 1) -> bytes:
    """PNG bytes for display: rows unfiltered, zlib at `compress_level`; lossless.

    What the studio serves after every click. PIL's encoder picks a filter per
    row, which at level 1 costs more than the compression: this writer is
    faster for a 512 px overlay, with somewhat larger files (`python -m bench`,
    the click table). Saved files go through PIL (`save_png`).
    """
    img = np.ascontiguousarray(img)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in _PNG_COLOR):
        raise ValueError(f"encode_png takes HxW, HxWx3 or HxWx4 uint8, got {img.dtype} {img.shape}")
    h, w = img.shape[:2]
    channels = 1 if img.ndim == 2 else img.shape[2]
    rows = np.zeros((h, 1 + w * channels), np.uint8)   # a 0 ("None") filter byte, then the row
    rows[:, 1:] = img.reshape(h, -1)
    header = struct.pack(">IIBBBBB", w, h, 8, _PNG_COLOR[channels], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.data, compress_level)) + _png_chunk(b"IEND", b""))


def encode_jpeg(img: np.ndarray, quality: int = 95) -> bytes:
    """JPEG bytes for showing a map in the browser: full-resolution colour (4:4:4, so the marker
    ring and the map's hues keep their edges), at `quality`. Lossy: at 95 a 512 px overlay differs from the
    array by a few levels (PSNR ~51 dB) and is about a third the size of `encode_png`'s, and faster to
    write (`python -m bench --only click`). Never used for what is saved."""
    img = np.ascontiguousarray(img)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"encode_jpeg takes HxWx3 uint8, got {img.dtype} {img.shape}")
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality, subsampling=0)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png_pil(img: np.ndarray, compress_level: int = 6) -> bytes:
    """PIL's PNG (adaptive row filters): smaller files, slower. For comparison in the benchmark."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def save_png(img: np.ndarray, path, compress_level: int = 6) -> None:
    Image.fromarray(img).save(path, format="PNG", compress_level=compress_level)
