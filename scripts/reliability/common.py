"""Shared pieces: the result format, machine facts, statistics and the weights' models."""
from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO / "docs" / "reliability"


# ------------------------------------------------------------------ results
def criterion(goal: str, what: str, target: str, measured, ok: bool) -> dict:
    """One pass/fail line: which goal of the note (R1..R11), what is measured, the target."""
    return {"goal": goal, "criterion": what, "target": target, "measured": measured, "pass": bool(ok)}


def result(goal: str, title: str, criteria: list[dict], figures: dict, parameters: dict,
           notes: list[str] = ()) -> dict:
    return {"goal": goal, "title": title, "pass": all(c["pass"] for c in criteria), "criteria": criteria,
            "figures": figures, "parameters": parameters, "notes": list(notes)}


def machine() -> dict:
    from attn_demo.machine import cpu_name
    cpu = cpu_name()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:   # not Linux
        usable = os.cpu_count()
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    import torch
    import gradio
    return {"cpu": cpu, "cores": os.cpu_count(), "cores_usable": usable, "memory_gib": mem,
            "load_average": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version(),
            "torch": torch.__version__, "gradio": gradio.__version__, "platform": platform.platform()}


def command_line(argv: list[str] | None = None) -> str:
    argv = list(sys.argv if argv is None else argv)
    return shlex.join(["python", "scripts/reliability", *argv[1:]])


def commit() -> str | None:
    """The code's commit (git rev-parse HEAD), with "+changes" when the working tree differs from it
    outside docs/ (the goals' own results, written one after another, are not the code)."""
    import subprocess
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)docs"], cwd=REPO,
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("+changes" if dirty else "")) or None


def write_result(res: dict, out: Path, argv: list[str] | None = None) -> Path:
    res = {**res, "machine": machine(), "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "command": command_line(argv), "commit": commit()}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, default=_jsonable) + "\n")
    return out


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def summary_lines(res: dict) -> list[str]:
    """A few lines for the terminal: each criterion with PASS/FAIL."""
    lines = [f"{res['goal']}: {res['title']}: {'PASS' if res['pass'] else 'FAIL'}"]
    for c in res["criteria"]:
        lines.append(f"  [{'PASS' if c['pass'] else 'FAIL'}] {c['goal']} {c['criterion']}: "
                     f"{_short(c['measured'])} (target {c['target']})")
    lines += [f"  note: {n}" for n in res.get("notes", [])]
    return lines


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    text = json.dumps(v, default=_jsonable) if not isinstance(v, str) else v
    return text if len(text) < 160 else text[:157] + "..."


# ------------------------------------------------------------------ statistics
def percentile(values, q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def r(v, nd: int = 3):
    return None if v is None else round(float(v), nd)


# ------------------------------------------------------------------ models under test
@dataclass(frozen=True)
class ModelInfo:
    """What a client needs to build valid calls for one model of the weights folder."""

    name: str
    resolution: int
    num_classes: int
    directions: int
    layers: tuple[str, ...]
    heads: int
    spans: tuple[float, ...] = ()     # each slider's range (Directions.spans)

    def label(self, rng) -> str:
        return str(rng.randrange(self.num_classes)) if self.num_classes else ""

    def sliders(self, rng, p: float = 0.5) -> str:
        if not self.directions or rng.random() > p:
            return ""
        return ", ".join(f"{rng.uniform(-s, s):.2f}" for s in self.spans)


def models_in(weights: Path) -> list[ModelInfo]:
    """The generator directories the app will load from `weights` (broken ones left out)."""
    from attn_demo.models.checkpoint import load_config, load_directions
    from attn_demo.errors import AttnDemoError
    from attn_demo.serving.loader import find_models
    out = []
    for path in find_models(Path(weights)):
        try:
            cfg = load_config(path)
            directions = load_directions(path, cfg.z_dim)
        except (AttnDemoError, KeyError, ValueError):
            continue
        spans = directions.spans if directions is not None else ()
        out.append(ModelInfo(path.name, cfg.resolution, cfg.num_classes, len(spans),
                             tuple(f"G{s}" for s in sorted(cfg.g_attn)), cfg.heads, spans))
    if not out:
        raise SystemExit(f"no usable model in {weights}: pass --weights DIR with a model directory "
                         "(config.json + model.safetensors)")
    return out


def canvas_models(weights: Path) -> list[tuple[str, list[str]]]:
    """(name, class names) of the canvas models the app will load from `weights`."""
    from attn_demo.models.checkpoint import load_config
    from attn_demo.serving.loader import find_models
    out = []
    for path in find_models(Path(weights), kind="canvas"):
        try:
            cfg = load_config(path)
        except Exception:  # noqa: BLE001 - the app leaves broken ones out too
            continue
        out.append((path.name, list(cfg.class_names or [])))
    return out


def model_names(models: list[ModelInfo], canvases: list[tuple[str, list[str]]]) -> list[str]:
    """Every model in a goal's mix: the image models, then the canvas models."""
    return [m.name for m in models] + [c for c, _ in canvases]


def material_request(canvases: list[tuple[str, list[str]]], rng, seed: int, side: int) -> tuple[str, list]:
    """A /material call (a texture set: a render and its zip) of a canvas model, a random class."""
    name, classes = rng.choice(canvases)
    return "material", [name, seed, side, side, "both", 1.0, rng.choice(classes) if classes else "",
                        4.0, 2.0, 0.8, 0.3]
