"""The data verb: build the emoji or a texture data set, merge sets, or check an image folder."""
from __future__ import annotations

from pathlib import Path

from .common import in_repo

EXAMPLES = {
    "data": "python -m attn_demo data build-emoji --out data/emoji --size 64\n"
            "  python -m attn_demo data check my_pictures/ --size 64",
}


def register(command) -> None:
    """`data`: build the emoji or texture set, or check an image folder."""
    p = command("data", "Build the emoji or the texture data set, merge sets, or check an image folder.")
    sub = p.add_subparsers(dest="data_command", required=True)
    b = sub.add_parser("build-emoji", help="download (npm, pinned) and build the emoji demo set")
    b.add_argument("--out", type=Path, default=Path("data/emoji"), help="output image folder")
    b.add_argument("--size", type=int, default=64, help="image size in pixels")
    b.add_argument("--source", default="fluent3d", choices=["fluent3d", "twemoji", "noto"],
                   help="fluent3d (npm, MIT), twemoji (pip, CC-BY 4.0) or noto (apt, Apache-2.0)")
    b.add_argument("--cache", type=Path, default=Path("data/raw"), help="where downloads are kept")
    t = sub.add_parser("build-textures", help="download (apt, pinned) and build the seamless terrain texture set")
    t.add_argument("--out", type=Path, default=None,
                   help="output image folder (default data/textures, or data/textures-regular with --regular)")
    t.add_argument("--size", type=int, default=256, help="texture size in pixels (they tile at any size)")
    t.add_argument("--cache", type=Path, default=Path("data/raw"), help="where the download goes")
    t.add_argument("--keep-downloads", action="store_true", help="keep the .deb and the zip (4.6 GB)")
    t.add_argument("--regular", action="store_true",
                   help="build the regular surfaces instead (brick, wood planks, tiles; from Debian's "
                        "supertuxkart-data and redeclipse-data, each file's licence read from the package's "
                        "copyright file), e.g. data build-textures --regular --out data/textures-regular")
    m = sub.add_parser("merge", help="join data sets of different classes into one new folder "
                                     "(e.g. the textures and the regular surfaces)")
    m.add_argument("folders", type=in_repo, nargs="+", help="two or more data folders, one sub-folder per class")
    m.add_argument("--out", type=Path, required=True, help="the new folder (must not exist or be empty)")
    c = sub.add_parser("check", help="report what a training folder holds and what would be skipped")
    c.add_argument("folder", type=in_repo)
    c.add_argument("--size", type=int, default=64)
    c.add_argument("--unconditional", action="store_true", help="ignore class sub-folders")
    c.add_argument("--verbose", action="store_true", help="list every skipped file with its reason")
    p.set_defaults(run=cmd_data)


def cmd_data(args) -> None:
    if args.data_command == "build-emoji":
        from ..training.emoji import build_emoji
        build_emoji(args.out, args.size, args.source, args.cache)
        return
    if args.data_command == "build-textures":
        if args.regular:
            from ..training.regular_textures import build_regular_textures
            build_regular_textures(args.out or Path("data/textures-regular"), args.size, args.cache,
                                   args.keep_downloads)
            return
        from ..training.textures import build_textures
        build_textures(args.out or Path("data/textures"), args.size, args.cache, args.keep_downloads)
        return
    if args.data_command == "merge":
        from ..imaging.folders import merge_folders
        merge_folders(args.folders, args.out)
        return
    from ..imaging.folders import load_folder
    data = load_folder(args.folder, args.size, args.unconditional)
    print(data.report())
    if args.verbose:
        for path, reason in data.skipped:
            print(f"  skipped {path}: {reason}")
