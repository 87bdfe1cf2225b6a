"""Quality of a canvas model (issue #22): patch statistics, size, and seams.

    python -m attn_demo eval --weights weights/textures64 --data data/textures

1. SWD of crops against real crops: n random crops of the crop size (the training resolution)
   from the real textures (wrapping around their edges, as training cuts them) against n
   canvases painted at the crop size, with the real crops' class mix; beside it the
   real-vs-real baseline (two disjoint draws of real crops), for each scoring seed.
2. Size does not hurt: crops cut on the cell grid from 1024 x 1024 canvases (one per class and
   seed), against the same windows of latent cells painted alone at the crop size: the same
   latents (the same variety), only the canvas around them differs. (Against row 1 the canvases'
   crops would also be judged for having 7 global latents per seed instead of n.)
3. Seams: for tiling renders, the mean absolute step across the wrap (last column to first,
   last row to first) over the mean step between neighbouring interior columns (rows); 1 means
   the wrap is as smooth as the inside. The same ratio of a render without circular padding
   (tiling "none") shows what a seam looks like.
"""
from __future__ import annotations

import json
import statistics
import time
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import InputError
from ..imaging.folders import ImageSet, load_folder
from ..training.publish import TRAINING_FILE
from ..training.step import wrapped_crops
from .swd import swd

LARGE = 1024                 # the side of the canvases crops are cut from for "size does not hurt"
SEAM_SIDE = 512


def seam_ratios(img: np.ndarray, period: int = 1) -> tuple[float, float]:
    """(x, y): the mean absolute step across the wrap over the mean step between interior
    neighbours, across columns (x) and across rows (y). With `period` (a canvas model's cell),
    only the interior steps at the same phase count (between columns k * period - 1 and
    k * period): the wrap lies on a cell boundary, and a generator whose cells show (a faint
    grid everywhere) has larger steps there than inside a cell, seam or none."""
    a = img.astype(np.float32)
    dx, dy = np.abs(np.diff(a, axis=1)), np.abs(np.diff(a, axis=0))
    if period > 1:
        dx, dy = dx[:, period - 1::period], dy[period - 1::period]
    seam_x, seam_y = np.abs(a[:, 0] - a[:, -1]).mean(), np.abs(a[0] - a[-1]).mean()
    return float(seam_x / max(dx.mean(), 1e-6)), float(seam_y / max(dy.mean(), 1e-6))


def real_crops(data: ImageSet, n: int, crop: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n random wrapped crops of random real textures, and their classes."""
    idx = torch.randint(0, len(data), (n,), generator=gen)
    crops = wrapped_crops(data.images[idx], crop, gen)
    return crops, (data.labels[idx] if data.labels is not None else None)


def crop_set(data: ImageSet, crop: int, per_image: int, seed: int = 0) -> ImageSet:
    """per_image random crops of every image (wrapping around its edges, as training cuts them), with
    its class: what a texture feature net learns from (`features --crops`)."""
    gen = torch.Generator().manual_seed(seed)
    idx = torch.arange(len(data)).repeat_interleave(per_image)
    crops = wrapped_crops(data.images[idx], crop, gen)
    return ImageSet(crops, data.labels[idx] if data.labels is not None else None, data.class_names,
                    f"{data.source} ({per_image} crops of {crop} px per image, seed {seed})")


def class_map(cfg, data: ImageSet) -> list[int] | None:
    """The model's class index of each of the data's classes: the same index where the counts agree,
    else by name where the data's classes are some of the model's (a 10-class model scored on the
    7 terrain classes, beside a 7-class model); None for an unconditional model."""
    if not cfg.num_classes:
        return None
    if data.num_classes == cfg.num_classes:
        return list(range(cfg.num_classes))
    missing = [c for c in data.class_names if c not in cfg.class_names]
    if not data.class_names or missing:
        raise InputError(f"the model has {cfg.num_classes} classes, the data {data.num_classes}"
                         + (f" (the model has no {missing[0]!r})" if missing else ""))
    return [cfg.class_names.index(c) for c in data.class_names]


def _mean_std(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


@torch.no_grad()
def evaluate_canvas(engine, data: ImageSet, n: int = 1000, seeds: Sequence[int] = (0, 1, 2),
                    log: Callable[[str], None] = print, large: int = LARGE, seam_side: int = SEAM_SIDE,
                    features=None) -> dict:
    """SWD (crop-size renders, crops of large canvases, real-vs-real) and seam ratios, over `seeds`;
    with a texture feature net (`features`, a FeatureNet), FID of the same crops too."""
    seeds = list(seeds)
    if not seeds:
        raise InputError("give at least one seed")
    crop, cell = engine.cfg.resolution, engine.cell
    if data.resolution < crop:
        raise InputError(f"the textures ({data.resolution} px) are smaller than the model's crops ({crop} px)")
    classes = engine.cfg.num_classes
    to_model = class_map(engine.cfg, data)
    rows = {"small": [], "large": [], "windows": [], "real": []}
    fid = {"small": [], "large": [], "real": []}
    t0 = time.perf_counter()
    for s in seeds:
        gen = torch.Generator().manual_seed(s)
        real_a, labels = real_crops(data, n, crop, gen)
        real_b, _ = real_crops(data, n, crop, gen)
        ys = [to_model[int(v)] for v in labels] if classes else [None] * n
        small = []
        for i, y in enumerate(ys):
            f = engine.field(s * n + i, crop, crop)
            small.append(engine.render(f, y, "both").image)
        small = torch.from_numpy(np.stack(small)).permute(0, 3, 1, 2)
        cut, alone = torch.empty_like(small), torch.empty_like(small)
        k, n_cells = crop // cell, large // cell
        for c in (range(classes) if classes else [None]):
            want = [i for i, y in enumerate(ys) if y == c]
            if not want:
                continue
            f = engine.field(10_000 + s * 100 + (c or 0), large, large)
            canvas = torch.from_numpy(engine.render(f, c, "both").image).permute(2, 0, 1)
            for i in want:       # a window on the cell grid: cut from the canvas, and painted alone
                r0, c0 = (int(v) for v in torch.randint(0, n_cells, (2,), generator=gen))
                rows_, cols_ = (r0 + torch.arange(k)) % n_cells, (c0 + torch.arange(k)) % n_cells
                px_r = (r0 * cell + torch.arange(crop)) % large
                px_c = (c0 * cell + torch.arange(crop)) % large
                cut[i] = canvas[:, px_r][:, :, px_c]
                window = f[:, rows_][:, :, cols_].contiguous()
                alone[i] = torch.from_numpy(engine.render(window, c, "both").image).permute(2, 0, 1)
        rows["small"].append(swd(real_a, small, seed=s)["mean"])
        rows["large"].append(swd(real_a, cut, seed=s)["mean"])
        rows["windows"].append(swd(real_a, alone, seed=s)["mean"])
        rows["real"].append(swd(real_a, real_b, seed=s)["mean"])
        if features is not None:
            from .metrics import frechet
            for key, fake in (("small", small), ("large", cut), ("real", real_b)):
                fid[key].append(frechet(features, real_a, fake))
            log(f"seed {s}: FID (texture features) renders {fid['small'][-1]:.2f}, crops of {large}² "
                f"{fid['large'][-1]:.2f}, real vs real {fid['real'][-1]:.2f}")
        log(f"seed {s}: SWDx1e3 renders {rows['small'][-1]:.1f}, crops of {large}² {rows['large'][-1]:.1f}, "
            f"the same windows alone {rows['windows'][-1]:.1f}, real vs real {rows['real'][-1]:.1f} "
            f"[{time.perf_counter() - t0:.0f} s]")
    seams = {"both": [], "none": [], "both_cells": [], "none_cells": []}
    for i in range(2 * max(1, classes)):
        y = (i % classes) if classes else None
        f = engine.field(20_000 + i, seam_side, seam_side)
        for tiling in ("both", "none"):
            image = engine.render(f, y, tiling).image
            seams[tiling].append(seam_ratios(image))
            seams[f"{tiling}_cells"].append(seam_ratios(image, cell))
    seam_rows = {t: {"x": _mean_std([r[0] for r in v]), "y": _mean_std([r[1] for r in v]),
                     "max": max(max(r) for r in v)} for t, v in seams.items()}
    result = {"model": engine.name, "model_sha256": engine.weights_sha256, "kind": "canvas", "crop": crop,
              "cell": cell, "data": data.source, "data_sha256": data.sha256(), "real_images": len(data), "n": n,
              "seeds": seeds, "psi": 1.0, "large_side": large,
              "swd_x1e3": {k: _mean_std(v) for k, v in rows.items()},
              **({"fid_textures": {k: _mean_std(v) for k, v in fid.items()}} if features is not None else {}),
              "seams": seam_rows, "seam_renders": {"side": seam_side, "count": len(seams["both"])},
              "seconds": round(time.perf_counter() - t0, 1)}
    result["table"] = format_canvas_table(result)
    fid_note = "; FID in the texture feature net's space" if features is not None else ""
    result["note"] = (f"SWD×1e3 (no trained weights) of {n} {crop}² crops per side, {len(seeds)} scoring seeds; "
                      "real crops wrap around their textures as training cuts them; fakes take the real crops' "
                      f"classes{fid_note}. "
                      f"Seams: {len(seams['both'])} renders of {seam_side}², ratio of the step across the "
                      "wrap to the mean interior step (1 = seamless).")
    return result


def format_canvas_table(r: dict) -> str:
    s = r["swd_x1e3"]
    cell = lambda d: f"{d['mean']:.3g} ± {d['std']:.2g}"       # noqa: E731
    lines = [f"| {r['crop']}² crops, n = {r['n']} per side, {len(r['seeds'])} seeds | SWD×1e3 ↓ |", "|---|---:|",
             f"| canvases painted at {r['crop']}² vs real crops | {cell(s['small'])} |",
             f"| crops of {r['large_side']}² canvases (one per class and seed) vs real crops | {cell(s['large'])} |",
             f"| the same windows of latent cells painted alone at {r['crop']}² | {cell(s['windows'])} |",
             f"| real vs real (baseline) | {cell(s['real'])} |", ""]
    if "fid_textures" in r:
        f = r["fid_textures"]
        lines[0] += " FID (texture features) ↓ |"
        lines[1] += "---:|"
        for i, key in ((2, "small"), (3, "large"), (5, "real")):
            lines[i] += f" {cell(f[key])} |"
        lines[4] += " |"
    lines += ["| seam ratio (1 = seamless) | across x | across y | worst |", "|---|---:|---:|---:|"]
    for tiling, name in (("both", "tiling render, over all interior steps"),
                         ("both_cells", f"tiling render, over interior steps on the {r['cell']}-px cell grid"),
                         ("none", "no circular padding (contrast), over all interior steps"),
                         ("none_cells", "no circular padding, over the cell grid's steps")):
        t = r["seams"][tiling]
        lines.append(f"| {name} | {cell(t['x'])} | {cell(t['y'])} | {t['max']:.3g} |")
    return "\n".join(lines)


def load_textures(model_dir, engine, folder):
    """A canvas model's textures, loaded at the size it trained on (its training.json; else 4 crops)."""
    training = model_dir / TRAINING_FILE
    size = 4 * engine.cfg.resolution
    if training.exists():
        size = json.loads(training.read_text()).get("train_config", {}).get("data_size") or size
    data = load_folder(folder, size, unconditional=not engine.cfg.num_classes)
    print(f"{len(data)} real textures at {data.resolution} px from {folder}")
    return data
