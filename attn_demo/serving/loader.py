"""Model directories to engines: the one place in serving that reads a model's kind.

`load_engine` reads config.json's `kind` and returns the engine that serves it (an image
model's `Engine`, a canvas model's `CanvasEngine`); `find_models` lists the generator
directories under weights/ by kind. Nothing above this module branches on `cfg.kind`:
it asks which engine it got (or calls `model_kind`).
"""
from __future__ import annotations

import logging
from pathlib import Path

from ..errors import AttnDemoError, CheckpointError, InputError
from ..models.checkpoint import CONFIG_FILE, WEIGHTS_FILE, load_config, read_tensors
from .canvas import CanvasEngine
from .engine import Engine

log = logging.getLogger("attn_demo.serving")
ENGINES = {"sagan": Engine, "canvas": CanvasEngine}     # config kind -> its engine


def model_kind(model_dir, unreadable: str | None = None) -> str | None:
    """A model directory's kind ("sagan" or "canvas"); an unreadable config gives `unreadable`
    (its loader reports the reason) or, with unreadable=None, raises."""
    try:
        return load_config(Path(model_dir)).kind
    except AttnDemoError:
        if unreadable is None:
            raise
        return unreadable


def load_engine(model_dir, device: str = "auto", kind: str | None = None):
    """The engine for a model directory, by its config's kind; with `kind`, any other kind is refused."""
    found = model_kind(model_dir)
    if kind is not None and found != kind:
        raise InputError(f"{model_dir} is a {found!r} model, not a {kind!r} one")
    return ENGINES[found].from_pretrained(model_dir, device=device)


def load_engines(model_dirs, device: str, problems: dict) -> dict:
    """Model directories -> {name: engine}; one that fails to load is left out, its reason in `problems`
    (one bad model must not take the studio down)."""
    out = {}
    for path in model_dirs:
        name = Path(path).name
        try:
            out[name] = load_engine(path, device=device)
        except AttnDemoError as e:
            problems[name] = str(e)
            log.warning("skipping model %s: %s", path, e)
        except Exception as e:  # noqa: BLE001 - a loader bug, or out of memory: same rule
            problems[name] = f"could not load ({type(e).__name__}: {e})"
            log.exception("skipping model %s", path)
    return out


def find_models(weights_dir: Path, kind: str | None = "sagan") -> list[Path]:
    """Generator directories (config.json + model.safetensors saved by attn-demo) under weights_dir:
    image models (kind "sagan", the default), canvas models ("canvas") or both (None).

    Other model directories (the metrics' feature network) are left out by the
    format tag in the weights' header; unreadable files are left to the loader,
    which reports them (as image models).
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
            meta = None                  # broken: the loader says so and skips it
        if meta is not None and meta.get("format") != "attn-demo-generator":
            continue
        if kind is None or model_kind(p, unreadable="sagan") == kind:
            found.append(p)
    return found
