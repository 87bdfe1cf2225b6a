"""The studio's logic, without Gradio: models, a render cache, and every view.

ui.py maps widgets to these methods; the HTTP API calls the same methods
with explicit arguments. A click is answered from the cached render (no
generator pass); renders are cached per (model, settings) in a bounded LRU.
"""
from __future__ import annotations

import atexit
import base64
import json
import logging
import math
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, PngImagePlugin

from . import render as draw  # "render" is also a method name here
from .checkpoint import CONFIG_FILE, WEIGHTS_FILE, read_tensors
from .engine import Engine, RenderArgs, RenderResult
from .errors import AttnDemoError, CheckpointError, InputError
from .latents import check_finite, check_seed, z_from_seed
from .probe import LOOKS_AT, MODES

log = logging.getLogger("attn_demo.studio")
DISPLAY = 512            # side of the clickable image and the attention view, in pixels
TILE = 256               # side of compare tiles and interpolation frames
MAX_PINS = 4
MAX_FRAMES = 240
MAX_GRID = 64
STATE_VERSION = 1
EXPORT_LIFETIME = 600    # seconds an export file stays on disk (the browser downloads it at once)
SERVED = "served"        # the subfolder of export_dir for the pictures handed to Gradio (pruned after 2 min)


def _data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def find_models(weights_dir: Path) -> list[Path]:
    """Generator directories (config.json + model.safetensors saved by attn-demo) under weights_dir.

    Other model directories (the metrics' feature network) are left out by the
    format tag in the weights' header; unreadable files are left to Studio,
    which reports them.
    """
    root = Path(weights_dir)
    if not root.is_dir():
        return []
    found = []
    for p in sorted(root.iterdir()):
        if p.is_symlink() or not ((p / CONFIG_FILE).is_file() and (p / WEIGHTS_FILE).is_file()):
            continue
        try:
            _, meta = read_tensors(p / WEIGHTS_FILE, metadata_only=True)
        except CheckpointError:
            found.append(p)              # broken: Studio says so and skips it
            continue
        if meta.get("format") == "attn-demo-generator":
            found.append(p)
    return found


@dataclass
class View:
    """Everything on screen: what to render, where the user clicked, how to draw the map."""

    model: str
    args: RenderArgs
    click: tuple[int, int] | None = None          # in DISPLAY pixels
    pins: list[tuple[int, int]] = field(default_factory=list)
    layer: str | None = None
    head: int | None = None
    mode: str = LOOKS_AT
    alpha: float = 0.6
    cmap: str = "inferno"


class Studio:
    def __init__(self, model_dirs: list[Path], device: str = "auto", cache_size: int = 64,
                 export_dir: Path | None = None):
        if not model_dirs:
            raise InputError("no models found: put a model directory (config.json + model.safetensors) "
                             "in weights/")
        self.engines: dict[str, Engine] = {}
        self.problems: dict[str, str] = {}   # models that failed to load, and why
        for path in model_dirs:
            try:
                self.engines[Path(path).name] = Engine.from_pretrained(path, device=device)
            except AttnDemoError as e:       # one bad model must not take the studio down
                self.problems[Path(path).name] = str(e)
                log.warning("skipping model %s: %s", path, e)
            except Exception as e:  # noqa: BLE001 - a loader bug, or out of memory: same rule
                self.problems[Path(path).name] = f"could not load ({type(e).__name__}: {e})"
                log.exception("skipping model %s", path)
        if not self.engines:
            raise InputError("no loadable model in " + ", ".join(map(str, model_dirs))
                             + "".join(f"\n  {k}: {v}" for k, v in self.problems.items()))
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        if export_dir is None:                # our own temp folder: removed when the process exits
            export_dir = tempfile.mkdtemp(prefix="attn-demo-export-")
            atexit.register(shutil.rmtree, export_dir, ignore_errors=True)
        self.export_dir = Path(export_dir)
        self._served_count = 0
        self.export_dir.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------ models
    @property
    def models(self) -> list[str]:
        return list(self.engines)

    def engine(self, model: str) -> Engine:
        if not isinstance(model, str) or model not in self.engines:
            raise InputError(f"unknown model {model!r}; choose one of {', '.join(self.engines)}")
        return self.engines[model]

    def scale(self, model: str, side: int = DISPLAY) -> int:
        return max(1, side // self.engine(model).cfg.resolution)

    # ------------------------------------------------------------ rendering
    def render(self, model: str, args: RenderArgs) -> RenderResult:
        """Cached: the same model and settings never run the generator twice."""
        engine = self.engine(model)
        key = (model, engine.weights_sha256, _args_key(args))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        result = engine.render(args)
        with self._lock:
            self._cache[key] = result
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def display_image(self, model: str, result: RenderResult) -> np.ndarray:
        return draw.upscale_nearest(result.image, self.scale(model))

    def inspect(self, view: View, x: int, y: int, size: int = DISPLAY, marker=draw.MARKER_COLORS[0]):
        engine = self.engine(view.model)
        return engine.inspect(self.render(view.model, view.args), x, y, layer=view.layer, head=view.head,
                              mode=view.mode, size=(size, size), scale=self.scale(view.model),
                              alpha=view.alpha, cmap=view.cmap, marker_color=marker)

    def summary(self, view: View, kind: str = "distance"):
        return self.engine(view.model).summary(self.render(view.model, view.args), layer=view.layer,
                                               head=view.head, kind=kind, scale=self.scale(view.model),
                                               alpha=view.alpha)

    def compare(self, view: View) -> np.ndarray:
        """The image with every pinned point, then each point's map: one row of tiles."""
        if not view.pins:
            raise InputError("pin a point first: click the image, then press Pin")
        engine = self.engine(view.model)
        result = self.render(view.model, view.args)
        scale = self.scale(view.model, TILE)
        base = draw.upscale_nearest(result.image, scale)
        tiles = []
        for i, (x, y) in enumerate(view.pins):
            colour = draw.MARKER_COLORS[i]
            out = engine.inspect(result, x, y, layer=view.layer, head=view.head, mode=view.mode,
                                 size=(DISPLAY, DISPLAY), scale=scale, alpha=view.alpha, cmap=view.cmap,
                                 marker_color=colour)
            tiles.append(_frame(out.overlay, colour))
            base = draw.draw_marker(base, (x + 0.5) * TILE / DISPLAY, (y + 0.5) * TILE / DISPLAY,
                                      colour, radius=7, label=str(i + 1))
        return np.concatenate([_frame(base, (255, 255, 255))] + tiles, axis=1)

    # ------------------------------------------------------------ batches
    def grid(self, model: str, args: RenderArgs, count: int = 16) -> list[tuple[np.ndarray, int]]:
        """Samples for seeds seed, seed+1, ... with the same settings: [(image, seed)]."""
        count = _int_in("count", count, 1, MAX_GRID)
        first = check_seed(args.seed)
        seeds = [s for s in range(first, first + count) if s <= 2 ** 32 - 1]
        images, _ = self.engine(model).render_many([replace(args, seed=s) for s in seeds])
        scale = self.scale(model, 128)
        return [(draw.upscale_nearest(img, scale), s) for img, s in zip(images, seeds)]

    def interpolate(self, view: View, seeds: list[int], frames: int = 16,
                    follow: tuple[int, int] | None = None, fps: float = 12.0, progress=None) -> Path:
        """Spherical interpolation from seed to seed as an animated GIF. Two seeds go
        A -> B; more make a closed loop back to the first. With `follow` (display
        pixels), the map of that fixed query point is shown beside every frame."""
        engine = self.engine(view.model)
        seeds = [check_seed(s) for s in seeds]
        if not 2 <= len(seeds) <= 16:
            raise InputError("give 2 to 16 seeds, e.g. 1, 7 (A to B) or 3, 8, 12 (a loop)")
        frames = _int_in("frames per step", frames, 2, 120)
        fps = check_finite("fps", fps, 1, 50)
        loop = len(seeds) > 2
        path = seeds + [seeds[0]] if loop else seeds
        if (len(path) - 1) * frames > MAX_FRAMES:
            raise InputError(f"at most {MAX_FRAMES} frames: use fewer seeds or frames per step")
        if follow is not None:
            follow = _point(follow, DISPLAY)
        args = view.args
        base, y = engine.latent(args)
        offset = base - args.psi * z_from_seed(args.seed, engine.cfg.z_dim)   # the sliders' offset
        zs = [args.psi * z_from_seed(s, engine.cfg.z_dim) for s in path]
        ts = torch.linspace(0, 1, frames + 1)[:-1] if loop else torch.linspace(0, 1, frames)
        latents = torch.stack([slerp(zs[i], zs[i + 1], float(t)) + offset
                               for i in range(len(path) - 1) for t in ts])
        scale, size = self.scale(view.model, TILE), (DISPLAY, DISPLAY)
        out_frames = []
        for start in range(0, len(latents), 32):
            batch = latents[start:start + 32]
            images, caps = engine.generate(batch, [y] * len(batch), record=follow is not None)
            for b, img in enumerate(images):
                big = draw.upscale_nearest(img, scale)
                if follow is not None:
                    cap = caps[view.layer or engine.layers[-1]]
                    probe = cap.looks_at if view.mode == LOOKS_AT else cap.looked_at_by
                    heat = probe(*follow, size=size, head=view.head, b=b).numpy()
                    overlay = engine.overlay(img, heat, *follow, size, scale, view.alpha, view.cmap,
                                             draw.MARKER_COLORS[0])
                    big = np.concatenate([big, overlay], axis=1)
                out_frames.append(Image.fromarray(big))
            if progress:
                progress(min(1.0, (start + len(batch)) / len(latents)))
        target = self._new_file(f"{view.model}_interp_{'-'.join(map(str, seeds))}.gif")
        out_frames[0].save(target, save_all=True, append_images=out_frames[1:], loop=0,
                           duration=int(1000 / fps), disposal=1)
        return target

    # ------------------------------------------------------------ export
    def state_dict(self, view: View) -> dict:
        engine = self.engine(view.model)
        return {"app": "attn-demo", "version": STATE_VERSION, "model": view.model,
                "weights_sha256": engine.weights_sha256, "seed": view.args.seed, "truncation": view.args.psi,
                "class": view.args.label, "sliders": list(view.args.sliders),
                "click": list(view.click) if view.click else None, "pins": [list(p) for p in view.pins],
                "display_size": DISPLAY, "layer": view.layer, "head": view.head, "mode": view.mode,
                "opacity": view.alpha, "colormap": view.cmap}

    def parse_state(self, text: str | bytes) -> tuple[View, list[str]]:
        """A state JSON -> View, validated; warnings (e.g. other weights) returned alongside."""
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise InputError(f"not a valid state file (JSON): {e}") from None
        if not isinstance(data, dict) or data.get("app") != "attn-demo":
            raise InputError("not an attn-demo state file")
        if data.get("version") != STATE_VERSION:
            raise InputError(f"state version {data.get('version')!r} is not supported")
        engine = self.engine(data.get("model"))
        warnings = []
        if data.get("weights_sha256") != engine.weights_sha256:
            warnings.append("this state was saved with other weights for this model: the image may differ")
        if data.get("display_size", DISPLAY) != DISPLAY:
            raise InputError("the state's display size does not match this app")
        sliders = data.get("sliders") or []
        if not isinstance(sliders, list):
            raise InputError("sliders must be a list of numbers")
        args = RenderArgs(check_seed(data.get("seed")), check_finite("truncation", data.get("truncation"), 0, 1),
                          data.get("class"), tuple(check_finite("slider", v) for v in sliders))
        engine.latent(args)                           # validates class and sliders for this model
        point = lambda p: _point(p, DISPLAY)          # noqa: E731
        pins = data.get("pins") or []
        if not isinstance(pins, list) or len(pins) > MAX_PINS:
            raise InputError(f"at most {MAX_PINS} pins")
        head = data.get("head")
        view = View(data["model"], args, point(data["click"]) if data.get("click") is not None else None,
                    [point(p) for p in pins], data.get("layer"), head, data.get("mode", LOOKS_AT),
                    check_finite("opacity", data.get("opacity", 0.6), 0, 1), data.get("colormap", "inferno"))
        if view.mode not in MODES:
            raise InputError(f"unknown mode {view.mode!r}")
        draw.colormap(view.cmap)
        if view.layer is not None and view.layer not in engine.layers:
            raise InputError(f"unknown layer {view.layer!r}")
        return view, warnings

    def export(self, view: View, upscale: str = "native") -> list[Path]:
        """image PNG (state embedded), overlay PNG, raw map .npy, state JSON."""
        result = self.render(view.model, view.args)
        state = self.state_dict(view)
        stem = f"{view.model}_seed{view.args.seed}"
        info = PngImagePlugin.PngInfo()
        info.add_text("attn-demo-state", json.dumps(state))
        image = _upscaled(result.image, upscale)
        files = [self._new_file(f"{stem}.png")]
        Image.fromarray(image).save(files[0], pnginfo=info)
        if view.click is not None:
            out = self.inspect(view, *view.click)
            files.append(self._new_file(f"{stem}_attention_{out.stats['layer']}.png"))
            Image.fromarray(out.overlay).save(files[-1], pnginfo=info)
            files.append(self._new_file(f"{stem}_attention_{out.stats['layer']}.npy"))
            np.save(files[-1], out.heat)
            state["map"] = {k: out.stats[k] for k in ("layer", "mode", "cell", "grid", "key_grid")}
        files.append(self._new_file(f"{stem}_state.json"))
        files[-1].write_text(json.dumps(state, indent=2) + "\n")
        return files

    @staticmethod
    def png_data_url(img: np.ndarray) -> str:
        """The generated image for the browser, lossless and inline (a data: URL, so the page
        shows it from the answer itself: no file written, copied into Gradio's cache and fetched
        back). PNG at zlib level 1, ~3x faster than the level 6 Gradio uses for arrays."""
        return _data_url("image/png", draw.encode_png(img, compress_level=1))

    @staticmethod
    def jpeg_data_url(img: np.ndarray) -> str:
        """A click's overlay for the browser, inline like `png_data_url`: JPEG at quality 95
        (render.encode_jpeg), a third of the PNG's bytes and encoding time."""
        return _data_url("image/jpeg", draw.encode_jpeg(img))

    def jpeg_path(self, img: np.ndarray) -> str:
        """A map served as a file (the layer summary, the pinned points), as `jpeg_data_url` encodes
        it. Exports stay lossless PNG."""
        return self._served_file(draw.encode_jpeg(img), "jpg")

    def _served_file(self, data: bytes, suffix: str) -> str:
        """Write `data` to a fresh file for Gradio to serve. Gradio copies the file into its own
        cache as the handler returns, so files here older than two minutes are deleted: the
        folder stays small."""
        folder = self.export_dir / SERVED
        folder.mkdir(exist_ok=True)
        now = time.time()
        with self._lock:
            self._served_count += 1
            name = f"{self._served_count:08d}.{suffix}"
            if self._served_count % 50 == 0:
                for old in folder.iterdir():
                    if now - old.stat().st_mtime > 120:
                        old.unlink(missing_ok=True)
        path = folder / name
        path.write_bytes(data)
        return str(path)

    def _new_file(self, name: str) -> Path:
        """A fresh file in its own folder under export_dir; folders older than EXPORT_LIFETIME are pruned."""
        now = time.time()
        for old in self.export_dir.iterdir():
            if old.is_dir() and old.name != SERVED and now - old.stat().st_mtime > EXPORT_LIFETIME:
                for f in old.iterdir():
                    f.unlink(missing_ok=True)
                old.rmdir()
        folder = Path(tempfile.mkdtemp(dir=self.export_dir))
        return folder / name


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation, which keeps Gaussian latents at a typical norm."""
    cos = float(torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12))
    omega = math.acos(max(-1.0, min(1.0, cos)))
    if omega < 1e-6:
        return a + (b - a) * t
    return (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)


def _args_key(args: RenderArgs):
    return (args.seed, float(args.psi), str(args.label), tuple(float(v) for v in args.sliders))


def _int_in(name: str, value, lo: int, hi: int) -> int:
    v = check_finite(name, value, lo, hi)
    if v != int(v):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    return int(v)


def _point(p, size: int) -> tuple[int, int]:
    if not isinstance(p, (list, tuple)) or len(p) != 2:
        raise InputError(f"a point is [x, y], got {p!r}")
    return _int_in("x", p[0], 0, size - 1), _int_in("y", p[1], 0, size - 1)


def _frame(img: np.ndarray, colour, width: int = 4) -> np.ndarray:
    out = img.copy()
    out[:width], out[-width:], out[:, :width], out[:, -width:] = colour, colour, colour, colour
    return out


def _upscaled(img: np.ndarray, mode: str) -> np.ndarray:
    if mode == "native":
        return img
    if mode == "x4 pixel":
        return draw.upscale_nearest(img, 4)
    if mode == "x4 smooth":
        h, w = img.shape[:2]
        return np.asarray(Image.fromarray(img).resize((w * 4, h * 4), Image.LANCZOS))
    raise InputError(f"export size must be native, x4 pixel or x4 smooth, got {mode!r}")

