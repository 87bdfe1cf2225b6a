"""The engine: a loaded generator that renders images and answers attention clicks.

Widgets (ui.py) and commands (cli.py) only build `RenderArgs` and call
`Engine.render` / `Engine.inspect`; the engine knows nothing of Gradio. All
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

from . import render as draw  # "render" is also a method name here
from .checkpoint import WEIGHTS_FILE, file_sha256, load_directions, load_pretrained
from .errors import InputError
from .latents import Directions, check_finite, make_latent, resolve_class
from .layers import fold_for_inference
from .model import Generator, count_parameters
from .probe import LOOKS_AT, MODES, AttentionRecorder, Capture, check_pixel, entropy, pixel_to_cell

MAX_BATCH = 64


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but no CUDA GPU is available")
    return torch.device(device)


@dataclass(frozen=True)
class RenderArgs:
    """What a user chose: seed, truncation psi, class (index or name) and slider values."""

    seed: int = 0
    psi: float = 1.0
    label: int | str | None = None
    sliders: tuple[float, ...] = ()


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
    heat: np.ndarray                  # the raw map: key grid (looks-at) or query grid (looked-at-by)
    overlay: np.ndarray               # (S, S, 3) uint8, the map over the upscaled image
    stats: dict


def prepare_generator(generator: Generator, device: torch.device) -> Generator:
    """A loaded generator as the engine serves it (and the benchmark measures it).

    Spectral norm baked in once (no power iteration per request), each upsample +
    conv folded into a transposed conv, the norms' eval-mode maps computed once
    (an unconditional one folded into the conv before it); channels_last suits oneDNN's CPU
    convolutions (and cuDNN's): 3.4x on the 64 px reference G.
    """
    generator = fold_for_inference(generator.eval()).requires_grad_(False)
    return generator.to(device, memory_format=torch.channels_last)


class Engine:
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

    # ------------------------------------------------------------- metadata
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
            "parameters": count_parameters(self.generator),
            "device": str(self.device),
            "gamma": {n: float(m.gamma.detach()) for n, m in self.generator.attention_layers().items()},
            "directions": len(self.directions) if self.directions is not None else 0,
        }

    # ------------------------------------------------------------ rendering
    def latent(self, args: RenderArgs) -> tuple[torch.Tensor, int | None]:
        z = make_latent(args.seed, self.cfg.z_dim, args.psi, self.directions, args.sliders)
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
    def capture(self, result: RenderResult, layer: str | None) -> Capture:
        if layer is None:
            layer = self.layers[-1]
        if layer not in result.captures:
            raise InputError(f"unknown attention layer {layer!r}; this model has {', '.join(self.layers)}")
        return result.captures[layer]

    def inspect(self, result: RenderResult, x, y, layer: str | None = None, head: int | None = None,
                mode: str = LOOKS_AT, size: tuple[int, int] | None = None, scale: int = 8,
                alpha: float = 0.6, cmap: str = "inferno",
                marker_color=draw.MARKER_COLORS[0]) -> InspectResult:
        """Attention map for the pixel (x, y) of a (width, height) picture of the image.

        No generator pass: the map comes from the queries and keys cached in
        `result`. `scale` is the nearest-neighbour upscale of the overlay.
        """
        t0 = time.perf_counter()
        cap = self.capture(result, layer)
        if mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        alpha = check_finite("opacity", alpha, 0.0, 1.0)
        draw.colormap(cmap)
        res = self.cfg.resolution
        size = (res, res) if size is None else _check_size(size)
        x, y = check_pixel(x, y, size)
        if mode == LOOKS_AT:
            heat_t = cap.looks_at(x, y, size=size, head=head)
        else:
            heat_t = cap.looked_at_by(x, y, size=size, head=head)
        heat = heat_t.numpy()
        t1 = time.perf_counter()
        overlay = self.overlay(result.image, heat, x, y, size, scale, alpha, cmap, marker_color)
        t2 = time.perf_counter()
        stats = _map_stats(cap, heat_t, mode, x, y, size)
        stats.update(layer=cap.name, mode=mode, head="mean" if head is None else int(head),
                     x=x, y=y, size=list(size), map_ms=(t1 - t0) * 1e3, overlay_ms=(t2 - t1) * 1e3)
        return InspectResult(heat, overlay, stats)

    def overlay(self, image, heat, x, y, size, scale, alpha, cmap, marker_color=None) -> np.ndarray:
        """Nearest-upscaled image, bilinear heat map blended over it, marker at the click."""
        scale = _check_scale(scale)
        marker = None
        if marker_color is not None:
            s = image.shape[0] * scale
            marker = ((x + 0.5) * s / size[0], (y + 0.5) * s / size[1], marker_color, max(4, s // 48))
        return draw.overlay_picture(image, heat, scale, alpha, cmap, marker)

    def summary(self, result: RenderResult, layer: str | None = None, head: int | None = None,
                kind: str = "distance", scale: int = 8, alpha: float = 0.6,
                cmap: str = "viridis") -> InspectResult:
        """Layer summary: how far (or how diffusely) every pixel looks, as an overlay."""
        cap = self.capture(result, layer)
        if kind not in ("distance", "entropy"):
            raise InputError("summary kind must be 'distance' or 'entropy'")
        alpha = check_finite("opacity", alpha, 0.0, 1.0)
        dist, ent = cap.summary(head=head)
        heat = (dist if kind == "distance" else ent).numpy()
        overlay = draw.overlay_picture(result.image, heat, _check_scale(scale), alpha, cmap)
        stats = {"layer": cap.name, "kind": kind, "head": "mean" if head is None else int(head),
                 "gamma": cap.gamma, "mean_distance_px": float(dist.mean()),
                 "max_distance_px": float(dist.max()), "mean_entropy_nats": float(ent.mean()),
                 "uniform_entropy_nats": float(np.log(cap.key_grid[0] * cap.key_grid[1]))}
        return InspectResult(heat, overlay, stats)


def _check_size(size) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise InputError(f"size must be (width, height), got {size!r}") from None
    if not (1 <= w <= 8192 and 1 <= h <= 8192) or any(float(v) != int(v) for v in size):
        raise InputError(f"size must be whole pixels in 1..8192, got {size!r}")
    return w, h


def _check_scale(scale) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or not 1 <= scale <= 32:
        raise InputError(f"scale must be an integer in 1..32, got {scale!r}")
    return int(scale)


def _map_stats(cap: Capture, heat: torch.Tensor, mode: str, x: int, y: int, size) -> dict:
    """Entropy and mean attention distance of the shown map, plus the layer's gamma.

    The distance is in image pixels, between the clicked cell's centre and the
    cells the map puts its mass on (weighted by the normalised map).
    """
    if mode == LOOKS_AT:
        from_grid, to_grid = cap.grid, cap.key_grid
    else:
        from_grid, to_grid = cap.key_grid, cap.grid
    cx, cy = pixel_to_cell(x, y, size, from_grid)
    origin = cap.cell_centres(from_grid)[cy * from_grid[1] + cx]
    total = float(heat.sum())
    p = heat.reshape(-1) / max(total, 1e-30)
    distance = float((p * (cap.cell_centres(to_grid) - origin).norm(dim=1)).sum())
    n = p.numel()
    uniform = float(np.log(n))
    ent = float(entropy(p))
    return {"gamma": cap.gamma, "cell": [cx, cy], "grid": list(cap.grid),
            "key_grid": list(cap.key_grid), "entropy_nats": ent, "uniform_entropy_nats": uniform,
            "entropy_norm": ent / uniform if n > 1 else 0.0, "mean_distance_px": distance,
            "max_weight": float(heat.max()), "total_weight": total}
