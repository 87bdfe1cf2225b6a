"""Where does textures64's diagonal grain come from? Experiments on the trained generator, no training
(issue #36, part 1; docs/TEXTURES.md "The grain, measured").

    OMP_NUM_THREADS=1 python scripts/grain_cause.py --weights weights/textures64 --data data/textures \
        --json docs/grain_cause.json --figure assets/grain_cause.png

Every spectrum here is of whole 256 x 256 canvases painted with tiling "both": they are exactly periodic,
so the FFT needs no window. The unit of orientation is the one of quality/spectrum.py: 12 sectors of
15 deg, the direction of the frequency vector in image axes (rows down); the streak's band is periods
16-32 px of the output canvas. "Density" is a sector's mean power per frequency bin, so white noise has
the same density in every sector; the "oblique index" of a band is the density of the oblique sectors
(30-60 and 120-150 deg) over that of the axis sectors (165-15 and 75-105 deg): about 1 for an isotropic
map, far above 1 for a diagonal streak.

Experiments (each prints a table and lands in the JSON):
  real     the same measures on the real textures
  phase    (a) is the streak locked to canvas position? mean image's spectrum vs mean of spectra
  profile  the oblique excess by period: does it peak at the cell grid's diagonal Nyquist (22.6 px)?
  fields   (b) constant, smooth and single-cell latent fields: which field makes the diagonal
  layers   (c) the oblique index of every intermediate feature map: where the diagonal first appears
  bn       (d) running BatchNorm statistics vs the batch statistics of the canvases painted
  padding  (e) circular vs reflection padding at render time
  kernels  (f) the 3 x 3 kernels' frequency responses: an oriented component per layer
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from attn_demo.models.canvas import TilingConv2d
from attn_demo.models.layers import ConditionalBatchNorm2d
from attn_demo.quality import spectrum
from attn_demo.serving.canvas import CanvasEngine, paint

SIDE = 256
STREAK = (16, 32)             # the output periods of the streak, px
SECTOR = 180 / spectrum.SECTORS
OBLIQUE = (2, 3, 8, 9)        # 30-60 and 120-150 deg
AXES = (0, 5, 6, 11)          # 0-15, 75-105, 165-180 deg


# ------------------------------------------------------------------ measures
def sector_density(power: np.ndarray, scale: float, band=STREAK) -> np.ndarray:
    """(H, W) power of a periodic map whose pixel is `scale` output px -> (SECTORS,) mean power per bin
    in the output-period band; NaN where a sector has no bin."""
    h, w = power.shape
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    f = np.hypot(fx, fy) / scale                                  # cycles per output px
    with np.errstate(divide="ignore"):
        period = np.where(f > 0, 1 / f, np.inf)
    angle = np.degrees(np.arctan2(fy, fx)) % 180
    sector = np.minimum((angle / SECTOR).astype(int), spectrum.SECTORS - 1)
    inside = (period >= band[0]) & (period < band[1])
    e = np.bincount(sector[inside], weights=power[inside], minlength=spectrum.SECTORS)
    n = np.bincount(sector[inside], minlength=spectrum.SECTORS)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, e / np.maximum(n, 1), np.nan)


def oblique_index(density: np.ndarray) -> float:
    return float(np.nanmean(density[list(OBLIQUE)]) / np.nanmean(density[list(AXES)]))


def peak_sector(density: np.ndarray) -> str:
    s = int(np.nanargmax(density))
    return f"{s * SECTOR:.0f}-{(s + 1) * SECTOR:.0f}"


def map_power(x: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) feature maps -> (H, W): the power spectrum summed over channels, each channel of each
    map minus its mean and scaled to unit variance (every channel weighs the same), averaged over B."""
    x = x.double()
    x = x - x.mean(dim=(2, 3), keepdim=True)
    x = x / x.std(dim=(2, 3), keepdim=True).clamp_min(1e-8)
    return (torch.fft.fft2(x).abs() ** 2).sum(1).mean(0).numpy()


def luma_power(images: np.ndarray) -> np.ndarray:
    """(B, H, W, 3) uint8 -> (H, W) mean power of the luminance minus its mean (periodic: no window)."""
    lum = spectrum.luminance(images)
    return (np.abs(np.fft.fft2(lum - lum.mean(axis=(1, 2), keepdims=True))) ** 2).mean(0)


def canvas_stats(images: np.ndarray) -> dict:
    d = sector_density(luma_power(images), 1)
    return {"oblique_index": round(oblique_index(d), 3), "mirror": round(mirror_asymmetry(d), 2),
            "peak_sector_deg": peak_sector(d)}


# ------------------------------------------------------------------ painting
def fields(G, seeds, cells=None) -> torch.Tensor:
    """The seeds' fields of a SIDE x SIDE canvas (G's own cell: 16 px for textures64)."""
    return G.latent_from_seeds(list(seeds), cells or (SIDE // G.cell, SIDE // G.cell))


def render(G, f: torch.Tensor, c: int, tiling="both") -> np.ndarray:
    return paint(G, f, c, tiling)


def real_crops(data, c: int, n: int, crop: int, gen: torch.Generator) -> np.ndarray:
    return spectrum._wrapped(data.images[data.labels == c], crop, n, gen).numpy()


def canvas_crops(images: np.ndarray, n: int, crop: int, gen: torch.Generator, wrap: bool = True) -> np.ndarray:
    """n crops of crop px from (B, H, W, 3) canvases: wrapping (a tile) or inside the canvas (no wrap)."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2)
    if wrap:
        return spectrum._wrapped(x, crop, n, gen).numpy()
    idx = torch.randint(0, len(x), (n,), generator=gen)
    top = torch.randint(0, x.shape[2] - crop + 1, (n,), generator=gen)
    left = torch.randint(0, x.shape[3] - crop + 1, (n,), generator=gen)
    return torch.stack([x[i, :, t:t + crop, l:l + crop] for i, t, l in zip(idx, top, left)]).numpy()


def streak_ratio(report: dict) -> float:
    """The largest generated / real ratio of quality/spectrum.py in the streak's band."""
    return float(max(report["ratio"][spectrum.BANDS.index(STREAK)]))


# ------------------------------------------------------------------ experiments
def exp_phase(G, classes, n: int) -> dict:
    """(a) A pattern locked to canvas position survives averaging many seeds' canvases; a free one
    averages out. lock = n * E(mean image) / mean E(image) per band: ~1 when the phase is random,
    ~n when locked. The field shifts the canvas only by whole 16-px cells, so a locked pattern would
    be 16-periodic: at harmonics of 1/16 cycles per px on each axis."""
    out = {}
    for c, name in enumerate(classes):
        imgs = render(G, fields(G, range(1000, 1000 + n)), c)
        lum = spectrum.luminance(imgs)
        lum = lum - lum.mean(axis=(1, 2), keepdims=True)
        mean_power = (np.abs(np.fft.fft2(lum)) ** 2).mean(0)
        power_of_mean = np.abs(np.fft.fft2(lum.mean(0))) ** 2
        harm = np.zeros((SIDE, SIDE), bool)
        harm[::SIDE // 16, ::SIDE // 16] = True                   # multiples of 1/16 cycles/px
        harm[0, 0] = False
        row = {}
        for band in (STREAK, (4, 8), (2, 4)):
            a = sector_density(power_of_mean, 1, band)
            b = sector_density(mean_power, 1, band)
            row[f"{band[0]}-{band[1]}px"] = round(float(n * np.nansum(a) / np.nansum(b)), 2)
        row["cell_harmonics"] = round(float(n * power_of_mean[harm].sum() / mean_power[harm].sum()), 2)
        row["cell_harmonics_share"] = round(float(mean_power[harm].sum() / mean_power.sum()), 4)
        out[name] = row
    return out


def exp_profile(G, classes, n: int) -> dict:
    """Where in period the oblique excess sits: the oblique / axis density in rings one frequency bin
    wide (k cycles per 256 px, period 256 / k px), over n canvases per class. The 16-px cell grid carries
    periods down to 32 px along the axes and down to 16 * sqrt(2) = 22.6 px along the diagonals (its
    checkerboard); a generator that paints the band from the grid's top frequencies peaks there."""
    f = np.fft.fftfreq(SIDE)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    k = np.hypot(fx, fy) * SIDE
    angle = np.degrees(np.arctan2(fy, fx)) % 180
    sector = np.minimum((angle / SECTOR).astype(int), spectrum.SECTORS - 1)
    obl, axis = np.isin(sector, OBLIQUE), np.isin(sector, AXES)
    out = {}
    for c, name in enumerate(classes):
        p = luma_power(render(G, fields(G, range(n)), c))
        ratio = {}
        for ring in range(6, 20):
            r = (k >= ring - 0.5) & (k < ring + 0.5)
            ratio[f"{SIDE / ring:.1f}"] = round(float(p[r & obl].mean() / p[r & axis].mean()), 1)
        out[name] = {"oblique_over_axis_by_period_px": ratio, "peak_period_px": max(ratio, key=ratio.get)}
    return out


def smooth_field(G, seed: int, every: int = 4, cells: int = SIDE // 16) -> torch.Tensor:
    """A field whose local latents vary smoothly: drawn every `every` cells, interpolated bilinearly
    around the wrap, rescaled to unit variance per channel; the global latent as the seed's."""
    f = fields(G, [seed])
    coarse = torch.randn(1, G.cfg.z_local, cells // every, cells // every, generator=torch.Generator().manual_seed(seed))
    pad = torch.cat([coarse, coarse[:, :, :1]], 2)
    pad = torch.cat([pad, pad[:, :, :, :1]], 3)
    up = torch.nn.functional.interpolate(pad, size=(cells + 1, cells + 1), mode="bilinear", align_corners=True)[:, :, :-1, :-1]
    f[:, :G.cfg.z_local] = up / up.std(dim=(2, 3), keepdim=True)
    return f


def lowpass_field(G, seeds) -> torch.Tensor:
    """The seeds' fields with the local latents filtered by a 3 x 3 binomial kernel around the wrap (it
    removes the grid's highest frequencies: zero gain at the cell checkerboard, half at one cell's
    shift), rescaled to unit variance per channel."""
    f = fields(G, seeds)
    z = G.cfg.z_local
    k = torch.tensor([1.0, 2.0, 1.0])
    k = (k[:, None] * k[None, :] / 16).expand(z, 1, 3, 3)
    low = torch.nn.functional.conv2d(torch.nn.functional.pad(f[:, :z], (1, 1, 1, 1), mode="circular"), k, groups=z)
    f[:, :z] = low / low.std(dim=(2, 3), keepdim=True)
    return f


def exp_fields(G, data, classes, n: int, crops: int) -> dict:
    """(b) Which fields paint the diagonal: i.i.d. cells (as trained), the same fields without the
    grid's highest frequencies (lowpass_field), smooth local latents, a constant field; and the stamp of
    one cell: the change of the canvas when one cell's local latent is redrawn, on a constant field
    (zero local latents) and on an i.i.d. field. Beside the oblique index, quality/spectrum.py's ratios
    to real crops: the worst cell overall and in the streak's band."""
    out, stamps = {}, {}
    z = G.cfg.z_local
    for c, name in enumerate(classes):
        iid = render(G, fields(G, range(n)), c)
        low = render(G, lowpass_field(G, range(n)), c)
        smooth = render(G, torch.cat([smooth_field(G, s) for s in range(n)]), c)
        real = real_crops(data, c, crops, 128, torch.Generator().manual_seed(c))
        def vs_real(imgs):
            rep = spectrum.compare(canvas_crops(imgs, crops, 128, torch.Generator().manual_seed(1)), real)
            return {"max_ratio": round(rep["max_ratio"], 2), "streak_ratio": round(streak_ratio(rep), 2),
                    "axis_streak_band": round(float(np.mean([rep["ratio"][3][s] for s in AXES])), 2)}
        const = fields(G, range(n))
        const[:, :z] = const[:, :z, :1, :1]                      # every cell the first cell's latents
        flat = render(G, const, c)
        # stamps: one cell (the middle one) redrawn
        gen = torch.Generator().manual_seed(7)
        zero = fields(G, range(n)); zero[:, :z] = 0
        one = zero.clone(); one[:, :z, 8, 8] = torch.randn(n, z, generator=gen)
        stamp0 = render(G, one, c).astype(float) - render(G, zero, c).astype(float)
        base = fields(G, range(n)); other = base.clone(); other[:, :z, 8, 8] = torch.randn(n, z, generator=gen)
        stamp1 = render(G, other, c).astype(float) - render(G, base, c).astype(float)
        def st(d):
            lum = d @ spectrum.LUMA
            p = (np.abs(np.fft.fft2(lum)) ** 2).mean(0)
            dens = sector_density(p, 1)
            reach = np.abs(lum).mean(0)
            return {"oblique_index": round(oblique_index(dens), 3), "mirror": round(mirror_asymmetry(dens), 2),
                    "peak_sector_deg": peak_sector(dens),
                    "mean_abs_change": round(float(np.abs(d).mean()), 2),
                    "reach_px": int((reach > 0.05 * reach.max()).any(0).sum())}
        out[name] = {"iid": {**canvas_stats(iid), **vs_real(iid)}, "lowpass": {**canvas_stats(low), **vs_real(low)},
                     "smooth": {**canvas_stats(smooth), **vs_real(smooth)},
                     "constant_pixel_std": round(float(flat.reshape(n, -1, 3).std(1).max()), 3),
                     "stamp_on_constant": st(stamp0), "stamp_in_iid": st(stamp1)}
        stamps[name] = (stamp0[:4] @ spectrum.LUMA, iid[0], low[0], smooth[0])
    return out, stamps


class Taps:
    """Forward hooks on the generator's stages (the stem, each block's first conv and output, the
    attention, the RGB conv before tanh), keeping each output and its pixel size in canvas px."""

    def __init__(self, G):
        self.maps, self.handles = {}, []
        named = [("stem (cell grid)", G.stem, 16)]
        for i, b in enumerate(G.blocks):
            named.append((f"block{i}.conv1 (pre-upsample)", b.conv1, 2 ** (4 - i)))
            named.append((f"block{i} out", b, 2 ** (3 - i)))
        for k, a in G.attn.items():
            named.append((f"attention G{k}", a, 64 // int(k)))
        named.append(("out_conv (RGB, pre-tanh)", G.out_conv, 1))
        self.scale = {n: s for n, _, s in named}
        for n, m, _ in named:
            self.handles.append(m.register_forward_hook(lambda mod, inp, out, n=n: self.maps.__setitem__(n, out.detach())))

    def close(self):
        for h in self.handles:
            h.remove()


def mirror_asymmetry(density: np.ndarray) -> float:
    """The stronger diagonal over the weaker: (30-60 deg) vs (120-150 deg); 1 for a mirror-symmetric map
    (the real crops are: training flips them left-right)."""
    a, b = np.nanmean(density[[2, 3]]), np.nanmean(density[[8, 9]])
    return float(max(a, b) / min(a, b))


def untrained_like(G) -> nn.Module:
    """The same architecture at its initial weights (seed 0), BatchNorms on the batch's statistics:
    what the cell grid, nearest upsampling and wrap padding give without any training."""
    from attn_demo.models.canvas import CanvasGenerator
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G0 = CanvasGenerator(G.cfg).eval().requires_grad_(False)
    return bn_batch_stats(G0)


def exp_layers(G, classes, n: int) -> dict:
    """(c) Each stage's feature maps in the streak's band (16-32 output px): the oblique index and the
    mirror asymmetry, per class for the trained generator and for the untrained one; n canvases."""
    rows = {}
    for label, net in (("trained", G), ("untrained", untrained_like(G))):
        taps = Taps(net)
        try:
            for c, name in enumerate(classes):
                with torch.inference_mode():
                    net(fields(G, range(n)), torch.full((n,), c))
                for layer in taps.scale:
                    p = map_power(taps.maps[layer])
                    d = sector_density(p, taps.scale[layer], STREAK)
                    rows.setdefault(layer, {}).setdefault(label, {})[name] = {
                        "oblique": round(oblique_index(d), 2), "mirror": round(mirror_asymmetry(d), 2),
                        "peak": peak_sector(d)}
        finally:
            taps.close()
    for layer, by in rows.items():      # the medians over classes, for the table
        for label, per in by.items():
            per["median"] = {k: round(float(np.median([v[k] for v in per.values()])), 2) for k in ("oblique", "mirror")}
    return rows


def exp_real(data, classes) -> dict:
    """The same measures on the real textures (periodic 256-px tiles), and their left-right mirror
    averaged in (what training shows D)."""
    out = {}
    for c, name in enumerate(classes):
        imgs = data.images[data.labels == c].permute(0, 2, 3, 1).numpy()
        p = luma_power(imgs)
        d = sector_density(p, 1)
        dm = sector_density((p + luma_power(imgs[:, :, ::-1])) / 2, 1)
        out[name] = {"oblique": round(oblique_index(d), 2), "mirror": round(mirror_asymmetry(d), 2),
                     "oblique_with_flips": round(oblique_index(dm), 2)}
    return out


def bn_batch_stats(G) -> nn.Module:
    """A copy of G whose BatchNorms normalise by the statistics of the batch painted (nothing else in
    train mode: spectral norm keeps its stored weights)."""
    G2 = copy.deepcopy(G)
    for m in G2.modules():
        if isinstance(m, (ConditionalBatchNorm2d, nn.BatchNorm2d)):
            m.train()
    return G2


def exp_bn(G, data, classes, n: int, crops: int) -> dict:
    """(d) Running statistics (as served) vs each class's batch of n canvases' own statistics."""
    G2 = bn_batch_stats(G)
    out = {}
    for c, name in enumerate(classes):
        f = fields(G, range(n))
        gen = torch.Generator().manual_seed(c)
        real = real_crops(data, c, crops, 128, gen)
        with torch.inference_mode():
            yt = torch.full((n,), c)
            batch = np.clip(np.rint((G2(f, yt).float().numpy() + 1) * 127.5), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
        run = render(G, f, c)
        row = {}
        for label, imgs in (("running", run), ("batch", batch)):
            rep = spectrum.compare(canvas_crops(imgs, crops, 128, torch.Generator().manual_seed(1)), real)
            row[label] = {"max_ratio": round(rep["max_ratio"], 2), "streak_ratio": round(streak_ratio(rep), 2),
                          **canvas_stats(imgs)}
        row["mean_abs_pixel_change"] = round(float(np.abs(run.astype(float) - batch).mean()), 2)
        out[name] = row
    return out


def exp_padding(G, data, classes, n: int, crops: int) -> dict:
    """(e) Circular padding (as trained) vs reflection at render time; crops inside the canvas (no
    wrap) for both, so the reflected canvas's edges are judged as they are."""
    out = {}
    for c, name in enumerate(classes):
        f = fields(G, range(n))
        real = real_crops(data, c, crops, 128, torch.Generator().manual_seed(c))
        row = {}
        for tiling in ("both", "none"):
            imgs = render(G, f, c, tiling)
            rep = spectrum.compare(canvas_crops(imgs, crops, 128, torch.Generator().manual_seed(1), wrap=False), real)
            row[tiling] = {"max_ratio": round(rep["max_ratio"], 2), "streak_ratio": round(streak_ratio(rep), 2)}
        out[name] = row
    return out


def kernel_density(w: torch.Tensor, grid: int = 16) -> np.ndarray:
    """(out, in, k, k) kernels -> (SECTORS,) mean |H(f)|^2 per bin over periods 2-8 map px, summed over
    every in/out pair: the layer's oriented gain."""
    p = (torch.fft.fft2(w.double(), s=(grid, grid)).abs() ** 2).sum((0, 1)).numpy()
    return sector_density(p, 1, (2, 8))


def exp_kernels(G, draws: int = 10) -> dict:
    """(f) Each 3 x 3 conv's frequency response: oblique index and the diagonal asymmetry
    (E 30-60 - E 120-150) / (sum), against i.i.d. Gaussian kernels of the same shape (the null)."""
    out = {}
    gen = torch.Generator().manual_seed(0)
    for name, m in G.named_modules():
        if isinstance(m, TilingConv2d) and m.kernel_size[0] == 3:
            w = m.weight.detach()
            def asym(d):
                a, b = np.nanmean(d[[2, 3]]), np.nanmean(d[[8, 9]])
                return float((a - b) / (a + b))
            d = kernel_density(w)
            null = [kernel_density(torch.randn(w.shape, generator=gen)) for _ in range(draws)]
            na, no = np.array([asym(x) for x in null]), np.array([oblique_index(x) for x in null])
            out[name] = {"shape": list(w.shape), "oblique_index": round(oblique_index(d), 3),
                         "null_oblique": [round(float(no.mean()), 3), round(float(no.std()), 3)],
                         "asymmetry_45_vs_135": round(asym(d), 3),
                         "null_asymmetry_sd": round(float(na.std()), 3)}
    return out


# ------------------------------------------------------------------ report
def figure(stamps: dict, out: Path, names=("paving", "sand", "grass")) -> None:
    """A small sheet: per class (columns) a 128-px corner of a canvas from i.i.d. cells, from the same
    fields low-passed, from smooth local latents, and the change one redrawn cell makes (red up, blue
    down, centred on the cell)."""
    from PIL import Image, ImageDraw
    names = [n for n in names if n in stamps] or list(stamps)[:3]
    tile, pad, top = 128, 4, 14
    rows = ("i.i.d. cells", "cells low-passed", "smooth latents", "one cell redrawn")
    sheet = Image.new("RGB", (len(names) * (tile + pad) + pad, len(rows) * (tile + top + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for j, name in enumerate(names):
        st, iid, low, smooth = stamps[name]
        d = st[0][64:192, 64:192]
        v = max(float(np.percentile(np.abs(d), 99.5)), 1e-6)
        u = np.clip(d / v, -1, 1)
        change = np.stack([1 - np.clip(-u, 0, 1), 1 - np.abs(u), 1 - np.clip(u, 0, 1)], -1)  # red +, blue -
        panels = (iid[:tile, :tile], low[:tile, :tile], smooth[:tile, :tile], (change * 255).astype(np.uint8))
        for i, panel in enumerate(panels):
            x, y = pad + j * (tile + pad), pad + i * (tile + top + pad)
            draw.text((x, y), (f"{name}: " if i == 0 else "") + rows[i], fill="black")
            sheet.paste(Image.fromarray(np.ascontiguousarray(panel)), (x, y + top))
    sheet.quantize(256).save(out, optimize=True)          # a figure: 256 colours keep it small


def machine() -> str:
    try:
        model = [l.split(":", 1)[1].strip() for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
                 if l.startswith("Model name")][0]
    except Exception:
        model = platform.processor()
    return f"{model}, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--weights", type=Path, default=Path("weights/textures64"))
    p.add_argument("--data", type=Path, default=Path("data/textures"))
    p.add_argument("--only", nargs="*", default=["real", "phase", "profile", "fields", "layers", "bn", "padding", "kernels"])
    p.add_argument("--canvases", type=int, default=16, help="canvases (seeds) per class and experiment")
    p.add_argument("--crops", type=int, default=256, help="128-px crops per class for the ratios to real crops")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--figure", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    engine = CanvasEngine.from_pretrained(args.weights, device="cpu")
    G, classes = engine.generator, list(engine.class_names)
    report = {"weights": str(args.weights), "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "canvases_per_class": args.canvases, "side": SIDE}
    data = None
    if {"bn", "padding", "real", "fields"} & set(args.only):
        from attn_demo.quality.canvas import load_textures
        data = load_textures(args.weights, engine, args.data)
    t0 = time.perf_counter()
    for name in args.only:
        t = time.perf_counter()
        if name == "real":
            report["real"] = exp_real(data, classes)
        elif name == "profile":
            report["profile"] = exp_profile(G, classes, args.canvases)
        elif name == "phase":
            report["phase"] = exp_phase(G, classes, 4 * args.canvases)
        elif name == "fields":
            report["fields"], stamps = exp_fields(G, data, classes, args.canvases, args.crops)
            if args.figure:
                figure(stamps, args.figure)
        elif name == "layers":
            report["layers"] = exp_layers(G, classes, args.canvases)
        elif name == "bn":
            report["bn"] = exp_bn(G, data, classes, args.canvases, args.crops)
        elif name == "padding":
            report["padding"] = exp_padding(G, data, classes, args.canvases, args.crops)
        elif name == "kernels":
            report["kernels"] = exp_kernels(G)
        else:
            raise SystemExit(f"unknown experiment {name!r}")
        print(f"== {name} ({time.perf_counter() - t:.0f} s)")
        print(json.dumps(report[name], indent=1))
    report["wall_s"] = round(time.perf_counter() - t0)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
