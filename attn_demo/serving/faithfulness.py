"""Is the map on screen faithful? Delete what it points at and see whether the pixel changes.

For a clicked pixel of one attention layer: remove its k most-weighted key cells from its own
softmax row (the rest, registers and null slot included, renormalise), re-render, and measure
the change at and around the pixel; do the same with k random cells over several draws. If
the map says what the pixel uses, the first change is the larger: the ratio of the two is one
number beside every map ("removing the 5 brightest cells changes this pixel 4.1x more than 5
random cells"). The deletion curve repeats it for every count of cells removed, in the map's
order and at random (positive perturbation, as Abnar & Zuidema 2020 and Chefer et al. 2021
test transformer attention). Only the clicked query's row is edited; all re-renders run as one
batch from the layer (serving/surgery.py).

"Around the pixel": the image pixels under the clicked query cell and its eight neighbours on
the layer's grid (for a 16 x 16 layer of a 32-px image, a 6 x 6 window), the mean over them and
over the colour channels of |after - before| in grey levels.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..checks import check_whole
from ..errors import InputError
from .probe import _check_head, pixel_to_cell
from .surgery import Edit, Surgery, SurgeryResult, images_result

MAX_DRAWS = 64
CURVE_POINTS = 32          # counts of removed cells on a deletion curve, at most


@dataclass
class Faithfulness:
    """One click's faithfulness test; `surgery` shows the top-k deletion (before, after, difference)."""

    layer: str
    x: int
    y: int
    k: int
    head: int | None
    window: tuple[int, int, int, int]      # x0, y0, x1, y1 image pixels (end exclusive) measured
    top_cells: list[int]                   # the removed key cells, raster order of the key grid
    top_change: float                      # grey levels in the window, the k brightest removed
    random_changes: list[float]            # the same for each draw of k random cells
    surgery: SurgeryResult
    curve: dict | None = None              # removed: counts; in_map_order / at_random: changes

    @property
    def random_change(self) -> float:
        return float(np.mean(self.random_changes))

    @property
    def ratio(self) -> float | None:
        """top change / mean random change; None when random cells change nothing."""
        r = self.random_change
        return self.top_change / r if r > 0 else None

    def sentence(self) -> str:
        k, r = self.k, self.ratio
        cells = "cell" if k == 1 else "cells"
        if r is None:
            return (f"removing the {k} brightest {cells} changes this pixel by {self.top_change:.2f} grey levels; "
                    f"{k} random {cells} change nothing")
        if r >= 1:
            return f"removing the {k} brightest {cells} changes this pixel {r:.1f}× more than {k} random {cells}"
        return f"removing the {k} brightest {cells} changes this pixel only {r:.2f}× as much as {k} random {cells}"

    def stats(self) -> dict:
        out = {"layer": self.layer, "x": self.x, "y": self.y, "k": self.k,
               "head": "mean" if self.head is None else self.head, "window": list(self.window),
               "top_cells": self.top_cells, "top_change_grey": self.top_change,
               "random_changes_grey": self.random_changes, "random_change_grey": self.random_change,
               "ratio": self.ratio, "sentence": self.sentence(), **self.surgery.stats()}
        out["action"] = "faithfulness"
        if self.curve is not None:
            out["curve"] = self.curve
        return out


def check_k(k, surgery: Surgery) -> int:
    """k in 1 .. the key cells a row can lose and still attend to something."""
    k = check_whole("k", k)
    most = surgery.nk - (0 if surgery.slots > surgery.nk else 1)
    if not 1 <= k <= most:
        hk, wk = surgery.key_grid
        why = "" if surgery.slots > surgery.nk else " (removing every cell would leave nothing to attend to)"
        raise InputError(f"k={k} does not fit the key grid: layer {surgery.layer} has {surgery.nk} key cells "
                         f"({hk}x{wk}), so k must be in 1..{most}{why}")
    return k


def window(surgery: Surgery, query: int, resolution: int) -> tuple[int, int, int, int]:
    """Image pixels under the query cell and its 8 neighbours: x0, y0, x1, y1 (end exclusive)."""
    rows, cols = surgery.grid
    cy, cx = divmod(query, cols)
    y0, y1 = max(0, cy - 1) * resolution // rows, min(rows, cy + 2) * resolution // rows
    x0, x1 = max(0, cx - 1) * resolution // cols, min(cols, cx + 2) * resolution // cols
    return x0, y0, x1, y1


def _curve_counts(most: int) -> list[int]:
    if most <= CURVE_POINTS:
        return list(range(1, most + 1))
    return sorted(set(np.linspace(1, most, CURVE_POINTS).round().astype(int).tolist()))


@torch.inference_mode()
def faithfulness(surgery: Surgery, x, y, k=5, draws=8, head=None, curve: bool = False,
                 seed: int = 0) -> Faithfulness:
    """The faithfulness test of pixel (x, y)'s map in `surgery`'s layer (see the module docstring).
    `head`: the map whose order is tested (None: the mean over heads, as the studio shows it);
    `seed`: the random draws' (the same seed, the same cells)."""
    t0 = time.perf_counter()
    k = check_k(k, surgery)
    draws = check_whole("draws", draws, 1, MAX_DRAWS)
    cap = surgery.result.captures[surgery.layer]
    head = _check_head(head, cap.heads)
    query = surgery.query_cell(x, y)
    row = cap.row(x, y, surgery.size, head)[:surgery.nk]       # the map on screen: (Nk,)
    order = torch.argsort(row, descending=True, stable=True)
    gen = torch.Generator().manual_seed(check_whole("seed", seed, 0))
    randoms = [torch.randperm(surgery.nk, generator=gen) for _ in range(draws)]
    queries = torch.zeros(surgery.nq, dtype=torch.bool)
    queries[query] = True

    def removing(cells: torch.Tensor) -> Edit:
        keep = torch.ones(surgery.nk, dtype=torch.bool)
        keep[cells] = False
        return Edit(rules=((queries, surgery.keep(keep, True)),))

    edits = [Edit(), removing(order[:k])] + [removing(r[:k]) for r in randoms]
    counts = _curve_counts(surgery.nk if surgery.slots > surgery.nk else surgery.nk - 1) if curve else []
    for m in counts:
        edits += [removing(order[:m])] + [removing(r[:m]) for r in randoms]
    images = surgery.run_edits(edits)
    res = images.shape[-1]
    x0, y0, x1, y1 = window(surgery, query, res)
    # mean |after - before| over the window and the channels, in grey levels
    changes = ((images[1:, :, y0:y1, x0:x1] - images[:1, :, y0:y1, x0:x1]).abs() * 127.5).mean(dim=(1, 2, 3))
    top, rand = float(changes[0]), [float(c) for c in changes[1:1 + draws]]
    table = None
    if curve:
        per = changes[1 + draws:].view(len(counts), 1 + draws)
        table = {"removed": counts, "in_map_order": per[:, 0].tolist(), "at_random": per[:, 1:].mean(1).tolist()}
    result = images_result("faithfulness", surgery.layer, images, {"removed_cells": k}, t0)
    result.click = pixel_to_cell(x, y, surgery.size, (res, res))
    return Faithfulness(surgery.layer, int(x), int(y), k, head, (x0, y0, x1, y1), order[:k].tolist(), top, rand,
                        result, table)


def curve_picture(f: Faithfulness, width: int = 480, height: int = 240) -> np.ndarray:
    """The deletion curve as a small line chart: change in the window against cells removed, in the
    map's order (bright) and at random (grey)."""
    from PIL import Image, ImageDraw
    if f.curve is None:
        raise InputError("this faithfulness test ran without its curve: ask for the curve")
    xs, ours, rand = f.curve["removed"], f.curve["in_map_order"], f.curve["at_random"]
    top = max(1e-6, max(ours + rand))
    img = Image.new("RGB", (width, height), (24, 24, 28))
    d = ImageDraw.Draw(img)
    left, right, up, down = 44, width - 10, 24, height - 28
    d.rectangle([left, up, right, down], outline=(90, 90, 90))

    def point(n, v):
        return left + (right - left) * (n - xs[0]) / max(1, xs[-1] - xs[0]), down - (down - up) * v / top

    for values, colour in ((rand, (160, 160, 160)), (ours, (255, 170, 40))):
        d.line([point(n, v) for n, v in zip(xs, values)], fill=colour, width=2)
    d.text((4, 4), f"{f.layer} ({f.x}, {f.y}): change around the pixel (grey levels) vs cells removed",
           fill=(230, 230, 230))
    d.text((left, down + 6), f"1 .. {xs[-1]} cells removed:  map's order (orange)  random (grey)",
           fill=(230, 230, 230))
    d.text((4, up), f"{top:.1f}", fill=(230, 230, 230))
    d.text((4, down - 10), "0", fill=(230, 230, 230))
    return np.asarray(img)
