"""A small thread-safe LRU of renders, shared by the image studio and the textures desk: a click, a
map or an export on a view already painted never runs the generator again.

Bounded twice: by count (`size`) and by bytes (`max_bytes`, issue #37). A count alone let a few
2048² canvases with their attention captures weigh as much as thousands of 32-px renders; the bytes
of a render (`render_nbytes`) count its image, latents and captures, including the per-capture
statistics a click computes later (probe.Capture's _lse and _summary), so the bound holds after
clicks too. The newest render is always kept, even alone over the limit: a click on it must not
paint again."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

import numpy as np
import torch

T = TypeVar("T")
MAX_BYTES = 256 * 2 ** 20     # default byte bound of one cache


def _tensor_bytes(t) -> int:
    if isinstance(t, torch.Tensor):
        return t.numel() * t.element_size()
    if isinstance(t, np.ndarray):
        return t.nbytes
    return 0


def capture_nbytes(cap) -> int:
    """A probe.Capture's bytes as it will be after clicks: q, k and the rest, plus the row
    normalisers (_lse, one float per query row and head) and the two per-head summary maps
    (_summary), whether or not they were computed yet."""
    held = sum(_tensor_bytes(getattr(cap, n, None)) for n in ("q", "k", "w", "registers", "unary"))
    q = getattr(cap, "q", None)
    if isinstance(q, torch.Tensor) and q.ndim == 4:
        b, heads, nq, _ = q.shape
        held += b * heads * nq * 4                      # _lse, (B, heads, Nq) float32
        held += 2 * nq * 4 * (heads + 1)                 # _summary: (distance, entropy) per head and the mean
    return held


def render_nbytes(value) -> int:
    """Bytes a cached render holds: arrays and tensors among its fields (image, z, field, a shrunk
    copy) and its captures (capture_nbytes). Other values weigh their own arrays, else 0."""
    total = 0
    fields = getattr(value, "__dict__", None)
    if fields is None:
        return _tensor_bytes(value)
    for name, v in fields.items():
        if name == "captures" and isinstance(v, dict):
            total += sum(capture_nbytes(c) for c in v.values())
        else:
            total += _tensor_bytes(v)
    return total


class RenderCache:
    def __init__(self, size: int, max_bytes: int = MAX_BYTES, weigh: Callable[[object], int] = render_nbytes):
        self.size = size
        self.max_bytes = max_bytes
        self.weigh = weigh
        self._items: OrderedDict = OrderedDict()
        self._bytes: dict = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The value kept under `key`, else make() (run outside the lock: other keys are served
        meanwhile), kept as the newest; the oldest are dropped while more than `size` are kept or
        they weigh more than `max_bytes` in all (the newest always stays)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        weight = self.weigh(value)
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            self._bytes[key] = weight
            while len(self._items) > 1 and (len(self._items) > self.size or self.nbytes > self.max_bytes):
                old, _ = self._items.popitem(last=False)
                self._bytes.pop(old, None)
        return value

    @property
    def nbytes(self) -> int:
        """Bytes the kept renders hold (as weighed when they were kept)."""
        return sum(self._bytes.values())

    def __len__(self) -> int:
        return len(self._items)
