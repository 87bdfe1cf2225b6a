"""Does a synthetic data set help a classifier? (issue #23, for docs/DATASETS.md)

    python -m attn_demo dataset --weights weights/emoji32 --per-class 500 --out data/synth-emoji32
    python scripts/synthetic_data.py --real data/emoji --synthetic data/synth-emoji32 --steps 600 --seeds 3

For each seed: a stratified 10 % of the real emoji is the training set and the other 90 % the
test set. A small classifier (the feature net's architecture, fresh weights: never the shipped
feature net, which saw every real image) trains for the same number of steps on (a) the 10 %
alone and (b) the 10 % plus the synthetic set; both are scored on the held-out 90 %. Prints the
accuracies, mean +- std over the seeds; `--json` keeps them.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from attn_demo.quality.feature_net import accuracy, train_feature_net
from attn_demo.serving.dataset import folder_name
from attn_demo.imaging.folders import ImageSet, load_folder

BATCH = 128


def split(data: ImageSet, share: float, seed: int) -> tuple[ImageSet, ImageSet]:
    """A stratified `share` of every class for training, the rest for testing."""
    gen = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in range(data.num_classes):
        idx = (data.labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        k = max(1, round(share * len(idx)))
        train.append(idx[:k])
        test.append(idx[k:])
    a, b = torch.cat(train), torch.cat(test)
    pick = lambda i: ImageSet(data.images[i], data.labels[i], data.class_names, data.source)  # noqa: E731
    return pick(a), pick(b)


def train_for_steps(data: ImageSet, steps: int, seed: int):
    per_epoch = max(1, len(data) // BATCH)
    epochs = max(1, round(steps / per_epoch))
    return train_feature_net(data, epochs=epochs, seed=seed, log=lambda *_: None, batch_size=BATCH), epochs * per_epoch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", type=Path, default=Path("data/emoji"))
    ap.add_argument("--synthetic", type=Path, required=True)
    ap.add_argument("--share", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    real = load_folder(args.real, 32)
    synth = load_folder(args.synthetic, 32)
    # `dataset` names its folders for any file system ("Animals & Nature" -> "Animals_Nature")
    if [folder_name(c) for c in real.class_names] != [folder_name(c) for c in synth.class_names]:
        raise SystemExit(f"the synthetic classes {synth.class_names} are not the real ones {real.class_names}")
    rows = {"real only": [], "real + synthetic": []}
    steps_run = {}
    t0 = time.time()
    for seed in range(args.seeds):
        train, test = split(real, args.share, seed)
        mixed = ImageSet(torch.cat([train.images, synth.images]), torch.cat([train.labels, synth.labels]),
                         real.class_names, "mixed")
        for name, data in (("real only", train), ("real + synthetic", mixed)):
            net, steps = train_for_steps(data, args.steps, seed)
            rows[name].append(accuracy(net, test))
            steps_run[name] = steps
            print(f"seed {seed}, {name} ({len(data)} images, {steps} steps): held-out accuracy "
                  f"{rows[name][-1]:.1%} [{time.time() - t0:.0f} s]", flush=True)
    out = {"real_images": len(real), "train_share": args.share, "train_images": len(train), "test_images": len(test),
           "synthetic_images": len(synth), "steps": steps_run, "seeds": args.seeds,
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    for name, acc in rows.items():
        out[name] = {"mean": statistics.fmean(acc), "std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
                     "values": acc}
        print(f"{name}: {out[name]['mean']:.1%} ± {out[name]['std']:.1%}")
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
