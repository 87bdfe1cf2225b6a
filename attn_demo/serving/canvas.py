"""Rendering a canvas model (models/canvas.py): any width x height, tiling in both axes, x, or none.

    python -m attn_demo generate --weights DIR --seed 7 --width 1024 --height 512 --tile both --out t.png

Sizes are whole multiples of the model's latent cell (16 px for a 64-px crop model); the seed gives
the latent field (CanvasGenerator.latent_from_seeds), so the same seed, size and class paint the same
canvas on any machine. Limits: MAX_PIXELS in all (2048 x 2048, or a 4096 x 1024 band).
"""
from __future__ import annotations

from numbers import Real

import numpy as np
import torch

from ..checks import check_finite, check_seed
from ..errors import InputError
from ..models.canvas import TILINGS, CanvasGenerator
from ..models.latents import PSI_RANGE, resolve_class
from . import draw

MAX_SIDE = 4096
MAX_PIXELS = 2048 * 2048


def canvas_cells(G: CanvasGenerator, width, height) -> tuple[int, int]:
    """(rows, cols) of latent cells for a width x height canvas, checked."""
    cell = G.cell
    out = []
    for name, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, Real) or v != v or v != int(v):
            raise InputError(f"canvas {name} must be a whole number of pixels, got {v!r}")
        v = int(v)
        if not cell <= v <= MAX_SIDE or v % cell:
            raise InputError(f"canvas {name} must be a multiple of {cell} px (this model's latent cell) "
                             f"from {cell} to {MAX_SIDE}, got {v}")
        out.append(v // cell)
    cols, rows = out
    if rows * cols * cell * cell > MAX_PIXELS:
        raise InputError(f"a canvas of {width} x {height} is over the limit of {MAX_PIXELS:,} pixels "
                         "(2048 x 2048, or a 4096 x 1024 band)")
    return rows, cols


@torch.inference_mode()
def render_canvas(G: CanvasGenerator, seed, width, height, tiling: str = "both", psi: float = 1.0,
                  label=None) -> np.ndarray:
    """A (height, width, 3) uint8 canvas."""
    if tiling not in TILINGS:
        raise InputError(f"tiling must be one of {', '.join(TILINGS)}, got {tiling!r}")
    rows, cols = canvas_cells(G, width, height)
    psi = check_finite("truncation psi", psi, *PSI_RANGE)
    cfg = G.cfg
    y = resolve_class(label, cfg.num_classes, cfg.class_names)
    field = G.latent_from_seeds([check_seed(seed)], (rows, cols)) * psi
    device = next(G.parameters()).device
    G.set_tiling(tiling)
    try:
        out = G(field.to(device), None if y is None else torch.tensor([y], device=device))
    finally:
        G.set_tiling("both")
    return draw.to_uint8(out[0].float().cpu().numpy())
