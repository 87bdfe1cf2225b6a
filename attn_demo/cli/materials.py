"""The verb that makes a full material set from a canvas model: material (a zip of maps, a GLB)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import AttnDemoError
from .common import add_model_args, engine_of

EXAMPLES = {
    "material": "python -m attn_demo material --weights weights/textures64 --seed 7 --class paving "
                "--width 1024 --height 1024 --tile both --out paving.zip\n"
                "  python -m attn_demo material --weights weights/textures64 --seed 7 --class paving "
                "--width 512 --height 512 --glb paving.glb --shape sphere --repeat 2",
}


def register(command) -> None:
    from ..serving.glb import MAX_REPEAT, SHAPES
    from ..serving.material_set import HELP, LIMITS, Strengths
    p = command("material", "Paint a canvas and derive its material set: albedo, height (16-bit), normals "
                            "(OpenGL and DirectX), roughness and AO, as a zip with material.json; and/or a GLB.")
    add_model_args(p)
    p.add_argument("--seed", type=int, required=True, help="seed (0..2**32-1)")
    p.add_argument("--class", dest="label", default=None, help="surface class name or index (default: class 0)")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI", help="pull the latents toward the mean")
    p.add_argument("--width", type=int, default=None, help="width in pixels, a multiple of the latent cell "
                                                          "(default: the model's crop size)")
    p.add_argument("--height", type=int, default=None, help="height in pixels (the same rules)")
    p.add_argument("--tile", choices=["both", "x", "none"], default="both",
                   help="tile in both axes, in x only (a band) or not at all; every map tiles the same way")
    defaults = Strengths()
    for name, (lo, hi) in LIMITS.items():
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(defaults, name),
                       help=f"{HELP[name]}, {lo:g}..{hi:g}")
    p.add_argument("--out", type=Path, default=None, help="the material set: a .zip of PNG maps and material.json")
    p.add_argument("--glb", type=Path, default=None, help="also (or only) the material on an object, as a .glb")
    p.add_argument("--shape", choices=SHAPES, default="sphere",
                   help="the GLB's object; surround: a band on a cylinder seen from inside")
    p.add_argument("--repeat", type=int, default=1, help=f"the GLB's tiling factor, 1..{MAX_REPEAT}")
    p.set_defaults(run=cmd_material)


def cmd_material(args: argparse.Namespace) -> None:
    from ..serving import glb, material_set
    if args.out is None and args.glb is None:
        raise AttnDemoError("give --out set.zip, --glb object.glb or both")
    if args.out is not None and args.out.suffix.lower() != ".zip":
        raise AttnDemoError(f"--out is a .zip, got {args.out.name!r}")
    if args.glb is not None and args.glb.suffix.lower() != ".glb":
        raise AttnDemoError(f"--glb is a .glb file, got {args.glb.name!r}")
    strengths = material_set.Strengths(**{k: getattr(args, k) for k in material_set.LIMITS}).checked()
    engine = engine_of(args, canvas_ok=True, image_ok=False)
    if args.glb is not None:
        glb.check_shape(args.shape, args.repeat, args.tile)          # before the canvas is painted
    side = engine.cfg.resolution
    label = 0 if args.label is None and engine.cfg.num_classes else args.label
    mat = material_set.canvas_material(engine, args.seed, args.width or side, args.height or side, args.tile,
                                       args.truncation, label, strengths)
    if args.glb is not None:
        glb.check_glb_args(mat, args.shape, args.repeat)           # before any file is written
    written = []
    if args.out is not None:
        written.append(material_set.write_zip(mat, args.out))
    if args.glb is not None:
        written.append(glb.write_glb(mat, args.glb, args.shape, args.repeat))
    w, h = mat.size
    print(json.dumps({"model": mat.meta["model"], "seed": mat.meta["seed"], "surface": mat.meta["surface"],
                      "size": [w, h], "tiling": mat.tiling}))
    print("wrote " + " and ".join(str(p) for p in written))
