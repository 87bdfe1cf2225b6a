"""The engine: a loaded generator that renders images and answers attention clicks.

The studio's events and the command line only build `RenderArgs` (what to
render) and `MapSettings` (how to look at it) and call `Engine.render` /
`Engine.inspect`; the engine knows nothing of Gradio. All
torch work runs under `torch.inference_mode()` (handlers run in worker
threads, where a module-level grad switch would not apply).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..checks import check_finite, check_scale, check_size
from ..errors import InputError
from ..models.checkpoint import WEIGHTS_FILE, file_sha256, load_directions, load_pretrained
from ..models.folding import FoldedGenerator, fold_for_inference
from ..models.latents import Directions, check_latent, make_latent, resolve_class
from ..models.networks import Generator, generator_parameters
from ..imaging import draw
from .probe import LOOKS_AT, MODES, AttentionMap, AttentionRecorder, Capture, rollout

MAX_BATCH = 64
# How a map's colours are scaled: each map to its own maximum ("peak"), or one scale for every map
# ("uniform"): 0 to UNIFORM_SPAN times the weight of a uniform map, 1/Nk, so a nearly flat map
# looks flat and a focused one bright.
NORMS = ("peak", "uniform")
UNIFORM_SPAN = 8.0


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but no CUDA GPU is available")
    return torch.device(device)


@dataclass(frozen=True)
class RenderArgs:
    """What a user chose: seed, truncation psi, class (index or name) and slider values; `latent`:
    a z of its own (an inverted picture) that stands in for the seed's."""

    seed: int = 0
    psi: float = 1.0
    label: int | str | None = None
    sliders: tuple[float, ...] = ()
    latent: tuple[float, ...] | None = None


@dataclass(frozen=True)
class MapSettings:
    """How to look at a render's attention: which layer and head, which mode, how to draw the map."""

    layer: str | None = None      # None: the last layer (closest to the output)
    head: int | None = None       # None: the mean over heads
    mode: str = LOOKS_AT
    alpha: float = 0.6            # the map's opacity over the image
    cmap: str = "inferno"
    norm: str = "peak"            # colour scale: NORMS

    def checked(self) -> "MapSettings":
        """The same settings, validated (the layer and head against a model: `Engine.capture`)."""
        if self.mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.norm not in NORMS:
            raise InputError(f"colour scale must be one of {', '.join(NORMS)}, got {self.norm!r}")
        draw.colormap(self.cmap)
        return MapSettings(self.layer, self.head, self.mode, check_finite("opacity", self.alpha, 0.0, 1.0),
                           self.cmap, self.norm)

    def fixed_top(self, heat: AttentionMap) -> float | None:
        """The weight the top colour stands for when the scale is shared by every map ("uniform");
        None when each map is scaled to its own maximum ("peak"). A row that puts part of its
        attention on registers or the null slot (models/attention.py) is not stretched to full
        colour: its peak is drawn at its share of the row, so a map that holds 10 % of the
        attention looks faint, as it is."""
        if self.norm == "uniform":
            return UNIFORM_SPAN / (heat.key_grid[0] * heat.key_grid[1])
        share = heat.pixel_share
        if share is not None and share < 1.0 - 1e-6:
            return heat.max_weight / max(share, 1e-6)
        return None

    def vmax(self, heat: AttentionMap) -> float:
        """The attention weight at the top of the colour scale for this map."""
        top = self.fixed_top(heat)
        return heat.max_weight if top is None else top


@dataclass
class RenderResult:
    args: RenderArgs
    image: np.ndarray                 # (R, R, 3) uint8
    z: torch.Tensor                   # (z_dim,) the latent actually used
    class_index: int | None
    captures: dict[str, Capture]      # attention cache for clicks (batch of 1)
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds


@dataclass
class InspectResult:
    map: AttentionMap                 # the map (a key or query grid) and its statistics
    overlay: np.ndarray               # (S, S, 3) uint8, the map over the upscaled image
    timings: dict[str, float] = field(default_factory=dict)   # milliseconds
    vmax: float = 0.0                 # the attention weight the top colour stands for

    @property
    def heat(self) -> np.ndarray:
        return self.map.heat.numpy()

    @property
    def stats(self) -> dict:
        """The map's statistics and the timings, as JSON values (the API's answer)."""
        return {**self.map.stats(), **self.timings}


@dataclass
class AllMapsResult:
    picture: np.ndarray               # one labelled picture: a row per layer, mean then each head
    maps: list[AttentionMap]          # the same maps, row by row
    rollout: np.ndarray | None        # over the first layer's grid, with two or more layers (an approximation)


@dataclass
class SummaryResult:
    heat: np.ndarray                  # per query pixel: mean attention distance (px) or entropy (nats)
    overlay: np.ndarray
    stats: dict                       # the layer's figures: gamma, mean and max distance, mean entropy


def prepare_generator(generator: Generator, device: torch.device) -> FoldedGenerator:
    """A loaded generator as the engine serves it (and the benchmark measures it): rebuilt for
    inference (models/folding.py), without gradients, in channels_last memory, which suits
    oneDNN's CPU convolutions and cuDNN's (docs/PERFORMANCE.md, the ablation table)."""
    generator = fold_for_inference(generator.eval()).requires_grad_(False)
    return generator.to(device, memory_format=torch.channels_last)


class ServedModel:
    """What every served model tells about itself (Engine, serving/canvas.CanvasEngine): its
    attention layers, classes, weights' hash, a summary, and a render's capture of a layer. The
    engine sets generator, cfg, directions, device, name, path and _sha256."""

    @property
    def layers(self) -> list[str]:
        """Attention layer names, the one closest to the output last."""
        return list(self.generator.attention_layers())

    @property
    def class_names(self) -> list[str]:
        n = self.cfg.num_classes
        return list(self.cfg.class_names) or [str(i) for i in range(n)]

    @property
    def weights_sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = file_sha256(self.path / WEIGHTS_FILE) if self.path else ""
        return self._sha256

    def info(self) -> dict:
        return {
            "name": self.name,
            "config": self.cfg.to_dict(),
            "parameters": generator_parameters(self.cfg),   # as trained
            "device": str(self.device),
            "gamma": {n: float(m.gamma.detach()) for n, m in self.generator.attention_layers().items()},
            "directions": len(self.directions) if self.directions is not None else 0,
            "slider_ranges": list(self.directions.spans) if self.directions is not None else [],
        }

    def capture(self, result, layer: str | None) -> Capture:
        """A render's attention capture of `layer` (None: the last layer)."""
        if layer is None:
            layer = self.layers[-1]
        if layer not in result.captures:
            raise InputError(f"unknown attention layer {layer!r}; this model has {', '.join(self.layers)}")
        return result.captures[layer]


class Engine(ServedModel):
    def __init__(self, generator: Generator, directions: Directions | None = None,
                 device: str = "auto", name: str = "model", path: Path | None = None):
        self.device = pick_device(device)
        self._lock = threading.Lock()  # hooks live on the shared model: one forward at a time
        self._install(generator, directions, name, path)

    def _install(self, generator, directions, name, path) -> None:
        generator = prepare_generator(generator, self.device)
        with self._lock:
            self.generator, self.cfg, self.directions = generator, generator.cfg, directions
            self.name, self.path, self._sha256 = name, path, None

    @classmethod
    def from_pretrained(cls, path, device: str = "auto") -> "Engine":
        path = Path(path)
        generator = load_pretrained(path)
        directions = load_directions(path, generator.cfg.z_dim)
        return cls(generator, directions, device=device, name=path.name, path=path)

    def load(self, path) -> None:
        """Swap in another model directory. On any error the current model stays in use."""
        path = Path(path)
        generator = load_pretrained(path)
        directions = load_directions(path, generator.cfg.z_dim)
        self._install(generator, directions, path.name, path)

    # ------------------------------------------------------------ rendering
    def latent(self, args: RenderArgs) -> tuple[torch.Tensor, int | None]:
        base = None if args.latent is None else check_latent(args.latent, self.cfg.z_dim)
        z = make_latent(args.seed, self.cfg.z_dim, args.psi, self.directions, args.sliders, base)
        return z, resolve_class(args.label, self.cfg.num_classes, self.class_names)

    @torch.inference_mode()
    def generate(self, z: torch.Tensor, y: Sequence[int | None] | None = None,
                 record: bool = False) -> tuple[np.ndarray, dict[str, Capture]]:
        """z (B, z_dim) -> images (B, R, R, 3) uint8, and attention captures if asked."""
        if z.ndim != 2 or z.shape[1] != self.cfg.z_dim or not 1 <= z.shape[0] <= MAX_BATCH:
            raise InputError(f"z must be (1..{MAX_BATCH}, {self.cfg.z_dim}), got {tuple(z.shape)}")
        if not bool(torch.isfinite(z).all()):
            raise InputError("latent must be finite")
        yt = None
        if self.cfg.num_classes:
            if y is None or any(v is None for v in y):
                raise InputError("this model is class-conditional: give a class")
            yt = torch.tensor(list(y), dtype=torch.long, device=self.device)
        z = z.to(self.device, torch.float32)
        with self._lock:
            if record:
                with AttentionRecorder(self.generator) as rec:
                    out = self.generator(z, yt)
                captures = rec.captures
            else:
                out, captures = self.generator(z, yt), {}
        return draw.to_uint8(out.float().cpu().numpy()), captures

    def render(self, args: RenderArgs) -> RenderResult:
        t0 = time.perf_counter()
        z, y = self.latent(args)
        t1 = time.perf_counter()
        images, captures = self.generate(z[None], [y], record=True)
        t2 = time.perf_counter()
        return RenderResult(args, images[0], z, y, captures,
                            {"latent_ms": (t1 - t0) * 1e3, "generate_ms": (t2 - t1) * 1e3})

    def render_many(self, args_list: Sequence[RenderArgs], record: bool = False):
        """One batched forward for several settings -> (images (B, R, R, 3), captures)."""
        if not 1 <= len(args_list) <= MAX_BATCH:
            raise InputError(f"between 1 and {MAX_BATCH} images at a time")
        pairs = [self.latent(a) for a in args_list]
        return self.generate(torch.stack([z for z, _ in pairs]), [y for _, y in pairs], record)

    # ------------------------------------------------------------ inspection
    def _picture(self, size) -> tuple[int, int]:
        """The (width, height) picture a click's x, y are pixels of: checked, the image's own by default."""
        res = self.cfg.resolution
        return (res, res) if size is None else check_size(size)

    def inspect(self, result: RenderResult, x, y, settings: MapSettings = MapSettings(),
                size: tuple[int, int] | None = None, scale: int = 8,
                marker_color=draw.MARKER_COLORS[0]) -> InspectResult:
        """The attention map of pixel (x, y) of a (width, height) picture of the image (default: the
        image itself), drawn over the image upscaled `scale` times with a marker at the click.

        No generator pass: the map comes from the queries and keys cached in `result`.
        """
        t0 = time.perf_counter()
        settings = settings.checked()
        cap = self.capture(result, settings.layer)
        size = self._picture(size)
        heat = cap.probe(x, y, size, settings.head, settings.mode)
        t1 = time.perf_counter()
        vmax = settings.vmax(heat)
        overlay = self.overlay(result.image, heat.heat.numpy(), (heat.x, heat.y), size, scale, settings,
                               marker_color, settings.fixed_top(heat))
        t2 = time.perf_counter()
        return InspectResult(heat, overlay, {"map_ms": (t1 - t0) * 1e3, "overlay_ms": (t2 - t1) * 1e3}, vmax)

    @staticmethod
    def legend(out: InspectResult, settings: MapSettings, width: int = 512) -> np.ndarray:
        """The colour bar of a map: real attention weights from 0 to the top of its scale, with the
        weight of a uniform map (1/Nk) marked, so a flat map is seen to be flat."""
        m, vmax = out.map, out.vmax
        uniform = 1.0 / (m.key_grid[0] * m.key_grid[1])
        ticks = [(uniform, f"uniform 1/Nk = {uniform:.3g}"), (vmax, f"{vmax:.3g}"), (0.0, "0")]
        if settings.norm == "peak":
            title = f"attention weight, scaled to this map's peak ({m.max_weight / uniform:.1f}x uniform)"
        else:
            title = f"attention weight, 0 to {UNIFORM_SPAN:g}x uniform for every map (peak {m.max_weight / uniform:.1f}x)"
        return draw.colour_bar(settings.cmap, vmax if vmax > 0 else 1.0, ticks, title, width=width)

    @staticmethod
    def overlay(image: np.ndarray, heat: np.ndarray, click: tuple[int, int], size: tuple[int, int], scale: int,
                settings: MapSettings, marker_color=None, vmax: float | None = None) -> np.ndarray:
        """Nearest-upscaled image, bilinear heat map blended over it, marker at the click (a pixel of a
        picture of `size`)."""
        scale = check_scale(scale)
        marker = None
        if marker_color is not None:
            side = image.shape[0] * scale
            marker = (*draw.marker_point(*click, size, side), marker_color, max(4, side // 48))
        return draw.overlay_picture(image, heat, scale, settings.alpha, settings.cmap, marker, vmax)

    def rollout(self, result: RenderResult, x, y, head: int | None = None,
                size: tuple[int, int] | None = None) -> np.ndarray:
        """Attention rollout of pixel (x, y) through every layer, over the first layer's grid
        (serving/probe.rollout: an approximation, which the views say)."""
        size = self._picture(size)
        return rollout([result.captures[n] for n in self.layers], x, y, size, head).numpy()

    def all_maps(self, result: RenderResult, x, y, settings: MapSettings = MapSettings(),
                 size: tuple[int, int] | None = None, tile: int = 128) -> AllMapsResult:
        """The clicked pixel's map in every layer and head at once (as attention-visualisation tools
        for transformers draw them), plus the rollout through the layers when there are several."""
        settings = settings.checked()
        size = self._picture(size)
        scale = max(1, tile // self.cfg.resolution)
        rows, row_labels, maps = [], [], []
        for name in self.layers:
            cap = result.captures[name]
            tiles = []
            for head in [None, *range(cap.heads)]:
                m = cap.probe(x, y, size, head, settings.mode)
                maps.append(m)
                tiles.append(self.overlay(result.image, m.heat.numpy(), (m.x, m.y), size, scale, settings,
                                          draw.MARKER_COLORS[0], settings.fixed_top(m)))
            rows.append(tiles)
            row_labels.append(f"{name}  γ {cap.gamma:+.2f}")
        heads = result.captures[self.layers[0]].heads
        col_labels = ["mean of heads"] + [f"head {h}" for h in range(heads)]
        roll = None
        if len(self.layers) > 1:
            roll = self.rollout(result, x, y, settings.head, size)
            rows.append([self.overlay(result.image, roll, (maps[-1].x, maps[-1].y), size, scale, settings,
                                      draw.MARKER_COLORS[0])])
            row_labels.append("rollout (approx.)")   # where the pixel looks, through every layer
        return AllMapsResult(draw.labelled_grid(rows, row_labels, col_labels), maps, roll)

    def summary(self, result: RenderResult, settings: MapSettings = MapSettings(cmap="viridis"),
                kind: str = "distance", scale: int = 8) -> SummaryResult:
        """Layer summary: how far (or how diffusely) every pixel looks, as an overlay."""
        settings = settings.checked()
        cap = self.capture(result, settings.layer)
        if kind not in ("distance", "entropy"):
            raise InputError("summary kind must be 'distance' or 'entropy'")
        dist, ent = cap.summary(head=settings.head)
        heat = (dist if kind == "distance" else ent).numpy()
        overlay = draw.overlay_picture(result.image, heat, check_scale(scale), settings.alpha, settings.cmap)
        stats = {"layer": cap.name, "kind": kind, "head": "mean" if settings.head is None else int(settings.head),
                 "gamma": cap.gamma, "mean_distance_px": float(dist.mean()),
                 "max_distance_px": float(dist.max()), "mean_entropy_nats": float(ent.mean()),
                 "uniform_entropy_nats": float(np.log(cap.key_grid[0] * cap.key_grid[1]))}
        return SummaryResult(heat, overlay, stats)
