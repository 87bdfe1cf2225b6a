"""The same clicks under each attention kind: one picture for docs/ATTENTION.md.

For every model given, one image (a seed and class) and three clicked pixels
(say an eye, an edge and the background, picked for that model's image: the
models draw different images from the same seed); per click a row with the
image and the map of the mean of heads and of every head, each drawn on one
scale relative to uniform, so flat and focused maps can be compared.

    python scripts/attention_kinds.py --out assets/attention_kinds.png \\
        --model weights/emoji32:5:3:10,11:16,2:27,28 --model weights/emoji32-scaled4:5:3:...

Each --model is DIR:CLASS:SEED:X,Y:X,Y:X,Y with x, y pixels of the model's own
image (32x32 for the emoji models).
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


from attn_demo.imaging import draw
from attn_demo.serving.engine import Engine, MapSettings, RenderArgs

CLICKS = ("eye", "edge", "background")


def rows_for(spec: str, tile: int) -> tuple[list[list[np.ndarray]], list[str], int]:
    path, label, seed, *points = spec.split(":")
    engine = Engine.from_pretrained(path, device="cpu")
    result = engine.render(RenderArgs(int(seed), 1.0, engine.class_names[int(label)] if engine.cfg.num_classes else None))
    scale = max(1, tile // engine.cfg.resolution)
    cfg = engine.cfg
    kind = f"{cfg.attn_kind}, {cfg.heads} head{'s' if cfg.heads > 1 else ''}"
    rows, labels = [], []
    for name, point in zip(CLICKS, points):
        x, y = (int(v) for v in point.split(","))
        tiles = [draw.upscale_nearest(result.image, scale)]
        for head in [None, *range(cfg.heads)]:
            settings = MapSettings(None, head, norm="uniform", alpha=0.7)
            m = engine.inspect(result, x, y, settings, scale=scale)
            tiles.append(m.overlay)
        rows.append(tiles)
        labels.append(f"{Path(path).name}: {name}")
        print(f"{Path(path).name} ({kind}) {name} ({x},{y}): {m.map.describe()}")
    return rows, labels, cfg.heads


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", required=True, help="DIR:CLASS:SEED:X,Y:X,Y:X,Y (see above)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--tile", type=int, default=96)
    args = p.parse_args()
    rows, labels, heads = [], [], 1
    for spec in args.model:
        r, lab, h = rows_for(spec, args.tile)
        rows += r
        labels += lab
        heads = max(heads, h)
    cols = ["image", "mean of heads"] + [f"head {h}" for h in range(heads)]
    Image.fromarray(draw.labelled_grid(rows, labels, cols, label_width=170)).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
