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


def hashes_worker(params_path: str, out_path: str) -> None:
    """A fresh process: load the model as the app does, render every pair twice, hash the PNGs."""
    import os
    import torch
    from attn_demo.imaging import draw
    from attn_demo.serving.engine import Engine, RenderArgs
    from attn_demo.studio.ui import CONCURRENCY
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // CONCURRENCY))      # as app.py does
    p = json.loads(Path(params_path).read_text())
    engine = Engine.from_pretrained(p["model_dir"], device="cpu")
    out = []
    for pair in p["pairs"]:
        args = RenderArgs(pair["seed"], pair["psi"], pair["label"], tuple(pair["sliders"]))
        out.append([hashlib.sha256(draw.encode_png(engine.render(args).image)).hexdigest() for _ in range(2)])
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
    """R11: `pairs` (seed, sliders) pairs hashed in two processes; a resumed run vs a straight one."""
    from .ckpt_fuzz import pick_model
    from attn_demo.models.checkpoint import load_config, load_directions
    model_dir = pick_model(weights)
    cfg = load_config(model_dir)
    directions = load_directions(model_dir, cfg.z_dim)
    todo = make_pairs(pairs, directions.spans if directions is not None else (), cfg.num_classes)
    main = Path(__file__).resolve().parent / "__main__.py"
    runs = []
    with tempfile.TemporaryDirectory(prefix="attn-r11-") as tmp:
        params = Path(tmp) / "pairs.json"
        params.write_text(json.dumps({"model_dir": str(model_dir), "pairs": todo}))
        for i in range(2):
            out = Path(tmp) / f"hashes-{i}.json"
            p = subprocess.run([sys.executable, str(main), "_r11-hashes", str(params), str(out)],
                               capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(f"the r11 worker failed:\n{p.stderr[-3000:]}")
            runs.append(json.loads(out.read_text()))
    first, second = runs[0]["hashes"], runs[1]["hashes"]
    within = sum(a == b for run in (first, second) for a, b in run)
    across = sum(x[0] == y[0] for x, y in zip(first, second))
    distinct = len({x[0] for x in first})
    log(f"r11: {within}/{2 * len(todo)} identical within a process, {across}/{len(todo)} across; training...")
    worst, n_tensors, unmatched = train_resume_matches(steps, ckpt_every)
    crit = [
        criterion("R11", "pairs with byte-identical PNGs on two calls (both processes)", f"{2 * len(todo)}",
                  within, within == 2 * len(todo)),
        criterion("R11", "pairs with byte-identical PNGs across a process restart", f"{len(todo)}", across,
                  across == len(todo)),
        criterion("R11", "distinct images among the pairs (the test is not vacuous)", f"{len(todo)}", distinct,
                  distinct == len(todo)),
        criterion("R11", f"resumed vs uninterrupted training ({steps} steps), max |diff| over {n_tensors} tensors",
                  f"<= {tolerance}", worst, worst <= tolerance and not unmatched),
    ]
    figures = {"pairs": len(todo), "directions": len(directions) if directions is not None else 0,
               "torch_threads": runs[0]["threads"], "example_pairs": todo[:3],
               "tensors_compared": n_tensors, "unmatched_tensors": unmatched}
    notes = [] if directions is not None else [f"{model_dir.name} has no slider directions: pairs vary seeds only"]
    return result("r11", "Determinism (R11)", crit, figures,
                  {"weights": str(weights), "model": model_dir.name, "pairs": pairs, "steps": steps,
                   "ckpt_every": ckpt_every}, notes)
