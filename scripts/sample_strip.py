"""Training runs' fixed-seed sample grids side by side, each under its label: one picture to
compare runs or steps (the grids every run writes to RUN/samples/step-NNNNNNN.png).

    python scripts/sample_strip.py --out assets/emoji64_long_run.png \
        "1,500=runs64/freeze1000/samples/step-0001500.png" "3,000=runs64/freeze1000/samples/step-0003000.png"

LABEL=RUN:STEP stands for RUN/samples/step-STEP.png: "held, 2,500=runs64/hold:2500".
"""
from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

LABEL_H, GAP = 22, 10


def grid_path(spec: str) -> tuple[str, Path]:
    label, _, where = spec.rpartition("=")
    if not label:
        raise SystemExit(f"give LABEL=PATH or LABEL=RUN:STEP, got {spec!r}")
    run, _, step = where.rpartition(":")
    path = Path(run) / "samples" / f"step-{int(step):07d}.png" if step.isdigit() and run else Path(where)
    if not path.is_file():
        raise SystemExit(f"no sample grid at {path}")
    return label, path


def strip(items: list[tuple[str, Path]], scale: int = 1) -> Image.Image:
    grids = [Image.open(p).convert("RGB") for _, p in items]
    grids = [g.resize((g.width * scale, g.height * scale), Image.NEAREST) for g in grids]
    w, h = max(g.width for g in grids), max(g.height for g in grids)
    out = Image.new("RGB", (len(grids) * (w + GAP) - GAP, h + LABEL_H), "white")
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=13)
    for i, ((label, _), g) in enumerate(zip(items, grids)):
        x = i * (w + GAP)
        draw.text((x + 2, 3), label, fill=(20, 20, 20), font=font)
        out.paste(g, (x, LABEL_H))
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("grids", nargs="+", help="LABEL=PATH of a sample grid, or LABEL=RUN:STEP")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--scale", type=int, default=1, help="enlarge every grid this many times (nearest)")
    args = p.parse_args(argv)
    picture = strip([grid_path(s) for s in args.grids], args.scale)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(args.out, optimize=True)
    print(f"wrote {args.out} ({picture.width}x{picture.height})")


if __name__ == "__main__":
    main()
