"""A canvas model's sample sheet for assets/ and its model card.

    python scripts/texture_sheet.py --weights weights/textures64 --out assets/textures64_samples.png

Top: one column per surface class, fixed seeds (0, 1, 2), each a 128 x 128 tile. Below: a
128 x 128 tile of every class repeated 2 x 2 (the seams, if any, would cross the middle), and a
1024 x 256 band (tiling x only) of the first class.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from attn_demo.imaging import draw
from attn_demo.serving.canvas import CanvasEngine

PAD = 4


def column_sheet(engine: CanvasEngine, seeds=(0, 1, 2), side: int = 128) -> tuple[np.ndarray, list[str]]:
    classes = engine.class_names if engine.cfg.num_classes else ["-"]
    cols = []
    for k, _ in enumerate(classes):
        tiles = [engine.render(engine.field(s, side, side), k if engine.cfg.num_classes else None).image
                 for s in seeds]
        cols.append([t for t in tiles])
    rows = [[cols[c][r] for c in range(len(classes))] for r in range(len(seeds))]
    return draw.labelled_grid(rows, [f"seed {s}" for s in seeds], classes, label_width=60), classes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    engine = CanvasEngine.from_pretrained(args.weights, device="cpu")
    sheet, classes = column_sheet(engine)
    repeated = []
    for k in range(len(classes)):
        tile = engine.render(engine.field(7, 128, 128), k if engine.cfg.num_classes else None).image
        repeated.append(np.tile(tile, (2, 2, 1)))                        # 2 x 2 copies of a 128² tile
    tiles = draw.labelled_grid([repeated], ["2 x 2 tiles"], classes, label_width=60)
    band = engine.render(engine.field(3, 1024, 256), 0 if engine.cfg.num_classes else None, "x").image
    width = max(sheet.shape[1], tiles.shape[1], band.shape[1])

    def fit(img):
        out = np.full((img.shape[0], width, 3), 24, np.uint8)
        out[:, :img.shape[1]] = img
        return out
    gap = np.full((PAD * 4, width, 3), 24, np.uint8)
    draw.save_png(np.concatenate([fit(sheet), gap, fit(tiles), gap, fit(band)]), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
