"""A small classifier whose penultimate features stand in for Inception's in FID/KID.

No Inception weights can be had offline, so FID-emoji and KID-emoji use this
net instead: five 3x3 convs (BatchNorm + ReLU, stride 2 after the first),
global average pooling to `num_features`, and a linear head over the data's
classes that is only used while training. It is trained once on the real
images (`python -m attn_demo features`) and must never be used to train a
GAN (a generator could then learn to fool the metric).

Every input is resized to `input_size` (32) inside the net, bilinear with
antialiasing, so one net scores 32-, 64- and 128-px models alike.

A feature-net directory holds config.json (FeatureConfig), model.safetensors
and training.json (provenance: data hash, epochs, seed, accuracy, time).
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models.checkpoint import (CONFIG_FILE, MAX_CONFIG_BYTES, WEIGHTS_FILE, atomic_write, check_state,
                         read_tensors, save_tensors)
from ..models.config import _from_dict
from ..imaging.folders import ImageSet
from ..errors import CheckpointError, ConfigError, DataError, InputError

TRAINING_FILE = "training.json"
FORMAT = "attn-demo-feature-net"


@dataclass(frozen=True)
class FeatureConfig:
    """Architecture of the feature net.

    num_features: size of the pooled feature (the output of `forward`).
    widths: channels of the stem conv and of each strided conv after it; a
        last strided conv maps to num_features. (32, 64, 128, 256) at 32 px:
        32@32 -> 64@16 -> 128@8 -> 256@4 -> num_features@2 -> global average
        pool. The 4x4 and 2x2 convs add capacity for little compute: on the
        emoji set, 30 epochs reach 88% train accuracy without the 256@4 stage.
    num_classes / class_names: the classes the head was trained on.
    input_size: every input is resized to this square size first.
    """

    num_features: int = 128
    widths: tuple[int, ...] = (32, 64, 128, 256)
    num_classes: int = 8
    class_names: tuple[str, ...] = ()
    input_size: int = 32

    def __post_init__(self) -> None:
        for name in ("widths", "class_names"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        ints = [self.num_features, self.num_classes, self.input_size, *self.widths]
        if not self.widths or any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in ints):
            raise ConfigError("num_features, num_classes, input_size and widths must be positive integers")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ConfigError(f"class_names has {len(self.class_names)} names for {self.num_classes} classes")
        if self.input_size >> len(self.widths) < 1:
            raise ConfigError(f"input_size {self.input_size} is too small for {len(self.widths)} strided convs")

    def to_json(self) -> str:
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
        return json.dumps(d, indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureConfig":
        return _from_dict(cls, data)


def _conv(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


class FeatureNet(nn.Module):
    def __init__(self, cfg: FeatureConfig):
        super().__init__()
        self.cfg = cfg
        self.num_features = cfg.num_features        # torchmetrics reads this attribute
        outs = cfg.widths[1:] + (cfg.num_features,)
        self.body = nn.Sequential(_conv(3, cfg.widths[0], 1),
                                  *[_conv(c_in, c_out, 2) for c_in, c_out in zip(cfg.widths, outs)])
        self.head = nn.Linear(cfg.num_features, cfg.num_classes)

    def resize(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float in [0, 1] (or uint8) -> (B, 3, S, S) float in [0, 1]."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise InputError(f"the feature net takes (B, 3, H, W) images, got {tuple(x.shape)}")
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        s = self.cfg.input_size
        if x.shape[-2:] != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) in [0, 1] -> pooled features (B, num_features)."""
        h = self.body(self.resize(x) * 2 - 1)      # (B, num_features, S/2^k, S/2^k)
        return h.mean(dim=(2, 3))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self(x))                   # (B, num_classes)


# ------------------------------------------------------------------ training
def augment(x: torch.Tensor, gen: torch.Generator, shift: int = 2) -> torch.Tensor:
    """Random h-flip, translation by up to `shift` px (edges replicated), slight colour jitter.

    x: (B, 3, S, S) in [0, 1]; every draw comes from `gen` (deterministic)."""
    b, _, h, w = x.shape
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    ty = torch.randint(-shift, shift + 1, (b, 1, 1), generator=gen)
    tx = torch.randint(-shift, shift + 1, (b, 1, 1), generator=gen)
    rows = torch.arange(h)[None, :, None] + ty + shift          # (B, H, 1) in padded coordinates
    cols = torch.arange(w)[None, None, :] + tx + shift          # (B, 1, W)
    padded = F.pad(x, (shift,) * 4, mode="replicate")
    x = padded[torch.arange(b)[:, None, None], :, rows, cols]   # (B, H, W, C): advanced dims first
    x = x.permute(0, 3, 1, 2)
    u = torch.rand(b, 5, generator=gen) * 2 - 1                 # uniform in [-1, 1]
    x = x * (1 + 0.1 * u[:, :1, None, None]) * (1 + 0.05 * u[:, 1:4, None, None])   # brightness, channel gains
    grey = x.mean(dim=1, keepdim=True)
    x = grey + (x - grey) * (1 + 0.2 * u[:, 4:, None, None])    # saturation
    return x.clamp(0, 1)


def train_feature_net(data: ImageSet, epochs: int = 30, seed: int = 0,
                      log: Callable[[str], None] = print, num_features: int = 128,
                      widths: tuple[int, ...] = (32, 64, 128, 256), batch_size: int = 128,
                      lr: float = 2e-3, input_size: int = 32) -> FeatureNet:
    """Train a FeatureNet to predict data's class labels (Adam, cosine schedule, augmentation).

    Deterministic for a given seed, thread count and torch build. Returns the net in eval mode."""
    if data.labels is None or data.num_classes < 2:
        raise DataError("the feature net learns the class labels: give a folder with one sub-folder "
                        "per class (at least two classes)")
    if epochs < 1:
        raise InputError(f"epochs must be >= 1, got {epochs}")
    cfg = FeatureConfig(num_features=num_features, widths=widths, num_classes=data.num_classes,
                        class_names=data.class_names, input_size=input_size)
    with torch.random.fork_rng(devices=[]):                     # leave the caller's RNG alone
        torch.manual_seed(seed)
        net = FeatureNet(cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        x_all = net.resize(data.images)                         # (N, 3, S, S): what the net sees at eval
    y_all = data.labels
    n = len(y_all)
    per_epoch = max(1, n // batch_size)                         # drop the ragged last batch (BN)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.5 * (1 + math.cos(math.pi * min(step / (epochs * per_epoch), 1.0))))
    t0, c0 = time.perf_counter(), time.process_time()
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(n, generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(per_epoch):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            # 1. augment a batch
            x, y = augment(x_all[idx], gen), y_all[idx]
            # 2. forward and loss
            logits = net.head(net(x))
            loss = F.cross_entropy(logits, y)
            # 3. step
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(idx)
        log(f"epoch {epoch + 1}/{epochs}: loss {loss_sum / seen:.3f}, augmented accuracy "
            f"{correct / seen:.1%} ({time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU)")
    return net.eval()


@torch.no_grad()
def accuracy(net: FeatureNet, data: ImageSet, batch_size: int = 512) -> float:
    """Top-1 accuracy on data's labels, no augmentation, eval mode."""
    net.eval()
    correct = sum(int((net.logits(data.images[i:i + batch_size]).argmax(1) == data.labels[i:i + batch_size]).sum())
                  for i in range(0, len(data), batch_size))
    return correct / len(data)


# ------------------------------------------------------------------ files
def save_feature_net(out_dir: Path, net: FeatureNet, info: dict | None = None) -> Path:
    """config.json, training.json (if info) and model.safetensors (last: a dir with weights is complete)."""
    out_dir = Path(out_dir)
    atomic_write(out_dir / CONFIG_FILE, (net.cfg.to_json() + "\n").encode())
    if info is not None:
        atomic_write(out_dir / TRAINING_FILE, (json.dumps(info, indent=2) + "\n").encode())
    save_tensors(out_dir / WEIGHTS_FILE, net.state_dict(), {"format": FORMAT, "config": net.cfg.to_json()})
    return out_dir / WEIGHTS_FILE


def load_feature_net(model_dir: Path) -> FeatureNet:
    """Load a feature-net directory into a fresh FeatureNet (eval, CPU, no grad), fully validated."""
    model_dir = Path(model_dir)
    hint = f"train one with: python -m attn_demo features --data data/emoji --out {model_dir}"
    config_path = model_dir / CONFIG_FILE
    if not config_path.is_file():
        raise CheckpointError(f"no feature net in {model_dir} (missing {CONFIG_FILE}); {hint}")
    if config_path.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{config_path} is too large to be a config")
    try:
        cfg = FeatureConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
    except (ConfigError, UnicodeDecodeError, ValueError, TypeError) as e:
        raise CheckpointError(f"{config_path} is not a feature-net config ({e}); {hint}") from None
    tensors, metadata = read_tensors(model_dir / WEIGHTS_FILE)
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{model_dir / WEIGHTS_FILE} is not a feature net "
                              f"(format {metadata.get('format')!r}); {hint}")
    net = FeatureNet(cfg)
    state = check_state(tensors, net.state_dict(), str(model_dir / WEIGHTS_FILE))
    net.load_state_dict(state, strict=True)
    net.eval().requires_grad_(False)
    with torch.no_grad():
        if not bool(torch.isfinite(net(torch.full((2, 3, cfg.input_size, cfg.input_size), 0.5))).all()):
            raise CheckpointError(f"{model_dir}: the feature net produces NaN/Inf features")
    return net
