"""Command line: python -m attn_demo {generate,probe,info,...} --help.

Every command uses the same Engine as the UI. A user error (bad argument,
bad checkpoint, bad data) prints one line and exits with code 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import AttnDemoError
from .malloc import keep_freed_memory

EXAMPLES = {
    "generate": "python -m attn_demo generate --weights weights/emoji32 --seed 42 --truncation 0.7 "
                "--class 'Animals & Nature' --out img.png\n"
                "  python -m attn_demo generate --weights weights/emoji32 --seeds 0-15 --grid --out grid.png",
    "probe": "python -m attn_demo probe --weights weights/emoji32 --seed 42 --x 31 --y 12 "
             "--mode looks-at --out overlay.png",
    "info": "python -m attn_demo info --weights weights/emoji32",
}


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (and exit code 2, as argparse uses)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults, except the empty ones that say nothing."""

    def _get_help_string(self, action):
        if action.default in (None, False, (), argparse.SUPPRESS) or action.required:
            return action.help
        return super()._get_help_string(action)


def parse_seeds(text: str) -> list[int]:
    """'0-15', '3,7,9' or '1-4,10' -> a list of seeds (at most 256)."""
    from .latents import check_seed
    seeds: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                lo, hi = part.split("-", 1)
                lo, hi = check_seed(int(lo)), check_seed(int(hi))
                if hi < lo or hi - lo >= 256:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(check_seed(int(part)))
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"seeds must look like 0-15 or 1,5,9 (0..2**32-1, at most 256): {text!r}"
            + (f" ({e})" if str(e) else "")) from None
    if len(seeds) > 256:
        raise argparse.ArgumentTypeError("at most 256 seeds at a time")
    return seeds


def parse_sliders(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"sliders must be comma-separated numbers: {text!r}") from None


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", type=Path, required=True, help="model directory (config.json + model.safetensors)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")


def _add_latent_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="pull z toward the mean: 1 = full variety, 0.5 = cleaner, more typical")
    p.add_argument("--class", dest="label", default=None,
                   help="class name or index (class-conditional models only; default: class 0)")
    p.add_argument("--sliders", type=parse_sliders, default=(),
                   help="offsets along the model's slider directions, in std devs, e.g. 1.5,0,-2")


def build_parser() -> Parser:
    parser = Parser(prog="python -m attn_demo", description="attn-demo: a self-attention GAN studio.",
                    formatter_class=Formatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(name: str, help: str):
        return sub.add_parser(name, help=help, description=help, formatter_class=Formatter,
                              epilog="example:\n  " + EXAMPLES[name] if name in EXAMPLES else None)

    p = command("generate", "Render images from seeds.")
    _add_model_args(p)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--seed", type=int, help="one seed (0..2**32-1)")
    group.add_argument("--seeds", type=parse_seeds, help="several seeds: 0-15 or 1,5,9")
    _add_latent_args(p)
    p.add_argument("--grid", action="store_true", help="with --seeds: one grid image instead of one file each")
    p.add_argument("--scale", type=int, default=1, help="nearest-neighbour upscale factor (1..32)")
    p.add_argument("--out", type=Path, required=True,
                   help="PNG file; with --seeds and no --grid, a directory for seedNNNNN.png files")
    p.set_defaults(run=cmd_generate)

    p = command("probe", "Overlay the attention map of one pixel on a generated image.")
    _add_model_args(p)
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
    p.add_argument("--out", type=Path, required=True, help="overlay PNG")
    p.set_defaults(run=cmd_probe)

    p = command("info", "Show a model's config, parameter count and attention gammas.")
    _add_model_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_info)

    from . import commands  # training-side commands: data, train, export, ...
    EXAMPLES.update(commands.EXAMPLES)
    commands.register(command)
    return parser


def _engine(args):
    from .engine import Engine
    return Engine.from_pretrained(args.weights, device=args.device)


def cmd_generate(args) -> None:
    from . import render
    from .engine import RenderArgs
    engine = _engine(args)
    seeds = [args.seed] if args.seed is not None else args.seeds
    if args.grid and args.seed is not None:
        raise AttnDemoError("--grid goes with --seeds")
    images = []
    for start in range(0, len(seeds), 64):
        batch = [RenderArgs(s, args.truncation, args.label, args.sliders) for s in seeds[start:start + 64]]
        images.extend(engine.render_many(batch)[0])
    scale = _scale(args.scale)
    if args.grid or args.seed is not None:
        picture = render.image_grid(images) if args.grid else images[0]
        _write_png(render.upscale_nearest(picture, scale), args.out)
        print(f"wrote {args.out}")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for seed, img in zip(seeds, images):
        _write_png(render.upscale_nearest(img, scale), args.out / f"seed{seed:05d}.png")
    print(f"wrote {len(images)} images to {args.out}/")


def cmd_probe(args) -> None:
    import numpy as np
    from .engine import RenderArgs
    engine = _engine(args)
    head = None if args.head == "mean" else _int(args.head, "--head")
    result = engine.render(RenderArgs(args.seed, args.truncation, args.label, args.sliders))
    out = engine.inspect(result, args.x, args.y, layer=args.layer, head=head, mode=args.mode,
                         scale=_scale(args.scale), alpha=args.opacity, cmap=args.cmap)
    _write_png(out.overlay, args.out)
    if args.npy:
        args.npy.parent.mkdir(parents=True, exist_ok=True)
        np.save(args.npy, out.heat)
    s = out.stats
    print(f"{s['layer']} gamma={s['gamma']:+.4f} mode={s['mode']} head={s['head']} "
          f"cell={tuple(s['cell'])} entropy={s['entropy_nats']:.3f} nats "
          f"({100 * s['entropy_norm']:.0f}% of uniform) mean distance={s['mean_distance_px']:.2f} px")
    print(f"wrote {args.out}" + (f" and {args.npy}" if args.npy else ""))


def cmd_info(args) -> None:
    info = _engine(args).info()
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
    print(f"sliders    {info['directions']} direction(s)")


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise AttnDemoError(f"{name} must be an integer or 'mean', got {text!r}") from None


def _scale(scale: int) -> int:
    if not 1 <= scale <= 32:
        raise AttnDemoError(f"--scale must be in 1..32, got {scale}")
    return scale


def _write_png(img, path: Path) -> None:
    from . import render
    path.parent.mkdir(parents=True, exist_ok=True)
    render.save_png(img, path)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    keep_freed_memory()
    try:
        args.run(args)
    except AttnDemoError as e:
        print(f"{parser.prog} {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
