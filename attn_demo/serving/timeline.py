"""A model along its training (the snapshots it ships, models/snapshots.py) and two models or steps
side by side (A/B), for the same seed, class, sliders and click.

A *source* names what renders: "emoji32" (the model's shipped weights) or "emoji32@2000" (its EMA
generator at training step 2000). `Snapshots` keeps a model's snapshot engines, loaded on demand
(a few at a time); `frame` renders one source at the view's settings and draws its map at the click
beside the image with every layer's gamma; `ab` draws two sources' maps at the same click, side by
side. The render and the map are the engine's own (Engine.render, Engine.inspect): a snapshot is
served exactly as a shipped model is, only its weights differ.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..imaging import draw
from ..models.snapshots import load_snapshot, no_snapshot, snapshot_steps
from .engine import Engine, MapSettings, RenderArgs

KEEP = 3                 # snapshot engines kept per model (each as large as the model)


def parse_source(text) -> tuple[str, int | None]:
    """"model" or "model@step" -> (model, step or None)."""
    text = str(text or "").strip()
    if not text:
        raise InputError("name a model, or a model's snapshot as model@step")
    model, at, step = text.partition("@")
    if not at:
        return model, None
    if not step.isdigit():
        raise InputError(f"a snapshot is model@step with a whole step, got {text!r}")
    return model, int(step)


def source_text(model: str, step: int | None) -> str:
    return model if step is None else f"{model}@{step}"


def check_pair(a: str, a_engine: Engine, b: str, b_engine: Engine) -> None:
    """A/B compares one resolution: the same seed and click mean the same pixel on both."""
    ra, rb = a_engine.cfg.resolution, b_engine.cfg.resolution
    if ra != rb:
        raise InputError(f"B ({b}) is a {rb}-px model and A ({a}) a {ra}-px one: A/B compares models of "
                         "one resolution")


class Snapshots:
    """A served model's engines at its snapshot steps (the shipped engine for step None)."""

    def __init__(self, engine: Engine, keep: int = KEEP):
        self.base, self.keep = engine, keep
        self.steps = snapshot_steps(engine.path) if engine.path is not None else []
        self._engines: OrderedDict[int, Engine] = OrderedDict()
        self._lock = threading.Lock()

    def engine(self, step: int | None) -> Engine:
        if step is None:
            return self.base
        if step not in self.steps:
            raise no_snapshot(self.base.name, step, self.steps)
        with self._lock:
            if step not in self._engines:
                G = load_snapshot(self.base.path, step)
                self._engines[step] = Engine(G, self.base.directions, device=str(self.base.device),
                                             name=source_text(self.base.name, step), path=None)
                while len(self._engines) > self.keep:
                    self._engines.popitem(last=False)
            self._engines.move_to_end(step)
            return self._engines[step]


@dataclass
class Frame:
    """One source's render at the view's settings: the image, its map at the click, the gammas."""

    source: str
    image: np.ndarray                 # (R, R, 3) uint8
    overlay: np.ndarray               # the map over the upscaled image, the click marked
    gammas: dict[str, float]          # every attention layer's gamma
    map_stats: dict

    def info(self) -> dict:
        return {"source": self.source, "gamma": self.gammas, "map": self.map_stats}


def frame(engine: Engine, source: str, args: RenderArgs, click: tuple[int, int], size: int,
          settings: MapSettings, scale: int) -> Frame:
    """`engine` (a model or a snapshot) at `args`, its map at `click` of a size x size picture."""
    result = engine.render(args)
    out = engine.inspect(result, *click, settings, (size, size), scale)
    gammas = {name: float(cap.gamma) for name, cap in result.captures.items()}
    return Frame(source, result.image, out.overlay, gammas, out.map.stats())


def gamma_text(gammas: dict[str, float]) -> str:
    return ", ".join(f"γ {k} {v:+.3f}" for k, v in gammas.items())


def timeline_picture(f: Frame, scale: int) -> np.ndarray:
    """The image and its map at the click, side by side, labelled with the step and the gammas."""
    return draw.labelled_grid([[draw.upscale_nearest(f.image, scale), f.overlay]], [f.source],
                              ["image", "map at the click"])


def ab_picture(a: Frame, b: Frame) -> np.ndarray:
    """A's and B's maps at the same click, side by side (their tiles the same size)."""
    if a.overlay.shape != b.overlay.shape:
        raise InputError(f"A ({a.source}) and B ({b.source}) draw at different sizes: compare models of "
                         "one resolution")
    return draw.labelled_grid([[a.overlay, b.overlay]], ["same click"],
                              [f"A: {a.source}", f"B: {b.source}"])
