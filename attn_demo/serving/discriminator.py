"""The discriminator's attention: where D looks from a clicked pixel of any image, and D's score.

A model directory ships its generator (config.json + model.safetensors). D is available only
where the directory also holds D's weights:

    discriminator.safetensors   D's state dict (spectral norm's u/v included), for the same
                                config.json; metadata {"format": "attn-demo-discriminator",
                                "config": the config's JSON}

`save_discriminator` writes it (a training run's D, at export); `load_discriminator` refuses a
directory without it in plain words ("this model ships no discriminator"): no D is ever made up.
The projected-feature branch of a projected D (training/projected.py) is a training aid and is
not part of this file.

`discriminator_view` runs D once on an image under `AttentionRecorder` (D has attention layers
named D16, ... as G has G16) and answers the click in each layer: the same `AttentionMap` as
G's maps, so every view and statistic applies.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError, InputError
from ..models.checkpoint import (DISCRIMINATOR_FILE, check_state, load_config, read_header, read_tensors,
                                 save_discriminator)
from ..models.latents import resolve_class
from ..models.networks import Discriminator
from .probe import LOOKS_AT, AttentionMap, AttentionRecorder, _check_head



def has_discriminator(model_dir) -> bool:
    return (Path(model_dir) / DISCRIMINATOR_FILE).is_file()


def load_discriminator(model_dir) -> Discriminator:
    """The D of a model directory (eval mode, CPU), validated as G's weights are."""
    model_dir = Path(model_dir)
    path = model_dir / DISCRIMINATOR_FILE
    if not path.is_file():
        raise InputError(f"this model ships no discriminator: {model_dir.name} holds only the generator, so D's "
                         f"attention cannot be shown (it needs {DISCRIMINATOR_FILE} beside config.json)")
    cfg = load_config(model_dir)
    if cfg.kind == "canvas":
        raise InputError(f"{model_dir.name} is a canvas model: D's view is for image models")
    D = Discriminator(cfg)
    shown = f"{model_dir.name}/{DISCRIMINATOR_FILE}"      # a user reads the model's name, not the server's folders
    try:
        check_state(read_header(path), D.state_dict(), shown, dtypes=False)
        tensors, _ = read_tensors(path)
        D.load_state_dict(check_state(tensors, D.state_dict(), shown), strict=True)
    except CheckpointError as e:
        raise CheckpointError(str(e).replace(str(path), shown)) from None
    if not D.attention_layers():
        raise InputError(f"{model_dir.name}'s discriminator has no attention layer to show")
    return D.eval()


@dataclass
class DiscriminatorView:
    score: float                      # D's logit for the image: higher = more real to D
    maps: list[AttentionMap]          # the click's map in each of D's attention layers, input side first

    def stats(self) -> dict:
        return {"score": self.score, "maps": [{**m.stats(), "map": m.heat.tolist()} for m in self.maps]}

    def describe(self) -> str:
        lines = [f"D's score {self.score:+.3f} (its logit: higher = more real to D)"]
        lines += [m.describe() for m in self.maps]
        return "\n".join(lines)


def image_tensor(image, resolution: int) -> torch.Tensor:
    """An (R, R, 3) uint8 picture -> (1, 3, R, R) in [-1, 1], as G's images are before to_uint8."""
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] not in (3, 4):
        raise InputError(f"the image must be an RGB picture (H, W, 3) of bytes, got {a.dtype} {a.shape}")
    if a.shape[:2] != (resolution, resolution):
        raise InputError(f"the image is {a.shape[1]}x{a.shape[0]}; this discriminator takes "
                         f"{resolution}x{resolution} pictures (resize it first)")
    t = torch.from_numpy(np.array(a[..., :3])).permute(2, 0, 1).float()      # a copy: a read-only array is fine
    return (t / 127.5 - 1.0)[None]


@torch.inference_mode()
def discriminator_view(D: Discriminator, image, x, y, label=None, size=None, head=None,
                       mode: str = LOOKS_AT) -> DiscriminatorView:
    """D's attention maps of pixel (x, y) of a (width, height) picture of `image` (default: the image)
    in every attention layer of D, and D's score. `label`: a class name or index (conditional D)."""
    cfg = D.cfg
    names = list(cfg.class_names) or [str(i) for i in range(cfg.num_classes)]
    cls = resolve_class(label, cfg.num_classes, names)
    t = image_tensor(image, cfg.resolution)
    yt = None if cls is None else torch.tensor([cls])
    with AttentionRecorder(D) as rec:
        score = float(D(t, yt)[0])
    maps = []
    for cap in rec.captures.values():
        maps.append(cap.probe(x, y, size, _check_head(head, cap.heads), mode))
    return DiscriminatorView(score, maps)
