"""Serving a canvas model (models/canvas.py): any width x height, tiling in both axes, x, or none.

    python -m attn_demo generate --weights DIR --seed 7 --width 1024 --height 512 --tile both --out t.png

Sizes are whole multiples of the model's latent cell (16 px for a 64-px crop model); the seed gives
the latent field (CanvasGenerator.latent_from_seeds), so the same seed, size and class paint the same
canvas on any machine. Limits: MAX_PIXELS in all (2048 x 2048, or a 4096 x 1024 band).

`CanvasEngine` is what the studio serves: a render keeps its latent field and its attention
captures, so a click is answered without a generator pass (as `Engine` does for image models),
and a field can be edited cell by cell (`reroll`): the cells under a brush, or the cells a pixel's
attention row weighs most, get new latents and the rest stays.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..checks import check_finite, check_seed, check_whole
from ..errors import InputError
from ..models.canvas import TILINGS, CanvasGenerator
from ..models.checkpoint import load_directions, load_pretrained
from ..models.latents import PSI_RANGE, Directions, make_latent, resolve_class, z_from_seed
from ..imaging import draw
from .engine import InspectResult, MapSettings, ServedModel, pick_device
from .gate import LARGE
from .probe import LOOKS_AT, AttentionRecorder, Capture

MAX_SIDE = 4096
MAX_PIXELS = 2048 * 2048
MAP_SIDE = 640                # maps of larger canvases are drawn over the canvas shrunk to this (a column of the page)
MAX_REROLL_SHARE = 0.9        # "re-roll what this pixel looks at": the cells holding this share of its row


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


def check_tiling(tiling) -> str:
    if tiling not in TILINGS:
        raise InputError(f"tiling must be one of {', '.join(TILINGS)}, got {tiling!r}")
    return tiling


def seed_field(G: CanvasGenerator, seed, cells: tuple[int, int], psi: float = 1.0,
               directions: Directions | None = None, sliders=()) -> torch.Tensor:
    """The latent field of a seed, (local_values + z_dim, rows, cols) on the CPU: the seed's field
    (CanvasGenerator.latent_from_seeds) times psi, the sliders moving the global latent."""
    psi = check_finite("truncation psi", psi, *PSI_RANGE)
    seed = check_seed(seed)
    out = G.latent_from_seeds([seed], cells)[0] * psi
    if not G.cfg.g_global and any(s != 0 for s in sliders):
        raise InputError("this canvas model has no global latent (trained with --g-global off): "
                         "latent sliders do not apply to it; set them to 0")
    if directions is not None or any(sliders):
        z = make_latent(seed, G.cfg.z_dim, psi, directions, sliders)      # psi * z + the sliders' offset
        out[G.cfg.local_values:] = z[:, None, None]
    return out


@torch.inference_mode()
def paint(G: CanvasGenerator, fields: torch.Tensor, y: int | None, tiling: str = "both",
          recorder: AttentionRecorder | None = None) -> np.ndarray:
    """Fields (B, C, rows, cols) -> canvases (B, H, W, 3) uint8, under the wrap `tiling`."""
    device = next(G.parameters()).device
    G.set_tiling(check_tiling(tiling))
    try:
        yt = None if y is None else torch.full((fields.shape[0],), y, dtype=torch.long, device=device)
        if recorder is not None:
            with recorder:
                out = G(fields.to(device), yt)
        else:
            out = G(fields.to(device), yt)
    finally:
        G.set_tiling("both")
    return draw.to_uint8(out.float().cpu().numpy())


def render_canvas(G: CanvasGenerator, seed, width, height, tiling: str = "both", psi: float = 1.0,
                  label=None) -> np.ndarray:
    """A (height, width, 3) uint8 canvas."""
    check_tiling(tiling)
    cells = canvas_cells(G, width, height)
    y = resolve_class(label, G.cfg.num_classes, G.cfg.class_names)
    return paint(G, seed_field(G, seed, cells, psi)[None], y, tiling)[0]


def prepare_canvas(G: CanvasGenerator, device: torch.device) -> CanvasGenerator:
    """A loaded canvas generator as the studio and the CLI serve it: eval, no gradients."""
    return G.eval().requires_grad_(False).to(device)


@dataclass
class CanvasResult:
    image: np.ndarray                 # (H, W, 3) uint8
    field: torch.Tensor               # (C, rows, cols) float32 on the CPU: the latents painted
    class_index: int | None
    tiling: str
    captures: dict[str, Capture]      # attention cache for clicks
    timings: dict[str, float] = field(default_factory=dict)   # milliseconds

    _shrunk: np.ndarray | None = field(default=None, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.shape[1], self.image.shape[0]

    def shrunk(self) -> np.ndarray:
        """The canvas as its maps are drawn over: itself, or shrunk by a whole factor (box filter)
        until its longer side is at most MAP_SIDE; made once."""
        factor = -(-max(self.size) // MAP_SIDE)
        if factor == 1:
            return self.image
        if self._shrunk is None:
            self._shrunk = np.asarray(Image.fromarray(self.image).reduce(factor))
        return self._shrunk


class CanvasEngine(ServedModel):
    """A loaded canvas model: paints fields, answers clicks from the cached captures, edits fields."""

    def __init__(self, generator: CanvasGenerator, directions: Directions | None = None, device: str = "auto",
                 name: str = "canvas", path: Path | None = None):
        self.device = pick_device(device)
        self.generator = prepare_canvas(generator, self.device)
        self.cfg, self.directions, self.name, self.path = generator.cfg, directions, name, path
        self._sha256 = None
        self._lock = threading.Lock()     # the tiling switch and the hooks live on the shared model

    @classmethod
    def from_pretrained(cls, path, device: str = "auto") -> "CanvasEngine":
        path = Path(path)
        generator = load_pretrained(path)
        if not isinstance(generator, CanvasGenerator):
            raise InputError(f"{path} is not a canvas model (config kind {generator.cfg.kind!r})")
        return cls(generator, load_directions(path, generator.cfg.z_dim), device, path.name, path)

    @property
    def cell(self) -> int:
        return self.generator.cell

    def info(self) -> dict:
        return {**super().info(), "cell_px": self.cell}

    # ------------------------------------------------------------ fields
    def field(self, seed, width, height, psi: float = 1.0, sliders=()) -> torch.Tensor:
        """The seed's latent field for a width x height canvas, (C, rows, cols)."""
        return seed_field(self.generator, seed, canvas_cells(self.generator, width, height), psi,
                          self.directions, sliders)

    def check_field(self, f) -> torch.Tensor:
        """A latent field from outside (a state file): its shape, dtype and values checked."""
        c = self.cfg.local_values + self.cfg.z_dim
        if not isinstance(f, torch.Tensor) or f.ndim != 3 or f.shape[0] != c or f.dtype != torch.float32:
            raise InputError(f"a latent field is float32 ({c}, rows, cols), got "
                             f"{getattr(f, 'dtype', type(f).__name__)} {tuple(getattr(f, 'shape', ()))}")
        canvas_cells(self.generator, f.shape[2] * self.cell, f.shape[1] * self.cell)
        if not bool(torch.isfinite(f).all()):
            raise InputError("the latent field has NaN or infinite values")
        if float(f.abs().max()) > 100:
            raise InputError("the latent field has values far outside the prior (|z| > 100)")
        return f

    def class_index(self, label) -> int | None:
        """The surface class a label names, checked (a class-conditional model needs one)."""
        y = resolve_class(label, self.cfg.num_classes, self.class_names)
        if self.cfg.num_classes and y is None:
            raise InputError("this model is class-conditional: give a surface class")
        return y

    def render(self, f: torch.Tensor, label=None, tiling: str = "both") -> CanvasResult:
        """Paint a field; the result keeps the attention captures for clicks."""
        f = self.check_field(f)
        y = self.class_index(label)
        size = (f.shape[2] * self.cell, f.shape[1] * self.cell)
        t0 = time.perf_counter()
        recorder = AttentionRecorder(self.generator, image_size=size)
        with LARGE.hold(*size), self._lock:      # a bound on large renders at once (serving/gate.py)
            image = paint(self.generator, f[None], y, tiling, recorder)[0]
        return CanvasResult(image, f.clone(), y, tiling, recorder.captures,
                            {"render_ms": (time.perf_counter() - t0) * 1e3})

    # ------------------------------------------------------------ clicks
    def inspect(self, result: CanvasResult, x, y, settings: MapSettings = MapSettings(),
                scale: int = 1) -> InspectResult:
        """The map of canvas pixel (x, y) over the canvas (upscaled `scale` times; a canvas wider or
        higher than MAP_SIDE is shown shrunk to fit it, as a screen shows it), a marker at the click."""
        t0 = time.perf_counter()
        settings = settings.checked()
        heat = self.capture(result, settings.layer).probe(x, y, result.size, settings.head, settings.mode)
        t1 = time.perf_counter()
        base, f = result.shrunk(), scale
        if base is not result.image:
            f = base.shape[1] / result.size[0]
        marker = ((heat.x + 0.5) * f, (heat.y + 0.5) * f, draw.MARKER_COLORS[0],
                  max(4, round(max(base.shape[:2]) * scale / 96)))
        overlay = draw.overlay_picture(base, heat.heat.numpy(), scale, settings.alpha, settings.cmap,
                                       marker, settings.fixed_top(heat))
        return InspectResult(heat, overlay, {"map_ms": (t1 - t0) * 1e3,
                                             "overlay_ms": (time.perf_counter() - t1) * 1e3}, settings.vmax(heat))

    # ------------------------------------------------------------ edits
    def brush_cells(self, result: CanvasResult, x, y, radius: int = 1) -> list[tuple[int, int]]:
        """The latent cells (row, col) within `radius` cells of the one under canvas pixel (x, y);
        across the wrap where the canvas tiles."""
        w, h = result.size
        x, y = check_whole("x", x, 0, w - 1), check_whole("y", y, 0, h - 1)
        radius = check_whole("brush radius (cells)", radius, 0, 16)
        rows, cols = result.field.shape[1:]
        r0, c0 = y // self.cell, x // self.cell
        wrap_x, wrap_y = result.tiling in ("both", "x"), result.tiling == "both"
        cells = set()
        for dr in range(-radius, radius + 1):
            for dc in range(-radius, radius + 1):
                r, c = r0 + dr, c0 + dc
                r = r % rows if wrap_y else r
                c = c % cols if wrap_x else c
                if 0 <= r < rows and 0 <= c < cols:
                    cells.add((r, c))
        return sorted(cells)

    def region_cells(self, result: CanvasResult, x0, y0, x1, y1) -> list[tuple[int, int]]:
        """The latent cells a pixel rectangle [x0, x1) x [y0, y1) touches; the rectangle must lie on the canvas."""
        w, h = result.size
        x0, x1 = check_whole("region x0", x0, 0, w - 1), check_whole("region x1", x1, 1, w)
        y0, y1 = check_whole("region y0", y0, 0, h - 1), check_whole("region y1", y1, 1, h)
        if x1 <= x0 or y1 <= y0:
            raise InputError(f"an empty region: x {x0}..{x1}, y {y0}..{y1} (give x0 < x1 and y0 < y1)")
        c = self.cell
        return [(r, q) for r in range(y0 // c, (y1 - 1) // c + 1) for q in range(x0 // c, (x1 - 1) // c + 1)]

    def patch_cells(self, result: CanvasResult, x, y, settings: MapSettings = MapSettings(),
                    radius: int = 1) -> list[tuple[int, int]]:
        """A local patch where pixel (x, y) looks: the cells within `radius` of the one its attention row
        weighs most (the row summed over each cell). The default re-roll of "what this pixel looks at":
        a flat map spreads any share of its weight over cells all across the canvas (#33)."""
        settings = settings.checked()
        heat = self.capture(result, settings.layer).probe(x, y, result.size, settings.head, LOOKS_AT).heat
        rows, cols = result.field.shape[1:]
        r, c = divmod(int(torch.argmax(_sum_to_grid(heat.float(), rows, cols).reshape(-1))), cols)
        return self.brush_cells(result, c * self.cell + self.cell // 2, r * self.cell + self.cell // 2, radius)

    def attended_cells(self, result: CanvasResult, x, y, settings: MapSettings = MapSettings(),
                       share: float = 0.5) -> list[tuple[int, int]]:
        """The latent cells that pixel (x, y)'s attention row weighs most: the fewest cells holding
        `share` of its weight, the row summed over each cell (always the looks-at row)."""
        share = check_finite("share", share, 0.01, MAX_REROLL_SHARE)
        settings = settings.checked()
        heat = self.capture(result, settings.layer).probe(x, y, result.size, settings.head, LOOKS_AT).heat
        rows, cols = result.field.shape[1:]
        per_cell = _sum_to_grid(heat.float(), rows, cols).reshape(-1)
        order = torch.argsort(per_cell, descending=True)
        cum = torch.cumsum(per_cell[order], 0) / per_cell.sum()
        n = int((cum < share).sum()) + 1
        return sorted(divmod(int(i), cols) for i in order[:n])

    def reroll(self, f: torch.Tensor, cells, seed, psi: float = 1.0) -> torch.Tensor:
        """A copy of field f whose local latents at `cells` are drawn anew from `seed` (in the
        order given) times the truncation psi; the global latent and every other cell stay."""
        f = self.check_field(f)
        rows, cols = f.shape[1:]
        cells = list(cells)
        if not cells:
            raise InputError("no cells to re-roll")
        for r, c in cells:
            if not (0 <= r < rows and 0 <= c < cols):
                raise InputError(f"cell ({r}, {c}) is outside the canvas's {rows} x {cols} cells")
        k = self.cfg.local_values
        new = z_from_seed(check_seed(seed), k * len(cells)).view(len(cells), k)
        psi = check_finite("truncation psi", psi, *PSI_RANGE)
        out = f.clone()
        for (r, c), z in zip(cells, new):
            out[:k, r, c] = z * psi
        return out


def _sum_to_grid(heat: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """A (h, w) map summed (or shared out) onto a (rows, cols) grid covering the same picture."""
    h, w = heat.shape
    if h % rows == 0 and w % cols == 0:
        return heat.reshape(rows, h // rows, cols, w // cols).sum((1, 3))
    if rows % h == 0 and cols % w == 0:
        fy, fx = rows // h, cols // w
        return heat.repeat_interleave(fy, 0).repeat_interleave(fx, 1) / (fy * fx)
    return torch.nn.functional.interpolate(heat[None, None], size=(rows, cols), mode="area")[0, 0]
