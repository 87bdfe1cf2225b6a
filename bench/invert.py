"""Inversion (serving/invert.py) at its default settings: seconds per picture.

The goal on this CPU: the defaults finish within 15 s for emoji32. The pictures are the model's
own renders of a few seeds, shrunk and blurred a little (in-domain, and no data set needed), with
the shipped feature net for the perceptual term, as the studio runs it.
"""
from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from attn_demo.quality.feature_net import load_feature_net
from attn_demo.serving.engine import Engine, RenderArgs
from attn_demo.serving.invert import RESTARTS, STEPS, invert


def bench_invert(model_dir: Path, feature_dir: Path, pictures: int = 5) -> dict:
    engine = Engine.from_pretrained(model_dir, device="cpu")
    net = load_feature_net(feature_dir).eval() if Path(feature_dir).is_dir() else None
    res = engine.cfg.resolution
    label = engine.class_names[0] if engine.cfg.num_classes else None
    seconds, psnrs = [], []
    invert(engine, engine.render(RenderArgs(seed=100, label=label)).image, net, steps=5)     # warm-up
    for s in range(pictures):
        img = Image.fromarray(engine.render(RenderArgs(seed=200 + s, label=label)).image)
        target = np.asarray(img.filter(ImageFilter.GaussianBlur(0.6)).resize((res, res)))
        out = invert(engine, target, net)
        seconds.append(out.seconds)
        psnrs.append(out.psnr)
    return {"model": engine.name, "steps": STEPS, "restarts": RESTARTS, "pictures": pictures,
            "median_s": statistics.median(seconds), "max_s": max(seconds), "median_psnr_db": statistics.median(psnrs),
            "feature_net": net is not None}
