"""R11 determinism: the same (seed, sliders) gives the same PNG bytes, twice in a process and
across a restart; a resumed training run ends where an uninterrupted one does."""
from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import criterion, result
from .training import compare_checkpoints


def make_pairs(n: int, spans, num_classes: int, seed: int = 0) -> list[dict]:
    """`spans`: each slider's range (Directions.spans); values are drawn inside them."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        k = rng.randint(0, len(spans))                 # some pairs move fewer sliders than there are
        pairs.append({"seed": rng.randrange(2 ** 32), "psi": round(rng.uniform(0.3, 1.0), 3),
                      "label": rng.randrange(num_classes) if num_classes else None,
                      "sliders": [round(rng.uniform(-spans[i], spans[i]), 3) for i in range(k)]})
    return pairs


def make_canvas_pairs(n: int, num_classes: int, seed: int = 0) -> list[dict]:
    """Canvases: a seed, a truncation, a class, a size of whole cells (64 or 128 px) and a tiling."""
    rng = random.Random(seed)
    return [{"seed": rng.randrange(2 ** 32), "psi": round(rng.uniform(0.3, 1.0), 3),
             "label": rng.randrange(num_classes) if num_classes else None,
             "side": rng.choice((64, 128)), "tiling": rng.choice(("both", "x", "none"))} for _ in range(n)]


def hashes_worker(params_path: str, out_path: str) -> None:
    """A fresh process: load each model as the app does, render every pair twice, hash the PNGs."""
    import os
    import torch
    from attn_demo.imaging import draw
    from attn_demo.serving.canvas import CanvasEngine
    from attn_demo.serving.engine import Engine, RenderArgs
    from attn_demo.studio.ui import CONCURRENCY
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // CONCURRENCY))      # as app.py does
    p = json.loads(Path(params_path).read_text())
    out = {}
    for model in p["models"]:
        if model["kind"] == "canvas":
            engine = CanvasEngine.from_pretrained(model["model_dir"], device="cpu")

            def render(pair):
                f = engine.field(pair["seed"], pair["side"], pair["side"], pair["psi"])
                return engine.render(f, pair["label"], pair["tiling"]).image
        else:
            engine = Engine.from_pretrained(model["model_dir"], device="cpu")

            def render(pair):
                args = RenderArgs(pair["seed"], pair["psi"], pair["label"], tuple(pair["sliders"]))
                return engine.render(args).image
        out[model["name"]] = [[hashlib.sha256(draw.encode_png(render(pair))).hexdigest() for _ in range(2)]
                              for pair in model["pairs"]]
    Path(out_path).write_text(json.dumps({"hashes": out, "threads": torch.get_num_threads()}))


def train_resume_matches(steps: int, ckpt_every: int, seed: int = 0) -> tuple[float, int, list[str]]:
    """Train `steps` straight, and steps//2 then --resume to `steps`; compare every tensor."""
    from attn_demo.models.config import ModelConfig, TrainConfig
    from attn_demo.imaging.folders import make_shapes
    from attn_demo.training.trainer import train
    model = ModelConfig(resolution=32, z_dim=16, g_width=16, d_width=16, g_attn=(16,), d_attn=(16,), num_classes=3,
                        class_names=("disc", "square", "triangle"))
    data = make_shapes(96, 32, seed=0)

    def cfg(n):
        return TrainConfig(batch_size=8, max_steps=n, ckpt_every=ckpt_every, sample_every=10 ** 9, log_every=10,
                           ema_start=steps // 4, seed=seed)
    quiet = {"device": "cpu", "progress": False, "log": lambda *a: None}
    with tempfile.TemporaryDirectory(prefix="attn-r11-") as tmp:
        a, b = Path(tmp) / "straight", Path(tmp) / "resumed"
        train(model, cfg(steps), data, a, **quiet)
        train(model, cfg(steps // 2), data, b, **quiet)
        train(model, cfg(steps), data, b, resume=True, **quiet)
        return compare_checkpoints(a / "checkpoint.safetensors", b / "checkpoint.safetensors")


def determinism(weights: Path = Path("weights"), pairs: int = 100, steps: int = 200, ckpt_every: int = 25,
                tolerance: float = 1e-6, log=print) -> dict:
    """R11: for every model in `weights` (canvas models too), `pairs` renders hashed in two processes;
    a resumed training run vs a straight one."""
    from attn_demo.models.checkpoint import load_config, load_directions
    from attn_demo.serving.loader import find_models
    models, notes = [], []
    for model_dir in find_models(Path(weights), kind=None):
        cfg = load_config(model_dir)
        if cfg.kind == "canvas":
            todo = make_canvas_pairs(pairs, cfg.num_classes, seed=len(models))
        else:
            directions = load_directions(model_dir, cfg.z_dim)
            todo = make_pairs(pairs, directions.spans if directions is not None else (), cfg.num_classes,
                              seed=len(models))
            if directions is None:
                notes.append(f"{model_dir.name} has no slider directions: its pairs vary seeds only")
        models.append({"name": model_dir.name, "model_dir": str(model_dir), "kind": cfg.kind, "pairs": todo})
    if not models:
        raise SystemExit(f"no model directory in {weights}")
    main = Path(__file__).resolve().parent / "__main__.py"
    runs = []
    with tempfile.TemporaryDirectory(prefix="attn-r11-") as tmp:
        params = Path(tmp) / "pairs.json"
        params.write_text(json.dumps({"models": models}))
        for i in range(2):
            out = Path(tmp) / f"hashes-{i}.json"
            p = subprocess.run([sys.executable, str(main), "_r11-hashes", str(params), str(out)],
                               capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(f"the r11 worker failed:\n{p.stderr[-3000:]}")
            runs.append(json.loads(out.read_text()))
    per_model = {}
    for m in models:
        first, second = runs[0]["hashes"][m["name"]], runs[1]["hashes"][m["name"]]
        per_model[m["name"]] = {"kind": m["kind"], "pairs": len(first),
                                "within": sum(a == b for run in (first, second) for a, b in run),
                                "across": sum(x[0] == y[0] for x, y in zip(first, second)),
                                "distinct": len({x[0] for x in first})}
    total = sum(v["pairs"] for v in per_model.values())
    within, across, distinct = (sum(v[k] for v in per_model.values()) for k in ("within", "across", "distinct"))
    log(f"r11: {len(models)} models, {within}/{2 * total} identical within a process, {across}/{total} across; "
        "training...")
    worst, n_tensors, unmatched = train_resume_matches(steps, ckpt_every)
    names = ", ".join(per_model)
    crit = [
        criterion("R11", f"renders byte-identical on two calls (both processes; {names})", f"{2 * total}",
                  within, within == 2 * total),
        criterion("R11", "renders byte-identical across a process restart", f"{total}", across, across == total),
        criterion("R11", "distinct images among each model's renders (the test is not vacuous)", f"{total}",
                  distinct, distinct == total),
        criterion("R11", f"resumed vs uninterrupted training ({steps} steps), max |diff| over {n_tensors} tensors",
                  f"<= {tolerance}", worst, worst <= tolerance and not unmatched),
    ]
    for m in models:      # how many sliders the pairs move at most (0: seeds only)
        if m["kind"] != "canvas":
            per_model[m["name"]]["sliders_moved"] = max(len(p["sliders"]) for p in m["pairs"])
    figures = {"pairs": total, "per_model": per_model, "torch_threads": runs[0]["threads"],
               "example_pairs": {m["name"]: m["pairs"][:2] for m in models},
               "tensors_compared": n_tensors, "unmatched_tensors": unmatched}
    return result("r11", "Determinism (R11)", crit, figures,
                  {"weights": str(weights), "models": [m["name"] for m in models], "pairs": pairs, "steps": steps,
                   "ckpt_every": ckpt_every}, notes)
