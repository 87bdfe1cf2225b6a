"""Where the studio's pictures and exports go: data: URLs for the page, files for downloads.

Renders and clicks travel inside the event's answer (a data: URL), so the
browser shows them without another request and nothing is written. The maps
served as files (the layer summary, the pinned points) and the exports live
in an export folder that prunes itself: served files after two minutes
(Gradio has copied them into its cache by then), export folders after
EXPORT_LIFETIME seconds (the browser downloads them at once).
"""
from __future__ import annotations

import atexit
import base64
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ..imaging import draw

EXPORT_LIFETIME = 600    # seconds an export file stays on disk
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


class ExportFolder:
    """A folder for served pictures and exports; our own temp folder (removed at exit) if none is given."""

    def __init__(self, root: Path | None = None):
        if root is None:
            root = tempfile.mkdtemp(prefix="attn-demo-export-")
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
        """A fresh folder for files that belong together; folders older than EXPORT_LIFETIME are pruned."""
        now = time.time()
        for old in self.root.iterdir():
            if old.is_dir() and old.name != SERVED and now - old.stat().st_mtime > EXPORT_LIFETIME:
                shutil.rmtree(old, ignore_errors=True)    # a data-set export holds folders of its own
        return Path(tempfile.mkdtemp(dir=self.root))
