"""Command line: python -m attn_demo {generate,probe,info,data,train,...} --help.

One module of verbs per area registers its commands here: images.py (a
trained model: generate, probe, info), pictures.py (your own pictures:
invert), materials.py (material: a PBR set and a GLB from a canvas),
surgery.py (intervene on attention, d-attention),
data.py (data sets), training.py (train, export,
directions, convert) and quality.py (features, eval). Every verb uses the
same Engine and validators as the studio. A user error (bad argument, bad
checkpoint, bad data) prints one line and exits with code 2.
"""
from __future__ import annotations

import sys

from ..errors import AttnDemoError, disk_full_message, is_disk_full
from ..machine import keep_freed_memory
from . import data, images, materials, pictures, quality, surgery, training
from .common import Formatter, Parser

AREAS = (images, materials, pictures, surgery, data, training, quality)


def build_parser() -> Parser:
    parser = Parser(prog="python -m attn_demo", description="attn-demo: a self-attention GAN studio.",
                    formatter_class=Formatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    examples = {k: v for area in AREAS for k, v in area.EXAMPLES.items()}

    def command(name: str, help: str):
        return sub.add_parser(name, help=help, description=help, formatter_class=Formatter,
                              epilog="example:\n  " + examples[name] if name in examples else None)
    for area in AREAS:
        area.register(command)
    return parser


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
    except OSError as e:
        if not is_disk_full(e):
            raise
        print(f"{parser.prog} {args.command}: error: {disk_full_message(e)}", file=sys.stderr)
        return 2
    return 0
