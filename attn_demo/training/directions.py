"""Slider directions: principal directions of the generator, GANSpace-style.

    python -m attn_demo directions --weights weights/emoji32

Härkönen et al. (2020) found that the principal components of an early
layer's activations, over many random samples, are meaningful controls
(pose, colour, size...). For a G without a style space (BigGAN, SAGAN)
they map the components back to z by linear regression. We do the same:

1. sample z ~ N(0, I) (and classes), record the first up-block's output;
2. PCA of those activations (top k components);
3. least squares z ~ coords @ U: row k of U is the z-space direction of
   component k, normalised to unit length;
4. name each direction by what it measurably changes: render +-2 std along
   it and compare simple image statistics (size, brightness, saturation,
   warmth, position) in units of their spread over samples. A direction is
   named ("+ makes it warmer") only when one statistic clearly dominates
   (DOMINANCE times the next, at least MIN_EFFECT spreads) and no stronger
   direction already has that name; otherwise it is plainly "Direction N";
5. measure each slider's range (`measure_ranges`): how far it can go before
   the model's images stop being what they were. A classifier trained on the
   real images (the metrics' feature net, never used to train G) maps the real
   images and a few hundred samples to features; a sample is on the manifold
   when it falls inside the ball around some real image that reaches that
   image's k-th nearest real neighbour (the "improved precision" test of
   Kynkäänniemi et al. 2019). The range is the largest offset, in steps of
   RANGE_STEP, at which the share of samples on the manifold stays above KEEP
   times its share without the slider, in both directions.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from ..models.canvas import CanvasGenerator
from ..models.latents import DEFAULT_SLIDER_SPAN, SLIDER_RANGE, Directions
from ..models.networks import Generator

STATS = ("size", "brightness", "saturation", "warmth", "left-right", "up-down")
# What "+" does when a statistic rises / falls (y grows downwards: up-down rising means lower).
WORDS = {"size": ("bigger", "smaller"), "brightness": ("brighter", "darker"),
         "saturation": ("more saturated", "greyer"), "warmth": ("warmer", "cooler"),
         "left-right": ("further right", "further left"), "up-down": ("lower", "higher")}
DOMINANCE = 1.5      # the named statistic changes at least this many times the next one
MIN_EFFECT = 0.5     # ... and by at least half its spread over samples
KEEP = 0.9           # a slider's range ends where fewer of its samples stay on the real images' manifold
NEIGHBOURS = 3       # k of the k-nearest-neighbour manifold estimate
RANGE_STEP = 0.25
MIN_REAL = 1000      # fewer real images than this cannot bound a slider's range (too_few_real)

# progress(phase, done, total), phases "sampling", "naming", "ranges": minutes of work otherwise silent
Progress = Callable[[str, int, int], None]


def _silent(phase: str, done: int, total: int) -> None:
    pass


def too_few_real(n: int) -> str | None:
    """Why n real images cannot measure a slider's range, or None where they can. Each real image's
    ball reaches its NEIGHBOURS-th nearest real neighbour; with few images those neighbours are far,
    the balls are wide, and samples far off the images' manifold still fall inside one: every range
    then runs to the limit (64 emoji images: every slider +-5, against 1.25 to 5 from 3,119)."""
    if n >= MIN_REAL:
        return None
    return (f"only {n} real images: too few to measure the sliders' ranges (below about {MIN_REAL} the "
            f"manifold estimate is so loose that ranges run to the limit ±{SLIDER_RANGE[1]:g}); give more "
            f"images, or leave out --feature-net and --data (every range is then ±{DEFAULT_SLIDER_SPAN:g})")


class GlobalLatent(torch.nn.Module):
    """A canvas generator (models/canvas.py) seen as z -> image, so its sliders are found as an
    image model's are: z is the global latent of one training crop; the local latents are fixed
    (the same for every call with the same batch size), so z alone moves the picture."""

    def __init__(self, G):
        super().__init__()
        self.G, self.cfg = G, G.cfg

    def field(self, z: torch.Tensor) -> torch.Tensor:
        rows, cols = self.G.crop_cells()
        local = torch.randn(z.shape[0], self.cfg.local_values, rows, cols,
                            generator=torch.Generator().manual_seed(0))
        return torch.cat([local, z[:, :, None, None].expand(-1, -1, rows, cols)], dim=1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(self.field(z), y)

    def first_block(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        field, noise = self.G.split_field(self.field(z))
        return self.G.blocks[0](self.G.stem(field), y, self.G.noise_at(noise, 0))


def slider_space(G):
    """The generator as its sliders see it, z -> image: an image generator itself, a canvas
    generator through its global latent (GlobalLatent)."""
    return GlobalLatent(G) if isinstance(G, CanvasGenerator) else G


@torch.no_grad()
def _first_block_features(G: Generator, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    if isinstance(G, GlobalLatent):
        return G.first_block(z, y).flatten(1)
    h = G.stem(z).view(z.shape[0], -1, 4, 4)
    return G.blocks[0](h, y).flatten(1)        # (B, C * 8 * 8)


def _classes(G: Generator, n: int, gen: torch.Generator) -> torch.Tensor | None:
    k = G.cfg.num_classes
    return torch.randint(0, k, (n,), generator=gen) if k else None


def image_stats(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, R, R) in [-1, 1] -> (B, len(STATS)) simple, nameable statistics."""
    x = (images + 1) / 2
    lum = x.mean(1)                                            # (B, R, R)
    ink = ((1 - x).abs().amax(1) > 0.1).float()                # differs from the white background
    r = x.shape[-1]
    coords = torch.arange(r, dtype=x.dtype) / (r - 1)
    mass = ink.sum((1, 2)).clamp_min(1)
    cx = (ink * coords[None, None, :]).sum((1, 2)) / mass
    cy = (ink * coords[None, :, None]).sum((1, 2)) / mass
    sat = (x.amax(1) - x.amin(1)).mean((1, 2))
    warm = (x[:, 0] - x[:, 2]).mean((1, 2))
    return torch.stack([ink.mean((1, 2)), lum.mean((1, 2)), sat, warm, cx, cy], dim=1)


def manifold_radii(features: torch.Tensor, k: int = NEIGHBOURS) -> torch.Tensor:
    """Each real feature's distance to its k-th nearest other real feature: the balls whose union
    is the estimated manifold of the real images (Kynkäänniemi et al. 2019)."""
    d = torch.cdist(features, features)
    return d.kthvalue(k + 1, dim=1).values            # +1: the point itself is at distance 0


def on_manifold(features: torch.Tensor, real: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """(B,) bool: inside some real feature's ball."""
    return (torch.cdist(features, real) <= radii[None]).any(dim=1)


@torch.no_grad()
def measure_ranges(G: Generator, directions: Directions, net, real_images: torch.Tensor, samples: int = 256,
                   seed: int = 0, keep: float = KEEP, batch: int = 128,
                   progress: Progress = _silent) -> tuple[tuple[float, ...], list[dict]]:
    """Each slider's range (step 5 of the module docstring) and the measurements behind it: per
    direction, the share of samples on the real images' manifold at every offset tried (the worse
    of - and +), beside the share without the slider. `net`: the metrics' FeatureNet;
    `real_images`: (N, 3, R, R) uint8. The same samples are used at every offset."""
    G = G.eval()
    real = torch.cat([net(real_images[i:i + 512]) for i in range(0, len(real_images), 512)])
    radii = manifold_radii(real)
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, G.cfg.z_dim, generator=gen)
    y = _classes(G, samples, gen)

    def share_on_manifold(offset: torch.Tensor) -> float:
        inside = [on_manifold(net((G(z[i:i + batch] + offset, None if y is None else y[i:i + batch]) + 1) / 2),
                              real, radii) for i in range(0, samples, batch)]
        return float(torch.cat(inside).float().mean())

    base = share_on_manifold(torch.zeros(G.cfg.z_dim))
    spans, report = [], []
    steps = [RANGE_STEP * n for n in range(1, int(SLIDER_RANGE[1] / RANGE_STEP) + 1)]
    total = len(directions) * len(steps)     # at most: a direction stops at its range's end
    progress("ranges", 0, total)
    for i in range(len(directions)):
        unit = float(directions.stds[i]) * directions.vectors[i]
        span, tried = 0.0, {}
        for s in steps:
            tried[s] = min(share_on_manifold(sign * s * unit) for sign in (-1, 1))
            progress("ranges", i * len(steps) + len(tried), total)
            if tried[s] < keep * base:
                break
            span = s
        progress("ranges", (i + 1) * len(steps), total)
        spans.append(max(span, RANGE_STEP))      # a slider that moves at all: its first step
        report.append({"direction": i + 1, "span": spans[-1], "on_manifold_without": base,
                       "on_manifold_at": tried})
    return tuple(spans), report


@torch.no_grad()
def compute_directions(G: Generator, k: int = 6, samples: int = 4000, seed: int = 0,
                       batch: int = 250, net=None, real_images: torch.Tensor | None = None,
                       progress: Progress = _silent) -> Directions:
    G = G.eval()
    cfg = G.cfg
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, cfg.z_dim, generator=gen)
    y = _classes(G, samples, gen)
    starts = range(0, samples, batch)
    progress("sampling", 0, len(starts))
    feats = []
    for j, i in enumerate(starts):
        feats.append(_first_block_features(G, z[i:i + batch], None if y is None else y[i:i + batch]))
        progress("sampling", j + 1, len(starts))
    feats = torch.cat(feats)
    feats = feats - feats.mean(0)
    # PCA through the SVD of the centred activations (samples x features).
    _, s, vt = torch.linalg.svd(feats.double(), full_matrices=False)
    k = min(k, vt.shape[0])
    coords = feats.double() @ vt[:k].T                         # (samples, k) PCA coordinates
    # Least squares z ~ coords @ U  (U: k x z_dim): component k -> a direction in z.
    U = torch.linalg.lstsq(coords, z.double()).solution
    vectors = (U / U.norm(dim=1, keepdim=True)).float()
    stds = (z @ vectors.T).std(0)                              # spread of z along each direction
    effects = []
    progress("naming", 0, k)
    for i in range(k):
        effects.append(_effects(G, vectors[i], float(stds[i]), gen))
        progress("naming", i + 1, k)
    effects = torch.stack(effects)
    if isinstance(G, GlobalLatent):
        # a texture has no figure on a background: size and position say nothing; only colour names it
        effects[:, [STATS.index(n) for n in ("size", "left-right", "up-down")]] = 0
    directions = Directions(vectors, stds, name_directions(effects), (DEFAULT_SLIDER_SPAN,) * k)
    if net is None or real_images is None:
        return directions
    spans, _ = measure_ranges(G, directions, net, real_images, seed=seed, progress=progress)
    return replace(directions, spans=spans)


def name_directions(effects: torch.Tensor) -> tuple[str, ...]:
    """(k, len(STATS)) effects (change of each statistic from -2 to +2 std, in units of its spread)
    -> one label per direction: "Direction N: + makes it warmer" where one statistic clearly
    dominates and no stronger direction took that word, else "Direction N"."""
    labels, taken = [], {}
    mag = effects.abs()
    order = sorted(range(len(effects)), key=lambda i: -float(mag[i].max()))
    words = {}
    for i in order:
        top = mag[i].topk(2)
        stat = int(top.indices[0])
        clear = float(top.values[0]) >= MIN_EFFECT and float(top.values[0]) >= DOMINANCE * float(top.values[1])
        if clear and stat not in taken:
            taken[stat] = i
            words[i] = WORDS[STATS[stat]][0 if effects[i, stat] > 0 else 1]
    for i in range(len(effects)):
        labels.append(f"Direction {i + 1}: + makes it {words[i]}" if i in words else f"Direction {i + 1}")
    return tuple(labels)


@torch.no_grad()
def _effects(G: Generator, v: torch.Tensor, std: float, gen: torch.Generator, n: int = 64) -> torch.Tensor:
    """How much moving from -2 to +2 std along v changes each statistic, in units of its spread."""
    z = torch.randn(n, G.cfg.z_dim, generator=gen)
    y = _classes(G, n, gen)
    lo, hi = image_stats(G(z - 2 * std * v, y)), image_stats(G(z + 2 * std * v, y))
    base = image_stats(G(z, y)).std(0).clamp_min(1e-4)
    return (hi - lo).mean(0) / base
