"""Regions of a picture for interventions (serving/surgery.py): rectangles and painted masks, and
the grid cells under them.

A brush or a target is an (H, W) boolean mask of a picture of (width, height) pixels (the image
itself or an upscaled copy); a rectangle x0, y0, x1, y1 covers pixels x0 <= x < x1, y0 <= y < y1.
A grid cell is under a mask when any of its pixels is (`cells_under`), with the same floor rule
as a click (`probe.pixel_to_cell`). Empty masks, masks of the wrong shape and rectangles that
reach outside the picture are refused with a message.
"""
from __future__ import annotations

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
