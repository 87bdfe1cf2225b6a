"""Inversion: find the latent z and the class whose render is closest to a picture (issue #23).

    python -m attn_demo invert --weights weights/emoji32 --image my.png --out state.json

The picture comes through the image-folder loader (imaging/folders.load_upload: decompression bombs
refused, every mode and EXIF rotation handled, alpha on white, centre crop, Lanczos resize to
the model's resolution). Then Adam on z, for several restarts at once (one batch):

- the restarts' classes: the feature net's (quality/feature_net.py) top `classes` guesses for
  the picture, `restarts // classes` random starts each (unconditional models: all random);
- loss: L1 on pixels plus L1 of the picture halved and quartered (a multi-scale term, which
  weighs shapes over single pixels), plus the squared distance of the feature net's features
  (a perceptual term; the net is ours, trained on the emoji classes, and offline), plus a prior
  term (|z|^2 / d - 1)^2 that keeps z at a typical norm for N(0, I);
- the result: the restart with the lowest loss; its PSNR and feature distance.

An in-domain picture (emoji-like) reconstructs recognisably; a photo does not, and the studio
says so. The work runs on a private copy of the generator (the engine's serves renders and
records attention with hooks; an inversion must not hold them up), and checks `cancel` every
step. Defaults picked by measurement (docs/INVERSION.md).
"""
from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import check_finite, check_whole
from ..errors import InputError
from ..imaging import draw

STEPS = 300
RESTARTS = 8
CLASSES = 2
LR = 0.05
WEIGHTS = {"pixels": 1.0, "multiscale": 1.0, "features": 0.5, "prior": 0.05}


class Cancelled(InputError):
    """The user stopped the inversion: nothing changes."""


@dataclass
class Inversion:
    z: torch.Tensor                   # (z_dim,) float32
    class_index: int | None
    image: np.ndarray                 # (R, R, 3) uint8, the render of z
    target: np.ndarray                # (R, R, 3) uint8, the picture as the model sees it
    psnr: float                       # dB, of the render against the target
    feature_distance: float           # |f(render) - f(target)| / |f(target)|, the feature net's features
    loss: float
    steps: int
    restarts: int
    seconds: float
    candidates: list = field(default_factory=list)   # [(class, loss)] of the best restart per class


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


_COPIES: dict = {}
_COPIES_LOCK = threading.Lock()


def _private_generator(engine) -> torch.nn.Module:
    """The engine's generator, copied once per loaded model (the copy is never hooked)."""
    key = (id(engine.generator), engine.weights_sha256)
    with _COPIES_LOCK:
        if key not in _COPIES:
            _COPIES.clear()
            _COPIES[key] = copy.deepcopy(engine.generator).requires_grad_(False)
        return _COPIES[key]


def _multiscale(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    loss = x.new_zeros(x.shape[0])
    for k in (2, 4):
        loss = loss + (F.avg_pool2d(x, k) - F.avg_pool2d(t, k)).abs().mean((1, 2, 3))
    return loss / 2


def invert(engine, target: np.ndarray, net=None, steps: int = STEPS, restarts: int = RESTARTS,
           classes: int = CLASSES, lr: float = LR, seed: int = 0, progress=None,
           cancel: threading.Event | None = None) -> Inversion:
    """target: (R, R, 3) uint8 at the model's resolution. `net`: the feature net (perceptual term
    and class ranking), or None (pixels only; classes tried in order)."""
    cfg = engine.cfg
    r = cfg.resolution
    if not isinstance(target, np.ndarray) or target.shape != (r, r, 3) or target.dtype != np.uint8:
        raise InputError(f"the picture must be {r} x {r} RGB (load it with imaging.folders.load_upload)")
    steps = check_whole("steps", steps, 1, 5000)
    restarts = check_whole("restarts", restarts, 1, 64)
    lr = check_finite("learning rate", lr, 1e-4, 1.0)
    t0 = time.perf_counter()
    G = _private_generator(engine)
    device = engine.device
    tgt = torch.from_numpy(target.copy()).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(device)
    with torch.no_grad():
        tgt_feat = net((tgt + 1) / 2) if net is not None else None
    if cfg.num_classes:
        if net is not None and getattr(net.cfg, "num_classes", 0) == cfg.num_classes:
            with torch.no_grad():
                ranked = net.logits((tgt + 1) / 2)[0].argsort(descending=True).tolist()
        else:
            ranked = list(range(cfg.num_classes))
        tried = ranked[:max(1, min(classes, cfg.num_classes, restarts))]
        ys = torch.tensor([tried[i % len(tried)] for i in range(restarts)], device=device)
    else:
        tried, ys = [None], None
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(restarts, cfg.z_dim, generator=gen).to(device).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    best = None
    with torch.enable_grad():
        for step in range(steps):
            if cancel is not None and cancel.is_set():
                raise Cancelled("inversion cancelled")
            img = G(z, ys)
            pix = (img - tgt).abs().mean((1, 2, 3))
            loss = WEIGHTS["pixels"] * pix + WEIGHTS["multiscale"] * _multiscale(img, tgt.expand_as(img))
            if net is not None:
                loss = loss + WEIGHTS["features"] * ((net((img + 1) / 2) - tgt_feat) ** 2).mean(1)
            loss = loss + WEIGHTS["prior"] * (z.pow(2).mean(1) - 1) ** 2
            values = loss.detach()
            if best is None or float(values.min()) < best[0]:
                i = int(values.argmin())
                best = (float(values[i]), z[i].detach().clone(), None if ys is None else int(ys[i]))
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            if progress is not None:
                progress((step + 1) / steps)
        losses = loss.detach().cpu()
    _, z_best, y_best = best
    candidates = []
    for c in tried:
        mask = [i for i in range(restarts) if ys is None or int(ys[i]) == c]
        candidates.append((c, float(losses[mask].min())))
    with torch.no_grad():
        image = draw.to_uint8(G(z_best[None].float(), None if y_best is None
                                 else torch.tensor([y_best], device=device)).float().cpu().numpy())[0]
        fd = float("nan")
        if net is not None:
            f_img = net(torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 255)
            f_tgt = net(torch.from_numpy(target.copy()).permute(2, 0, 1)[None].float() / 255)
            fd = float((f_img - f_tgt).norm() / f_tgt.norm().clamp_min(1e-8))
    return Inversion(z_best.float().cpu(), y_best, image, target, psnr(image, target), fd, best[0], steps, restarts,
                     time.perf_counter() - t0, candidates)

