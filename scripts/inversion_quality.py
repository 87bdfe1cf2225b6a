"""How well pictures invert into a model (serving/invert.py), for docs/INVERSION.md.

    python scripts/inversion_quality.py --weights weights/emoji32 --train data/emoji \
        --unseen data/twemoji --n 100 --picture assets/inversion_examples.png
    python scripts/inversion_quality.py --weights weights/emoji32 --train data/emoji --sweep 16

Reconstruction PSNR (dB) and feature distance (|f(render) - f(picture)| / |f(picture)| in the
feature net's space: the net is also in the loss, so read it as "how close in the loss's own
terms", and PSNR as the independent figure) on n training images and n pictures the model never
saw (Twemoji: `python -m attn_demo data build-emoji --source twemoji --out data/twemoji`), median
and quartiles, and the seconds each took; a picture of 8 originals above their inversions.
--sweep K: the same on K training pictures for a few (steps, restarts) settings, to pick defaults.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from attn_demo.quality.feature_net import load_feature_net
from attn_demo.imaging import draw
from attn_demo.serving.engine import Engine
from attn_demo.serving.invert import invert
from attn_demo.imaging.folders import load_folder

SWEEP = [(50, 4), (100, 8), (150, 8), (300, 8), (150, 16)]


def pick(data_dir: Path, n: int, res: int, seed: int) -> np.ndarray:
    data = load_folder(data_dir, res)
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    return data.images[idx].permute(0, 2, 3, 1).numpy()


def summary(values: list[float]) -> dict:
    q = statistics.quantiles(values, n=4)
    return {"median": statistics.median(values), "q1": q[0], "q3": q[2]}


def run(engine, net, pictures, steps, restarts) -> dict:
    rows = [invert(engine, p, net, steps=steps, restarts=restarts) for p in pictures]
    return {"psnr": summary([r.psnr for r in rows]), "feature_distance": summary([r.feature_distance for r in rows]),
            "seconds": summary([r.seconds for r in rows]), "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", type=Path, default=Path("weights/emoji32"))
    ap.add_argument("--features", type=Path, default=Path("weights/feature_net"))
    ap.add_argument("--train", type=Path, default=Path("data/emoji"))
    ap.add_argument("--unseen", type=Path, default=None)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--sweep", type=int, default=0)
    ap.add_argument("--picture", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--steps", type=int, default=None, help="default: serving/invert.py's")
    ap.add_argument("--restarts", type=int, default=None)
    args = ap.parse_args()
    from attn_demo.serving.invert import RESTARTS, STEPS
    args.steps, args.restarts = args.steps or STEPS, args.restarts or RESTARTS
    engine = Engine.from_pretrained(args.weights, device="cpu")
    net = load_feature_net(args.features).eval()
    res = engine.cfg.resolution
    out = {"model": engine.name, "torch_threads": torch.get_num_threads(),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if args.sweep:
        pictures = pick(args.train, args.sweep, res, seed=1)
        out["sweep"] = []
        for steps, restarts in SWEEP:
            r = run(engine, net, pictures, steps, restarts)
            out["sweep"].append({"steps": steps, "restarts": restarts, **{k: r[k] for k in ("psnr", "feature_distance", "seconds")}})
            print(f"steps {steps:4d} restarts {restarts:2d}: PSNR median {r['psnr']['median']:.2f} dB "
                  f"(q1 {r['psnr']['q1']:.2f}, q3 {r['psnr']['q3']:.2f}), feature distance median "
                  f"{r['feature_distance']['median']:.3f}, {r['seconds']['median']:.1f} s each", flush=True)
    else:
        sets = {"training images": args.train}
        if args.unseen is not None:
            sets["never seen (Twemoji)"] = args.unseen
        examples = []
        for name, folder in sets.items():
            pictures = pick(folder, args.n, res, seed=0)
            r = run(engine, net, pictures, args.steps, args.restarts)
            out[name] = {k: r[k] for k in ("psnr", "feature_distance", "seconds")}
            print(f"{name}: PSNR {r['psnr']['median']:.2f} dB [{r['psnr']['q1']:.2f}, {r['psnr']['q3']:.2f}], "
                  f"feature distance {r['feature_distance']['median']:.3f} [{r['feature_distance']['q1']:.3f}, "
                  f"{r['feature_distance']['q3']:.3f}], {r['seconds']['median']:.1f} s each", flush=True)
            examples += [(x.target, x.image) for x in r["rows"][:4]]
        if args.picture is not None:
            top = np.concatenate([draw.upscale_nearest(t, 4) for t, _ in examples], axis=1)
            bottom = np.concatenate([draw.upscale_nearest(i, 4) for _, i in examples], axis=1)
            args.picture.parent.mkdir(parents=True, exist_ok=True)
            draw.save_png(np.concatenate([top, bottom], axis=0), args.picture)
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
