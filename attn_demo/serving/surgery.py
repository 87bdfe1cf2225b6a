"""Attention surgery: edit one attention layer of the served generator exactly, and re-render.

A map says where a pixel's attention looks; an intervention says whether that matters
(issue #35). Every edit is a mask on the layer's softmax rows, applied before the softmax:

    off       the attention output of some queries (a layer, a clicked pixel, a brush) is 0,
              so y = x there (the context path, a layer's other term, is left as it is)
    hide      the key cells under a brush leave every query's softmax; the rest renormalise
              (registers and the null slot, where the layer has them, stay: a brush over the
              whole image leaves each pixel attending to those slots alone, a legitimate question,
              "what does the layer do with no image to look at?"; without slots it is refused)
    redirect  the clicked or brushed queries attend only to a painted region's key cells
              (no registers, no null slot: only the region)

The edited layer is computed explicitly (`edited_attention`): logits over the key cells and
the slots, the edits as masks, softmax, times the values, the output conv and gamma; then the
rest of G runs from the activations that entered the layer in the original render (`enter`
keeps them, `finish` runs on), so an intervention costs the layer and what follows it, and a
batch of edits (serving/faithfulness.py) is one batched run of that tail. The unedited image
comes from the same explicit path in the same batch, so an edit that changes nothing gives a
difference of exactly zero.

Coordinates are a picture's pixels as everywhere in the engine: a click (x, y) and brushes
(H, W) boolean masks of a picture of `size` = (width, height), the image by default. A grid cell
is under a brush when any of its pixels is (serving/regions.py). tests/serving/test_surgery.py compares
each edit with the whole attention matrix edited by hand and the trained G run from the start.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from .probe import check_pixel, pixel_to_cell
from .regions import cells_under, check_mask
from .surgery_result import SurgeryResult, images_result  # noqa: F401 (SurgeryResult: imported from here too)

ACTIONS = ("off", "hide", "redirect", "faithfulness")
_CHUNK = 1 << 22            # masked logits per query chunk (B x heads x rows x slots), 16 MiB fp32


# ------------------------------------------------------------------ edits on one layer's grids
@dataclass(frozen=True)
class Edit:
    """What changes in one layer's softmax rows, on its grids (one Edit per image of a batch).

    off: (Nq,) bool, queries whose attention output is zero; rules: (queries (Nq,) bool,
    keep (Nk + extra,) bool) pairs: the listed queries' rows keep only the `keep` slots
    (the key cells in raster order, then the registers, then the null slot). No edit: Edit()."""

    off: torch.Tensor | None = None
    rules: tuple[tuple[torch.Tensor, torch.Tensor], ...] = ()

    def allowed(self, start: int, stop: int, slots: int) -> torch.Tensor:
        """(stop - start, slots) bool: which slots rows start..stop may attend to."""
        allow = torch.ones(stop - start, slots, dtype=torch.bool)
        for queries, keep in self.rules:
            rows = queries[start:stop]
            allow[rows] &= keep
        return allow


def _attention_parts(module):
    """The trained form of a served attention layer (a fused layer keeps it as `source`)."""
    return getattr(module, "source", module)


def slot_count(module, key_cells: int) -> int:
    """Key cells plus the registers and the null slot of `module`'s rows."""
    return key_cells + _attention_parts(module).extra_slots


@torch.inference_mode()
def edited_attention(module, x: torch.Tensor, edits: Sequence[Edit]) -> torch.Tensor:
    """The layer's output with one Edit per image: x (1 or B, C, H, W) -> (B, C, H, W), B = len(edits).

    Written out: logits of every query against the key cells and the slots, masked rows,
    softmax, times the values, the output conv and gamma, plus the context path unedited.
    A row left with nothing to attend to is refused unless its query is switched off."""
    a = _attention_parts(module)
    batch = len(edits)
    if x.shape[0] not in (1, batch):
        raise ValueError(f"{x.shape[0]} inputs for {batch} edits")
    _, c, h, w = x.shape
    q, k = a.queries_keys(x)                                    # (b, heads, Nq, dk), (b, heads, Nk, dk)
    v_cells = a._heads(a._pool(a.value(x)))                     # (b, heads, Nk, dv)
    nq, nk = q.shape[2], k.shape[2]
    logits_k, values = [k], [v_cells]
    if a.registers:
        logits_k.append(a.reg_k.to(k.dtype).expand(k.shape[0], -1, -1, -1))
        values.append(a.reg_v.to(v_cells.dtype).expand(k.shape[0], -1, -1, -1))
    keys = torch.cat(logits_k, dim=2)                           # (b, heads, Nk + R, dk)
    if a.null:
        values.append(v_cells.new_zeros(*v_cells.shape[:2], 1, v_cells.shape[-1]))
    v = torch.cat(values, dim=2)                                # (b, heads, Nk + R + null, dv)
    slots = v.shape[2]
    off = torch.zeros(batch, nq, dtype=torch.bool)
    for i, e in enumerate(edits):
        if e.off is not None:
            off[i] = e.off
    o = q.new_empty(batch, a.heads, nq, a.v_dim)                # (B, heads, Nq, dv): rows are query pixels
    step = max(1, _CHUNK // max(1, batch * a.heads * slots))
    for s in range(0, nq, step):
        t = min(nq, s + step)
        logits = a.logits(q[:, :, s:t], keys)                   # (b, heads, rows, Nk + R)
        if a.null:
            logits = F.pad(logits, (0, 1))                      # the null slot's logit 0
        allow = torch.stack([e.allowed(s, t, slots) for e in edits])        # (B, rows, slots)
        empty = ~allow.any(-1)                                  # (B, rows)
        if bool((empty & ~off[:, s:t]).any()):
            raise InputError("the edit leaves a pixel nothing to attend to: keep at least one key cell "
                             "(or switch that pixel's attention off)")
        logits = logits.expand(batch, -1, -1, -1).masked_fill(~allow[:, None].to(logits.device), float("-inf"))
        p = torch.softmax(logits, dim=-1).nan_to_num(0.0)      # an all-masked row (switched off) is 0
        o[:, :, s:t] = p @ v                                    # (B, heads, rows, dv)
    o = o.masked_fill(off[:, None, :, None].to(o.device), 0.0)
    o = o.transpose(2, 3).reshape(batch, a.heads * a.v_dim, h, w)
    y = x + a.gamma * a.out(o)
    if a.context:
        u = a.unary(x)                                          # (b, heads, Nk)
        pooled = (u.unsqueeze(-2) @ v_cells).reshape(x.shape[0], a.heads * a.v_dim, 1, 1)
        y = y + a.gamma_ctx * a.ctx_out(pooled)
    return y


# ------------------------------------------------------------------ re-rendering from a layer
@dataclass
class Entry:
    """What entered attention layer `layer` in a render, kept to run the rest of G from there."""

    layer: str
    index: int                         # the up-block the layer follows
    h: torch.Tensor                    # (B, C, H, W): the layer's input
    y: torch.Tensor | None             # (B,) classes
    features: dict[int, torch.Tensor]  # skip-layer excitation's earlier maps, by size
    size: int                          # the layer's feature-map side

    def part(self, start: int, stop: int) -> "Entry":
        """Images start..stop of a batched entry (an entry of one image serves every edit)."""
        if self.h.shape[0] == 1:
            return self
        cut = slice(start, stop)
        return Entry(self.layer, self.index, self.h[cut], None if self.y is None else self.y[cut],
                     {s: f[cut] for s, f in self.features.items()}, self.size)


def _layer_size(G, layer: str) -> int:
    names = list(G.attention_layers())
    if layer not in names:
        raise InputError(f"unknown attention layer {layer!r}; this model has {', '.join(names)}")
    return int(layer[1:])


@torch.inference_mode()
def enter(G, z: torch.Tensor, y: torch.Tensor | None, layer: str) -> Entry:
    """Run G (models/networks.Generator.forward, step for step) up to attention layer `layer`."""
    size = _layer_size(G, layer)
    if G.fade is not None:
        raise InputError("a generator that is still fading in cannot be re-rendered from a layer")
    h = G.stem(z).view(z.shape[0], -1, 4, 4)
    features: dict[int, torch.Tensor] = {}
    for i, (block, s) in enumerate(zip(G.blocks, G.cfg.g_sizes()[1:])):
        h = block(h, y)
        if str(s) in G.sle:
            h = h * G.sle[str(s)](features[s // 4])
        if s == size:
            return Entry(layer, i, h, y, features, size)
        if str(s) in G.attn:
            h = G.attn[str(s)](h)
        if G.sle:
            features[s] = h
    raise AssertionError(f"layer {layer} not reached")


@torch.inference_mode()
def finish(G, entry: Entry, h: torch.Tensor) -> torch.Tensor:
    """The images (B, 3, R, R) in [-1, 1] from the layer's output h (B, C, H, W) onwards."""
    b = h.shape[0]
    y = None if entry.y is None else entry.y.expand(b) if entry.y.shape[0] == 1 else entry.y
    features = {s: f.expand(b, -1, -1, -1) if f.shape[0] == 1 else f for s, f in entry.features.items()}
    if G.sle:
        features[entry.size] = h
    sizes = G.cfg.g_sizes()[1:]
    for block, s in zip(G.blocks[entry.index + 1:], sizes[entry.index + 1:]):
        h = block(h, y)
        if str(s) in G.sle:
            h = h * G.sle[str(s)](features[s // 4])
        if str(s) in G.attn:
            h = G.attn[str(s)](h)
        if G.sle:
            features[s] = h
    return torch.tanh(G.out_conv(F.relu(G.out_bn(h))))


def run_edits(G, entry: Entry, edits: Sequence[Edit], batch: int = 64) -> torch.Tensor:
    """Images (len(edits), 3, R, R) of one entry under each edit, `batch` at a time."""
    layer = G.attention_layers()[entry.layer]
    if entry.h.shape[0] not in (1, len(edits)):
        raise ValueError(f"{entry.h.shape[0]} entries for {len(edits)} edits")
    out = []
    for s in range(0, len(edits), batch):
        part = entry.part(s, s + len(edits[s:s + batch]))
        out.append(finish(G, part, edited_attention(layer, part.h, edits[s:s + batch])).float().cpu())
    return torch.cat(out)


# ------------------------------------------------------------------ the actions on a render
class Surgery:
    """Interventions on the served generator of an `Engine`, for one render (`RenderResult`).

        s = Surgery(engine, result, "G16")
        out = s.switch_off(brush=mask)          # or pixel=(x, y), or neither: the whole layer
        out.picture(); out.stats()
    """

    def __init__(self, engine, result, layer: str | None = None, size: tuple[int, int] | None = None):
        self.engine, self.result = engine, result
        self.layer = engine.capture(result, layer).name      # an unknown layer: a clear error first
        self.size = engine._picture(size)
        G = engine.generator
        z = result.z[None].to(engine.device, torch.float32)
        y = None if result.class_index is None else torch.tensor([result.class_index], device=engine.device)
        with self.lock:
            self.entry = enter(G, z, y, self.layer)
        cap = result.captures[self.layer]
        self.grid, self.key_grid = cap.grid, cap.key_grid
        self.nq, self.nk = self.grid[0] * self.grid[1], self.key_grid[0] * self.key_grid[1]
        self.slots = slot_count(G.attention_layers()[self.layer], self.nk)

    @property
    def lock(self):
        """The engine's model lock: a render elsewhere records with hooks on the same modules, and a
        re-render through them would write into its captures (serving/engine.py)."""
        return getattr(self.engine, "_lock", contextlib.nullcontext())

    def run_edits(self, edits: Sequence[Edit]) -> torch.Tensor:
        """`run_edits` on this render's entry, holding the engine's lock."""
        with self.lock:
            return run_edits(self.engine.generator, self.entry, edits)

    # where: a click or a brush, on the query grid or the key grid
    def query_cell(self, x, y) -> int:
        x, y = check_pixel(x, y, self.size)
        cx, cy = pixel_to_cell(x, y, self.size, self.grid)
        return cy * self.grid[1] + cx

    def queries(self, pixel=None, brush=None, what: str = "brush") -> torch.Tensor:
        """(Nq,) bool: the clicked pixel's query, the queries under a brush, or (neither) all of them."""
        if pixel is not None and brush is not None:
            raise InputError("give a clicked pixel or a brush, not both")
        rows = torch.zeros(self.nq, dtype=torch.bool)
        if pixel is not None:
            rows[self.query_cell(*pixel)] = True
        elif brush is not None:
            rows = cells_under(check_mask(brush, self.size, what), self.grid)
        else:
            rows[:] = True
        return rows

    def key_cells(self, region, what: str) -> torch.Tensor:
        """(Nk,) bool: the key cells under a painted region."""
        if region is None:
            raise InputError(f"paint the {what} first: it is missing")
        return cells_under(check_mask(region, self.size, what), self.key_grid)

    def keep(self, cells: torch.Tensor, slots: bool) -> torch.Tensor:
        """(Nk + extra,) bool: the given key cells, and the registers / null slot if `slots`."""
        return torch.cat([cells, torch.full((self.slots - self.nk,), slots, dtype=torch.bool)])

    def run(self, action: str, edit: Edit, touched: dict, pixel=None, **regions) -> SurgeryResult:
        """The unedited and the edited image in one batch; the click and the regions (picture masks)
        kept, on the image's pixels, for the pictures."""
        t0 = time.perf_counter()
        images = self.run_edits([Edit(), edit])
        out = images_result(action, self.layer, images, touched, t0)
        side = images.shape[-1]
        if pixel is not None:
            out.click = pixel_to_cell(*pixel, self.size, (side, side))
        out.regions = tuple((what, cells_under(np.asarray(m, bool), (side, side)).reshape(side, side).numpy())
                            for what, m in regions.items() if m is not None)
        return out

    # the actions
    def switch_off(self, pixel=None, brush=None) -> SurgeryResult:
        """The attention output of the layer (neither given), the clicked pixel or the brushed pixels
        set to zero: y = x there (the context path, where there is one, stays)."""
        rows = self.queries(pixel, brush)
        if brush is not None and bool(rows.all()) and self.nq > 1:
            raise InputError("the brush covers every pixel of the layer: to switch the whole layer off, "
                             "give no brush and no pixel")
        scope = "layer" if pixel is None and brush is None else "pixel" if pixel is not None else "brush"
        return self.run("off", Edit(off=rows), {"scope": scope, "queries": int(rows.sum())}, pixel, brush=brush)

    def hide(self, region) -> SurgeryResult:
        """The key cells under `region` removed from every query's softmax; the rest (and the slots)
        renormalise."""
        cells = self.key_cells(region, "region to hide")
        if bool(cells.all()) and self.slots == self.nk:
            raise InputError("the region covers every key cell: nothing would be left to attend to "
                             "(to remove the layer's attention, switch it off)")
        rule = (torch.ones(self.nq, dtype=torch.bool), self.keep(~cells, True))
        touched = {"hidden_cells": int(cells.sum())}
        if bool(cells.all()):           # only the slots are left: said, so nobody mistakes it for "off"
            touched["left_to_attend"] = f"only the layer's {self.slots - self.nk} register / null slot(s)"
        return self.run("hide", Edit(rules=(rule,)), touched, brush=region)

    def redirect(self, target, pixel=None, brush=None) -> SurgeryResult:
        """The clicked or brushed queries attend only to the key cells under `target`."""
        if pixel is None and brush is None:
            raise InputError("redirect whom? click a pixel or paint the pixels to redirect")
        rows = self.queries(pixel, brush)
        cells = self.key_cells(target, "target region")
        if bool(cells.all()):
            raise InputError("the target covers the whole image: a redirect there changes nothing; "
                             "paint a smaller target")
        rule = (rows, self.keep(cells, False))
        touched = {"queries": int(rows.sum()), "target_cells": int(cells.sum())}
        return self.run("redirect", Edit(rules=(rule,)), touched, pixel, brush=brush, target=target)
