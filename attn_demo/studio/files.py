"""Where the studio's pictures and exports go: data: URLs for the page, files for downloads.

Renders and clicks travel inside the event's answer (a data: URL), so the
browser shows them without another request and nothing is written. The maps
served as files (the layer summary, the pinned points) and the exports live
in an export folder that prunes itself: served files after two minutes,
export folders after EXPORT_LIFETIME seconds (the browser downloads them at
once), and the oldest export folders first whenever they hold more than
EXPORT_BUDGET bytes (never one younger than EXPORT_MIN_AGE), so the disk a
busy app takes does not grow with its request rate.

The app puts this folder inside Gradio's cache (app.py): Gradio serves a file
that is already there as it is, instead of copying it into its cache and
keeping the copy for its own `delete_cache` age (a 256² material set's zip is
about 0.7 MB; each was on disk twice).
"""
from __future__ import annotations

import atexit
import base64
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ..imaging import draw

EXPORT_LIFETIME = 600    # seconds an export file stays on disk
EXPORT_BUDGET = 48 * 2 ** 20   # bytes the export folders may hold: beyond it the oldest go first...
EXPORT_MIN_AGE = 30            # ...but never a folder younger than this (seconds; its download may be running)
SERVED = "served"        # the subfolder for the pictures handed to Gradio (pruned after 2 min)
SERVED_LIFETIME = 120


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def png_data_url(img: np.ndarray) -> str:
    """The generated image for the browser, lossless and inline. PNG at zlib level 1, faster than the
    level 6 Gradio uses for arrays (docs/PERFORMANCE_NOTES.md)."""
    return data_url("image/png", draw.encode_png(img, compress_level=1))


def jpeg_data_url(img: np.ndarray) -> str:
    """A click's overlay for the browser, inline like `png_data_url`: JPEG at quality 95
    (draw.encode_jpeg), a third of the PNG's bytes and encoding time."""
    return data_url("image/jpeg", draw.encode_jpeg(img))


def _bytes_under(path: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:       # removed meanwhile
                pass
    return total


def prune_folders(root: Path, now: float, lifetime: float = EXPORT_LIFETIME, budget: int = EXPORT_BUDGET,
                  min_age: float = EXPORT_MIN_AGE, skip: tuple[str, ...] = (SERVED,)) -> int:
    """Remove root's sub-folders (but `skip`) older than `lifetime` seconds, then the oldest of the rest
    while they hold more than `budget` bytes, never one younger than `min_age`. Returns the bytes left."""
    folders = []
    for folder in root.iterdir():
        try:
            if folder.is_dir() and folder.name not in skip:
                folders.append((folder.stat().st_mtime, folder))
        except OSError:           # removed meanwhile
            continue
    kept, total = [], 0
    for mtime, folder in sorted(folders):
        if now - mtime > lifetime:
            shutil.rmtree(folder, ignore_errors=True)    # a data-set export holds folders of its own
        else:
            size = _bytes_under(folder)
            kept.append((mtime, folder, size))
            total += size
    for mtime, folder, size in kept:                     # oldest first
        if total <= budget or now - mtime < min_age:
            break
        shutil.rmtree(folder, ignore_errors=True)
        total -= size
    return total


class ExportFolder:
    """A folder for served pictures and exports. Without `root`: a fresh temp folder (removed at exit),
    inside `under` if given (the app gives Gradio's cache folder: module docstring)."""

    def __init__(self, root: Path | None = None, under: Path | None = None):
        if root is None:
            if under is not None:
                Path(under).mkdir(parents=True, exist_ok=True)
            root = tempfile.mkdtemp(prefix="attn-demo-export-", dir=under)
            atexit.register(shutil.rmtree, root, ignore_errors=True)
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._served_count = 0

    def jpeg_path(self, img: np.ndarray) -> str:
        """A map served as a file, as `jpeg_data_url` encodes it. Exports stay lossless PNG."""
        return self.served_file(draw.encode_jpeg(img), "jpg")

    def served_file(self, data: bytes, suffix: str) -> str:
        """Write `data` to a fresh file for Gradio to serve. Gradio copies the file into its own
        cache as the handler returns, so files here older than two minutes are deleted: the
        folder stays small."""
        folder = self.root / SERVED
        folder.mkdir(exist_ok=True)
        now = time.time()
        with self._lock:
            self._served_count += 1
            name = f"{self._served_count:08d}.{suffix}"
            if self._served_count % 50 == 0:
                for old in folder.iterdir():
                    if now - old.stat().st_mtime > SERVED_LIFETIME:
                        old.unlink(missing_ok=True)
        path = folder / name
        path.write_bytes(data)
        return str(path)

    def new_file(self, name: str) -> Path:
        """A fresh file in its own folder; folders older than EXPORT_LIFETIME are pruned."""
        return self.new_folder() / name

    def new_folder(self) -> Path:
        """A fresh folder for files that belong together; older folders are pruned first (by age, then
        by EXPORT_BUDGET: prune_folders)."""
        prune_folders(self.root, time.time())
        return Path(tempfile.mkdtemp(dir=self.root))
