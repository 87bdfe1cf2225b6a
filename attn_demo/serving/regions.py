"""Regions of a picture for interventions (serving/surgery.py): rectangles and painted masks, and
the grid cells under them.

A brush or a target is a rectangle, a painted mask (free hand, "mask:N:BITS": below) or an (H, W)
boolean mask of a picture of (width, height) pixels (the image itself or an upscaled copy); a rectangle x0, y0, x1, y1 covers pixels x0 <= x < x1, y0 <= y < y1.
A grid cell is under a mask when any of its pixels is (`cells_under`), with the same floor rule
as a click (`probe.pixel_to_cell`). Empty masks, masks of the wrong shape and rectangles that
reach outside the picture are refused with a message.
"""
from __future__ import annotations

import base64

import numpy as np
import torch

from ..checks import check_whole
from ..errors import InputError


def box_mask(box, size: tuple[int, int], what: str = "brush") -> np.ndarray:
    """The (height, width) mask of a rectangle x0, y0, x1, y1 of a (width, height) picture: pixels
    x0 <= x < x1, y0 <= y < y1. Refused when it is empty or reaches outside the picture."""
    try:
        x0, y0, x1, y1 = box
    except (TypeError, ValueError):
        raise InputError(f"{what} must be four numbers x0, y0, x1, y1, got {box!r}") from None
    width, height = size
    x0, x1 = (check_whole(f"{what} x", v) for v in (x0, x1))
    y0, y1 = (check_whole(f"{what} y", v) for v in (y0, y1))
    if not (0 <= x0 and 0 <= y0 and x1 <= width and y1 <= height):
        raise InputError(f"{what} {x0},{y0},{x1},{y1} reaches outside the {width}x{height} image: "
                         f"keep 0 <= x0 < x1 <= {width} and 0 <= y0 < y1 <= {height}")
    if x1 <= x0 or y1 <= y0:
        raise InputError(f"{what} {x0},{y0},{x1},{y1} covers no pixel: x1 must exceed x0 and y1 exceed y0")
    mask = np.zeros((height, width), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def parse_box(text, what: str = "brush") -> tuple[int, ...]:
    """'x0,y0,x1,y1' -> four whole numbers (the picture checks them: `box_mask`)."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise InputError(f"{what} must look like x0,y0,x1,y1 (pixels x0 <= x < x1, y0 <= y < y1), got {text!r}")
    return tuple(check_whole(what, v) for v in values)


def check_mask(mask, size: tuple[int, int], what: str = "brush") -> np.ndarray:
    """A brush: a (height, width) boolean (or 0/1) array of a (width, height) picture, not empty."""
    m = np.asarray(mask)
    width, height = size
    if m.shape != (height, width):
        raise InputError(f"{what} must be a {height}x{width} mask of the picture, got shape {m.shape}")
    if m.dtype != bool:
        if not np.issubdtype(m.dtype, np.number) or not np.isfinite(m).all() or not np.isin(m, (0, 1)).all():
            raise InputError(f"{what} must hold only 0 and 1 (or True and False)")
        m = m.astype(bool)
    if not m.any():
        raise InputError(f"the {what} covers no pixel: paint the region first")
    return m


def cells_under(mask: np.ndarray, grid: tuple[int, int]) -> torch.Tensor:
    """(rows * cols,) bool in raster order: the cells of `grid` that any pixel of the mask falls in
    (pixel (x, y) of a (W, H) picture is in cell (x * cols // W, y * rows // H): `pixel_to_cell`)."""
    height, width = mask.shape
    rows, cols = grid
    ys, xs = np.nonzero(mask)
    cells = np.zeros(rows * cols, bool)
    cells[(ys * rows // height) * cols + xs * cols // width] = True
    return torch.from_numpy(cells)


# ------------------------------------------------------------------ painted (free-hand) masks
# A free-hand brush travels as text, "mask:N:BITS": an N x N grid laid over the picture (the page
# paints at the attention grid's resolution), its cells in raster order packed eight to a byte
# (most significant bit first, numpy.packbits), base64url without padding. A 16 x 16 brush is
# 43 characters. The mask covers picture pixel (x, y) of a (W, H) picture when its cell
# (x * N // W, y * N // H) is set: the floor rule of a click (`probe.pixel_to_cell`), so a mask
# painted at a layer's grid covers exactly the cells painted.
MASK_PREFIX = "mask:"
MAX_MASK_SIDE = 128


def mask_to_text(cells) -> str:
    """An (N, N) boolean grid -> "mask:N:BITS" (see above)."""
    m = np.asarray(cells, bool)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or not 1 <= m.shape[0] <= MAX_MASK_SIDE:
        raise InputError(f"a painted mask is a square grid of 1..{MAX_MASK_SIDE} cells a side, got {m.shape}")
    bits = base64.urlsafe_b64encode(np.packbits(m.ravel()).tobytes()).decode().rstrip("=")
    return f"{MASK_PREFIX}{m.shape[0]}:{bits}"


def mask_from_text(text, what: str = "brush") -> np.ndarray:
    """"mask:N:BITS" -> the (N, N) boolean grid, or a clear error (wrong length, padding bits set,
    not base64). An empty grid is refused too: the brush must cover something."""
    text = str(text).strip()
    parts = text.split(":")
    if len(parts) != 3 or parts[0] + ":" != MASK_PREFIX or not parts[1].isdigit():
        raise InputError(f"a painted {what} looks like mask:N:BITS (N cells a side, the bits base64url), "
                         f"got {text[:40]!r}")
    side = int(parts[1])
    if not 1 <= side <= MAX_MASK_SIDE:
        raise InputError(f"a painted {what} is 1..{MAX_MASK_SIDE} cells a side, got {side}")
    cells = side * side
    try:
        raw = base64.b64decode(parts[2] + "=" * (-len(parts[2]) % 4), altchars=b"-_", validate=True)
    except (ValueError, TypeError):
        raise InputError(f"the painted {what}'s bits are not valid base64url") from None
    if len(raw) != (cells + 7) // 8:
        raise InputError(f"the painted {what} has {len(raw)} bytes of bits; a {side}x{side} grid needs "
                         f"{(cells + 7) // 8}")
    bits = np.unpackbits(np.frombuffer(raw, np.uint8))
    if bits[cells:].any():
        raise InputError(f"the painted {what} has bits set past its {side}x{side} grid")
    m = bits[:cells].astype(bool).reshape(side, side)
    if not m.any():
        raise InputError(f"the painted {what} covers no pixel: paint the region first")
    return m


def is_mask_text(value) -> bool:
    return isinstance(value, str) and value.strip().startswith(MASK_PREFIX)


def parse_region(value, what: str = "brush"):
    """A brush or target as given: "x0,y0,x1,y1" or four numbers -> a box (a tuple), "mask:N:BITS" ->
    the same text, checked (a painted mask stays text: compact in states and links)."""
    if is_mask_text(value):
        mask_from_text(value, what)
        return value.strip()
    return parse_box(value if isinstance(value, str) else ",".join(map(str, value)), what)


def region_mask(region, size: tuple[int, int], what: str = "brush") -> np.ndarray:
    """The (height, width) mask of a (width, height) picture under a box or a painted mask."""
    if not is_mask_text(region):
        return box_mask(region, size, what)
    cells = mask_from_text(region, what)
    width, height = size
    side = cells.shape[0]
    if width < side or height < side:
        raise InputError(f"the painted {what} has {side} cells a side, more than the {width}x{height} picture")
    rows = np.arange(height) * side // height                      # picture row -> mask row (floor rule)
    cols = np.arange(width) * side // width
    return cells[rows[:, None], cols[None, :]]

