"""Attention probing: record queries and keys, answer per-pixel questions.

The generator's forward pass never builds the (N, Nk) attention matrix. The
recorder keeps each attention layer's queries and keys instead (plus each
query's log-normaliser), and a click recomputes only what it needs:

- "looks at": the softmax row of the query under pixel (x, y), a map over the
  key grid that sums to 1 -- where this pixel gathers information from;
- "looked at by": the column of the key cell under (x, y) across all queries,
  a map over the query grid -- which pixels gather information from here.

Each costs O(N * d) time and O(N) memory. A column also needs every query's
softmax normaliser (logsumexp over keys), an O(N * Nk) pass done in chunks of
bounded memory the first time a layer is asked, then cached, like the
per-layer summary (mean attention distance and entropy of every query).

`Capture.probe` answers a click in one call: the map of either mode and its
statistics, as an `AttentionMap` (serving/maps.py).

Layers with register slots or a null slot (models/attention.py) put part of each row's softmax
outside the picture: the maps show the key cells' part as it is (not renormalised), and
`AttentionMap.register_share` / `null_share` say how much went to the slots. A layer with a
global-context path also has its unary map, one softmax over key cells shared by every pixel
(`Capture.unary_map`), and its own gamma_ctx.

Coordinates: (x, y) is a pixel of a picture `size` = (width, height) pixels
showing the whole image (the generated image itself, or an upscaled copy of
any size). Rows of q are query pixels in raster order (index = row * W + col).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real
import torch
from torch import nn

from ..errors import InputError
from ..models.attention import attention_logits
from .maps import LOOKED_AT_BY, LOOKS_AT, MODES, AttentionMap  # noqa: F401 - the answers, importable from here too

_CHUNK_ELEMENTS = 1 << 22  # logits per chunk in the O(N * Nk) passes (16 MiB fp32)


def check_pixel(x, y, size: tuple[int, int]) -> tuple[int, int]:
    """Validate a click: integers inside a picture of size (width, height)."""
    width, height = size
    out = []
    for name, v, limit in (("x", x, width), ("y", y, height)):
        if isinstance(v, bool) or not isinstance(v, Real):
            raise InputError(f"click {name} must be a number, got {v!r}")
        if not math.isfinite(v) or v != int(v):
            raise InputError(f"click {name} must be a whole pixel index, got {v!r}")
        if not 0 <= v < limit:
            raise InputError(f"click {name}={int(v)} is outside the image (0..{limit - 1}): "
                             "click inside the image")
        out.append(int(v))
    return out[0], out[1]


def pixel_to_cell(x: int, y: int, size: tuple[int, int], grid: tuple[int, int]) -> tuple[int, int]:
    """Map pixel (x, y) of a (width, height) picture to a cell (col, row) of a (rows, cols) grid.

    Exact integer arithmetic: the picture is split into `cols` equal spans of
    width/cols pixels and x falls into span floor(x * cols / width).
    """
    x, y = check_pixel(x, y, size)
    width, height = size
    rows, cols = grid
    return (x * cols) // width, (y * rows) // height


def _check_head(head: int | None, heads: int) -> int | None:
    if head is None:
        return None
    if isinstance(head, bool) or not isinstance(head, Integral) or not 0 <= head < heads:
        raise InputError(f"head must be an integer in 0..{heads - 1} or None (mean), got {head!r}")
    return int(head)


def _select_head(maps: torch.Tensor, head: int | None) -> torch.Tensor:
    """(heads, ...) -> (...): one head, or the mean over heads."""
    return maps.mean(dim=0) if head is None else maps[head]


@dataclass
class Capture:
    """One attention layer's queries and keys from the last forward pass."""

    name: str
    q: torch.Tensor            # (B, heads, Nq, dk) float32; rows are query pixels
    k: torch.Tensor            # (B, heads, Nk, dk) float32; rows are key cells
    grid: tuple[int, int]      # (H, W) query grid
    key_grid: tuple[int, int]  # (Hk, Wk) key grid
    scale: float
    gamma: float
    image_size: int | tuple[int, int]   # the generated image: a side, or (width, height) for a canvas
    kind: str = "dot"          # how a query scores a key (models/attention.py)
    w: torch.Tensor | None = None   # (heads, dk): the additive kind's vector
    registers: torch.Tensor | None = None   # (heads, R, dk): register keys, after the key cells in a row
    null: bool = False         # one more slot with logit 0 at the end of each row
    unary: torch.Tensor | None = None       # (B, heads, Nk): the global-context path's softmax
    gamma_ctx: float | None = None          # the context path's gamma
    _lse: torch.Tensor | None = field(default=None, repr=False)
    _summary: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_qk(cls, name, q, k, grid, key_grid, scale, gamma, image_size, kind="dot", w=None,
                registers=None, null=False, unary=None, gamma_ctx=None) -> "Capture":
        # Clicks index single rows: cheaper on the CPU than as GPU kernel launches.
        plain = [None if t is None else t.detach().float().cpu() for t in (q, k, w, registers, unary)]
        image_size = int(image_size) if isinstance(image_size, int) else tuple(map(int, image_size))
        return cls(name, plain[0], plain[1], tuple(grid), tuple(key_grid), float(scale), float(gamma), image_size,
                   kind, plain[2], plain[3], bool(null), plain[4], None if gamma_ctx is None else float(gamma_ctx))

    @property
    def extra_slots(self) -> int:
        """Slots after the key cells in each row: the registers, then the null slot."""
        return (0 if self.registers is None else self.registers.shape[1]) + int(self.null)

    def row_logits(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """`logits` with the registers' and the null slot's scores appended:
        (..., heads, nq, nk + extra_slots)."""
        logits = self.logits(q, k)
        if self.registers is not None:
            regs = self.registers.expand(*q.shape[:-2], *self.registers.shape[-2:])
            logits = torch.cat([logits, self.logits(q, regs)], dim=-1)
        return torch.nn.functional.pad(logits, (0, 1)) if self.null else logits

    def unary_map(self, head=None, b=0) -> torch.Tensor | None:
        """The global-context path's map over the key grid (the same for every pixel), or None."""
        if self.unary is None:
            return None
        b, head = self._check_b(b), _check_head(head, self.heads)
        return _select_head(self.unary[b], head).reshape(self.key_grid)

    def logits(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """This layer's scores of queries against keys: (..., heads, nq, d), (..., heads, nk, d) ->
        (..., heads, nq, nk), in bounded memory for every kind (models/attention.py)."""
        return attention_logits(q, k, self.kind, self.scale, self.w)

    @property
    def lse(self) -> torch.Tensor:
        """(B, heads, Nq) log of each query's softmax normaliser; computed once."""
        if self._lse is None:
            self._lse = _row_logsumexp(self)
        return self._lse

    @property
    def heads(self) -> int:
        return self.q.shape[1]

    @property
    def batch(self) -> int:
        return self.q.shape[0]

    @property
    def nbytes(self) -> int:
        """Memory this capture holds (linear in N)."""
        held = [t for t in (self.q, self.k, self._lse, self.registers, self.unary) if t is not None]
        return sum(t.numel() * t.element_size() for t in held)

    @property
    def picture(self) -> tuple[int, int]:
        """(width, height) of the generated image."""
        s = self.image_size
        return (s, s) if isinstance(s, int) else s

    def _size(self, size):
        return self.picture if size is None else tuple(size)

    def _check_b(self, b: int) -> int:
        if isinstance(b, bool) or not isinstance(b, Integral) or not 0 <= b < self.batch:
            raise InputError(f"image index must be in 0..{self.batch - 1}, got {b!r}")
        return int(b)

    def row(self, x, y, size=None, head=None, b=0) -> torch.Tensor:
        """The whole softmax row of the query under (x, y): (Nk + extra_slots,), sums to 1: the key
        cells in raster order, then the registers, then the null slot."""
        b, head = self._check_b(b), _check_head(head, self.heads)
        cx, cy = pixel_to_cell(x, y, self._size(size), self.grid)
        qi = cy * self.grid[1] + cx
        if self.kind == "additive" or self.extra_slots:
            logits = self.row_logits(self.q[b, :, qi:qi + 1], self.k[b])[:, 0]       # (heads, Nk + extra)
        else:
            logits = (self.k[b] @ self.q[b, :, qi, :, None]).squeeze(-1) * self.scale  # (heads, Nk)
        return _select_head(torch.softmax(logits, dim=-1), head)

    def looks_at(self, x, y, size=None, head=None, b=0) -> torch.Tensor:
        """Attention row of the query under (x, y) over the key cells: (Hk, Wk); sums to 1 less
        what the row puts on registers and the null slot."""
        nk = self.key_grid[0] * self.key_grid[1]
        return self.row(x, y, size, head, b)[:nk].reshape(self.key_grid)

    def slot_shares(self, x, y, size=None, head=None, b=0) -> tuple[float, float]:
        """(registers, null): the shares of the query's row on the register slots and the null slot."""
        if not self.extra_slots:
            return 0.0, 0.0
        r = self.row(x, y, size, head, b)
        nk, null = self.key_grid[0] * self.key_grid[1], float(r[-1]) if self.null else 0.0
        return float(r[nk:nk + self.extra_slots - int(self.null)].sum()), null

    def looked_at_by(self, x, y, size=None, head=None, b=0) -> torch.Tensor:
        """Attention column of the key cell under (x, y) across all queries: (H, W).

        Entry (r, c) is how much query pixel (r, c) attends to this key cell.
        """
        b, head = self._check_b(b), _check_head(head, self.heads)
        kx, ky = pixel_to_cell(x, y, self._size(size), self.key_grid)
        kj = ky * self.key_grid[1] + kx
        if self.kind == "additive":
            logits = self.logits(self.q[b], self.k[b, :, kj:kj + 1])[..., 0]           # (heads, Nq), O(Nq * d)
        else:
            logits = (self.q[b] @ self.k[b, :, kj, :, None]).squeeze(-1) * self.scale  # (heads, Nq)
        col = torch.exp(logits - self.lse[b])
        return _select_head(col, head).reshape(self.grid)

    def probe(self, x, y, size=None, head=None, mode: str = LOOKS_AT, b=0) -> AttentionMap:
        """The map of pixel (x, y) in `mode` (looks-at: its row; looked-at-by: its key cell's
        column) with its statistics."""
        if mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        size, head = self._size(size), _check_head(head, self.heads)
        x, y = check_pixel(x, y, size)
        heat = (self.looks_at if mode == LOOKS_AT else self.looked_at_by)(x, y, size=size, head=head, b=b)
        from_grid, to_grid = (self.grid, self.key_grid) if mode == LOOKS_AT else (self.key_grid, self.grid)
        cx, cy = pixel_to_cell(x, y, size, from_grid)
        origin = self.cell_centres(from_grid)[cy * from_grid[1] + cx]
        total = float(heat.sum())
        p = heat.reshape(-1) / max(total, 1e-30)
        distance = float((p * (self.cell_centres(to_grid) - origin).norm(dim=1)).sum())
        shares = self.slot_shares(x, y, size, head, b) if mode == LOOKS_AT and self.extra_slots else (None, None)
        return AttentionMap(heat, self.name, mode, head, x, y, size, (cx, cy), self.grid, self.key_grid,
                            self.gamma, float(entropy(p)), float(math.log(p.numel())), distance,
                            float(heat.max()), total, *shares, self.gamma_ctx, self.extra_slots > 0)

    def flow(self, weights: torch.Tensor, head=None, b=0) -> torch.Tensor:
        """sum_i weights[i] * row_i: where a distribution over the query pixels (H, W) gathers from,
        spread back from the key grid onto the query grid (each pooled key cell evenly over the pixels
        it pools). Rows are computed in chunks: bounded memory, O(N * Nk * d) time."""
        b, head = self._check_b(b), _check_head(head, self.heads)
        weights = weights.reshape(-1)
        out = torch.zeros(self.k.shape[2])
        step = _chunk(self.k.shape[2] * self.heads)
        nk = self.k.shape[2]
        for s in range(0, weights.numel(), step):
            rows = torch.softmax(self.row_logits(self.q[b, :, s:s + step], self.k[b]), dim=-1)[..., :nk]
            out += weights[s:s + step] @ _select_head(rows, head)                         # (heads, c, Nk)
        (h, w), (hk, wk) = self.grid, self.key_grid
        fy, fx = h // hk, w // wk
        return out.reshape(hk, wk).repeat_interleave(fy, 0).repeat_interleave(fx, 1) / (fy * fx)

    def summary(self, head=None, b=0) -> tuple[torch.Tensor, torch.Tensor]:
        """Per query pixel: mean attention distance (image pixels) and entropy (nats).

        Both are of the map `looks_at` shows: one head's row, or the mean over
        heads. Returns two (H, W) tensors; cached per (head, b).
        """
        b, head = self._check_b(b), _check_head(head, self.heads)
        key = (head, b)
        if key not in self._summary:
            self._summary[key] = _row_statistics(self, head, b)
        return self._summary[key]

    def cell_centres(self, grid: tuple[int, int]) -> torch.Tensor:
        """(rows*cols, 2) centres of a grid's cells in image pixels, as (x, y)."""
        rows, cols = grid
        width, height = self.picture
        ys = (torch.arange(rows, dtype=torch.float32) + 0.5) * (height / rows)
        xs = (torch.arange(cols, dtype=torch.float32) + 0.5) * (width / cols)
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def rollout(captures, x, y, size=None, head=None, b=0) -> torch.Tensor:
    """Attention rollout (after Abnar & Zuidema, 2020), an approximation of where the pixel (x, y)
    of the last layer draws from through every attention layer: a map over the first layer's grid.

    From the last layer back to the first, a distribution over the layer's pixels (at first, the
    clicked one) passes through the layer as its residual does, y = x + gamma * attention: the
    identity and the attention flow mixed in the ratio 1 : |gamma|. Between two layers it is summed
    onto the coarser grid (each coarse pixel stands for the fine ones its up-blocks make from it).
    What the convolutions between the layers mix is left out, hence an approximation.
    `captures`: the layers in forward order (coarse to fine), as a render records them.
    """
    caps = list(captures)
    if not caps:
        raise InputError("rollout needs at least one attention layer")
    last = caps[-1]
    cx, cy = pixel_to_cell(x, y, last._size(size), last.grid)
    r = torch.zeros(last.grid)
    r[cy, cx] = 1.0
    for i in range(len(caps) - 1, -1, -1):
        g = abs(caps[i].gamma)
        r = (r + g * caps[i].flow(r, head, b)) / (1 + g)
        if i > 0:
            (h, w), (hc, wc) = r.shape, caps[i - 1].grid
            if h % hc or w % wc:
                raise InputError(f"layer {caps[i].name} does not refine layer {caps[i - 1].name}'s grid")
            r = r.reshape(hc, h // hc, wc, w // wc).sum(dim=(1, 3))
    return r


def _chunk(n_keys: int) -> int:
    return max(1, _CHUNK_ELEMENTS // max(n_keys, 1))


def _row_logsumexp(cap: Capture) -> torch.Tensor:
    """logsumexp over keys of every query's logits, in chunks: (B, heads, Nq)."""
    q, k = cap.q, cap.k
    step = _chunk(k.shape[2] * q.shape[0] * q.shape[1])
    # Written into one tensor made up front: a small result kept per chunk would land in the
    # chunk's freed scores and split them, and glibc's heap would then grow by a chunk per chunk
    # (3 GB for a 2048² canvas's layer, measured 2026-12-06).
    out = q.new_empty(q.shape[:3])
    for s in range(0, q.shape[2], step):
        out[:, :, s:s + step] = torch.logsumexp(cap.row_logits(q[:, :, s:s + step], k), dim=-1)
    return out


def entropy(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Shannon entropy in nats; 0 log 0 = 0."""
    return -(p * torch.log(p.clamp_min(1e-30))).sum(dim=dim)


def _row_statistics(cap: Capture, head: int | None, b: int) -> tuple[torch.Tensor, torch.Tensor]:
    qpos = cap.cell_centres(cap.grid)       # (Nq, 2)
    kpos = cap.cell_centres(cap.key_grid)   # (Nk, 2)
    n, nk = qpos.shape[0], kpos.shape[0]   # the key cells come first in every row
    mean_dist, ent = torch.empty(n), torch.empty(n)
    step = _chunk(nk * cap.heads)
    for s in range(0, n, step):
        logits = cap.row_logits(cap.q[b, :, s:s + step], cap.k[b])     # (heads, n_c, Nk + extra)
        p = _select_head(torch.softmax(logits, dim=-1)[..., :nk], head)   # (n_c, Nk): the key cells' part
        p = p / p.sum(-1, keepdim=True).clamp_min(1e-30)               # statistics of the map as drawn
        dist = torch.cdist(qpos[s:s + step], kpos)                      # (n_c, Nk)
        mean_dist[s:s + step] = (p * dist).sum(-1)
        ent[s:s + step] = entropy(p)
    return mean_dist.reshape(cap.grid), ent.reshape(cap.grid)


class AttentionRecorder:
    """Context manager that records every attention layer of a model on each forward.

        with AttentionRecorder(G) as rec:
            img = G(z, y)
        rec.captures["G16"].looks_at(x=10, y=20)

    The hooks are removed on exit; the captures stay readable. `model` is a
    network with `attention_layers()` (G or D), or a single attention module
    (then `image_size` says how large the picture is that its grid covers).
    """

    def __init__(self, model: nn.Module, image_size: int | tuple[int, int] | None = None):
        self.model = model
        if hasattr(model, "attention_layers"):
            self.layers = model.attention_layers()
            image_size = image_size or model.cfg.resolution
        else:
            self.layers = {"attn": model}
        if image_size is None:
            raise ValueError("image_size is needed to record a single attention module")
        self.image_size = image_size
        self.captures: dict[str, Capture] = {}
        self._handles: list = []

    def __enter__(self) -> "AttentionRecorder":
        self._handles = [m.register_forward_hook(self._hook(name)) for name, m in self.layers.items()]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def _hook(self, name: str):
        def hook(module, inputs, output):
            x = inputs[0]
            with torch.no_grad():
                q, k = module.queries_keys(x)  # recomputes two 1x1 convs; the forward stays pure
                unary = module.unary(x) if getattr(module, "context", False) else None
            grid = (x.shape[-2], x.shape[-1])
            self.captures[name] = Capture.from_qk(
                name, q, k, grid, module.key_grid(*grid), module.scale,
                float(module.gamma.detach()), self.image_size, module.kind, module.w,
                getattr(module, "reg_k", None), getattr(module, "null", False), unary,
                module.gamma_ctx.detach() if unary is not None else None)
        return hook
