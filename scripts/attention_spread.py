"""How query-dependent a model's attention is, over many renders.

For every attention layer and every rendered image this takes each query
cell's "looks at" map and measures its total-variation distance from the
image's average map (0: every pixel looks at the same place; 1: disjoint
maps), its entropy as a fraction of the uniform map's, its mean attention
distance in image pixels, the share of queries whose map peaks on the image's
most common peak cell, and, for layers with register or null slots
(models/attention.py), the mean share of each row on the registers and on the
null slot. Maps are the key cells' part of each row, normalised (the map as
drawn). Medians over the images, per layer:

    python scripts/attention_spread.py --weights weights/emoji32 --seeds 0-31 --psi 0.8

With `--out weights/MODEL/attention.json` the model card (training/publish.write_card) shows the
figures in its "Attention maps" section.
"""

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch

from attn_demo.serving.engine import Engine, RenderArgs
from attn_demo.serving.loader import load_engine
from attn_demo.checks import parse_seeds
from attn_demo.machine import cpu_name

# a canvas model (kind "canvas") is measured on a seamless tile of this many cells a side
CANVAS_CELLS = 4

def spread(cap, head=None) -> dict[str, float]:
    """Means over all query cells of one capture (batch 1): one head, or the heads' mean map."""
    rows, cols = cap.grid
    nk = cap.key_grid[0] * cap.key_grid[1]
    full = torch.stack([cap.row(x, y, size=(cols, rows), head=head)
                        for y in range(rows) for x in range(cols)])       # (N, Nk + slots), rows sum to 1
    maps = full[:, :nk] / full[:, :nk].sum(1, keepdim=True)               # (N, Nk): the maps as drawn
    tv = 0.5 * (maps - maps.mean(0)).abs().sum(1)
    peaks = maps.argmax(1)
    distance, entropy = cap.summary(head=head)
    registers = full.shape[1] - nk - int(cap.null)
    return {"tv_from_mean": float(tv.mean()),
            "entropy_of_uniform": float(entropy.mean()) / math.log(maps.shape[1]),
            "mean_distance_px": float(distance.mean()),
            "peak_on_common_cell": float((peaks == peaks.mode().values).float().mean()),
            "register_share": float(full[:, nk:nk + registers].sum(1).mean()),
            "null_share": float(full[:, -1].mean()) if cap.null else 0.0,
            "gamma": cap.gamma}


def render(engine, seed: int, psi: float, label):
    """An image model's render, or a canvas model's tile of CANVAS_CELLS x CANVAS_CELLS cells (seamless)."""
    if isinstance(engine, Engine):
        return engine.render(RenderArgs(seed=seed, psi=psi, label=label))
    side = CANVAS_CELLS * engine.cell
    return engine.render(engine.field(seed, side, side, psi), label, "both")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default="weights/emoji32")
    p.add_argument("--seeds", default="0-31", help="a range such as 0-31, or a list such as 1,5,9")
    p.add_argument("--psi", type=float, default=0.8)
    p.add_argument("--out", help="also write the figures as JSON here")
    args = p.parse_args(argv)

    engine = load_engine(args.weights, device="cpu")
    classes = engine.class_names or [None]
    per_layer: dict[str, list[dict]] = {}
    for seed in parse_seeds(args.seeds):
        for i, label in enumerate(classes):
            result = render(engine, seed, args.psi, label if label is None else i)
            for name, cap in result.captures.items():
                per_layer.setdefault(name, []).append(spread(cap))
                if cap.heads > 1:                  # and each head on its own
                    for h in range(cap.heads):
                        per_layer.setdefault(f"{name} head {h}", []).append(spread(cap, h))

    report = {"weights": args.weights, "weights_sha256": engine.weights_sha256, "seeds": args.seeds,
              "psi": args.psi, "images_per_layer": len(next(iter(per_layer.values()))),
              "measured": f"{time.strftime('%Y-%m-%d', time.gmtime())}, {cpu_name()}", "layers": {}}
    if not isinstance(engine, Engine):
        report["canvas_cells"] = CANVAS_CELLS
    for name, stats in per_layer.items():
        report["layers"][name] = {key: statistics.median(s[key] for s in stats) for key in stats[0]}
        figures = ", ".join(f"{k} {v:.3f}" for k, v in report["layers"][name].items())
        print(f"{name}: median over {len(stats)} images: {figures}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
