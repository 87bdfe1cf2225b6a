"""Long-range order: do a regular surface's joints stay aligned across a large canvas, and is it
attention that keeps them so? (issue #36, part 2)

    python -m attn_demo.quality.alignment --weights W --data data/textures-all \\
        --classes "brick,tiles,wood planks" --seeds 0-7 --side 1024 --json F [--picture P]

A brick wall painted by convolutions alone can be right in every 64-px window and still drift: the
rows bend, the joints slide, and at a metre's distance the wall is a wave. The figure used here is
the decay of the luminance's autocorrelation with distance. For a canvas that tiles (both axes wrap)
the circular autocorrelation is exact: C(d) = sum_x l(x) l(x + d) / sum_x l(x)^2, luminance minus
its mean, so C(0) = 1. A regular pattern repeats: C has peaks at its period and at every multiple.

    order_x = max C over lags d in [side/4, side/2]  /  max C over lags d in [8, 64],
              both over lags within 30 degrees of the x axis; order_y the same along y;
    order   = the smaller of the two

i.e. how much of the pattern's short-range repeat is still there a quarter to half a canvas away,
along the axis where less of it is left (a wall whose courses stay straight while its joints
slide sideways has lost it along x). A perfect lattice keeps it (order ~ 1); joints that drift
lose it (order -> 0); so does a surface with no pattern at all, whose near peak is low anyway (the
near peak is reported beside it).

For each class and seed the model paints one side x side tile twice: as trained, and with every
attention layer switched off (gamma, and gamma_ctx with the context path, set to 0; the layer is
then the identity). The real textures of the class give the reference at their own size (256 px, far
lags 72-128 px), with the model measured at 256 px beside them. A `--picture` shows a 512 x 512
corner of the first class's first seed with attention and without it.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
from pathlib import Path

import numpy as np
import torch

from .spectrum import luminance

NEAR = (8, 64)          # px: the pattern's own repeat (a brick's height, a tile)
REAL_FAR = (72, 128)    # px: far lags for 256-px tiles (beyond NEAR, up to half the tile)
AXIS_SECTOR = 30        # degrees either side of an axis


def autocorrelation(lum: np.ndarray) -> np.ndarray:
    """(H, W) luminance -> (H, W) circular autocorrelation, 1 at lag 0 (0 everywhere for a flat image)."""
    x = lum - lum.mean()
    f = np.fft.fft2(x)
    c = np.fft.ifft2(f * np.conj(f)).real
    return c / c[0, 0] if c[0, 0] > 1e-12 else np.zeros_like(c)


def _lags(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each lag's length and its angle from the x and the y axis (degrees), in FFT order."""
    h, w = shape
    dy, dx = np.meshgrid(np.fft.fftfreq(h) * h, np.fft.fftfreq(w) * w, indexing="ij")
    from_x = np.degrees(np.arctan2(np.abs(dy), np.abs(dx)))
    return np.hypot(dy, dx), from_x, 90 - from_x


def order(lum: np.ndarray, far: tuple[float, float] | None = None) -> dict:
    """The long-range order of one tile's luminance, along each axis (lags within AXIS_SECTOR degrees of
    it) and overall (the weaker axis: joints that slide along x while the courses stay straight are
    caught): {'near', 'far', 'order', 'x': {...}, 'y': {...}}; far defaults to [side/4, side/2]."""
    c = autocorrelation(lum)
    r, from_x, from_y = _lags(lum.shape)
    side = min(lum.shape)
    lo, hi = far or (side / 4, side / 2)
    axes = {}
    for axis, angle in (("x", from_x), ("y", from_y)):
        sector = angle <= AXIS_SECTOR
        near = float(c[sector & (r >= NEAR[0]) & (r <= NEAR[1])].max())
        far_peak = float(c[sector & (r >= lo) & (r <= hi)].max())
        axes[axis] = {"near": near, "far": far_peak, "order": far_peak / near if near > 0 else 0.0}
    weak = min(axes.values(), key=lambda a: a["order"])
    return {**weak, **axes}


@contextlib.contextmanager
def attention_off(layers):
    """Every attention layer the identity (gamma 0, and gamma_ctx 0 where there is one); restored after."""
    saved = []
    with torch.no_grad():
        for m in layers.values():
            for name in ("gamma", "gamma_ctx"):
                p = getattr(m, name, None)
                if p is not None:
                    saved.append((p, p.detach().clone()))
                    p.zero_()
    try:
        yield
    finally:
        with torch.no_grad():
            for p, value in saved:
                p.copy_(value)


def _summary(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "sd": statistics.pstdev(values), "n": len(values)}


def _parts(measured: list[dict]) -> dict:
    """Mean and spread of near, far and order over tiles, overall and per axis."""
    out = {part: _summary([m[part] for m in measured]) for part in ("near", "far", "order")}
    for axis in ("x", "y"):
        out[axis] = {part: _summary([m[axis][part] for m in measured]) for part in ("near", "far", "order")}
    return out


@torch.inference_mode()
def measure(engine, classes, seeds, side: int, real: dict | None = None) -> dict:
    """Per class: the order of `side`-px tiles with attention and without, and at 256 px (with the
    real textures' own, far lags REAL_FAR, where `real` gives them: {class: [(H, W, 3) uint8]})."""
    layers = engine.generator.attention_layers()
    out = {}
    for name in classes:
        label = engine.cfg.class_names.index(name)
        rows = {"with attention": [], "without attention": [], "at 256 px": []}
        for s in seeds:
            field = engine.field(s, side, side)
            rows["with attention"].append(order(luminance(engine.render(field, label, "both").image[None])[0]))
            with attention_off(layers):
                rows["without attention"].append(
                    order(luminance(engine.render(field, label, "both").image[None])[0]))
            small = engine.render(engine.field(s, 256, 256), label, "both").image
            rows["at 256 px"].append(order(luminance(small[None])[0], far=REAL_FAR))
        result = {k: _parts(vals) for k, vals in rows.items()}
        if real and real.get(name):
            result["real at 256 px"] = _parts([order(luminance(im[None])[0], far=REAL_FAR) for im in real[name]])
        out[name] = result
    return out


def picture(engine, name: str, seed: int, side: int, path: Path) -> None:
    """A 512 x 512 corner of the class's canvas with attention (left) and without (right)."""
    from PIL import Image
    label = engine.cfg.class_names.index(name)
    with torch.inference_mode():
        field = engine.field(seed, side, side)
        on = engine.render(field, label, "both").image
        with attention_off(engine.generator.attention_layers()):
            off = engine.render(field, label, "both").image
    k = min(512, side)
    gap = np.full((k, 8, 3), 255, np.uint8)
    Image.fromarray(np.concatenate([on[:k, :k], gap, off[:k, :k]], axis=1)).save(path)


def main(argv=None) -> None:
    from ..checks import parse_seeds
    from ..imaging.folders import load_folder
    from ..serving.canvas import CanvasEngine
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, required=True, help="a canvas model directory")
    p.add_argument("--classes", required=True, help="comma-separated class names, e.g. 'brick,tiles,wood planks'")
    p.add_argument("--data", type=Path, default=None, help="the real textures (one sub-folder per class)")
    p.add_argument("--seeds", default="0-7")
    p.add_argument("--side", type=int, default=1024, help="canvas side in px (a multiple of the cell)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--picture", type=Path, default=None, help="PNG: the first class's first seed, with and without")
    args = p.parse_args(argv)
    engine = CanvasEngine.from_pretrained(args.weights, device="cpu")
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    unknown = [c for c in classes if c not in engine.cfg.class_names]
    if unknown:
        raise SystemExit(f"{args.weights} has no class {unknown[0]!r}; it has {', '.join(engine.cfg.class_names)}")
    real = None
    if args.data:
        data = load_folder(args.data, 256)
        images = data.images.permute(0, 2, 3, 1).numpy()
        real = {c: [images[i] for i in range(len(data)) if data.class_names[int(data.labels[i])] == c]
                for c in classes if c in data.class_names}
    seeds = parse_seeds(args.seeds)
    result = measure(engine, classes, seeds, args.side, real)
    for name, rows in result.items():
        print(f"{name}: " + "; ".join(f"{k} {v['order']['mean']:.3f} ± {v['order']['sd']:.3f} "
                                      f"(near {v['near']['mean']:.2f})" for k, v in rows.items()))
    if args.json:
        args.json.write_text(json.dumps({"model": engine.name, "weights_sha256": engine.weights_sha256,
                                         "seeds": args.seeds, "side": args.side, "near_lags": NEAR,
                                         "classes": result}, indent=1) + "\n")
    if args.picture:
        picture(engine, classes[0], seeds[0], args.side, args.picture)


if __name__ == "__main__":
    main()
