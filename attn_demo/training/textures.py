"""The seamless terrain texture set (python -m attn_demo data build-textures).

Source, pinned: Debian's `0ad-data` 0.0.26-1 (0 A.D., (c) Wildfire Games,
CC-BY-SA-3.0 per its copyright file). `apt-get download` fetches the .deb
(1.38 GB), its sha256 is checked, `public.zip` is taken out of it, and the
terrain colour maps (`art/textures/terrain/types/**.dds`, Pillow decodes
DXT) are read from the zip; normal, specular and water maps are skipped.
The .deb and the zip are deleted afterwards unless --keep-downloads.

Each texture is put in a surface class by the first word of its name that
names one (`surface_class`: "alpine_snow_a" is snow, "rocks_dirt_01" rock),
checked to tile (`wrap_ratio`: the step across the wrap-around seam against
the image's ordinary neighbour steps), resized to `size` (the textures tile,
so a crop for training may wrap around the edge) and saved as PNG in a
folder per class; classes with fewer than `min_per_class` textures are
dropped. Output: the class folders, manifest.json (each file's source
member, biome, original size, wrap ratio) and ATTRIBUTION.txt. Built data
stays out of git.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from ..models.checkpoint import file_sha256

PACKAGE, VERSION = "0ad-data", "0.0.26-1"
DEB = f"{PACKAGE}_{VERSION}_all.deb"
DEB_SHA256 = "53745ae74d05bccf6783400fa98f3932b21729ab9d2e86151aa2c331c3455178"
ZIP_MEMBER = "./usr/share/games/0ad/mods/public/public.zip"
TERRAIN = "art/textures/terrain/types/"
SKIPPED_WORDS = ("norm", "normal", "spec", "water", "ocean", "coral")
# Surface classes and the name words that put a texture in one (first matching word wins).
CLASSES = {
    "grass": ("grass", "clover", "clovers", "meadow", "shrubs", "plants", "flora", "scrub"),
    "dirt": ("dirt", "mud", "farmland", "furrows", "clay", "soil", "gravel", "lakebed", "peat", "path"),
    "sand": ("sand", "dune", "dunes", "beach", "wave"),
    "rock": ("rock", "rocks", "cliff", "mountainside", "stone", "stones", "boulders", "pebbles", "sandstone",
             "stoney"),
    "snow": ("snow", "ice", "glacier", "tundra"),
    "paving": ("paving", "tile", "tiles", "citytile", "road", "city", "cobblestone", "bricks", "pavement"),
    "forest floor": ("forestfloor", "forrestfloor", "forest", "needles", "leaves"),
}
SEAMLESS = 1.5        # wrap_ratio at most this: the seam steps no more than ordinary neighbours
ATTRIBUTION = (
    "Terrain textures from 0 A.D. (https://play0ad.com), (c) 2010 Wildfire Games, licensed under "
    "CC BY-SA 3.0 (https://creativecommons.org/licenses/by-sa/3.0/), via Debian's package "
    f"{PACKAGE} {VERSION} (art/textures/terrain/types in public.zip). The images here are resized "
    "(and only resized) copies; they and anything trained on them carry the same licence: credit "
    "Wildfire Games and share alike.")


def surface_class(member: str) -> str | None:
    """The surface class of a texture from its file name, or None (a skipped map or no class word)."""
    stem = Path(member).name.split(".")[0].lower()
    words = [w for w in re.split(r"[_\-\s]+", stem) if w]
    if any(w in SKIPPED_WORDS for w in words) or "/water/" in member.lower():
        return None
    for word in words:
        for name, keys in CLASSES.items():
            # the word itself, or a key with a short tag ("dirta", "grass1", "cliff4")
            if word in keys or any(word.startswith(k) and len(word) - len(k) <= 2 for k in keys if len(k) >= 4):
                return name
    return None


def wrap_ratio(img: np.ndarray) -> float:
    """How visible the wrap-around seam is: the mean step across the right/left and bottom/top seams
    over the mean step between ordinary neighbours (1 = as smooth as the inside)."""
    a = img.astype(np.float32)
    inner = (np.abs(np.diff(a, axis=1)).mean() + np.abs(np.diff(a, axis=0)).mean()) / 2
    seam = (np.abs(a[:, 0] - a[:, -1]).mean() + np.abs(a[0] - a[-1]).mean()) / 2
    return float(seam / max(inner, 1e-6))


def download_deb(package: str, version: str, sha256: str, size: str, cache: Path, deb: Path) -> Path:
    """`deb` in `cache`, downloaded with apt-get unless there, its sha256 checked against the pin."""
    if not deb.exists():
        print(f"downloading {package}={version} ({size}) with apt-get download ...")
        r = subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=cache, capture_output=True, text=True)
        if r.returncode != 0 or not deb.exists():
            raise DataError(f"apt-get download {package}={version} failed: {(r.stderr or r.stdout).strip()[-400:]}")
    digest = file_sha256(deb)
    if digest != sha256:
        raise DataError(f"{deb} has sha256 {digest}, expected {sha256}: delete it and build again")
    return deb


@contextlib.contextmanager
def deb_members(deb: Path):
    """The .deb's file tree as a streamed tar (tarfile mode "r|": read members in order, once)."""
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as p:
        with tarfile.open(fileobj=p.stdout, mode="r|") as tar:
            yield tar


def classes_with_enough(counts: Counter, min_per_class: int, skipped: Counter, none: str) -> set[str]:
    """The classes with at least `min_per_class` textures (the others counted in `skipped`); none of
    them is the error `none`."""
    kept = {c for c, n in counts.items() if n >= min_per_class}
    for c in sorted(set(counts) - kept):
        skipped[f"class {c!r} has fewer than {min_per_class} textures"] += counts[c]
    if not kept:
        raise DataError(none)
    return kept


def fetch_zip(cache: Path) -> tuple[Path, list[Path]]:
    """public.zip out of the pinned, verified .deb; (its path, the downloads to delete)."""
    cache.mkdir(parents=True, exist_ok=True)
    deb, zpath = cache / DEB, cache / "0ad-public.zip"
    if zpath.exists():
        return zpath, [zpath]
    download_deb(PACKAGE, VERSION, DEB_SHA256, "1.38 GB", cache, deb)
    print("taking public.zip out of the .deb ...")
    tmp = zpath.with_suffix(".zip.part")
    with deb_members(deb) as tar:
        for member in tar:
            if member.name == ZIP_MEMBER and member.isfile():
                with tar.extractfile(member) as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                break
    if not tmp.exists():
        raise DataError(f"{deb} holds no {ZIP_MEMBER}")
    tmp.replace(zpath)
    return zpath, [deb, zpath]


def build_from_zip(zpath: Path, out: Path, size: int = 256, min_size: int = 256,
                   min_per_class: int = 12) -> dict:
    """The class folders, manifest and attribution from 0 A.D.'s public.zip (or any zip laid out so)."""
    if not 32 <= size <= 2048:
        raise DataError(f"--size must be in 32..2048, got {size}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out} is not empty: choose a new folder or delete it")
    picked, skipped = [], Counter()
    with zipfile.ZipFile(zpath) as z:
        members = sorted(m for m in z.namelist() if m.startswith(TERRAIN) and m.lower().endswith(".dds"))
        for m in members:
            cls = surface_class(m)
            if cls is None:
                skipped["not a colour map of a surface class"] += 1
                continue
            try:
                with Image.open(io.BytesIO(z.read(m))) as im:
                    im.load()
                    rgb = im.convert("RGB")
            except Exception as e:  # noqa: BLE001 - an undecodable member is skipped and counted
                skipped[f"unreadable ({type(e).__name__})"] += 1
                continue
            if min(rgb.size) < min_size or rgb.size[0] != rgb.size[1]:
                skipped[f"smaller than {min_size} px or not square"] += 1
                continue
            ratio = wrap_ratio(np.asarray(rgb))
            if ratio > SEAMLESS:
                skipped["does not tile (visible seam)"] += 1
                continue
            picked.append((m, cls, rgb, ratio))
    counts = Counter(cls for _, cls, _, _ in picked)
    kept = classes_with_enough(counts, min_per_class, skipped,
                               f"no surface class has {min_per_class} tiling textures in {zpath}")
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for m, cls, rgb, ratio in picked:
        if cls not in kept:
            continue
        parts = Path(m).relative_to(TERRAIN).parts
        biome = parts[0] if len(parts) > 1 else ""
        name = (f"{biome}_" if biome else "") + Path(m).name.split(".")[0] + ".png"
        (out / cls).mkdir(exist_ok=True)
        rgb.resize((size, size), Image.LANCZOS, reducing_gap=3.0).save(out / cls / name)
        manifest.append({"file": f"{cls}/{name}", "source": m, "biome": biome, "class": cls,
                         "original_size": list(rgb.size), "wrap_ratio": round(ratio, 3)})
    info = {"source": f"Debian {PACKAGE} {VERSION} (sha256 {DEB_SHA256})", "licence": "CC-BY-SA-3.0",
            "size": size, "classes": {c: counts[c] for c in sorted(kept)}, "skipped": dict(skipped),
            "files": manifest}
    (out / "manifest.json").write_text(json.dumps(info, indent=1) + "\n")
    (out / "ATTRIBUTION.txt").write_text(ATTRIBUTION + "\n")
    return info


def build_textures(out: Path, size: int = 256, cache: Path = Path("data/raw"), keep_downloads: bool = False) -> dict:
    zpath, downloads = fetch_zip(Path(cache))
    try:
        info = build_from_zip(zpath, out, size)
    finally:
        if not keep_downloads:
            for p in downloads:
                p.unlink(missing_ok=True)
    total = sum(info["classes"].values())
    print(f"{total} tiling textures at {size} px in {len(info['classes'])} classes in {out}: "
          + ", ".join(f"{c} {n}" for c, n in info["classes"].items()))
    print("skipped: " + ", ".join(f"{n} {why}" for why, n in info["skipped"].items()))
    return info
