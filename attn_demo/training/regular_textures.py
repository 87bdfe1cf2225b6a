"""Regular surface textures: brick, cobblestone, wood planks, roof tiles, floor tiles
(python -m attn_demo data build-textures --regular --out data/textures-regular).

Surfaces with long-range regularity, whose joints must stay aligned across the
whole picture, unlike the terrain set (textures.py). Sources, pinned by sha256:
Debian's `supertuxkart-data` 1.4+dfsg-2 and `redeclipse-data` 1.6.0-1. Both
packages mix licences, so every file's licence is read from the Files: stanza
of the package's DEP-5 copyright file that matches it (the last match wins, as
the format says) and only files whose licence lets us share what is trained on
them are kept (`ALLOWED`: CC0, CC-BY, CC-BY-SA, public domain). GPL-only files,
which is most of SuperTuxKart's `stk*_generic_*` set (it falls under
"Files: *  License: GPL-3+"), and anything else (Expat, zlib, custom terms)
are skipped and counted; the list is a policy, not a judgement of those
licences.

Only the image files whose names put them in a class (`regular_class`) and the
copyright file are taken out of each .deb (streamed, nothing else is written);
normal, specular, height and glow maps, masks, windows, signs and particles are
skipped by name. Each texture must be at least `min_size` px, tile (the
seam test of textures.py) and be square or have sides in a whole ratio (a
w x 2w texture is repeated twice side by side, which keeps it tiling). Output:
one folder per class, manifest.json (each file's package, member, licence,
copyright, size, wrap ratio) and ATTRIBUTION.txt (one line per file: CC-BY and
CC-BY-SA require crediting each author). The downloads are deleted afterwards.
"""
from __future__ import annotations

import fnmatch
import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from .textures import SEAMLESS, classes_with_enough, deb_members, download_deb, wrap_ratio


@dataclass(frozen=True)
class DebSource:
    """A Debian package holding textures: where its images and copyright file sit in the .deb."""
    package: str
    version: str
    sha256: str
    size: str                     # for the download message
    root: str                     # the source tree's top inside the .deb; DEP-5 paths are relative to it
    folders: tuple[str, ...]      # where to look for textures, relative to root
    short: str                    # prefix of the output file names

    @property
    def deb(self) -> str:
        return f"{self.package}_{self.version.replace(':', '%3a')}_all.deb"

    @property
    def copyright(self) -> str:
        return f"./usr/share/doc/{self.package}/copyright"


SOURCES = (
    DebSource("supertuxkart-data", "1.4+dfsg-2", "568d69cda50dc8ad1facb89514bd14953dfca736fdb83c49ae330b0aa7dd2364",
              "628 MB", "./usr/share/games/supertuxkart/", ("data/textures/",), "stk"),
    DebSource("redeclipse-data", "1.6.0-1", "ada26453d3100bd61154ce20a699352f0b48bb29f8505f477ebdcb612f71ab42",
              "862 MB", "./usr/share/games/redeclipse/", ("data/",), "re"),
)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# Classes and the name fragments that put a texture in one (first class that matches wins, so
# "roof_tiles" is roof). Matched inside the lower-case name: names glue words ("wickedtile14a").
REGULAR_CLASSES = {
    "roof": ("roof", "shingle"),
    "brick": ("brick",),
    "cobblestone": ("cobble", "paving", "pavement", "paver", "sett"),
    "wood planks": ("plank", "board", "wood", "parquet"),
    "tiles": ("tile",),
}
# Not a surface colour map: windows, lights, signs, decals, masks, particles, karts, props.
SKIPPED_FRAGMENTS = ("window", "glow", "sign", "decal", "mask", "particle", "gfx", "kart", "icon", "logo",
                     "flag", "normal", "gloss", "spec", "bridge", "post", "barrel", "crate", "door", "bark",
                     "tree", "checkboard", "cardboard", "grate", "tread")
# Named like a class but not that surface, checked by eye on contact sheets of the pinned packages:
# wood grain without joints, a crate face, grey noise ("wood" is in their names, planks are not).
NOT_REGULAR = ("wicked/wickedwood04", "wicked/wickedwood05", "wicked/wickedwood06", "wicked/wickedwood09",
               "wicked/wickedwood10", "desat/woodenmotion")
# A map of another texture: "bricks_n" (normal), "_s" (specular), "_z" (height), "_g" (glow), "_nm", ...
VARIANT = re.compile(r"(^|[_\-])(n|s|z|g|nm|local|add|height|bump|ao|alpha)$|lit$")
# Folders of models, weapons, HUD and effects, not surfaces.
SKIPPED_FOLDERS = ("actors", "weapons", "vanities", "projectiles", "particles", "crosshairs", "skyboxes",
                   "maps", "hud", "fonts", "karts", "deprecated", "props", "vegetation")
# Licences that let us share a model trained on the file (with credit / share-alike where they say so).
ALLOWED = re.compile(r"CC0(-1\.0)?|CC-BY(-SA)?(-[0-9]\.[0-9])?\+?|public-domain", re.I)


def regular_class(member: str) -> str | None:
    """The regular surface class of an image from its path, or None (another kind of map, or no class word)."""
    path = member.lower()
    stem = Path(path).name.rsplit(".", 1)[0]
    if any(f"/{f}/" in f"/{path}" for f in SKIPPED_FOLDERS):
        return None
    if any(f in stem for f in SKIPPED_FRAGMENTS) or VARIANT.search(stem) or path.rsplit(".", 1)[0].endswith(NOT_REGULAR):
        return None
    for name, keys in REGULAR_CLASSES.items():
        if any(k in stem for k in keys):
            return name
    return None


def copyright_stanzas(text: str) -> list[dict]:
    """The Files: paragraphs of a DEP-5 copyright file, as {"files": [...], "copyright": str, "license": str}."""
    out = []
    for para in re.split(r"\n[ \t]*\n", text):
        fields, key = {}, None
        for line in para.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
                continue
            m = re.match(r"([A-Za-z-]+):\s*(.*)$", line)
            if m:
                key = m.group(1).lower()
                fields[key] = m.group(2).strip()
        if "files" in fields and "license" in fields:
            out.append({"files": fields["files"].split(), "license": fields["license"].splitlines()[0].strip(),
                        "copyright": "; ".join(s.strip() for s in fields.get("copyright", "").splitlines() if s.strip())})
    return out


def stanza_of(path: str, stanzas: list[dict]) -> dict | None:
    """The stanza that governs `path` (relative to the source tree): the last one whose pattern matches.
    DEP-5 patterns: `*` matches any run of characters, `/` included; `?` one character."""
    found = None
    for s in stanzas:
        if any(fnmatch.fnmatchcase(path, pat) for pat in s["files"]):
            found = s
    return found


def licence_allowed(licence: str) -> bool:
    """Whether a DEP-5 licence expression lets us share derived weights: one allowed alternative of an
    "or", every part of an "and"; anything else (GPL, Expat, custom terms, "with" exceptions) is not."""
    alternatives = re.split(r"\s+or\s+", licence.strip(), flags=re.I)
    return any(all(ALLOWED.fullmatch(part.strip()) for part in re.split(r"\s+and\s+", alt, flags=re.I))
               for alt in alternatives)


def squared(rgb: Image.Image, min_size: int) -> tuple[Image.Image | None, str]:
    """The texture as a square that still tiles (a w x kw one repeated k times), or None and why not."""
    w, h = rgb.size
    if min(w, h) < min_size:
        return None, f"smaller than {min_size} px"
    if w == h:
        return rgb, ""
    k, rest = divmod(max(w, h), min(w, h))
    if rest or k > 4:
        return None, "not square nor a whole ratio up to 4"
    a = np.asarray(rgb)
    return Image.fromarray(np.tile(a, (k, 1, 1) if h < w else (1, k, 1))), ""


def is_map_of_another(stem: str, stems: set[str]) -> bool:
    """Red Eclipse names the maps of "wickedtile7" "wickedtile7n" (normal), "...s" (specular), "...z"
    (height), and "wickedsquaretile02flatn": a name that is another's in its folder plus n, s or z."""
    return stem[-1:] in ("n", "s", "z") and any(stem[:-1].startswith(o) for o in stems if o != stem)


def collect(tree: Path, source: DebSource, min_size: int = 256) -> tuple[list[dict], dict, Counter]:
    """The regular textures of one extracted package tree: (picked entries with their image, per-class funnel
    {class: {found, seamless, licensed}}, skipped reasons)."""
    tree = Path(tree)
    cfile = tree / source.copyright
    if not cfile.exists():
        raise DataError(f"{cfile} is missing: without it no file's licence is known")
    stanzas = copyright_stanzas(cfile.read_text(errors="replace"))
    picked, skipped = [], Counter()
    funnel: dict[str, Counter] = {}
    top = tree / source.root
    for folder in source.folders:
        images = sorted(p for p in (top / folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        stems = Counter()
        for p in images:
            stems[p.parent, p.stem.lower()] += 1
        for p in images:
            rel = p.relative_to(top).as_posix()
            cls = regular_class(rel)
            if cls is None:
                continue
            if is_map_of_another(p.stem.lower(), {s for d, s in stems if d == p.parent}):
                skipped["a normal, specular or height map of another texture"] += 1
                continue
            count = funnel.setdefault(cls, Counter())
            count["found"] += 1
            try:
                with Image.open(p) as im:
                    rgb = im.convert("RGB")
            except Exception as e:  # noqa: BLE001 - an undecodable file is skipped and counted
                skipped[f"unreadable ({type(e).__name__})"] += 1
                continue
            square, why = squared(rgb, min_size)
            if square is None:
                skipped[why] += 1
                continue
            ratio = wrap_ratio(np.asarray(square))
            if ratio > SEAMLESS:
                skipped["does not tile (visible seam)"] += 1
                continue
            count["seamless"] += 1
            stanza = stanza_of(rel, stanzas)
            licence = stanza["license"] if stanza else "none"
            if not licence_allowed(licence):
                skipped[f"licence {licence}"] += 1
                continue
            count["licensed"] += 1
            picked.append({"class": cls, "image": square, "member": rel, "licence": licence,
                           "copyright": stanza["copyright"], "original_size": list(rgb.size),
                           "wrap_ratio": round(ratio, 3), "source": source})
    return picked, {c: dict(n) for c, n in funnel.items()}, skipped


def write_set(out: Path, picked: list[dict], funnel: dict, skipped: Counter, size: int = 256,
              min_per_class: int = 6) -> dict:
    """The class folders, manifest.json and ATTRIBUTION.txt of the picked textures."""
    counts = Counter(e["class"] for e in picked)
    kept = classes_with_enough(counts, min_per_class, skipped,
                               f"no regular class has {min_per_class} tiling, shareable textures")
    out.mkdir(parents=True, exist_ok=True)
    files, lines = [], []
    for e in picked:
        if e["class"] not in kept:
            continue
        src: DebSource = e["source"]
        name = src.short + "_" + e["member"].removeprefix("data/textures/").removeprefix("data/")
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.rsplit(".", 1)[0].replace("/", "_")) + ".png"
        (out / e["class"]).mkdir(exist_ok=True)
        e["image"].resize((size, size), Image.LANCZOS, reducing_gap=3.0).save(out / e["class"] / name)
        files.append({"file": f"{e['class']}/{name}", "package": f"{src.package} {src.version}",
                      "source": e["member"], "class": e["class"], "licence": e["licence"],
                      "copyright": e["copyright"], "original_size": e["original_size"],
                      "wrap_ratio": e["wrap_ratio"]})
        lines.append(f"{e['class']}/{name}: {e['member']} from Debian {src.package} {src.version}, "
                     f"(c) {e['copyright'] or 'unnamed'}, {e['licence']}")
    licences = Counter(f["licence"] for f in files)
    packages = sorted({f"{e['source'].package} {e['source'].version} (sha256 {e['source'].sha256})" for e in picked})
    info = {"source": "Debian " + ", ".join(packages), "licence": "per file (see files); "
            + ", ".join(f"{lic} {n}" for lic, n in licences.most_common()),
            "size": size, "classes": {c: counts[c] for c in sorted(kept)},
            "per_class": {c: {**{"found": 0, "seamless": 0, "licensed": 0}, **funnel.get(c, {})} for c in sorted(funnel)},
            "skipped": dict(skipped), "files": files}
    (out / "manifest.json").write_text(json.dumps(info, indent=1) + "\n")
    head = ("Regular surface textures (brick, cobblestone, wood planks, roof, tiles) from Debian packages, "
            "each file under its own licence as its package's copyright file states (CC0, CC BY, CC BY-SA "
            "or public domain; files under other terms were left out). The images here are resized (and "
            "only resized, or repeated to a square) copies. Credit each author below; anything trained on "
            "a CC BY-SA file is CC BY-SA too (https://creativecommons.org/licenses/by-sa/3.0/).")
    (out / "ATTRIBUTION.txt").write_text(head + "\n\n" + "\n".join(lines) + "\n")
    return info


def fetch_tree(source: DebSource, cache: Path) -> tuple[Path, list[Path]]:
    """Download (apt, pinned, sha256-checked) and take out only the class images and the copyright file."""
    cache.mkdir(parents=True, exist_ok=True)
    deb, tree = cache / source.deb, cache / f"{source.package}-tree"
    download_deb(source.package, source.version, source.sha256, source.size, cache, deb)
    shutil.rmtree(tree, ignore_errors=True)
    print(f"taking the textures and the copyright file out of {deb.name} ...")
    wanted = tuple(source.root + f for f in source.folders)
    with deb_members(deb) as tar:
        for m in tar:
            # every image whose name holds a class word, skipped maps included: collect needs them
            # to tell "wickedwood04n" (a map of a skipped texture) from a texture
            name = m.name.rsplit("/", 1)[-1].lower()
            take = m.name == source.copyright or (
                m.name.startswith(wanted) and name.endswith(IMAGE_SUFFIXES)
                and any(k in name for keys in REGULAR_CLASSES.values() for k in keys))
            if take and m.isfile():
                dst = tree / m.name
                dst.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(m) as src, open(dst, "wb") as f:
                    shutil.copyfileobj(src, f, 1 << 20)
    return tree, [deb, tree]


def build_regular_textures(out: Path, size: int = 256, cache: Path = Path("data/raw"),
                           keep_downloads: bool = False, sources=SOURCES, min_per_class: int = 6) -> dict:
    if not 32 <= size <= 2048:
        raise DataError(f"--size must be in 32..2048, got {size}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out} is not empty: choose a new folder or delete it")
    picked, funnel, skipped = [], {}, Counter()
    for source in sources:
        tree, downloads = fetch_tree(source, Path(cache))
        try:
            p, f, s = collect(tree, source)
        finally:
            if not keep_downloads:
                for d in downloads:
                    shutil.rmtree(d, ignore_errors=True) if d.is_dir() else d.unlink(missing_ok=True)
        picked += p
        skipped.update(s)
        for c, n in f.items():
            funnel[c] = dict(Counter(funnel.get(c, {})) + Counter(n))
    info = write_set(out, picked, funnel, skipped, size, min_per_class)
    print(f"{sum(info['classes'].values())} tiling regular textures at {size} px in {out}: "
          + ", ".join(f"{c} {n}" for c, n in info["classes"].items()))
    for c, n in info["per_class"].items():
        print(f"  {c}: {n['found']} found, {n['seamless']} tile, {n['licensed']} shareable")
    print("skipped: " + ", ".join(f"{n} {why}" for why, n in info["skipped"].items()))
    return info
