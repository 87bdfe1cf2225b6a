"""The verbs for your own pictures and data: invert (a picture into a model), index (its training
images' nearest-neighbour index), dataset (a labelled synthetic image set)."""
from __future__ import annotations

import json
from pathlib import Path

from .common import add_model_args, engine_of, existing_file, image_format, in_repo, write_image

EXAMPLES = {
    "invert": "python -m attn_demo invert --weights weights/emoji32 --image my.png --out my_state.json "
              "--png my_inverted.png",
    "index": "python -m attn_demo index --weights weights/emoji32 --data data/emoji",
    "dataset": "python -m attn_demo dataset --weights weights/emoji32 --per-class 500 --out synth/\n"
               "  python -m attn_demo dataset --weights weights/emoji32 --per-class 100 --truncation 0.8 "
               "--classes 'Smileys & Emotion,Food & Drink' --scale 4 --zip synth.zip --out synth_work/",
}


def register(command) -> None:
    from ..serving.invert import CLASSES, RESTARTS, STEPS
    p = command("invert", "Find the latent and class whose render is closest to a picture; write a state .json.")
    add_model_args(p)
    p.add_argument("--image", type=Path, required=True, help="PNG, JPEG or WebP (centre-cropped and resized)")
    p.add_argument("--out", type=Path, required=True, help="the state .json (load it in the studio's import)")
    p.add_argument("--png", type=Path, default=None, help="also save the inverted render as a PNG")
    p.add_argument("--feature-net", type=in_repo, default="weights/feature_net",
                   help="the feature net for the perceptual term and the class ranking ('none': pixels only)")
    p.add_argument("--steps", type=int, default=STEPS, help="Adam steps")
    p.add_argument("--restarts", type=int, default=RESTARTS, help="random starts, optimised together")
    p.add_argument("--classes", type=int, default=CLASSES, help="the feature net's top guesses to try")
    p.add_argument("--seed", type=int, default=0, help="seed of the random starts")
    p.set_defaults(run=cmd_invert)

    p = command("index", "Build the nearest-training-image index that ships beside a model, and its card's report.")
    add_model_args(p)
    p.add_argument("--data", type=in_repo, required=True, help="the image folder the model was trained on")
    p.add_argument("--features", type=in_repo, default="weights/feature_net", help="feature-net directory")
    p.add_argument("--n", type=int, default=1000, help="samples for the report on nearest-neighbour distances")
    p.add_argument("--force", action="store_true",
                   help="rebuild an index that is up to date (the same images, feature net and --n)")
    p.set_defaults(run=cmd_index)

    p = command("dataset", "Write a labelled synthetic image set: a folder per class, labels.csv, manifest.json.")
    add_model_args(p)
    p.add_argument("--per-class", type=int, required=True, help="images per class")
    p.add_argument("--out", type=Path, required=True,
                   help="the folder (with --zip: the work folder the zip is packed from)")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI", help="truncation psi (0..1)")
    p.add_argument("--classes", default="", help="comma-separated class names (default: every class)")
    p.add_argument("--sliders", default="", help="slider offsets, e.g. 1,0,-1")
    p.add_argument("--scale", type=int, default=1, help="PNG size: the native resolution times this (1..16)")
    p.add_argument("--seed-start", type=int, default=0, help="the first seed")
    p.add_argument("--zip", type=Path, default=None, help="also pack everything into this zip file")
    p.add_argument("--force", action="store_true", help="write into a non-empty folder, replace a zip")
    p.set_defaults(run=cmd_dataset)


def cmd_invert(args) -> None:
    from tqdm import tqdm
    from ..models.checkpoint import atomic_write
    from ..serving.engine import RenderArgs
    from ..serving.invert import invert
    from ..imaging.folders import load_upload
    from ..studio.view import View, state_dict
    existing_file(args.image, "--image")
    if args.png is not None:
        image_format(args.png, "--png")
    engine = engine_of(args)
    net = None
    if str(args.feature_net).lower() != "none":
        from ..quality.feature_net import load_feature_net
        net = load_feature_net(args.feature_net).eval()
    target = load_upload(args.image, engine.cfg.resolution)
    with tqdm(total=args.steps, desc="inverting", unit="step") as bar:
        def progress(p):
            bar.n = round(p * args.steps)
            bar.refresh()
        out = invert(engine, target, net, args.steps, args.restarts, args.classes, seed=args.seed, progress=progress)
    label = engine.class_names[out.class_index] if out.class_index is not None else None
    view = View(engine.name, RenderArgs(seed=0, psi=1.0, label=label, latent=tuple(out.z.tolist())))
    state = state_dict(view, engine.weights_sha256)
    state["inversion"] = {"source": args.image.name, "psnr_db": round(out.psnr, 2),
                          "feature_distance": round(out.feature_distance, 4), "steps": out.steps,
                          "restarts": out.restarts, "seconds": round(out.seconds, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, (json.dumps(state, indent=2) + "\n").encode())
    if args.png is not None:
        write_image(engine.render(view.args).image, args.png, "--png")
    if out.psnr < 14:
        print("note: a poor match (PSNR < 14 dB): the model draws emoji-like pictures; photos do not invert well")
    print(f"class {label!r}, PSNR {out.psnr:.1f} dB, feature distance {out.feature_distance:.3f}, "
          f"{out.seconds:.1f} s; wrote {args.out}" + (f" and {args.png}" if args.png else ""))


def cmd_dataset(args) -> None:
    from tqdm import tqdm
    from ..checks import parse_numbers
    from ..serving.dataset import export_dataset, plan_dataset
    engine = engine_of(args)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    plan = plan_dataset(engine, args.per_class, args.truncation, classes, parse_numbers("sliders", args.sliders),
                        args.scale, args.seed_start)
    total = len(plan.files())
    with tqdm(total=total, desc="writing", unit="img") as bar:
        def progress(p):
            bar.n = round(p * total)
            bar.refresh()
        where = export_dataset(engine, plan, args.out, args.force, progress, args.zip)
    print(f"{total} images of {len(plan.classes)} class(es) from {engine.name} (psi {plan.psi:g}); wrote {where}")


def _up_to_date(model_dir: Path, meta: dict, n: int) -> str | None:
    """The report's table, where the index beside the model was built from these very images (by
    content, wherever the folder lies) with this feature net and the report from n samples."""
    from ..errors import CheckpointError
    from ..quality.neighbours import REPORT_FILE, load_index
    try:
        index = load_index(model_dir)
        report = json.loads((model_dir / REPORT_FILE).read_text())
    except (CheckpointError, OSError, ValueError):
        return None
    same = index is not None and all(index.meta.get(k) == str(v) for k, v in meta.items() if k != "data")
    return report.get("table") if same and report.get("samples", {}).get("n") == n else None


def cmd_index(args) -> None:
    """An image model indexes its training images; a canvas model the grid crops of its textures
    (the crops it trained on), with whole textures held out for the report."""
    from ..quality.feature_net import load_feature_net
    from ..quality.neighbours import (build_index, distance_report, grid_crops, index_meta, sample_images,
                                      save_index, write_report)
    from ..imaging.folders import load_folder
    from ..training.publish import portable_path, write_card
    from ..quality.canvas import load_textures
    from ..serving.canvas import CanvasEngine
    engine = engine_of(args, canvas_ok=True)
    net = load_feature_net(args.features).eval()
    canvas = isinstance(engine, CanvasEngine)
    if canvas:
        data = load_textures(args.weights, engine, args.data)
        images, labels, groups = grid_crops(data.images, data.labels, engine.cfg.resolution)
    else:
        data = load_folder(args.data, engine.cfg.resolution, unconditional=not engine.cfg.num_classes)
        images, labels, groups = data.images, data.labels, None
    meta = {**index_meta(data, args.features), "crops": str(engine.cfg.resolution) if canvas else "",
            "data": portable_path(args.data, home=None)}
    table = None if args.force else _up_to_date(args.weights, meta, args.n)
    if table is not None:        # rebuilding would write the same index in new bytes (thread counts move floats)
        print(f"{args.weights}'s index and report are up to date (the same images, feature net and --n): "
              f"kept; --force rebuilds them\n{table}")
        return
    index = build_index(net, images, labels, meta)
    path = save_index(args.weights, index)
    what = f"grid crops of {len(data)} textures" if canvas else "training images"
    print(f"{len(index)} {what} indexed: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    report = distance_report(net, sample_images(engine, labels, args.n), images, groups)
    table = write_report(args.weights, {**report, "unit": "crops" if canvas else "images"})
    print(table)
    write_card(args.weights)
