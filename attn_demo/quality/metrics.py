"""Offline quality metrics: FID-emoji, KID-emoji and SWD, always beside a real-vs-real baseline,
with precision and recall (what FID mixes: fidelity and variety) and, for a class-conditional
model, how often the feature net names a fake's own class.

    python -m attn_demo features --data data/emoji --out weights/feature_net
    python -m attn_demo eval --weights weights/emoji32 --data data/emoji

FID-emoji and KID-emoji are torchmetrics' FID and KID computed in the feature
space of our own small classifier (feature_net.py), not Inception-v3: the
numbers are not comparable with any published FID. SWD (swd.py) needs no
weights at all. Each score is the mean +- std over several seeds (another set
of fake images and another real subset per seed), and the same seeds score
two disjoint random halves of the real data against each other: the value a
perfect generator would get at this sample size.
"""
from __future__ import annotations

import statistics
import time
import warnings
from pathlib import Path
from typing import Callable, Sequence

import torch
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from ..errors import DataError, InputError
from ..models.checkpoint import WEIGHTS_FILE, file_sha256
from ..serving.engine import MAX_BATCH, RenderArgs
from ..imaging.folders import ImageSet
from .feature_net import FeatureNet, load_feature_net
from .swd import swd

KID_SUBSETS = 100
KID_SUBSET_SIZE = 500
MIN_N = 10
METRICS = ("fid_emoji", "kid_emoji", "swd_x1e3")
PR_NEIGHBOURS = 3       # Kynkäänniemi et al. 2019: the k of each point's k-NN radius
EXTRA = ("precision", "recall", "class_accuracy")   # in the summary where measured
NOTE = (
    "FID-emoji and KID-emoji are FID and KID in the feature space of a small CNN trained to classify "
    "the same real images (not Inception-v3, and never used to train the GAN): they are not "
    "comparable with published FID/KID, nor across feature nets (check the sha256). With n images "
    "per side FID is biased upwards and KID is unbiased but noisy, so read every score against the "
    "real-vs-real baseline at the same n (two disjoint random halves of the real data: what a "
    "perfect generator would score). SWD (Karras et al. 2018: sliced Wasserstein distance of 7x7 "
    "Laplacian-pyramid patches, x1e3 as in ProGAN, averaged over levels) uses no trained weights. "
    "Precision and recall (Kynkäänniemi et al. 2019, k = 3, in the same feature space): the share of "
    "fakes inside the real images' manifold (fidelity) and of real images inside the fakes' (variety: a "
    "generator that paints one image per class has low recall). "
    "Mean ± std over {seeds} seed(s), each with new fakes and a new real subset; fakes at psi 1{classes}.")
CLASS_NOTE = (" Class accuracy: the share of images the feature net (a classifier of these real images, "
              "trained on them: the real row is its training accuracy) names by their own class.")


# ------------------------------------------------------------------ one comparison
def _batches(images: torch.Tensor, size: int = 256):
    for i in range(0, images.shape[0], size):
        yield images[i:i + size].float() / 255.0          # torchmetrics normalize=True: floats in [0, 1]


class _Given(torch.nn.Module):
    """The identity as torchmetrics' feature extractor: FID and KID of features computed once."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def features(net: FeatureNet, images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, R, R) -> float (N, F): the feature net's features, as FID, KID and
    precision/recall see them (one pass per image set)."""
    net.eval()
    with torch.no_grad():
        return torch.cat([net(batch) for batch in _batches(images)])


def _fed(metric, real: torch.Tensor, fake: torch.Tensor):
    """A torchmetrics image metric over _Given features, updated with both sets (256 rows at a time)."""
    for f, is_real in ((real, True), (fake, False)):
        for chunk in f.split(256):
            metric.update(chunk, real=is_real)
    return metric


def frechet_of(real: torch.Tensor, fake: torch.Tensor) -> float:
    """The Fréchet distance of two feature sets (N, F), (M, F), computed by torchmetrics' FID."""
    fid = _fed(FrechetInceptionDistance(feature=_Given(real.shape[1]), normalize=True), real, fake)
    return float(fid.compute())


def kid_of(real: torch.Tensor, fake: torch.Tensor, seed: int = 0) -> float:
    """KID (mean over KID_SUBSETS subsets) of two feature sets, by torchmetrics. Its subsets are
    drawn from torch's global RNG: seeded here, and the caller's state given back."""
    n = min(len(real), len(fake))
    with warnings.catch_warnings():     # "will save all extracted features": n is small here
        warnings.filterwarnings("ignore", message=".*save all extracted features.*")
        kid = KernelInceptionDistance(feature=_Given(real.shape[1]), subsets=KID_SUBSETS,
                                      subset_size=min(KID_SUBSET_SIZE, n // 2), normalize=True)
    _fed(kid, real, fake)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, _ = kid.compute()
    return float(mean)


def frechet(net: FeatureNet, real: torch.Tensor, fake: torch.Tensor) -> float:
    """The Fréchet distance of two uint8 image sets (N, 3, R, R) in the feature net's space."""
    return frechet_of(features(net, real), features(net, fake))


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = PR_NEIGHBOURS) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of two feature sets (N, F), (M, F).

    Each set's manifold is the union of balls around its points, each ball's radius the distance to
    the point's k-th nearest other point of the same set. Precision: the share of fakes inside the
    real manifold; recall: the share of real points inside the fake manifold.
    """
    if min(len(real), len(fake)) <= k:
        raise InputError(f"precision and recall need more than {k} images per side")

    def radii(x: torch.Tensor) -> torch.Tensor:
        d = torch.cdist(x, x)
        return d.kthvalue(k + 1, dim=1).values       # the 1st smallest is the point itself (0)

    real, fake = real.double(), fake.double()
    between = torch.cdist(fake, real)                  # (M, N)
    precision = (between <= radii(real)[None, :]).any(dim=1).double().mean()
    recall = (between <= radii(fake)[:, None]).any(dim=0).double().mean()
    return float(precision), float(recall)


def class_accuracy(net: FeatureNet, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, dict[int, float]]:
    """The share of uint8 images (N, 3, R, R) that the feature net classifies as their label: over all,
    and per label present."""
    net.eval()
    with torch.no_grad():
        predicted = torch.cat([net.logits(batch).argmax(dim=1) for batch in _batches(images)])
    right = (predicted == labels.to(predicted.device)).double()
    per_class = {int(c): float(right[labels == c].mean()) for c in labels.unique()}
    return float(right.mean()), per_class


def compare(net: FeatureNet, real: torch.Tensor, fake: torch.Tensor, seed: int = 0,
            fake_labels: torch.Tensor | None = None) -> dict:
    """Score two uint8 image sets (N, 3, R, R) of the same size: FID-emoji, KID-emoji, SWD x 1e3,
    precision and recall; with `fake_labels` (the classes the fakes were asked for), class accuracy."""
    n = real.shape[0]
    if real.dtype != torch.uint8 or fake.dtype != torch.uint8:
        raise InputError(f"compare takes uint8 images, got {real.dtype} and {fake.dtype}")
    if fake.shape != real.shape or n < MIN_N:
        raise InputError(f"compare needs two sets of the same shape, at least {MIN_N} images each, "
                         f"got {tuple(real.shape)} and {tuple(fake.shape)}")
    real_f, fake_f = features(net, real), features(net, fake)
    s = swd(real, fake, seed=seed)
    precision, recall = precision_recall(real_f, fake_f)
    fid_value, kid_mean = frechet_of(real_f, fake_f), kid_of(real_f, fake_f, seed=seed)
    out = {"fid_emoji": fid_value, "kid_emoji": kid_mean, "swd_x1e3": s["mean"],
           "swd_levels_x1e3": {str(k): v for k, v in s["levels"].items()},
           "precision": precision, "recall": recall}
    if fake_labels is not None:
        out["class_accuracy"], out["class_accuracy_per_class"] = class_accuracy(net, fake, fake_labels)
    return out


# ------------------------------------------------------------------ the routine
def _at_resolution(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """uint8 (N, 3, r, r) -> uint8 (N, 3, R, R). The CLI loads data at the model's size, so
    this is a no-op there; otherwise antialiased bilinear resizing."""
    if images.shape[-1] == resolution:
        return images
    x = torch.nn.functional.interpolate(images.float(), size=(resolution, resolution), mode="bilinear",
                                        align_corners=False, antialias=True)
    return x.round().clamp(0, 255).to(torch.uint8)


def _fake_images(engine, seeds: Sequence[int], labels: Sequence[int] | None) -> torch.Tensor:
    """Render psi = 1 images (the full distribution) -> uint8 (N, 3, R, R)."""
    args = [RenderArgs(seed=s, psi=1.0, label=None if labels is None else int(labels[i]))
            for i, s in enumerate(seeds)]
    out = [torch.from_numpy(engine.render_many(args[i:i + MAX_BATCH])[0]) for i in range(0, len(args), MAX_BATCH)]
    return torch.cat(out).permute(0, 3, 1, 2).contiguous()       # (B, R, R, 3) -> (B, 3, R, R)


def _check_classes(engine, data: ImageSet) -> bool:
    """True if fakes need labels; refuses data whose classes do not match the model's."""
    cfg = engine.cfg
    if not cfg.num_classes:
        return False
    if data.labels is None:
        raise DataError("this model is class-conditional: the real data needs its class sub-folders")
    if data.num_classes != cfg.num_classes or (cfg.class_names and tuple(cfg.class_names) != data.class_names):
        raise DataError(f"the data's classes {list(data.class_names)} are not the model's "
                        f"{list(cfg.class_names) or cfg.num_classes}")
    return True


def _summary(runs: list[dict]) -> dict:
    out = {}
    for key in METRICS + tuple(k for k in EXTRA if k in runs[0]):
        values = [r[key] for r in runs]
        out[key] = {"mean": statistics.fmean(values),
                    "std": statistics.stdev(values) if len(values) > 1 else 0.0, "values": values}
    levels = runs[0]["swd_levels_x1e3"]
    out["swd_levels_x1e3"] = {k: statistics.fmean(r["swd_levels_x1e3"][k] for r in runs) for k in levels}
    if "class_accuracy_per_class" in runs[0]:     # classes absent from a seed's sample count as unmeasured
        per_seed = [r["class_accuracy_per_class"] for r in runs]
        classes = sorted({c for seen in per_seed for c in seen})
        out["class_accuracy_per_class"] = {
            str(c): statistics.fmean(seen[c] for seen in per_seed if c in seen) for c in classes}
    return out


def evaluate(engine, data: ImageSet, feature_dir: Path, n: int = 1000, seeds: Sequence[int] = (0, 1, 2),
             log: Callable[[str], None] = print, size: int | None = None) -> dict:
    """Score engine's generator against data, and data against itself (the baseline).

    For each seed s: a random permutation of the real images gives subset A
    (the first n) and a disjoint subset B (the next n); the model renders n
    images with seeds s*n .. s*n+n-1 at psi = 1. For a class-conditional
    model, fake image i gets the class of real image A[i], so the fakes
    have exactly the class mix of the real sample (that is, of the data).
    Rows: model vs A, and B vs A. Returns numbers, `table` (markdown) and `note`.
    `size` scores at another size than the model's (both sides resized to it: the baseline of a
    32-px model's samples upscaled to 64 px).
    """
    seeds = list(seeds)
    if not seeds:
        raise InputError("give at least one seed")
    net = load_feature_net(feature_dir)
    sha = file_sha256(Path(feature_dir) / WEIGHTS_FILE)
    conditional = _check_classes(engine, data)
    if not MIN_N <= n <= len(data) // 2:
        raise InputError(f"n must be in {MIN_N}..{len(data) // 2}: the baseline needs two disjoint sets "
                         f"of n among the {len(data)} real images (got n={n})")
    size = size or engine.cfg.resolution
    real = _at_resolution(data.images, size)
    rows: dict[str, list[dict]] = {"model_vs_real": [], "real_vs_real": []}
    t0 = time.perf_counter()
    for s in seeds:
        perm = torch.randperm(len(real), generator=torch.Generator().manual_seed(s))
        a, b = perm[:n], perm[n:2 * n]
        fake = _fake_images(engine, range(s * n, s * n + n), data.labels[a].tolist() if conditional else None)
        fake = _at_resolution(fake, size)
        labels = (data.labels[a], data.labels[b]) if conditional else (None, None)
        rows["model_vs_real"].append(compare(net, real[a], fake, seed=s, fake_labels=labels[0]))
        rows["real_vs_real"].append(compare(net, real[a], real[b], seed=s, fake_labels=labels[1]))
        log(f"seed {s}: " + ", ".join(f"{k} {rows['model_vs_real'][-1][k]:.4g} (baseline "
                                      f"{rows['real_vs_real'][-1][k]:.4g})" for k in METRICS)
            + f" [{time.perf_counter() - t0:.0f} s]")
    result = {
        "model": engine.name, "model_sha256": engine.weights_sha256, "resolution": size,
        "model_resolution": engine.cfg.resolution,
        "data": data.source, "data_sha256": data.sha256(), "real_images": len(data),
        "n": n, "seeds": seeds, "psi": 1.0,
        "class_sampling": "fakes take the classes of the real sample they are compared with" if conditional
                          else "unconditional",
        "feature_net": {"path": str(feature_dir), "sha256": sha, "num_features": net.num_features},
        "kid": {"subsets": KID_SUBSETS, "subset_size": min(KID_SUBSET_SIZE, n // 2)},
        "model_vs_real": _summary(rows["model_vs_real"]), "real_vs_real": _summary(rows["real_vs_real"]),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if conditional:
        result["class_names"] = list(data.class_names)
    result["table"] = format_table(result)
    result["note"] = NOTE.format(seeds=len(seeds),
                                 classes=" with the class mix of the real sample" if conditional else "") \
        + (CLASS_NOTE if conditional else "")
    return result


def format_table(result: dict) -> str:
    model = result["model"]
    if result.get("model_resolution", result["resolution"]) != result["resolution"]:
        model += f" ({result['model_resolution']} px, resized to {result['resolution']})"
    rows = (("model_vs_real", f"{model} vs real"), ("real_vs_real", "real vs real (baseline)"))
    # results written before precision, recall and class accuracy were measured have the first three
    shown = METRICS + tuple(k for k in EXTRA if k in result["model_vs_real"])
    heads = {"fid_emoji": "FID-emoji ↓", "kid_emoji": "KID-emoji ↓", "swd_x1e3": "SWD×1e3 ↓",
             "precision": "precision ↑", "recall": "recall ↑", "class_accuracy": "class accuracy ↑"}
    lines = [f"| n = {result['n']} per side, {len(result['seeds'])} seed(s) | "
             + " | ".join(heads[m] for m in shown) + " |", "|---|" + "---:|" * len(shown)]
    for key, name in rows:
        # Significant digits, not fixed decimals: the scale of FID-emoji and KID-emoji depends on
        # the feature net, and a baseline near 0 must not print as 0.
        cells = [f"{result[key][m]['mean']:.3g} ± {result[key][m]['std']:.2g}" for m in shown]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    per_class = result["model_vs_real"].get("class_accuracy_per_class")
    if per_class and result.get("class_names"):
        names, real = result["class_names"], result["real_vs_real"]["class_accuracy_per_class"]
        lines += ["", "Class accuracy per class, model (real): " + ", ".join(
            f"{names[int(c)]} {100 * v:.0f} % ({100 * real.get(c, float('nan')):.0f} %)"
            for c, v in per_class.items()) + "."]
    levels = ", ".join(f"{k} px {v:.1f}" for k, v in result["model_vs_real"]["swd_levels_x1e3"].items())
    lines += ["", f"Feature net sha256 `{result['feature_net']['sha256']}`; "
              f"model SWD×1e3 per level: {levels}; {result['resolution']} px, psi 1."]
    return "\n".join(lines)
