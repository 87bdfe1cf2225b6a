"""The verbs that intervene on attention (issue #35): intervene (switch off, hide, redirect,
faithfulness on a render of G), d-attention (where D looks from a pixel of a picture, for a
model that ships D's weights), snapshots (a run's kept checkpoints -> the training snapshots a
model ships), timeline (the map, gamma and image at each snapshot) and ab (two models or steps
side by side). The same serving/ code as the studio and the API."""
from __future__ import annotations

import json
from pathlib import Path

from ..checks import check_scale, parse_head
from ..errors import AttnDemoError
from .common import add_model_args, engine_of, existing_file, image_format, write_image
from .images import _add_latent_args, _label

EXAMPLES = {
    "intervene": "python -m attn_demo intervene --weights weights/emoji32 --seed 42 --class 'Smileys & Emotion' "
                 "--action off --layer G16 --out before_after_diff.png --npy diff.npy\n"
                 "  python -m attn_demo intervene --weights weights/emoji32 --seed 42 --action hide "
                 "--brush 8,8,24,16 --out hide.png\n"
                 "  python -m attn_demo intervene --weights weights/emoji32 --seed 42 --action hide "
                 "--brush mask:4:zMw --out hide_left_half.png   # a painted 4 x 4 mask: the left half\n"
                 "  python -m attn_demo intervene --weights weights/emoji32 --seed 42 --action redirect "
                 "--x 11 --y 12 --target 12,20,20,26 --out redirect.png\n"
                 "  python -m attn_demo intervene --weights weights/emoji32 --seed 42 --action faithfulness "
                 "--x 16 --y 12 --k 5 --curve curve.png --out faith.png",
    "snapshots": "python -m attn_demo snapshots --run runs/my_run --out weights/my_model --count 8",
    "timeline": "python -m attn_demo timeline --weights weights/my_model --seed 42 --x 16 --y 12 --out timeline.png",
    "ab": "python -m attn_demo ab --weights weights/emoji32 --b weights/emoji32-additive --seed 42 --x 16 --y 12 "
          "--out ab.png\n  python -m attn_demo ab --weights weights/my_model --step 2000 --b weights/my_model@8000 "
          "--seed 42 --out ab.png",
    "d-attention": "python -m attn_demo d-attention --weights runs/my_run/export --image cat.png --x 16 --y 12 "
                   "--class 1 --out d_maps.png",
}


def register(command) -> None:
    from ..serving.faithfulness import MAX_DRAWS
    from ..serving.surgery import ACTIONS
    p = command("intervene", "Edit one attention layer of a render and re-render: before, after, difference.")
    add_model_args(p)
    p.add_argument("--seed", type=int, required=True, help="seed (0..2**32-1)")
    _add_latent_args(p)
    p.add_argument("--action", required=True, choices=ACTIONS,
                   help="off: attention output 0 (the layer; with --x/--y the pixel; with --brush the brushed "
                        "pixels); hide: remove --brush's key cells from every pixel's softmax; redirect: the "
                        "pixel (--x/--y) or --brush attends only to --target; faithfulness: the pixel's k "
                        "brightest key cells removed vs k random cells")
    p.add_argument("--layer", default=None, help="attention layer, e.g. G16 (default: the last one)")
    p.add_argument("--x", type=int, default=None, help="pixel column of the click in the image")
    p.add_argument("--y", type=int, default=None, help="pixel row of the click in the image")
    p.add_argument("--brush", default=None, metavar="X0,Y0,X1,Y1|mask:N:BITS",
                   help="a rectangle of image pixels x0 <= x < x1, y0 <= y < y1, or a painted mask mask:N:BITS "
                        "(an N x N grid over the image, 8 cells a byte, base64url: what the studio's free-hand "
                        "brush paints, in its link and state) (off, redirect: whose attention; hide: what is "
                        "hidden)")
    p.add_argument("--target", default=None, metavar="X0,Y0,X1,Y1|mask:N:BITS",
                   help="redirect: the region to look at, a rectangle or a painted mask as --brush")
    p.add_argument("--k", type=int, default=5, help="faithfulness: key cells removed")
    p.add_argument("--draws", type=int, default=8, help=f"faithfulness: draws of k random cells (1..{MAX_DRAWS})")
    p.add_argument("--head", default="mean", help="faithfulness: the map whose order is tested, a head or 'mean'")
    p.add_argument("--curve", type=Path, default=None,
                   help="faithfulness: also draw the deletion curve to this .png (cells removed in the map's "
                        "order vs at random)")
    p.add_argument("--scale", type=int, default=8, help="upscale factor of the pictures (1..32)")
    p.add_argument("--npy", type=Path, default=None,
                   help="also save the raw difference after - before, (R, R, 3) float32 grey levels, as .npy")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.add_argument("--out", type=Path, required=True, help="before | after | difference: a .png, .jpg or .webp")
    p.set_defaults(run=cmd_intervene)

    p = command("d-attention", "Where the discriminator's attention looks from a pixel of a picture, and D's score "
                               "(models whose directory holds discriminator.safetensors).")
    add_model_args(p)
    p.add_argument("--image", type=Path, required=True, help="PNG, JPEG or WebP (centre-cropped and resized)")
    p.add_argument("--x", type=int, required=True, help="pixel column in the image at D's resolution")
    p.add_argument("--y", type=int, required=True, help="pixel row")
    p.add_argument("--class", dest="label", default=None, help="the image's class (class-conditional D)")
    p.add_argument("--head", default="mean", help="head index, or 'mean'")
    p.add_argument("--scale", type=int, default=8, help="upscale factor of the overlays (1..32)")
    p.add_argument("--json", action="store_true", help="print the maps and the score as JSON")
    p.add_argument("--out", type=Path, required=True, help="one overlay per D layer, side by side: .png, .jpg, .webp")
    p.set_defaults(run=cmd_d_attention)

    p = command("snapshots", "Write about --count EMA generator snapshots from a run's kept checkpoints beside "
                             "the model exported from it (snapshots.safetensors), for the timeline and A/B.")
    p.add_argument("--run", dest="run_dir", type=Path, required=True, help="the training run directory (its checkpoints/ kept "
                                                            "with --keep-every)")
    p.add_argument("--out", type=Path, required=True, help="the model directory exported from that run")
    p.add_argument("--count", type=int, default=8, help="snapshots to keep, spread evenly over the kept steps")
    p.set_defaults(run=cmd_snapshots)

    for verb, text in (("timeline", "The map at a pixel, gamma and the image at each training snapshot a model "
                                    "ships (or at one --step), one row a step."),
                       ("ab", "Two models, or two snapshots, side by side: the same seed, class and click.")):
        p = command(verb, text)
        add_model_args(p)
        p.add_argument("--step", type=int, default=None,
                       help="a snapshot's training step (timeline: only that one; ab: A at that step)")
        if verb == "ab":
            p.add_argument("--b", required=True, metavar="DIR[@STEP]",
                           help="B: a model directory, or a snapshot of one as DIR@STEP")
        p.add_argument("--seed", type=int, required=True, help="seed (0..2**32-1)")
        _add_latent_args(p)
        p.add_argument("--x", type=int, default=None, help="pixel column of the click in the image (default: "
                                                           "the middle)")
        p.add_argument("--y", type=int, default=None, help="pixel row of the click")
        p.add_argument("--layer", default=None, help="attention layer, e.g. G16 (default: the last one)")
        p.add_argument("--head", default="mean", help="head index, or 'mean'")
        p.add_argument("--scale", type=int, default=8, help="upscale factor of the pictures (1..32)")
        p.add_argument("--json", action="store_true", help="print each step's gamma and map numbers as JSON")
        p.add_argument("--out", type=Path, required=True, help="the picture: .png, .jpg or .webp")
        p.set_defaults(run=cmd_timeline if verb == "timeline" else cmd_ab)


def _click(args):
    if (args.x is None) != (args.y is None):
        raise AttnDemoError("give both --x and --y (the clicked pixel), or neither")
    return None if args.x is None else (args.x, args.y)


def _box(text, flag, size):
    """--brush / --target: a rectangle or a painted mask (serving/regions.py) -> the image's mask."""
    from ..serving.regions import parse_region, region_mask
    return None if text is None else region_mask(parse_region(text, flag), size, flag)


def cmd_intervene(args) -> None:
    import numpy as np

    from ..serving.engine import RenderArgs
    from ..serving.faithfulness import curve_picture, faithfulness
    from ..serving.surgery import Surgery
    image_format(args.out)
    if args.curve is not None:
        image_format(args.curve, "--curve")
        if args.action != "faithfulness":
            raise AttnDemoError("--curve goes with --action faithfulness")
    scale = check_scale(args.scale)
    pixel = _click(args)
    engine = engine_of(args)
    side = engine.cfg.resolution
    brush, target = _box(args.brush, "--brush", (side, side)), _box(args.target, "--target", (side, side))
    unused = {"off": ["--target"], "hide": ["--target", "--x/--y"], "redirect": [],
              "faithfulness": ["--brush", "--target"]}[args.action]
    given = {"--target": target is not None, "--x/--y": pixel is not None, "--brush": brush is not None}
    extra = [flag for flag in unused if given[flag]]
    if extra:
        raise AttnDemoError(f"--action {args.action} takes no {', '.join(extra)}")
    result = engine.render(RenderArgs(args.seed, args.truncation, _label(args, engine.cfg), args.sliders))
    surgery = Surgery(engine, result, args.layer)
    faith = None
    if args.action == "off":
        out = surgery.switch_off(pixel, brush)
    elif args.action == "hide":
        if brush is None:
            raise AttnDemoError("--action hide needs --brush: the region to hide")
        out = surgery.hide(brush)
    elif args.action == "redirect":
        if target is None:
            raise AttnDemoError("--action redirect needs --target: the region to look at")
        out = surgery.redirect(target, pixel, brush)
    else:
        if pixel is None:
            raise AttnDemoError("--action faithfulness needs --x and --y: the clicked pixel")
        faith = faithfulness(surgery, *pixel, k=args.k, draws=args.draws, head=parse_head(args.head),
                             curve=args.curve is not None)
        out = faith.surgery
    write_image(out.picture(scale), args.out)
    written = [str(args.out)]
    if args.npy:
        args.npy.parent.mkdir(parents=True, exist_ok=True)
        np.save(args.npy, out.delta)
        written.append(str(args.npy))
    if faith is not None and args.curve is not None:
        write_image(curve_picture(faith), args.curve, "--curve")
        written.append(str(args.curve))
    if args.json:
        print(json.dumps(faith.stats() if faith else out.stats(), indent=2))
    else:
        print(faith.sentence() if faith else out.describe())
    print("wrote " + " and ".join(written))


def cmd_d_attention(args) -> None:
    from ..imaging import draw
    from ..imaging.folders import load_upload
    from ..serving.discriminator import discriminator_view, load_discriminator
    from ..serving.engine import MapSettings
    image_format(args.out)
    scale = check_scale(args.scale)
    D = load_discriminator(args.weights)
    image = load_upload(existing_file(args.image, "--image"), D.cfg.resolution)
    view = discriminator_view(D, image, args.x, args.y, args.label, head=parse_head(args.head))
    settings = MapSettings()
    side = D.cfg.resolution
    tiles = [draw.overlay_picture(image, m.heat.numpy(), scale, settings.alpha, settings.cmap,
                                  (*draw.marker_point(m.x, m.y, (side, side), side * scale), draw.MARKER_COLORS[0],
                                   max(4, side * scale // 48)))
             for m in view.maps]
    write_image(draw.labelled_grid([tiles], [f"D {view.score:+.2f}"], [m.layer for m in view.maps]), args.out)
    print(json.dumps(view.stats(), indent=2) if args.json else view.describe())
    print(f"wrote {args.out}")


def cmd_snapshots(args) -> None:
    from ..training.snapshots import write_snapshots
    steps = write_snapshots(args.run_dir, args.out, args.count)
    print(f"wrote {len(steps)} snapshots (steps {', '.join(map(str, steps))}) to {args.out}/snapshots.safetensors")


def _frames(args, sources):
    """(engine, source) pairs rendered at the arguments' seed, class, sliders and click."""
    import numpy as np

    from ..serving.engine import MapSettings, RenderArgs
    from ..serving.timeline import frame
    scale = check_scale(args.scale)
    out = []
    for engine, source in sources:
        side = engine.cfg.resolution
        click = _click(args) or (side // 2, side // 2)
        settings = MapSettings(args.layer, parse_head(args.head)).checked()
        rargs = RenderArgs(args.seed, args.truncation, _label(args, engine.cfg), args.sliders)
        out.append(frame(engine, source, rargs, click, side, settings, scale))
    return out, np


def _snapshots_of(path):
    from ..serving.engine import Engine
    from ..serving.timeline import Snapshots
    return Snapshots(Engine.from_pretrained(path, device="cpu"))


def cmd_timeline(args) -> None:
    from ..imaging import draw
    from ..models.snapshots import no_snapshot
    from ..serving.timeline import gamma_text, source_text
    image_format(args.out)
    snaps = _snapshots_of(args.weights)
    steps = snaps.steps if args.step is None else [args.step]
    if not snaps.steps or (args.step is not None and args.step not in snaps.steps):
        raise no_snapshot(snaps.base.name, args.step, snaps.steps)
    frames, _ = _frames(args, [(snaps.engine(s), source_text(snaps.base.name, s)) for s in steps])
    scale = check_scale(args.scale)
    rows = [[draw.upscale_nearest(f.image, scale), f.overlay] for f in frames]
    write_image(draw.labelled_grid(rows, [f.source for f in frames], ["image", "map at the click"]), args.out)
    if args.json:
        print(json.dumps([f.info() for f in frames], indent=2))
    else:
        for f in frames:
            print(f"{f.source}: {gamma_text(f.gammas)}; map peak {f.map_stats.get('max_weight', 0):.4f}")
    print(f"wrote {args.out}")


def cmd_ab(args) -> None:
    from ..serving.timeline import ab_picture, check_pair, gamma_text, source_text
    image_format(args.out)
    path_b, at, step_b = str(args.b).rpartition("@") if "@" in str(args.b) else (str(args.b), "", "")
    if at and not step_b.isdigit():
        raise AttnDemoError(f"--b is a model directory or DIR@STEP with a whole step, got {args.b!r}")
    a, b = _snapshots_of(args.weights), _snapshots_of(Path(path_b))
    step_b = int(step_b) if at else None
    pair = [(a.engine(args.step), source_text(a.base.name, args.step)),
            (b.engine(step_b), source_text(b.base.name, step_b))]
    check_pair(pair[0][1], pair[0][0], pair[1][1], pair[1][0])
    frames, _ = _frames(args, pair)
    write_image(ab_picture(*frames), args.out)
    print(json.dumps([f.info() for f in frames], indent=2) if args.json else
          "\n".join(f"{f.source}: {gamma_text(f.gammas)}" for f in frames))
    print(f"wrote {args.out}")
