"""The studio's textures desk, without Gradio: canvas models, their views, edits, state and exports.

A `CanvasView` is what the Textures tab shows: a model, a size and tiling, a class, and the
latent field the canvas is painted from (the seed's field, with the cells the user re-rolled).
Undo keeps the previous fields. The JSON state carries the seed and the latents of every
re-rolled cell as exact float32 values (base64), so a re-rolled canvas loads back to the same
bytes, and stays small: the other cells are the seed's.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ...checks import check_finite, check_seed, check_whole
from ...errors import InputError
from ...serving import materials
from ...serving.canvas import CanvasEngine, CanvasResult, check_tiling
from ...serving.engine import InspectResult, MapSettings
from ...serving.latents import loop_angles, loop_point
from ...serving.probe import LOOKS_AT
from .. import exports
from ..cache import RenderCache
from ..desk import DISPLAY, Models, TabView
from ..files import ExportFolder
from ..neighbours import NeighbourShelf

STATE_KIND = "canvas"
STATE_VERSION = 1
MAX_UNDO = 20
CACHE = 4                     # canvases kept for clicks: a 2048² one holds ~100 MB with its captures
LOOP_MAX_PIXELS = 512 * 512   # a loop's frames: at most this canvas size
LOOP_MAX_FRAMES = 120


@dataclass
class CanvasView(TabView):
    """What the Textures tab shows (desk.TabView's shape, and a canvas's size, tiling and edits)."""

    model: str
    seed: int
    width: int
    height: int
    tiling: str = "both"
    psi: float = 1.0
    label: str | int | None = None
    sliders: tuple[float, ...] = ()               # move the global latent (the model's directions)
    latents: torch.Tensor | None = None           # (C, rows, cols) after re-rolls; None: the seed's own field
    edited: tuple = ()                            # (row, col) of every re-rolled cell, sorted
    click: tuple[int, int] | None = None          # a canvas pixel
    map: MapSettings = field(default_factory=MapSettings)
    undo: tuple = ()                              # earlier (field, edited), newest last


def export_stem(v: CanvasView, kind: str, field: torch.Tensor | None = None) -> str:
    """model_tile_WxH_surface_seedN_psiP[_sliders][_editedK-hash]: what the canvas is, in its name, so
    two surfaces, truncations or re-rolls of one seed never share one (the hash is of the re-rolled
    field, `field`, needed when v.edited)."""
    sliders = "" if not any(v.sliders) else "_sl" + exports._short_hash([round(float(s), 6) for s in v.sliders])
    stem = f"{v.model}_{kind}_{v.width}x{v.height}_{exports._slug(v.label)}_seed{v.seed}_psi{v.psi:.2f}{sliders}"
    if v.edited:
        stem += f"_edited{len(v.edited)}-" + hashlib.sha1(field.numpy().tobytes()).hexdigest()[:6]
    return stem


class CanvasDesk(Models):
    """Canvas models and everything the Textures tab does with them (a desk: studio/desk.py)."""

    STATE_KIND = STATE_KIND
    WHAT = "texture model"         # a model of config kind "canvas", as the user reads it

    def __init__(self, engines: dict[str, CanvasEngine], files: ExportFolder, shelf: NeighbourShelf | None = None):
        self.engines = engines
        self.files = files
        self.shelf = shelf            # the models' neighbour indexes ("is this a copy?"), where there are any
        self._renders = RenderCache(CACHE)

    def default_view(self) -> CanvasView:
        engine = self.engine(self.models[0])
        side = 4 * engine.cfg.resolution
        return CanvasView(self.models[0], 7, side, side, "both", 1.0,
                          engine.class_names[0] if engine.cfg.num_classes else None)

    # ------------------------------------------------------------ views
    def field_of(self, v: CanvasView) -> torch.Tensor:
        """The field the view paints: the seed's (its global latent moved by the sliders), with the
        re-rolled cells' local latents."""
        engine = self.engine(v.model)
        seeded = engine.field(v.seed, v.width, v.height, v.psi, v.sliders)
        if v.latents is None:
            return seeded
        out = v.latents.clone()
        out[engine.cfg.local_values:] = seeded[engine.cfg.local_values:]
        return out

    def view(self, v: CanvasView, model, seed, width, height, tiling, psi, label, sliders=()) -> CanvasView:
        """The view the widgets describe: a new seed, size, truncation or model starts a fresh field
        (and forgets the edits); class, tiling and sliders keep it."""
        engine = self.engine(model)
        seed, psi = check_seed(seed), check_finite("truncation", psi, 0, 1)
        width, height = check_whole("canvas width", width), check_whole("canvas height", height)
        n = len(engine.directions or ())
        sliders = tuple(check_finite("slider", x) for x in list(sliders)[:n])
        engine.field(seed, width, height, psi, sliders)   # checks the size (the model's cell, limits), sliders
        if not label and engine.cfg.num_classes:
            label = v.label if model == v.model else engine.class_names[0]
        same = (model, seed, width, height, psi) == (v.model, v.seed, v.width, v.height, v.psi)
        click = v.click if same or (v.click and v.click[0] < width and v.click[1] < height) else None
        out = replace(v, model=model, seed=seed, width=width, height=height, tiling=tiling, psi=psi,
                      label=label or None, click=click, sliders=sliders)
        if not same:
            out = replace(out, latents=None, edited=(), undo=())
        check_tiling(tiling)
        engine.class_index(out.label)
        return out

    def render(self, v: CanvasView) -> CanvasResult:
        """Cached by the field's bytes, class and tiling: a click never paints again."""
        engine = self.engine(v.model)
        f = self.field_of(v)
        key = (v.model, engine.weights_sha256, hashlib.sha256(f.numpy().tobytes()).hexdigest(),
               tuple(f.shape), str(v.label), v.tiling)
        return self._renders.get(key, lambda: engine.render(f, v.label, v.tiling))

    def display_scale(self, v: CanvasView) -> int:
        """Small canvases are shown (and their maps drawn) upscaled to about DISPLAY (512) px."""
        return max(1, DISPLAY // max(v.width, v.height))

    def inspect(self, v: CanvasView, x, y) -> InspectResult:
        return self.engine(v.model).inspect(self.render(v), x, y, v.map, scale=self.display_scale(v))

    def window(self, v: CanvasView) -> np.ndarray:
        """The model's crop-size window of the canvas around the clicked pixel (the centre before a
        click), (crop, crop, 3): it wraps along the axes the canvas tiles, stops at the others' edges."""
        image = self.render(v).image
        crop = self.engine(v.model).cfg.resolution
        x, y = v.click or (v.width // 2, v.height // 2)
        wrap_x, wrap_y = v.tiling in ("both", "x"), v.tiling == "both"

        def axis(centre: int, size: int, wraps: bool) -> np.ndarray:
            idx = np.arange(crop) + centre - crop // 2
            if wraps:
                return idx % size
            start = min(max(centre - crop // 2, 0), max(size - crop, 0))
            return np.clip(np.arange(crop) + start, 0, size - 1)   # a canvas smaller than a crop repeats its edge
        return image[axis(y, v.height, wrap_y)][:, axis(x, v.width, wrap_x)]

    def neighbours(self, v: CanvasView, k: int = 8) -> dict | None:
        """The nearest training crops of the window around the clicked pixel (studio/neighbours.py);
        None for a model without an index."""
        if self.shelf is None:
            return None
        return self.shelf.find(v.model, self.engine(v.model).path, self.window(v), k)

    # ------------------------------------------------------------ edits
    def reroll(self, v: CanvasView, cells, seed) -> CanvasView:
        """New latents in `cells` (drawn from `seed`), the old field kept for undo."""
        engine = self.engine(v.model)
        f = self.field_of(v)
        new = engine.reroll(f, cells, seed, v.psi)
        undo = (v.undo + ((v.latents, v.edited),))[-MAX_UNDO:]
        edited = tuple(sorted(set(v.edited) | {tuple(c) for c in cells}))
        return replace(v, latents=new, edited=edited, undo=undo)

    def reroll_brush(self, v: CanvasView, x, y, radius: int, seed) -> CanvasView:
        return self.reroll(v, self.engine(v.model).brush_cells(self.render(v), x, y, radius), seed)

    def reroll_attended(self, v: CanvasView, x, y, seed, share: float = 0.5) -> CanvasView:
        """Re-roll the cells pixel (x, y)'s attention row weighs most (the view's layer and head)."""
        cells = self.engine(v.model).attended_cells(self.render(v), x, y, v.map, share)
        return self.reroll(v, cells, seed)

    def reroll_region(self, v: CanvasView, x0, y0, x1, y1, seed) -> CanvasView:
        return self.reroll(v, self.engine(v.model).region_cells(self.render(v), x0, y0, x1, y1), seed)

    def undo(self, v: CanvasView) -> CanvasView:
        if not v.undo:
            raise InputError("nothing to undo")
        f, edited = v.undo[-1]
        return replace(v, latents=f, edited=edited, undo=v.undo[:-1])

    # ------------------------------------------------------------ state
    def state_dict(self, v: CanvasView) -> dict:
        engine = self.engine(v.model)
        k = engine.cfg.local_values
        f = self.field_of(v)
        local = np.stack([f[:k, r, c].numpy() for r, c in v.edited]) if v.edited else np.zeros((0, k), np.float32)
        return {"app": "attn-demo", "kind": STATE_KIND, "version": STATE_VERSION, "model": v.model,
                "weights_sha256": engine.weights_sha256, "seed": v.seed, "width": v.width, "height": v.height,
                "tiling": v.tiling, "truncation": v.psi, "class": v.label, "sliders": list(v.sliders),
                "click": list(v.click) if v.click else None, "layer": v.map.layer, "head": v.map.head,
                "mode": v.map.mode,
                "rerolled": {"cells": [list(c) for c in v.edited], "dtype": "float32", "z_local": k,
                             "latents_base64": base64.b64encode(local.astype("<f4").tobytes()).decode()}}

    def parse_state(self, data: dict) -> tuple[CanvasView, list[str]]:
        """A canvas state (parsed JSON) -> CanvasView, every value checked; warnings alongside."""
        if data.get("version") != STATE_VERSION:
            raise InputError(f"textures state version {data.get('version')!r} is not supported")
        model = data.get("model")
        engine = self.engine(model)
        warnings = []
        if data.get("weights_sha256") != engine.weights_sha256:
            warnings.append("this state was saved with other weights for this model: the canvas may differ")
        sliders = data.get("sliders") or []
        if not isinstance(sliders, list):
            raise InputError("sliders must be a list of numbers")
        v = self.view(CanvasView(model, 0, engine.cell, engine.cell), model, data.get("seed"), data.get("width"),
                      data.get("height"), data.get("tiling"), data.get("truncation"), data.get("class"), sliders)
        rerolled = data.get("rerolled") or {}
        if not isinstance(rerolled, dict):
            raise InputError("rerolled must be an object with cells and latents")
        cells = rerolled.get("cells") or []
        k = engine.cfg.local_values
        if not isinstance(cells, list):
            raise InputError("rerolled cells must be a list of [row, col]")
        if cells:
            if rerolled.get("dtype") != "float32" or rerolled.get("z_local") != k:
                raise InputError(f"rerolled latents must be float32 with z_local {k} for this model")
            try:
                raw = base64.b64decode(rerolled.get("latents_base64", ""), validate=True)
            except (ValueError, TypeError):
                raise InputError("rerolled latents are not valid base64") from None
            if len(raw) != 4 * k * len(cells):
                raise InputError(f"rerolled latents: {len(raw)} bytes for {len(cells)} cells of {k} floats")
            local = torch.from_numpy(np.frombuffer(raw, "<f4").astype(np.float32).reshape(len(cells), k))
            f = self.field_of(v).clone()
            rows, cols = f.shape[1:]
            seen = set()
            for cell, z in zip(cells, local):
                if not isinstance(cell, list) or len(cell) != 2:
                    raise InputError(f"a rerolled cell is [row, col], got {cell!r}")
                r, c = check_whole("cell row", cell[0], 0, rows - 1), check_whole("cell col", cell[1], 0, cols - 1)
                if (r, c) in seen:
                    raise InputError(f"cell [{r}, {c}] is listed twice")
                seen.add((r, c))
                f[:k, r, c] = z
            v = replace(v, latents=engine.check_field(f), edited=tuple(sorted(seen)))
        settings = MapSettings(data.get("layer"), data.get("head"), data.get("mode", LOOKS_AT)).checked()
        if settings.layer is not None and settings.layer not in engine.layers:
            raise InputError(f"unknown layer {settings.layer!r}")
        click = data.get("click")
        if click is not None:
            if not isinstance(click, list) or len(click) != 2:
                raise InputError("click must be [x, y]")
            click = (check_whole("click x", click[0], 0, v.width - 1), check_whole("click y", click[1], 0, v.height - 1))
        return replace(v, click=click, map=settings), warnings

    # ------------------------------------------------------------ exports
    def export(self, v: CanvasView, strength: float = 4.0) -> list[Path]:
        """The canvas PNG (with its state), its height map (16-bit), normal map, a 3 x 3 preview and
        the state JSON; a zip of all first."""
        result = self.render(v)
        state = self.state_dict(v)
        kind = {"both": "tile", "x": "band", "none": "canvas"}[v.tiling]
        stem = export_stem(v, kind, self.field_of(v) if v.edited else None)
        folder = self.files.new_folder()
        height = materials.height_map(result.image)
        files = [folder / f"{stem}.png", folder / f"{stem}_height16.png", folder / f"{stem}_normal.png",
                 folder / f"{stem}_preview.png", folder / f"{stem}_state.json"]
        Image.fromarray(result.image).save(files[0], pnginfo=exports.png_info(state))
        Image.fromarray(materials.height_png16(height)).save(files[1])
        Image.fromarray(materials.normal_map(height, strength, v.tiling)).save(files[2])
        Image.fromarray(materials.tiled_preview(result.image, v.tiling)).save(files[3])
        files[4].write_text(json.dumps(state, indent=2) + "\n")
        return [exports.write_zip(folder / f"{stem}_all.zip", files)] + files

    def loop(self, v: CanvasView, seed_b, frames: int = 24, fps: float = 12.0, fmt: str = "gif",
             progress=None, follow: bool = False) -> Path:
        """An exact loop of the whole latent field: f(theta) = a cos(theta) + b sin(theta), a the
        view's field, b seed B's field of the same size, local and global latents alike (each frame
        is itself a draw from the prior; the last frame meets the first). Every frame keeps the tiling.
        With `follow` and a clicked pixel, the map of that pixel is drawn beside every frame."""
        if follow and v.click is None:
            raise InputError("click the canvas first: the loop follows the clicked pixel's map")
        engine = self.engine(v.model)
        if fmt not in ("gif", "mp4", "webp"):
            raise InputError(f"format must be gif, mp4 or webp, got {fmt!r}")
        frames = check_whole("frames", frames, 4, LOOP_MAX_FRAMES)
        fps = check_finite("fps", fps, 1, 50)
        if v.width * v.height > LOOP_MAX_PIXELS:
            raise InputError(f"a loop's canvas is at most {LOOP_MAX_PIXELS:,} pixels (512 x 512): "
                             f"this one is {v.width} x {v.height}")
        a = self.field_of(v)
        b = engine.field(check_seed(seed_b), v.width, v.height, v.psi)
        offset = a - self.field_of(replace(v, sliders=()))      # the sliders' move of the global latent
        a = a - offset
        out = []
        for i, t in enumerate(loop_angles(frames)):
            f = loop_point(a, b, t) + offset
            result = engine.render(f, v.label, v.tiling)
            frame = result.image
            if follow:
                frame = np.concatenate([frame, engine.inspect(result, *v.click, v.map).overlay], axis=1)
            out.append(frame)
            if progress:
                progress((i + 1) / frames)
        target = self.files.new_file(f"{v.model}_loop_{v.width}x{v.height}_seed{v.seed}-{seed_b}.{fmt}")
        return exports.write_animation(out, target, fps)
