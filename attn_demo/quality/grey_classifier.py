"""Do generated textures differ in structure, not only in colour? A greyscale classifier (issue #36, §2).

    python -m attn_demo.quality.grey_classifier --data data/textures --weights weights/textures64 \
        --out docs/grey_classifier_textures64.json

A small CNN learns the surface class from greyscale crops of the real textures; then it names the class
of crops of the model's canvases. The issue's bar: generated crops recognised at least 80 % of the time,
reported per class beside the real crops' own held-out accuracy.

Honest by construction:
- **whole textures are held out**: per class, `holdout` of the textures (at least one) never give a
  training crop; the real score is on crops of those unseen textures only (crops of seen textures would
  measure memory of those images, not of the surface);
- **greyscale**, and by default each crop is **standardised** (minus its mean, over its standard
  deviation), so neither colour nor overall brightness or contrast can give the class away (snow is
  bright; `--keep-tone` keeps them, for comparison);
- classes are drawn evenly in training (the textures are 147 grass to 26 forest floor), and the scores are
  per class, so a large class cannot carry the mean;
- crops wrap around the texture's edges (the textures tile), left-right and up-down flips augment them.

Crops are `crop` px (the canvas model's training crop, 64 px by default); generated crops are cut at
random (wrapping) from `canvases` tiling canvases per class of the textures' size (256 px), seeds 0...
Training runs on one CPU thread by default (`--threads`): about 3 CPU minutes for textures64 (600 steps).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError, InputError
from ..imaging.folders import ImageSet
from ..training.step import wrapped_crops

LUMA = (0.2126, 0.7152, 0.0722)
BAR = 0.80


def grey(crops: torch.Tensor, standardise: bool = True) -> torch.Tensor:
    """(B, 3, H, W) uint8 -> (B, 1, H, W) float: Rec. 709 luminance in [0, 1]; standardised per crop."""
    if crops.ndim != 4 or crops.shape[1] != 3:
        raise InputError(f"crops are (B, 3, H, W), got {tuple(crops.shape)}")
    x = crops.float() / 255
    y = (x * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
    if standardise:
        y = (y - y.mean(dim=(2, 3), keepdim=True)) / y.std(dim=(2, 3), keepdim=True).clamp_min(1e-3)
    else:
        y = y * 2 - 1
    return y


class GreyNet(nn.Module):
    """Four 3x3 convs (BatchNorm, ReLU; stride 2 after the first), global average pool, linear head."""

    def __init__(self, num_classes: int, widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        layers, c_in = [], 1
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(c_in, w, 3, 1 if i == 0 else 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            c_in = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> logits (B, classes)."""
        return self.head(self.body(x).mean(dim=(2, 3)))


@dataclass
class Split:
    train: torch.Tensor        # indices of the training textures
    held: torch.Tensor         # indices of the held-out textures (no crop of them is trained on)


def split_textures(labels: torch.Tensor, holdout: float, seed: int) -> Split:
    """Per class, round(holdout * n) textures (at least 1, at most n - 1) held out whole."""
    if not 0 < holdout < 1:
        raise InputError(f"holdout is a share of each class's textures, in (0, 1); got {holdout}")
    gen = torch.Generator().manual_seed(seed)
    train, held = [], []
    for c in range(int(labels.max()) + 1):
        idx = torch.nonzero(labels == c).flatten()
        if len(idx) < 2:
            raise DataError(f"class {c} has {len(idx)} texture(s): holding one out needs at least 2")
        idx = idx[torch.randperm(len(idx), generator=gen)]
        k = min(len(idx) - 1, max(1, round(holdout * len(idx))))
        held.append(idx[:k])
        train.append(idx[k:])
    return Split(torch.cat(train).sort().values, torch.cat(held).sort().values)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    flip = torch.rand(2, x.shape[0], generator=gen) < 0.5
    x = torch.where(flip[0, :, None, None, None], x.flip(3), x)
    return torch.where(flip[1, :, None, None, None], x.flip(2), x)


def train_grey(data: ImageSet, split: Split, crop: int = 64, steps: int = 600, batch: int = 64, lr: float = 2e-3,
               seed: int = 0, standardise: bool = True, log: Callable[[str], None] = print) -> GreyNet:
    """Adam with a cosine schedule on fresh random crops of the training textures, classes drawn evenly."""
    if data.labels is None:
        raise DataError("the classifier learns surface classes: give a folder with one sub-folder per class")
    labels = data.labels[split.train]
    counts = torch.bincount(labels, minlength=data.num_classes).float()
    weights = 1.0 / counts[labels]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = GreyNet(data.num_classes)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
    net.train()
    t0, correct, seen = time.perf_counter(), 0, 0
    for step in range(steps):
        # 1. a batch of crops of training textures, classes evenly
        pick = torch.multinomial(weights, batch, replacement=True, generator=gen)
        x = _augment(grey(wrapped_crops(data.images[split.train[pick]], crop, gen), standardise), gen)
        y = labels[pick]
        # 2. loss and step
        logits = net(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        correct += int((logits.argmax(1) == y).sum())
        seen += batch
        if (step + 1) % max(1, steps // 6) == 0 or step + 1 == steps:
            log(f"step {step + 1}/{steps}: loss {float(loss.detach()):.3f}, training-crop accuracy {correct / seen:.1%} "
                f"({time.perf_counter() - t0:.0f} s)")
            correct = seen = 0
    return net.eval()


@torch.no_grad()
def predict(net: GreyNet, crops: torch.Tensor, standardise: bool = True, batch: int = 256) -> torch.Tensor:
    """(N, 3, H, W) uint8 crops -> (N,) predicted classes."""
    net.eval()
    return torch.cat([net(grey(crops[i:i + batch], standardise)).argmax(1) for i in range(0, len(crops), batch)])


def held_out_crops(data: ImageSet, split: Split, crop: int, per_texture: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """per_texture random wrapped crops of every held-out texture, and their classes."""
    gen = torch.Generator().manual_seed(seed + 1)
    idx = split.held.repeat_interleave(per_texture)
    return wrapped_crops(data.images[idx], crop, gen), data.labels[idx]


def scores(pred: torch.Tensor, truth: torch.Tensor, names) -> dict:
    """Per class: accuracy, count, and what its crops were taken for."""
    out = {}
    for c, name in enumerate(names):
        m = truth == c
        if not bool(m.any()):
            continue
        taken = torch.bincount(pred[m], minlength=len(names))
        out[name] = {"accuracy": round(float((pred[m] == c).float().mean()), 4), "crops": int(m.sum()),
                     "taken_for": {names[k]: int(v) for k, v in enumerate(taken) if v}}
    return out


def generated_crops(engine, classes: int, side: int, crop: int, per_class: int, canvases: int,
                    seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """per_class wrapped crops of `canvases` tiling canvases (seeds 0...) of each class."""
    gen = torch.Generator().manual_seed(seed + 2)
    xs, ys = [], []
    for c in range(classes):
        paints = torch.stack([torch.from_numpy(engine.render(engine.field(s, side, side), c, "both").image).permute(2, 0, 1)
                              for s in range(canvases)])
        pick = torch.randint(0, canvases, (per_class,), generator=gen)
        xs.append(wrapped_crops(paints[pick], crop, gen))
        ys.append(torch.full((per_class,), c))
    return torch.cat(xs), torch.cat(ys)


def report(net: GreyNet, data: ImageSet, split: Split, crop: int, per_texture: int, seed: int, standardise: bool,
           fake: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict:
    """Held-out real accuracy per class and, given (crops, classes) of a generator, theirs beside it."""
    names = list(data.class_names)
    xr, yr = held_out_crops(data, split, crop, per_texture, seed)
    real = scores(predict(net, xr, standardise), yr, names)
    out = {"real_held_out": real, "real_mean_of_classes": round(float(np.mean([v["accuracy"] for v in real.values()])), 4)}
    if fake is not None:
        gen = scores(predict(net, fake[0], standardise), fake[1], names)
        out["generated"] = gen
        out["generated_mean_of_classes"] = round(float(np.mean([v["accuracy"] for v in gen.values()])), 4)
        out["passes_bar"] = all(v["accuracy"] >= BAR for v in gen.values())
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="example: python -m attn_demo.quality.grey_classifier --data data/textures "
                                       "--weights weights/textures64 --out docs/grey_classifier_textures64.json")
    p.add_argument("--data", type=Path, required=True, help="texture folder, one sub-folder per class")
    p.add_argument("--weights", type=Path, default=None, help="a canvas model to score (omit: real crops only)")
    p.add_argument("--out", type=Path, default=None, help="write the report (JSON) here")
    p.add_argument("--size", type=int, default=256, help="load the textures at this side, px (default 256)")
    p.add_argument("--crop", type=int, default=64, help="crop side, px (default 64: the canvas model's crop)")
    p.add_argument("--holdout", type=float, default=0.25, help="share of each class's textures held out whole (0.25)")
    p.add_argument("--steps", type=int, default=600, help="training steps of 64 crops (default 600)")
    p.add_argument("--per-texture", type=int, default=16, help="crops of each held-out texture scored (16)")
    p.add_argument("--per-class", type=int, default=256, help="generated crops per class (256)")
    p.add_argument("--canvases", type=int, default=32, help="canvases per class they are cut from (32)")
    p.add_argument("--keep-tone", action="store_true", help="do not standardise crops (brightness and contrast stay)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from ..imaging.folders import load_folder
    data = load_folder(args.data, args.size)
    if data.labels is None or data.num_classes < 2:
        raise SystemExit(f"{args.data}: give a folder with one sub-folder per class (at least two)")
    standardise = not args.keep_tone
    split = split_textures(data.labels, args.holdout, args.seed)
    print(f"{len(data)} textures, {data.num_classes} classes: {len(split.train)} to train on, {len(split.held)} held out whole")
    t0, c0 = time.perf_counter(), time.process_time()
    net = train_grey(data, split, args.crop, args.steps, seed=args.seed, standardise=standardise)
    train_s = time.perf_counter() - t0
    fake = None
    if args.weights is not None:
        from ..serving.canvas import CanvasEngine
        engine = CanvasEngine.from_pretrained(args.weights, device="cpu")
        if list(engine.class_names) != list(data.class_names):
            raise SystemExit(f"the model's classes {engine.class_names} are not the data's {data.class_names}")
        side = args.size - args.size % engine.cell
        fake = generated_crops(engine, data.num_classes, side, args.crop, args.per_class, args.canvases, args.seed)
    rep = report(net, data, split, args.crop, args.per_texture, args.seed, standardise, fake)
    rep.update({"data": str(args.data), "weights": str(args.weights) if args.weights else None, "crop": args.crop,
                "standardised": standardise, "holdout": args.holdout, "textures_train": len(split.train),
                "textures_held_out": len(split.held), "steps": args.steps, "seed": args.seed, "bar": BAR,
                "train_wall_s": round(train_s, 1), "cpu_s": round(time.process_time() - c0, 1), "threads": args.threads,
                "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})
    print(f"{'class':>13}  held-out real  generated")
    for name, r in rep["real_held_out"].items():
        g = rep.get("generated", {}).get(name)
        print(f"{name:>13}  {r['accuracy']:12.1%}  " + (f"{g['accuracy']:9.1%}" if g else "        -"))
    print(f"{'mean':>13}  {rep['real_mean_of_classes']:12.1%}  "
          + (f"{rep['generated_mean_of_classes']:9.1%}" if fake is not None else "        -"))
    if args.out:
        args.out.write_text(json.dumps(rep, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
