"""What every verb of the command line shares: the parser classes and argument types."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import AttnDemoError


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (and exit code 2, as argparse uses)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults, except the empty ones that say nothing."""

    def _get_help_string(self, action):
        # an empty default says nothing, and a help that names its default needs no second one
        # (`is`, not `in`: 0 == False, and a default of 0 is worth showing)
        empty = action.default is None or action.default is False or action.default in ((), "", argparse.SUPPRESS)
        if empty or action.required or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


REPO = Path(__file__).resolve().parents[2]


def in_repo(text: str) -> Path:
    """A relative path that is not there from the working directory but is in the repository (a
    shipped model or feature net, the emoji data): the repository's, so the commands work from any
    directory. Every input path takes this type; outputs stay where they are typed."""
    path = Path(text)
    if not path.is_absolute() and not path.exists() and (REPO / path).exists():
        return REPO / path
    return path


def existing_file(path: Path, flag: str) -> Path:
    """The file a flag names, or an error that says it is missing or a folder (before any work, and
    rather than the decoder's "truncated or corrupt" for a file that is not there at all)."""
    if path.is_dir():
        raise AttnDemoError(f"{flag} {path} is a folder: give one file")
    if not path.exists():
        raise AttnDemoError(f"{flag} {path}: no such file")
    return path


def arg_type(parse):
    """An argparse type from one of attn_demo.checks' parsers: its message becomes argparse's."""
    def convert(text: str):
        try:
            return parse(text)
        except AttnDemoError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    convert.__name__ = parse.__name__
    return convert


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", type=in_repo, required=True, help="model directory (config.json + model.safetensors)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")


def engine_of(args, canvas_ok: bool = False, image_ok: bool = True):
    """The engine of --weights, as serving/loader.load_engine serves its kind (an `Engine` for an
    image model, a `CanvasEngine` for a canvas model): the one place in the CLI that asks a model
    directory's kind. A kind the verb does not take is refused, before loading, with what to do
    instead; the verbs that take both ask which engine they got."""
    from ..serving.loader import load_engine, model_kind
    canvas = model_kind(args.weights) == "canvas"
    if canvas and not canvas_ok:
        raise AttnDemoError(f"{args.weights} is a texture model (config kind 'canvas'): `{args.command}` is for "
                            "image models (paint textures with generate --width --height, click them in the "
                            "studio's Textures tab)")
    if not canvas and not image_ok:
        raise AttnDemoError(f"{args.weights} is an image model: `{args.command}` is for texture models "
                            "(config kind 'canvas')")
    return load_engine(args.weights, device=args.device)


IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


def image_format(path: Path, flag: str = "--out") -> str:
    """The format a picture's file name asks for (its suffix), or an error before any work: a .jpg
    must hold JPEG bytes, not PNG ones under a JPEG name."""
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise AttnDemoError(f"{flag} {path}: name a .png, .jpg or .webp file (the suffix picks the format)")
    return fmt


def write_image(img, path: Path, flag: str = "--out") -> None:
    """img (H, W, 3) uint8 to path in the format of its suffix: PNG as the studio writes it; JPEG at
    quality 95 without chroma subsampling (a pixel-art edge keeps its colour); WebP lossless."""
    from ..imaging import draw
    fmt = image_format(path, flag)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "PNG":
        draw.save_png(img, path)
        return
    from PIL import Image
    options = {"quality": 95, "subsampling": 0} if fmt == "JPEG" else {"lossless": True}
    Image.fromarray(img).save(path, format=fmt, **options)
