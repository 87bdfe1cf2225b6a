"""The verbs that use a trained model: generate, probe, info (the same Engine as the studio)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..checks import check_scale, parse_head, parse_numbers, parse_seeds
from ..errors import AttnDemoError
from .common import add_model_args, arg_type, engine_of, image_format, write_image

EXAMPLES = {
    "generate": "python -m attn_demo generate --weights weights/emoji32 --seed 42 --truncation 0.7 "
                "--class 'Animals & Nature' --out img.png\n"
                "  python -m attn_demo generate --weights weights/emoji32 --seeds 0-15 --grid --out grid.png",
    "probe": "python -m attn_demo probe --weights weights/emoji32 --seed 42 --x 31 --y 12 "
             "--mode looks-at --out overlay.png",
    "info": "python -m attn_demo info --weights weights/emoji32",
}


def _sliders(text: str) -> tuple[float, ...]:
    return parse_numbers("sliders", text)


def _add_latent_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="pull z toward the mean: 1 = full variety, 0.5 = cleaner, more typical")
    p.add_argument("--class", dest="label", default=None,
                   help="class name or index (class-conditional models only; default: class 0)")
    p.add_argument("--sliders", type=arg_type(_sliders), default=(),
                   help="offsets along the model's slider directions, in std devs, e.g. 1,0,-1 "
                        "(each within its slider's range: see info)")


def _label(args, cfg):
    """--class as given; left out, class 0 for a class-conditional model (as its help says)."""
    return 0 if args.label is None and cfg.num_classes else args.label


def register(command) -> None:
    p = command("generate", "Render images from seeds.")
    add_model_args(p)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--seed", type=int, help="one seed (0..2**32-1)")
    group.add_argument("--seeds", type=arg_type(parse_seeds), help="several seeds: 0-15 or 1,5,9")
    _add_latent_args(p)
    p.add_argument("--grid", action="store_true", help="with --seeds: one grid image instead of one file each")
    p.add_argument("--width", type=int, help="texture models: width in pixels (a multiple of the latent cell)")
    p.add_argument("--height", type=int, help="texture models: height in pixels")
    p.add_argument("--tile", choices=["both", "x", "none"],
                   help="texture models: tile in both axes (default), in x only (a band) or not at all")
    p.add_argument("--scale", type=int, default=1, help="nearest-neighbour upscale factor (1..32)")
    p.add_argument("--out", type=Path, required=True,
                   help="a .png, .jpg or .webp file (the suffix picks the format); with --seeds and no --grid, "
                        "a directory for seedNNNNN.png files")
    p.set_defaults(run=cmd_generate)

    p = command("probe", "Overlay the attention map of one pixel on a generated image.")
    add_model_args(p)
    p.add_argument("--seed", type=int, required=True, help="seed (0..2**32-1)")
    _add_latent_args(p)
    p.add_argument("--x", type=int, required=True, help="pixel column in the generated image")
    p.add_argument("--y", type=int, required=True, help="pixel row in the generated image")
    p.add_argument("--layer", default=None, help="attention layer, e.g. G16 (default: the last one)")
    p.add_argument("--head", default="mean", help="head index, or 'mean' for the average of all heads")
    p.add_argument("--mode", default="looks-at", choices=["looks-at", "looked-at-by"],
                   help="looks-at: where this pixel looks; looked-at-by: which pixels look here")
    p.add_argument("--scale", type=int, default=8, help="upscale factor of the overlay (1..32)")
    p.add_argument("--opacity", type=float, default=0.6, help="heat map opacity (0..1)")
    p.add_argument("--cmap", default="inferno", help="matplotlib colormap")
    p.add_argument("--npy", type=Path, default=None, help="also save the raw map as .npy")
    p.add_argument("--out", type=Path, required=True, help="the overlay: a .png, .jpg or .webp file")
    p.set_defaults(run=cmd_probe)

    p = command("info", "Show a model's config, parameter count and attention gammas.")
    add_model_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_info)


def cmd_generate(args) -> None:
    from ..imaging import draw
    from ..serving.canvas import CanvasEngine
    from ..serving.engine import RenderArgs
    scale = check_scale(args.scale)
    if args.seed is not None or args.grid:
        image_format(args.out)                   # a suffix we cannot write: refused before rendering
    engine = engine_of(args, canvas_ok=True)
    if isinstance(engine, CanvasEngine):
        return _generate_canvas(args, scale, engine)
    if args.width or args.height or args.tile:
        raise AttnDemoError("--width, --height and --tile are for texture models (config kind 'canvas')")
    seeds = [args.seed] if args.seed is not None else args.seeds
    if args.grid and args.seed is not None:
        raise AttnDemoError("--grid goes with --seeds")
    label, images = _label(args, engine.cfg), []
    for start in range(0, len(seeds), 64):
        batch = [RenderArgs(s, args.truncation, label, args.sliders) for s in seeds[start:start + 64]]
        images.extend(engine.render_many(batch)[0])
    if args.grid:
        images = [draw.image_grid(images)]
    _save(images, seeds, args, scale, "images")


def _save(pictures: list, seeds: list, args, scale: int, what: str) -> None:
    """One picture (--seed, or a --grid) to --out, or one file per seed in the folder --out."""
    from ..imaging import draw
    if args.seed is not None or args.grid:
        write_image(draw.upscale_nearest(pictures[0], scale), args.out)
        print(f"wrote {args.out}")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for seed, img in zip(seeds, pictures):
        write_image(draw.upscale_nearest(img, scale), args.out / f"seed{seed:05d}.png")
    print(f"wrote {len(pictures)} {what} to {args.out}/")


def _generate_canvas(args, scale: int, engine) -> None:
    """A canvas model (its CanvasEngine): one canvas per seed, args.width x args.height, tiling as asked."""
    from ..serving.canvas import render_canvas
    if args.grid:
        raise AttnDemoError("--grid is for image models; a texture model paints one canvas per seed")
    G = engine.generator
    side = G.cfg.resolution
    width, height, tile = args.width or side, args.height or side, args.tile or "both"
    seeds = [args.seed] if args.seed is not None else args.seeds
    label = _label(args, G.cfg)
    pictures = [render_canvas(G, s, width, height, tile, args.truncation, label) for s in seeds]
    _save(pictures, seeds, args, scale, f"canvases of {width} x {height} (tiling {tile})")


def cmd_probe(args) -> None:
    import numpy as np

    from ..serving.engine import MapSettings, RenderArgs
    image_format(args.out)
    engine = engine_of(args)
    settings = MapSettings(args.layer, parse_head(args.head), args.mode, args.opacity, args.cmap)
    result = engine.render(RenderArgs(args.seed, args.truncation, _label(args, engine.cfg), args.sliders))
    out = engine.inspect(result, args.x, args.y, settings, scale=check_scale(args.scale))
    write_image(out.overlay, args.out)
    if args.npy:
        args.npy.parent.mkdir(parents=True, exist_ok=True)
        np.save(args.npy, out.heat)
    print(out.map.describe())
    print(f"wrote {args.out}" + (f" and {args.npy}" if args.npy else ""))


def cmd_info(args) -> None:
    info = engine_of(args, canvas_ok=True).info()
    if args.json:
        print(json.dumps(info, indent=2))
        return
    cfg = info["config"]
    print(f"model      {info['name']}  ({info['device']})")
    print(f"output     {cfg['resolution']}x{cfg['resolution']}, z_dim {cfg['z_dim']}, "
          f"classes {cfg['num_classes']}" + (f": {', '.join(cfg['class_names'])}" if cfg["class_names"] else ""))
    print(f"generator  {info['parameters']:,} parameters, width {cfg['g_width']}, "
          f"attention at {cfg['g_attn']} with {cfg['heads']} head(s)")
    for name, gamma in info["gamma"].items():
        print(f"gamma      {name}: {gamma:+.4f}")
    print(f"sliders    {info['directions']} direction(s)"
          + (", ranges " + ", ".join(f"±{r:g}" for r in info["slider_ranges"]) if info["slider_ranges"] else ""))
