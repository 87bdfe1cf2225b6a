"""The "is this a copy?" panel without Gradio: each model's neighbour index (quality/neighbours.py),
loaded on first use, and the feature net, for the image studio and the Textures tab alike."""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import AttnDemoError
from ..imaging import draw

log = logging.getLogger(__name__)
THUMB_SCALE = 4          # thumbnails (16 px) are shown at 64 px
LABELS = ("By the feature net's features", "By pixels")     # the panel's two galleries


class NeighbourShelf:
    def __init__(self, feature_net: Callable[[], object]):
        self._feature_net = feature_net          # the net, or None where the models have none beside them
        self._indexes: dict = {}
        self._lock = threading.Lock()

    def index(self, name: str, path: Path | None):
        """The index beside a model, or None (none shipped, or one that does not load: logged)."""
        from ..quality.neighbours import load_index
        with self._lock:
            if name not in self._indexes:
                try:
                    self._indexes[name] = load_index(path) if path else None
                except AttnDemoError as e:
                    log.warning("no neighbour index for %s: %s", name, e)
                    self._indexes[name] = None
            return self._indexes[name]

    def missing(self, name: str, path: Path | None) -> str:
        """Why the panel has nothing for model `name` (find gave None), in the page's words."""
        if self._feature_net() is None:
            return "there is no feature net beside the models (weights/feature_net) to compare pictures with"
        if self.index(name, path) is None:
            return (f"{name} ships no neighbour index: build one beside it with "
                    "python -m attn_demo index --weights <the model> --data <its training images>")
        return ""

    def find(self, name: str, path: Path | None, image: np.ndarray, k: int = 8
             ) -> dict[str, list[tuple[np.ndarray, str]]] | None:
        """The k nearest training images of `image` (H, W, 3 uint8) by features and by pixels:
        {"features": [(thumbnail, "distance · class")], "pixels": [...]}; None without an index or net."""
        index, net = self.index(name, path), self._feature_net()
        if index is None or net is None:
            return None
        found = index.nearest(net, image, k)
        names = json.loads(index.meta.get("class_names", "[]"))
        labelled = index.labels is not None and names
        return {kind: [(draw.upscale_nearest(index.thumbs[i].numpy(), THUMB_SCALE),
                        f"{d:.3f}" + (f" · {names[int(index.labels[i])]}" if labelled else ""))
                       for i, d in hits]
                for kind, hits in found.items()}
