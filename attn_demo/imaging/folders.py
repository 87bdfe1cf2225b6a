"""Training images: a robust image-folder loader and a procedural test set.

`load_folder` reads a user's folder (optionally one sub-folder per class)
into one uint8 tensor at the training resolution. It never trusts a file:

- hidden files, symlinks (not followed), empty files, non-images and broken
  or truncated images are skipped, each with a reason in the report;
- decompression bombs are refused (Pillow's warning is an error, plus our own
  pixel cap), and only common formats are decoded (no FITS or other exotica);
- every mode becomes the same RGB: alpha is composited over white, palettes
  and greys expanded, CMYK converted, 16-bit rescaled by 1/257 (not clipped);
- EXIF orientation is applied; animated files contribute their first frame;
- tiny images and extreme aspect ratios are skipped.

A folder with no usable image raises DataError before anything is written.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from ..errors import DataError, InputError

FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
MAX_PIXELS = 40_000_000       # our own decompression-bomb cap (Pillow's is 2x 89 Mpx)
MIN_SIDE = 8
UPLOAD_MB = 20                 # a picture handed over in the studio ("Your picture"): a phone photo
UPLOAD_PIXELS = Image.MAX_IMAGE_PIXELS or MAX_PIXELS   # ... up to Pillow's own decompression-bomb limit (89 Mpx)
MAX_ASPECT = 4.0
FEW_IMAGES = 1000             # below this, warn: GANs memorise or collapse on small sets
BACKGROUND = (255, 255, 255)
METADATA_FILES = {"manifest.json", "ATTRIBUTION.txt", "README.md", "LICENSE", "LICENSE.txt"}


@dataclass
class ImageSet:
    images: torch.Tensor               # (N, 3, R, R) uint8
    labels: torch.Tensor | None        # (N,) int64 class indices, or None (unconditional)
    class_names: tuple[str, ...] = ()
    source: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def resolution(self) -> int:
        return self.images.shape[-1]

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.labels is not None else 0

    def sha256(self) -> str:
        """Content hash: the pixels and labels (a resume checks it is the same data)."""
        h = hashlib.sha256(self.images.numpy().tobytes())
        if self.labels is not None:
            h.update(self.labels.numpy().tobytes())
            h.update("\n".join(self.class_names).encode())
        return h.hexdigest()[:16]

    def class_counts(self) -> dict[str, int]:
        if self.labels is None:
            return {}
        counts = torch.bincount(self.labels, minlength=len(self.class_names)).tolist()
        return dict(zip(self.class_names, counts))

    def report(self) -> str:
        lines = [f"{len(self)} images at {self.resolution}x{self.resolution} from {self.source}"]
        if self.labels is not None:
            lines.append("classes: " + ", ".join(f"{k} ({v})" for k, v in self.class_counts().items()))
        if self.skipped:
            reasons: dict[str, int] = {}
            for _, reason in self.skipped:
                reasons[reason] = reasons.get(reason, 0) + 1
            lines.append(f"skipped {len(self.skipped)} files: "
                         + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())))
        if len(self) < FEW_IMAGES:
            lines.append(f"warning: only {len(self)} images; below about {FEW_IMAGES} a GAN tends to "
                         "memorise or collapse. DiffAugment helps; more images help more.")
        return "\n".join(lines)


# ------------------------------------------------------------- one image
def to_rgb(im: Image.Image, background=BACKGROUND) -> Image.Image:
    """Any Pillow mode -> RGB, deterministically (see module docstring)."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(im, dtype=np.float64)
        a = np.clip(a, 0, 65535) / 257.0             # 16-bit -> 8-bit, full range kept
        return Image.fromarray(np.rint(a).astype(np.uint8)).convert("RGB")
    if im.mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float64))
        a = a * 255.0 if a.max() <= 1.0 else a
        return Image.fromarray(np.rint(np.clip(a, 0, 255)).astype(np.uint8)).convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, background + (255,))
        bg.alpha_composite(rgba)
        return bg.convert("RGB")
    return im.convert("RGB")


def square_resize(im: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square, then resize with Lanczos filtering."""
    w, h = im.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return im.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)


def load_image(path: Path, size: int, max_pixels: int = MAX_PIXELS, draft: bool = False) -> np.ndarray:
    """One file -> (size, size, 3) uint8. Raises DataError with a short reason. `draft`: a JPEG is
    decoded at the smallest of 1/2, 1/4, 1/8 of its size that still covers `size` (a phone photo
    in a fraction of the time and memory; load_upload)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=FORMATS) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise DataError("decompression bomb or huge image")
                if min(w, h) < MIN_SIDE:
                    raise DataError("too small")
                if max(w, h) / min(w, h) > MAX_ASPECT:
                    raise DataError("extreme aspect ratio")
                im.seek(0)                          # first frame of an animation
                if draft and im.format == "JPEG":
                    im.draft("RGB", (size, size))   # downscaled while decoding, before the crop
                im = ImageOps.exif_transpose(im)    # orientation before cropping
                im.load()
                rgb = to_rgb(im)
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError("decompression bomb or huge image") from None
    except UnidentifiedImageError:
        raise DataError("not an image") from None
    except PermissionError:
        raise DataError("unreadable (permission denied)") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError, OverflowError, IndexError):
        raise DataError("truncated or corrupt image") from None
    return np.asarray(square_resize(rgb, size))


def load_upload(data: bytes | str | Path, size: int) -> np.ndarray:
    """A picture a user hands over (bytes, or a path) through the same checks as a training image:
    (size, size, 3) uint8, or an InputError that says why not (not an image, truncated, a bomb, too
    small, ...) and what is taken. A phone photo (12 to 48 Mpx, up to UPLOAD_MB) is taken: its pixels
    up to Pillow's own decompression-bomb limit, a JPEG downscaled as it is decoded."""
    try:
        if isinstance(data, (bytes, bytearray)):
            if len(data) > UPLOAD_MB << 20:
                raise DataError(f"{len(data) / (1 << 20):.1f} MB is too large")
            with tempfile.NamedTemporaryFile(suffix=".img") as f:
                f.write(bytes(data))
                f.flush()
                return load_image(Path(f.name), size, UPLOAD_PIXELS, draft=True)
        return load_image(Path(data), size, UPLOAD_PIXELS, draft=True)
    except DataError as e:
        raise InputError(f"cannot use this picture: {e} (taken: PNG, JPEG or WebP up to {UPLOAD_MB} MB and "
                         f"{UPLOAD_PIXELS / 1e6:.0f} megapixels, as a phone photo)") from None


# ------------------------------------------------------------- a folder
def _files(directory: Path, skipped: list) -> list[Path]:
    """Regular, visible, non-empty files under directory; symlinks are not followed."""
    out = []
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if name.startswith("."):
                skipped.append((str(p), "hidden file"))
            elif p.is_symlink():
                skipped.append((str(p), "symlink (not followed)"))
            elif not p.is_file():
                skipped.append((str(p), "not a regular file"))
            elif p.stat().st_size == 0:
                skipped.append((str(p), "empty file"))
            else:
                out.append(p)
    return out


def load_folder(root, size: int, unconditional: bool = False) -> ImageSet:
    """Read every usable image under root. Sub-folders of root are classes, unless
    there are none or `unconditional` is set (then every image, recursively)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data folder {root} does not exist or is not a folder")
    skipped: list[tuple[str, str]] = []
    class_dirs = sorted(p for p in root.iterdir()
                        if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
    conditional = bool(class_dirs) and not unconditional
    if not conditional:
        groups = [("", _files(root, skipped))]
    else:
        groups = [(d.name, _files(d, skipped)) for d in class_dirs]
        for p in sorted(root.iterdir()):
            if p.is_file() and not p.name.startswith(".") and p.name not in METADATA_FILES:
                skipped.append((str(p), "not in a class folder"))
    images, labels, names = [], [], []
    for name, files in groups:
        count = 0
        for p in files:
            try:
                images.append(load_image(p, size))
            except DataError as e:
                skipped.append((str(p), str(e)))
                continue
            labels.append(len(names))  # index of this class among the non-empty ones
            count += 1
        if count:
            names.append(name)
        elif name:
            skipped.append((name + "/", "class folder without usable images"))
    if not images:
        reasons = sorted({r for _, r in skipped})
        raise DataError(f"no usable images in {root} ({len(skipped)} files skipped"
                        + (f": {', '.join(reasons)}" if reasons else "") + ")")
    return ImageSet(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(),
                    torch.tensor(labels, dtype=torch.long) if conditional else None,
                    tuple(names) if conditional else (), str(root), skipped)


# ------------------------------------------------------------- procedural
SHAPES = ("disc", "square", "triangle")


def make_shapes(n: int = 256, size: int = 32, seed: int = 0) -> ImageSet:
    """Seeded coloured discs, squares and triangles on white; the class is the shape."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(n):
        label = i % len(SHAPES)
        im = Image.new("RGB", (size * 4, size * 4), BACKGROUND)   # draw large, then downsample
        d = ImageDraw.Draw(im)
        r = rng.uniform(0.18, 0.32) * size * 4
        cx, cy = rng.uniform(r, size * 4 - r, 2)
        colour = tuple(int(c) for c in rng.integers(0, 220, 3))
        if SHAPES[label] == "disc":
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        elif SHAPES[label] == "square":
            d.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
        else:
            d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
        images.append(np.asarray(im.resize((size, size), Image.LANCZOS)))
        labels.append(label)
    return ImageSet(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(),
                    torch.tensor(labels), SHAPES, f"shapes(n={n}, seed={seed})")


def load_data(spec: str, size: int, unconditional: bool = False) -> ImageSet:
    """'shapes' (the procedural set) or a folder path."""
    if spec == "shapes":
        return make_shapes(512, size)
    return load_folder(spec, size, unconditional)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, R, R) -> float in [-1, 1], the generator's output range."""
    return images.float().div_(127.5).sub_(1.0)


# ------------------------------------------------------------- merging sets
def merge_folders(sources, out) -> dict:
    """Copy the class folders of several data sets into one new folder `out` (the textures and the
    regular surfaces into one training set): classes must not share a name; out/manifest.json says
    where each class came from (with each source's own manifest), out/ATTRIBUTION.txt joins the
    sources' attributions. Written into a scratch folder beside `out` and renamed at the end, so a
    failure leaves nothing half-written. Returns the manifest."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{out} is not an empty folder: choose a new folder or delete it")
    sources = [Path(s) for s in sources]
    if len(sources) < 2:
        raise DataError("merge needs at least two data folders")
    owner: dict[str, tuple[Path, list[Path]]] = {}       # class -> its source and its files
    merged = []
    for src in sources:
        if not src.is_dir():
            raise DataError(f"data folder {src} does not exist or is not a folder")
        classes = sorted(p for p in src.iterdir()
                         if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
        if not classes:
            raise DataError(f"{src} has no class folders: merge joins sets of one sub-folder per class")
        for c in classes:
            if c.name in owner:
                raise DataError(f"class {c.name!r} is in both {owner[c.name][0]} and {src}: rename one first")
            owner[c.name] = src, _files(c, [])
        manifest = src / "manifest.json"
        merged.append({"folder": str(src), "classes": {c.name: len(owner[c.name][1]) for c in classes},
                       "manifest": json.loads(manifest.read_text()) if manifest.is_file() else None})
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, (src, files) in owner.items():
            for f in files:
                dest = scratch / name / f.relative_to(src / name)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest)
        info = {"merged_from": merged}
        (scratch / "manifest.json").write_text(json.dumps(info, indent=1) + "\n")
        parts = []
        for src in sources:
            a = src / "ATTRIBUTION.txt"
            parts.append(f"== {src} ==\n" + (a.read_text().strip() if a.is_file() else
                                             "(this folder has no ATTRIBUTION.txt: its licence is not recorded)"))
        (scratch / "ATTRIBUTION.txt").write_text("\n\n".join(parts) + "\n")
        if out.exists():
            out.rmdir()
        scratch.rename(out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    print(f"{out}: {sum(sum(m['classes'].values()) for m in merged)} images in {len(owner)} classes "
          f"from {len(sources)} folders")
    return info
