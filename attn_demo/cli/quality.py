"""The quality verbs: features (train the feature net behind FID-emoji) and eval (score a model)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import AttnDemoError
from .common import engine_of, in_repo

EMOJI_FEATURES = "weights/feature_net"
TEXTURE_FEATURES = "weights/feature_net_textures"   # FID of texture crops (features --crops 64)

EXAMPLES = {
    "features": "python -m attn_demo features --data data/emoji --out weights/feature_net --epochs 30\n"
                "  python -m attn_demo features --data data/emoji --out weights/feature_net64 --input-size 64\n"
                "  python -m attn_demo features --data data/textures-all --out weights/feature_net_textures "
                "--size 256 --crops 64 --input-size 64",
    "eval": "python -m attn_demo eval --weights weights/emoji32 --data data/emoji --n 1000 --seeds 3\n"
            "  python -m attn_demo eval --weights weights/emoji32 --data data/emoji --no-write\n"
            "  python -m attn_demo eval --weights weights/emoji32 --data data/emoji --size 64 "
            "--features weights/feature_net64",
}


def register(command) -> None:
    p = command("features", "Train the small feature net behind FID-emoji and KID-emoji.")
    p.add_argument("--data", type=in_repo, required=True, help="image folder with one sub-folder per class")
    p.add_argument("--out", type=Path, default=Path("weights/feature_net"), help="feature-net directory")
    p.add_argument("--epochs", type=int, default=30, help="training epochs")
    p.add_argument("--seed", type=int, default=0,
                   help="initialisation, batch order and augmentation seed (default: 0)")
    p.add_argument("--size", type=int, default=64,
                   help="load size; the net resizes everything to --input-size itself, as it does when scoring")
    p.add_argument("--input-size", type=int, default=32,
                   help="the size the net sees: 32 for FID-emoji at 32 px, 64 for models that paint 64 px")
    p.add_argument("--crops", type=int, default=None,
                   help="learn from random crops of this size (wrapping around each image, as canvas training "
                        "cuts them) instead of whole images: the texture feature net, e.g. --crops 64 "
                        "--size 256 --input-size 64")
    p.add_argument("--crops-per-image", type=int, default=16, help="with --crops: crops cut from each image")
    p.set_defaults(run=cmd_features)

    p = command("eval", "Score a model with FID-emoji, KID-emoji and SWD against a real-vs-real baseline.")
    p.add_argument("--weights", type=in_repo, required=True, help="model directory (config.json + model.safetensors)")
    p.add_argument("--data", type=in_repo, required=True, help="the real image folder the model was trained on")
    p.add_argument("--features", type=in_repo, default=None,
                   help=f"feature-net directory (default {EMOJI_FEATURES}; for a texture model "
                        f"{TEXTURE_FEATURES} where it exists, else SWD only)")
    p.add_argument("--n", type=int, default=1000,
                   help="images per side; the real-vs-real baseline takes twice as many real images, so a "
                        "folder of fewer than 2,000 needs a lower --n (at most half its images)")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, ...) to average over")
    p.add_argument("--device", default="auto", help="generator device: auto, cpu or cuda")
    p.add_argument("--size", type=int, default=None,
                   help="score at this size instead of the model's: real images load at it, samples are resized "
                        "to it (a 32-px model's samples upscaled to 64 px, as a baseline); never written")
    p.add_argument("--no-write", action="store_true", help="print only; do not write metrics.json and the card")
    p.set_defaults(run=cmd_eval)


def cmd_features(args) -> None:
    import torch

    from ..models.checkpoint import file_sha256
    from ..imaging.folders import load_folder
    from ..quality.feature_net import accuracy, save_feature_net, train_feature_net
    if args.input_size not in (16, 32, 64, 128):
        raise AttnDemoError(f"--input-size must be 16, 32, 64 or 128, got {args.input_size}")
    if args.size < args.input_size:
        raise AttnDemoError(f"--size {args.size} is below --input-size {args.input_size}: the net would see "
                            "upscaled images")
    data = load_folder(args.data, args.size)
    print(data.report())
    if args.crops is not None:
        from ..quality.canvas import crop_set
        if not args.input_size <= args.crops <= args.size or not 1 <= args.crops_per_image <= 256:
            raise AttnDemoError(f"--crops must be in --input-size..--size ({args.input_size}..{args.size}) and "
                                f"--crops-per-image in 1..256, got {args.crops} and {args.crops_per_image}")
        data = crop_set(data, args.crops, args.crops_per_image, args.seed)
        print(f"{len(data)} crops of {args.crops} px")
    t0, c0 = time.perf_counter(), time.process_time()
    net = train_feature_net(data, epochs=args.epochs, seed=args.seed, input_size=args.input_size)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    acc = accuracy(net, data)
    info = {"data": str(args.data), "data_sha256": data.sha256(), "images": len(data),
            "class_names": list(data.class_names), "epochs": args.epochs, "seed": args.seed,
            "input_size": args.input_size, "crops": args.crops,
            "crops_per_image": args.crops_per_image if args.crops else None,
            "train_accuracy": round(acc, 4), "wall_time_s": round(wall, 1), "cpu_time_s": round(cpu, 1),
            "threads": torch.get_num_threads(), "torch": torch.__version__}
    path = save_feature_net(args.out, net, info)
    print(f"train accuracy {acc:.1%} (no augmentation) after {args.epochs} epochs in {wall:.0f} s "
          f"({cpu:.0f} s CPU); wrote {args.out} (sha256 {file_sha256(path)})")


def cmd_eval(args) -> None:
    from ..models.checkpoint import atomic_write
    from ..imaging.folders import load_folder
    from ..serving.canvas import CanvasEngine
    from ..training.publish import METRICS_FILE, write_card
    if args.seeds < 1:
        raise AttnDemoError(f"--seeds must be >= 1, got {args.seeds}")
    write = not args.no_write
    engine = engine_of(args, canvas_ok=True)
    if isinstance(engine, CanvasEngine):
        result = _eval_canvas(args, engine)
    else:
        size = engine.cfg.resolution if args.size is None else args.size
        if not 8 <= size <= 1024:
            raise AttnDemoError(f"--size must be in 8..1024, got {size}")
        if size != engine.cfg.resolution and write:
            write = False
            print(f"scoring at {size} px, not the model's {engine.cfg.resolution}: printed, not written")
        data = load_folder(args.data, size, unconditional=not engine.cfg.num_classes)
        print(f"{len(data)} real images at {data.resolution} px from {args.data}")
        _check_n(args.n, len(data), args.data)
        from ..quality.metrics import evaluate
        features = eval_features(args.features, canvas=False)
        result = evaluate(engine, data, features, n=args.n, seeds=range(args.seeds), size=size)
    print()
    print(result["table"])
    print()
    print(result["note"])
    if write:
        atomic_write(args.weights / METRICS_FILE, (json.dumps(result, indent=2) + "\n").encode())
        write_card(args.weights)
        print(f"wrote {args.weights / METRICS_FILE} and the model card")


def _check_n(n: int, real: int, folder) -> None:
    """--n against the real images: the baseline scores two disjoint sets of n real images, so
    --n needs 2n of them; say which --n fits (before any sample is rendered)."""
    from ..quality.metrics import MIN_N
    if n > real // 2:
        fit = real // 2
        raise AttnDemoError(f"--n {n} needs {2 * n} real images (two disjoint sets of n for the real-vs-real "
                            f"baseline); {folder} holds {real}: "
                            + (f"pass --n {fit} or lower (fewer images per side: noisier scores)"
                               if fit >= MIN_N else f"scoring takes at least {2 * MIN_N}"))
    if n < MIN_N:
        raise AttnDemoError(f"--n must be at least {MIN_N}, got {n}")


def eval_features(given: Path | None, canvas: bool) -> Path | None:
    """eval's feature net: the one given, else the emoji net for an image model and, for a canvas model,
    the texture net where it exists (None: SWD only)."""
    if given is not None:
        return given
    if not canvas:
        return in_repo(EMOJI_FEATURES)
    textures = in_repo(TEXTURE_FEATURES)
    return textures if (textures / "config.json").exists() else None


def _eval_canvas(args, engine) -> dict:
    """A canvas model (its CanvasEngine): SWD of crops (crop-size renders, crops of 1024² canvases, real vs
    real) and seam ratios (quality/canvas.py); the textures load at the size the model trained on."""
    from ..quality.canvas import evaluate_canvas, load_textures
    from ..quality.feature_net import load_feature_net
    data = load_textures(args.weights, engine, args.data)
    features = eval_features(args.features, canvas=True)
    net = load_feature_net(features) if features else None
    if net is not None and net.cfg.input_size > engine.cfg.resolution:
        raise AttnDemoError(f"{features} sees {net.cfg.input_size}-px images; this model's crops are "
                            f"{engine.cfg.resolution} px")
    return evaluate_canvas(engine, data, n=args.n, seeds=range(args.seeds), features=net)
