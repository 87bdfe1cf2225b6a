"""The studio's logic, without Gradio: models, a render cache, and every view.

The events (events.py) map widgets to these methods; the HTTP API (api.py)
calls the same methods with explicit arguments. A click is answered from the
cached render (no generator pass); renders are cached per (model, settings)
in a bounded LRU.
"""
from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..checks import check_finite, check_seed, check_whole
from ..errors import AttnDemoError, CheckpointError, InputError
from ..models.latents import z_from_seed
from ..imaging import draw
from ..serving.latents import loop_angles, loop_point, slerp_path
from ..serving.loader import load_engines
from ..serving.canvas import CanvasEngine
from ..serving.engine import Engine, InspectResult, MapSettings, RenderArgs, RenderResult, SummaryResult
from . import exports, live
from .exports import ANIMATION_FORMATS
from .desk import Models
from .cache import RenderCache
from .textures.desk import CanvasDesk
from .files import ExportFolder
from .neighbours import NeighbourShelf
from .view import DISPLAY, View, check_point, parse_state, state_dict

log = logging.getLogger("attn_demo.studio")
TILE = 256               # side of compare tiles and interpolation frames
MAX_FRAMES = 240
MAX_GRID = 64
MAX_DATASET_PER_CLASS = 256   # a data set downloaded from the page (the CLI has no such limit)
LOOP_PATHS = ("slerp", "circle")


class Studio(Models):
    """The image studio's desk (studio/desk.py): image models, a render cache and every view."""

    STATE_KIND = "image"

    def __init__(self, model_dirs: list[Path], device: str = "auto", cache_size: int = 64,
                 export_dir: Path | None = None, live_limit: int = live.LIVE_MAX_FLOATS,
                 export_under: Path | None = None):
        if not model_dirs:
            raise InputError("no models found: put a model directory (config.json + model.safetensors) "
                             "in weights/")
        self.problems: dict[str, str] = {}   # models that failed to load, and why
        loaded = load_engines(model_dirs, device, self.problems)     # serving/loader: by each config's kind
        self.engines: dict[str, Engine] = {n: e for n, e in loaded.items() if isinstance(e, Engine)}
        self.files = ExportFolder(export_dir, under=export_under)      # studio/files.py
        # canvas models (models/canvas.py) paint textures of any size: the Textures tab (studio/textures/)
        self.shelf = NeighbourShelf(lambda: self.feature_net)     # "is this a copy?" (studio/neighbours.py)
        self.canvas = CanvasDesk({n: e for n, e in loaded.items() if isinstance(e, CanvasEngine)},
                                 self.files, self.shelf)
        # the metrics' feature net beside the models: inversion's perceptual term and class ranking
        self.feature_net_dir = Path(model_dirs[0]).parent / "feature_net"
        self._feature_net = None
        if not self.engines:
            raise InputError("no loadable model in " + ", ".join(map(str, model_dirs))
                             + "".join(f"\n  {k}: {v}" for k, v in self.problems.items()))
        self._renders = RenderCache(cache_size)
        self.live_limit = live_limit     # the largest q + k (floats) shipped to the page for live mode

    # ------------------------------------------------------------ models (desk.Models: models, engine)
    def scale(self, model: str, side: int = DISPLAY) -> int:
        return max(1, side // self.engine(model).cfg.resolution)

    # ------------------------------------------------------------ rendering
    def render(self, model: str | View, args: RenderArgs | None = None) -> RenderResult:
        """Cached: the same model and settings never run the generator twice. Takes a View (the
        desk's shape, studio/desk.py) or its model and render arguments."""
        if isinstance(model, View):
            model, args = model.model, model.args
        engine = self.engine(model)
        return self._renders.get((model, engine.weights_sha256, _args_key(args)), lambda: engine.render(args))

    def display_image(self, model: str, result: RenderResult) -> np.ndarray:
        return draw.upscale_nearest(result.image, self.scale(model))

    def inspect(self, view: View, x: int, y: int, size: int = DISPLAY,
                marker=draw.MARKER_COLORS[0], scale: int | None = None) -> InspectResult:
        """The map of pixel (x, y) of the size x size picture, over the image upscaled to the view
        (or `scale` times)."""
        return self.engine(view.model).inspect(
            self.render(view.model, view.args), x, y, view.map, size=(size, size),
            scale=scale or self.scale(view.model), marker_color=marker)

    def page_data(self, view: View, live_mode: bool) -> str:
        """The view's link and (live mode) its layer's queries and keys, for the page (studio/live.py)."""
        return live.page_data(self.engine(view.model), self.render(view.model, view.args), view, live_mode,
                              self.live_limit)

    def summary(self, view: View, kind: str = "distance") -> SummaryResult:
        """The layer summary in the view's colormap, with its legend under it (distance in image
        pixels, or entropy in nats up to a uniform map's)."""
        settings = MapSettings(view.map.layer, view.map.head, alpha=view.map.alpha, cmap=view.map.cmap)
        out = self.engine(view.model).summary(self.render(view.model, view.args), settings, kind,
                                              scale=self.scale(view.model))
        s, top = out.stats, float(out.heat.max())
        if kind == "distance":
            ticks, title = [(0.0, "0 px"), (top, f"{top:.1f} px")], "mean attention distance of each pixel (image px)"
        else:
            u = s["uniform_entropy_nats"]
            ticks, title = [(0.0, "0"), (top, f"{top:.2f}"), (u, f"uniform {u:.2f}")], "attention entropy of each pixel (nats)"
        legend = draw.colour_bar(view.map.cmap, top if top > 0 else 1.0, ticks, title, width=out.overlay.shape[1])
        return SummaryResult(out.heat, np.concatenate([out.overlay, legend], axis=0), out.stats)

    def focused_click(self, view: View) -> tuple[int, int]:
        """The display pixel at the centre of the query cell whose map (the view's layer and head) is
        the most focused, by entropy: a first click that shows what attention does."""
        engine = self.engine(view.model)
        cap = engine.capture(self.render(view.model, view.args), view.map.layer)
        _, ent = cap.summary(head=view.map.head)                       # (H, W) nats per query pixel
        row, col = divmod(int(ent.reshape(-1).argmin()), cap.grid[1])
        return int((col + 0.5) * DISPLAY / cap.grid[1]), int((row + 0.5) * DISPLAY / cap.grid[0])

    def all_maps(self, view: View) -> np.ndarray | None:
        """The clicked pixel's map in every layer and head, and the rollout through the layers (an
        approximation) when the model has several: one labelled picture; None before a click."""
        if view.click is None:
            return None
        return self.engine(view.model).all_maps(self.render(view.model, view.args), *view.click, view.map,
                                                size=(DISPLAY, DISPLAY)).picture

    def compare(self, view: View) -> np.ndarray:
        """The image with every pinned point, then each point's map: one row of tiles."""
        if not view.pins:
            raise InputError("pin a point first: click the image, then press Pin")
        result = self.render(view.model, view.args)
        scale = self.scale(view.model, TILE)
        base = draw.upscale_nearest(result.image, scale)
        tiles = []
        for i, (x, y) in enumerate(view.pins):
            colour = draw.MARKER_COLORS[i]
            tiles.append(_frame(self.inspect(view, x, y, marker=colour, scale=scale).overlay, colour))
            base = draw.draw_marker(base, *draw.marker_point(x, y, (DISPLAY, DISPLAY), TILE),
                                    colour, radius=7, label=str(i + 1))
        return np.concatenate([_frame(base, (255, 255, 255))] + tiles, axis=1)

    # ------------------------------------------------------------ batches
    def grid(self, model: str, args: RenderArgs, count: int = 16) -> list[tuple[np.ndarray, int]]:
        """Samples for seeds seed, seed+1, ... with the same settings: [(image, seed)]."""
        count = check_whole("count", count, 1, MAX_GRID)
        first = check_seed(args.seed)
        seeds = [s for s in range(first, first + count) if s <= 2 ** 32 - 1]
        images, _ = self.engine(model).render_many([replace(args, seed=s, latent=None) for s in seeds])
        scale = self.scale(model, 128)
        return [(draw.upscale_nearest(img, scale), s) for img, s in zip(images, seeds)]

    def slider_previews(self, view: View, step: float = 1.0, tile: int = 64) -> np.ndarray | None:
        """What each slider does from here, before dragging it: for every direction the image at its
        value - step and + step (kept inside the slider's range), one labelled row each. One batched
        render; None for a model without sliders."""
        engine = self.engine(view.model)
        n = len(engine.directions or ())
        if n == 0:
            return None
        values = list(view.args.sliders) + [0.0] * (n - len(view.args.sliders))
        variants = []
        for i in range(n):
            span = engine.directions.spans[i]
            for sign in (-1, 1):
                moved = list(values)
                moved[i] = min(span, max(-span, values[i] + sign * step))
                variants.append(replace(view.args, sliders=tuple(moved)))
        images, _ = engine.render_many(variants)
        scale = max(1, tile // engine.cfg.resolution)
        tiles = [draw.upscale_nearest(img, scale) for img in images]
        rows = [tiles[2 * i:2 * i + 2] for i in range(n)]
        labels = [label.split(":")[0] for label in engine.directions.labels]
        return draw.labelled_grid(rows, labels, [f"- {step:g}", f"+ {step:g}"], label_width=90)

    def interpolate(self, view: View, seeds: list[int], frames: int = 16,
                    follow: tuple[int, int] | None = None, fps: float = 12.0, progress=None,
                    path: str = "slerp", fmt: str = "gif") -> Path:
        """An animation through latent space, as a GIF, an H.264 MP4 or an animated WebP (`fmt`).

        path "slerp": spherical interpolation from seed to seed; two seeds go A -> B, more make a
        closed loop back to the first (`frames` per step). path "circle": the exact loop
        z(theta) = a cos(theta) + b sin(theta) through seeds A and B (two seeds, `frames` in all):
        every frame is itself a draw from the prior and the last frame meets the first. With
        `follow` (display pixels), the map of that fixed query point is shown beside every frame."""
        engine = self.engine(view.model)
        seeds = [check_seed(s) for s in seeds]
        if path not in LOOP_PATHS:
            raise InputError(f"path must be one of {', '.join(LOOP_PATHS)}, got {path!r}")
        if fmt not in ANIMATION_FORMATS:
            raise InputError(f"format must be one of {', '.join(ANIMATION_FORMATS)}, got {fmt!r}")
        if path == "circle" and len(seeds) != 2:
            raise InputError("an exact loop goes through two seeds, e.g. 1, 7")
        if not 2 <= len(seeds) <= 16:
            raise InputError("give 2 to 16 seeds, e.g. 1, 7 (A to B) or 3, 8, 12 (a loop)")
        frames = check_whole("frames per step", frames, 2, 120)
        fps = check_finite("fps", fps, 1, 50)
        if follow is not None:
            follow = check_point(follow)
        args = view.args
        base, y = engine.latent(args)
        offset = base - engine.latent(replace(args, sliders=()))[0]       # the sliders' offset
        zs = [args.psi * z_from_seed(s, engine.cfg.z_dim) for s in seeds]
        if path == "circle":
            latents = torch.stack([loop_point(zs[0], zs[1], t) + offset for t in loop_angles(frames)])
        else:
            closed = len(seeds) > 2
            if (len(seeds) - (not closed)) * frames > MAX_FRAMES:
                raise InputError(f"at most {MAX_FRAMES} frames: use fewer seeds or frames per step")
            latents = slerp_path(zs, frames, closed) + offset
        scale, size = self.scale(view.model, TILE), (DISPLAY, DISPLAY)
        out_frames = []
        for start in range(0, len(latents), 32):
            batch = latents[start:start + 32]
            images, caps = engine.generate(batch, [y] * len(batch), record=follow is not None)
            for b, img in enumerate(images):
                big = draw.upscale_nearest(img, scale)
                if follow is not None:
                    cap = caps[view.map.layer or engine.layers[-1]]
                    heat = cap.probe(*follow, size, view.map.head, view.map.mode, b=b).heat.numpy()
                    overlay = engine.overlay(img, heat, follow, size, scale, view.map, draw.MARKER_COLORS[0])
                    big = np.concatenate([big, overlay], axis=1)
                out_frames.append(big)
            if progress:
                progress(min(1.0, (start + len(batch)) / len(latents)))
        kind = "loop" if path == "circle" else "interp"
        target = self.files.new_file(f"{view.model}_{kind}_{'-'.join(map(str, seeds))}.{fmt}")
        exports.write_animation(out_frames, target, fps)
        return target

    # ------------------------------------------------------------ your picture
    @property
    def feature_net(self):
        """The feature net beside the models (weights/feature_net), or None where there is none."""
        if self._feature_net is None and self.feature_net_dir is not None and self.feature_net_dir.is_dir():
            from ..quality.feature_net import load_feature_net
            try:
                self._feature_net = load_feature_net(self.feature_net_dir).eval()
            except AttnDemoError as e:
                log.warning("no feature net for inversion: %s", e)
                self.feature_net_dir = None
        return self._feature_net

    def invert(self, view: View, data, progress=None, cancel=None) -> tuple:
        """A picture (bytes or a path) into the view's model: the view that shows its inversion
        (its own latent, the found class, psi 1, no sliders; the click and map settings kept)."""
        from ..serving.invert import invert
        from ..imaging.folders import load_upload
        engine = self.engine(view.model)
        target = load_upload(data, engine.cfg.resolution)
        out = invert(engine, target, self.feature_net, progress=progress, cancel=cancel)
        label = engine.class_names[out.class_index] if out.class_index is not None else None
        args = RenderArgs(view.args.seed, 1.0, label, (), tuple(out.z.tolist()))
        return replace(view, args=args, pins=[]), out

    def neighbours(self, view: View, k: int = 8) -> dict[str, list[tuple[np.ndarray, str]]] | None:
        """The k nearest training images of the view's image, by the feature net's features and by
        pixels: {"features": [(thumbnail, caption)], "pixels": [...]}; None for a model shipped
        without an index (quality/neighbours.py) or without the feature net."""
        engine = self.engine(view.model)
        return self.shelf.find(view.model, engine.path, self.render(view.model, view.args).image, k)

    def dataset_zip(self, view: View, per_class: int, progress=None) -> Path:
        """A labelled data set of the view's model and settings as a zip (serving/dataset.zip_of)."""
        from ..serving.dataset import zip_of
        per_class = check_whole("images per class", per_class, 1, MAX_DATASET_PER_CLASS)
        return zip_of(self.engine(view.model), view.args, per_class, self.files.new_folder(), progress)

    # ------------------------------------------------------------ export
    def state_dict(self, view: View) -> dict:
        return state_dict(view, self.engine(view.model).weights_sha256)

    def parse_state(self, text: str | bytes | dict) -> tuple[View, list[str]]:
        """A state (JSON, or desk.read_state's dict) -> View, validated; warnings (e.g. other
        weights) returned alongside."""
        return parse_state(text, self.engines)

    def export(self, view: View, size: str = "native") -> list[Path]:
        """Everything the view shows, as files (studio/exports.py): a zip of all of them, the image
        PNG at `size`, and with a click the overlay PNG, the heat map alone as a transparent PNG and
        the raw map (.npy), then the JSON state. Every PNG embeds the state."""
        engine = self.engine(view.model)
        result = self.render(view.model, view.args)
        state = self.state_dict(view)
        info = exports.png_info(state)
        side = exports.export_side(engine.cfg.resolution, size)
        smooth = size.endswith("smooth") and side != engine.cfg.resolution
        stem = exports.image_stem(view, side, smooth)
        files = [self.files.new_file(f"{stem}.png")]
        Image.fromarray(exports.sized(result.image, size)).save(files[0], pnginfo=info)
        if view.click is not None:
            # the map's pictures at the export size, never smaller than the studio shows them
            scale = max(1, max(side, DISPLAY) // engine.cfg.resolution)
            out = self.inspect(view, *view.click, scale=scale)
            # every name says the image's side; the map's pictures add their own (never below DISPLAY)
            mstem, mside = exports.map_stem(view, side, smooth), out.overlay.shape[0]
            heat = exports.heat_rgba(out.heat, mside, view.map.cmap, view.map.fixed_top(out.map))
            folder = self.files.new_folder()                  # the map's files together
            files += [folder / f"{mstem}_map{mside}px_overlay.png", folder / f"{mstem}_map{mside}px_heatmap.png",
                      folder / f"{mstem}.npy"]
            Image.fromarray(out.overlay).save(files[-3], pnginfo=info)
            Image.fromarray(heat, "RGBA").save(files[-2], pnginfo=info)
            np.save(files[-1], out.heat)
            state["map"] = {k: out.stats[k] for k in ("layer", "mode", "cell", "grid", "key_grid")}
            stem = mstem
        files.append(self.files.new_file(f"{stem}_state.json"))
        files[-1].write_text(json.dumps(state, indent=2) + "\n")
        return [exports.write_zip(self.files.new_file(f"{stem}_all.zip"), files)] + files


def _args_key(args: RenderArgs):
    return (args.seed, float(args.psi), str(args.label), tuple(float(v) for v in args.sliders),
            None if args.latent is None else tuple(float(v) for v in args.latent))


def _frame(img: np.ndarray, colour, width: int = 4) -> np.ndarray:
    out = img.copy()
    out[:width], out[-width:], out[:, :width], out[:, -width:] = colour, colour, colour, colour
    return out
