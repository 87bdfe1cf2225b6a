"""What attention does, measured by intervening (issue #35; docs/ATTENTION.md, "What attention does").

For each attention layer of an image model:

- switch-off: the layer's attention output set to zero for every pixel (y = x; a context path,
  where there is one, stays), re-rendered from the layer (serving/surgery.py); the mean change in
  grey levels (0-255, mean over pixels and channels of |after - before|) over seeds x classes;
- faithfulness: for random clicks, removing the pixel's k brightest key cells (the map on screen,
  the mean over heads) vs k random cells (8 draws), the change around the pixel
  (serving/faithfulness.py): median, quartiles and 5-95 % of the ratio over the clicks, and the
  share of clicks where the map's cells matter more than random ones.

    python scripts/attention_surgery.py --weights weights/emoji32 --seeds 0-63 --clicks 256
    python scripts/attention_surgery.py --weights weights/emoji32 --seeds 0-63 --clicks 256 --json out.json
    python scripts/attention_surgery.py --weights weights/emoji64 --along-training    # and at each snapshot

--along-training also measures each snapshot the model ships (snapshots.safetensors, the timeline's
steps) with the same seeds and the same clicks: how both figures grew over training.

One thread is enough (the re-renders are batched); it prints one JSON object per model.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from attn_demo.checks import parse_seeds
from attn_demo.serving.engine import Engine, RenderArgs
from attn_demo.serving.faithfulness import faithfulness
from attn_demo.serving.surgery import Edit, Surgery, enter, run_edits
from attn_demo.serving.timeline import Snapshots


def switch_off_change(engine: Engine, layer: str, seeds: list[int], classes: list[int | None]) -> dict:
    """Mean |after - before| in grey levels with the layer's attention off, over seeds x classes."""
    G, per_image = engine.generator, []
    for label in classes:
        for start in range(0, len(seeds), 64):
            part = seeds[start:start + 64]
            zs = torch.stack([engine.latent(RenderArgs(s, 1.0, label))[0] for s in part])
            y = None if label is None else torch.full((len(part),), label, dtype=torch.long)
            entry = enter(G, zs, y, layer)
            nq = entry.h.shape[-2] * entry.h.shape[-1]
            before = run_edits(G, entry, [Edit()] * len(part))
            after = run_edits(G, entry, [Edit(off=torch.ones(nq, dtype=torch.bool))] * len(part))
            per_image += ((after - before).abs() * 127.5).mean(dim=(1, 2, 3)).tolist()
    a = np.array(per_image)
    return {"renders": len(a), "mean_change_grey": float(a.mean()), "median": float(np.median(a)),
            "p5": float(np.percentile(a, 5)), "p95": float(np.percentile(a, 95))}


def faithfulness_ratios(engine: Engine, layer: str, seeds: list[int], classes: list[int | None], clicks: int,
                        k: int, draws: int, rng: np.random.Generator) -> dict:
    """The faithfulness ratio of `clicks` random clicks, each on a random seed and class."""
    side = engine.cfg.resolution
    ratios, undefined, tops, rands = [], 0, [], []
    picks = [(int(rng.choice(seeds)), classes[int(rng.integers(len(classes)))]) for _ in range(clicks)]
    by_render: dict = {}
    for seed, label in picks:
        by_render.setdefault((seed, label), 0)
        by_render[(seed, label)] += 1
    for (seed, label), n in by_render.items():
        surgery = Surgery(engine, engine.render(RenderArgs(seed, 1.0, label)), layer)
        for _ in range(n):
            x, y = (int(v) for v in rng.integers(0, side, 2))
            f = faithfulness(surgery, x, y, k=k, draws=draws, seed=int(rng.integers(1 << 31)))
            tops.append(f.top_change)
            rands.append(f.random_change)
            if f.ratio is None:
                undefined += 1
            else:
                ratios.append(f.ratio)
    r = np.array(ratios)
    # no defined ratio when random cells change nothing at any click (an identity attention: gamma 0)
    q = {name: (float(np.percentile(r, pct)) if len(r) else None)
         for name, pct in (("ratio_median", 50), ("ratio_q25", 25), ("ratio_q75", 75), ("ratio_p5", 5),
                           ("ratio_p95", 95))}
    return {"clicks": clicks, "k": k, "draws": draws, **q,
            "share_above_1": float((r > 1).mean()) if len(r) else None, "undefined": undefined,
            "top_change_mean_grey": float(np.mean(tops)), "random_change_mean_grey": float(np.mean(rands))}


def measure(engine: Engine, args) -> dict:
    """Every attention layer's gamma, switch-off change and faithfulness ratios (the clicks drawn from
    a generator seeded 0: the same clicks for every model and snapshot of one resolution)."""
    classes = list(range(engine.cfg.num_classes)) or [None]
    rng = np.random.default_rng(0)
    layers = {}
    for layer in engine.layers:
        layers[layer] = {"gamma": float(engine.generator.attention_layers()[layer].gamma),
                         "switch_off": switch_off_change(engine, layer, args.seeds, classes),
                         "faithfulness": faithfulness_ratios(engine, layer, args.seeds, classes, args.clicks,
                                                             args.k, args.draws, rng)}
    return layers


def _times(ratio: float | None) -> str:
    return "undefined (no change from any cell)" if ratio is None else f"{ratio:.1f}x"


def along_training(engine: Engine, args) -> dict:
    """measure() at each of the model's snapshot steps, by step."""
    snapshots = Snapshots(engine, keep=1)
    if not snapshots.steps:
        raise SystemExit(f"{engine.name} ships no snapshots.safetensors: nothing to measure along training")
    out = {}
    for step in snapshots.steps:
        out[str(step)] = measure(snapshots.engine(step), args)
        row = ", ".join(f"{name} gamma {v['gamma']:+.3f} off {v['switch_off']['mean_change_grey']:.2f} "
                        f"ratio {_times(v['faithfulness']['ratio_median'])}" for name, v in out[str(step)].items())
        print(f"step {step}: {row}", flush=True)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, nargs="+", required=True, help="image model directories")
    p.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-63"), help="seeds, e.g. 0-63")
    p.add_argument("--clicks", type=int, default=256, help="random clicks per layer for the faithfulness ratio")
    p.add_argument("--k", type=int, default=5, help="key cells removed per click")
    p.add_argument("--draws", type=int, default=8, help="draws of k random cells per click")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--along-training", action="store_true",
                   help="also measure each snapshot the model ships (the same seeds and clicks)")
    p.add_argument("--json", type=Path, default=None, help="also write every model's figures here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = {"date": time.strftime("%Y-%m-%d", time.gmtime()), "machine": platform.processor() or platform.machine(),
           "torch": torch.__version__, "models": {}}
    for weights in args.weights:
        t0 = time.perf_counter()
        engine = Engine.from_pretrained(weights, device="cpu")
        model = {"layers": measure(engine, args)}
        print(json.dumps({weights.name: model}), flush=True)
        if args.along_training:
            model["along_training"] = along_training(engine, args)
        model["seconds"] = round(time.perf_counter() - t0, 1)
        out["models"][weights.name] = model
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
