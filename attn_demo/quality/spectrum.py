"""The grain of a canvas model, measured: the 2-D power spectrum of generated crops against real
crops, per surface class (issue #36, part 1).

    python -m attn_demo.quality.spectrum --weights weights/textures64 --data data/textures

For each class: `per_class` crops of `crop` px cut at random (wrapping) from canvases the model
paints at the textures' size, one canvas per seed, and as many crops cut the same way from the real
textures of that class. Each crop's luminance (Rec. 709, 0..1) minus its mean, under a 2-D Hann
window, goes through the FFT; the power |F|^2 is averaged over the crops. The frequency plane is cut
into cells: radial bands by period (2-4, 4-8, 8-16, 16-32, 32-64 px) times 12 orientation sectors of
15 deg (the direction of the frequency vector, 0 deg = along x; stripes run perpendicular to it).
A cell's ratio is the generated crops' energy in it over the real crops'. The bar of the issue: no
cell above MAX_RATIO (1.5x) in any class. A fixed streak shows up as one sector of a few bands far
above 1; a fine grain as the shortest-period band above 1 in every sector.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

BANDS = ((2, 4), (4, 8), (8, 16), (16, 32), (32, 64))      # periods in px
SECTORS = 12                                                  # 15 deg each, over 180 deg
MAX_RATIO = 1.5
LUMA = np.array([0.2126, 0.7152, 0.0722])


def luminance(crops) -> np.ndarray:
    """(N, 3, H, W) uint8 (or (N, H, W, 3) uint8) -> (N, H, W) float64 in [0, 1]."""
    a = np.asarray(crops)
    if a.ndim != 4:
        raise ValueError(f"crops are (N, 3, H, W) or (N, H, W, 3), got {a.shape}")
    if a.shape[1] == 3 and a.shape[-1] != 3:
        a = a.transpose(0, 2, 3, 1)
    return (a.astype(np.float64) / 255) @ LUMA


def mean_power(lum: np.ndarray) -> np.ndarray:
    """(N, H, W) -> (H, W): the mean power spectrum of the crops (each minus its mean, Hann window)."""
    n, h, w = lum.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    x = (lum - lum.mean(axis=(1, 2), keepdims=True)) * window
    return (np.abs(np.fft.fft2(x)) ** 2).mean(0)


def cells(size: tuple[int, int]) -> np.ndarray:
    """(H, W) int: each frequency's cell index band * SECTORS + sector, or -1 (DC, or outside the bands)."""
    h, w = size
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")     # cycles per px
    f = np.hypot(fx, fy)
    with np.errstate(divide="ignore"):
        period = np.where(f > 0, 1 / f, np.inf)
    angle = np.degrees(np.arctan2(fy, fx)) % 180
    sector = np.minimum((angle / (180 / SECTORS)).astype(int), SECTORS - 1)
    out = np.full((h, w), -1)
    for b, (lo, hi) in enumerate(BANDS):
        inside = (period >= lo) & (period < hi)
        out[inside] = b * SECTORS + sector[inside]
    return out


def cell_energy(power: np.ndarray) -> np.ndarray:
    """(H, W) power -> (len(BANDS), SECTORS) energy per cell."""
    index = cells(power.shape)
    keep = index >= 0
    e = np.bincount(index[keep], weights=power[keep], minlength=len(BANDS) * SECTORS)
    return e.reshape(len(BANDS), SECTORS)


def compare(generated, real) -> dict:
    """Generated crops against real crops: every cell's energy ratio and the worst cell."""
    g, r = cell_energy(mean_power(luminance(generated))), cell_energy(mean_power(luminance(real)))
    ratio = g / np.maximum(r, 1e-12)
    b, s = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    return {"max_ratio": float(ratio[b, s]),
            "worst": {"period_px": list(BANDS[b]), "frequency_angle_deg": [s * 180 / SECTORS, (s + 1) * 180 / SECTORS]},
            "ratio": ratio.round(3).tolist(),
            "band_ratio": (g.sum(1) / np.maximum(r.sum(1), 1e-12)).round(3).tolist(),
            "total_ratio": float(g.sum() / max(r.sum(), 1e-12))}


def _wrapped(images: torch.Tensor, crop: int, count: int, gen: torch.Generator) -> torch.Tensor:
    from ..training.step import wrapped_crops
    idx = torch.randint(0, images.shape[0], (count,), generator=gen)
    return wrapped_crops(images[idx], crop, gen)


@torch.no_grad()
def grain_report(engine, data, per_class: int = 256, crop: int = 128, canvases: int = 32, seed: int = 0,
                 psi: float = 1.0) -> dict:
    """Per class of a canvas model: generated against real crops (`compare`), and the worst class."""
    if engine.cfg.num_classes and data.num_classes != engine.cfg.num_classes:
        raise ValueError(f"the model has {engine.cfg.num_classes} classes, the data {data.num_classes}")
    side = data.resolution - data.resolution % engine.cell
    out = {}
    gen = torch.Generator().manual_seed(seed)
    for c, name in enumerate(engine.class_names):
        real = data.images[data.labels == c] if data.labels is not None else data.images
        paints = torch.stack([torch.from_numpy(engine.render(engine.field(seed * 100_000 + s, side, side, psi), c,
                                                             "both").image).permute(2, 0, 1)
                              for s in range(canvases)])
        fake = _wrapped(paints, crop, per_class, gen)
        out[name] = compare(fake.numpy(), _wrapped(real, crop, per_class, gen).numpy())
    worst = max(out, key=lambda k: out[k]["max_ratio"])
    return {"crop": crop, "per_class": per_class, "canvases": canvases, "canvas_side": side, "bar": MAX_RATIO,
            "max_ratio": out[worst]["max_ratio"], "worst_class": worst, "classes": out}


def main(argv=None) -> int:
    from .canvas import load_textures
    from ..serving.canvas import CanvasEngine
    from pathlib import Path
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--per-class", type=int, default=256)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--json", type=Path, default=None, help="also write the whole report here")
    args = p.parse_args(argv)
    engine = CanvasEngine.from_pretrained(args.weights, device="cpu")
    report = grain_report(engine, load_textures(args.weights, engine, args.data), args.per_class, args.crop)
    for name, r in report["classes"].items():
        w = r["worst"]
        print(f"{name:>13}: max {r['max_ratio']:5.2f}x at periods {w['period_px'][0]}-{w['period_px'][1]} px, "
              f"frequency {w['frequency_angle_deg'][0]:.0f}-{w['frequency_angle_deg'][1]:.0f} deg; by band "
              + " ".join(f"{v:.2f}" for v in r["band_ratio"]) + f"; total {r['total_ratio']:.2f}")
    print(f"worst: {report['worst_class']} {report['max_ratio']:.2f}x (bar {MAX_RATIO}x)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["max_ratio"] <= MAX_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
