"""One click's answer: an attention map and what it says (serving/probe.py computes it).

The modes: "looks-at" is the clicked pixel's softmax row over the key grid (where it gathers
information from), "looked-at-by" the column of the clicked key cell over the query grid (which
pixels gather from here). A row of a layer with register or null slots (models/attention.py) puts
part of its weight outside the picture: the map holds the key cells' part, and the shares say
where the rest went.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

LOOKS_AT = "looks-at"
LOOKED_AT_BY = "looked-at-by"
MODES = (LOOKS_AT, LOOKED_AT_BY)

LOW_PIXEL_SHARE = 0.1      # below this share on the pixels, a map is said to be nearly empty


@dataclass(frozen=True)
class AttentionMap:
    """One click's answer: the map and what it says.

    `heat` is over the key grid (looks-at: where the pixel gathers from) or the
    query grid (looked-at-by: which pixels gather from here). The statistics are
    of the map as shown: entropy (nats, and as a share of a uniform map's) and
    mean distance in image pixels from the clicked cell's centre to the cells
    the map weighs, weighted by the normalised map.
    """

    heat: torch.Tensor
    layer: str
    mode: str
    head: int | None             # None: the mean over heads
    x: int
    y: int
    size: tuple[int, int]        # the picture (width, height) that x, y are pixels of
    cell: tuple[int, int]        # the clicked cell (col, row) of the grid the map comes from
    grid: tuple[int, int]        # (H, W) query grid
    key_grid: tuple[int, int]    # (Hk, Wk) key grid
    gamma: float
    entropy_nats: float
    uniform_entropy_nats: float
    mean_distance_px: float
    max_weight: float
    total_weight: float
    register_share: float | None = None  # looks-at on a layer with slots: the row's share on the registers
    null_share: float | None = None      # ... and on the null slot ("no pixel"); None otherwise
    gamma_ctx: float | None = None       # the layer's global-context gamma, if it has that path
    has_slots: bool = False              # the layer's rows reach registers or a null slot

    @property
    def pixel_share(self) -> float | None:
        """looks-at: the share of the row on the picture's key cells (1 without slots)."""
        if self.register_share is None:
            return None
        return max(0.0, 1.0 - self.register_share - self.null_share)

    @property
    def entropy_norm(self) -> float:
        """Entropy as a share of a uniform map's (0 for a one-cell map)."""
        return self.entropy_nats / self.uniform_entropy_nats if self.uniform_entropy_nats > 0 else 0.0

    def stats(self) -> dict[str, Any]:
        """The statistics as JSON values (the API's answer, exports' metadata)."""
        out = {"layer": self.layer, "mode": self.mode, "head": "mean" if self.head is None else self.head,
               "x": self.x, "y": self.y, "size": list(self.size), "gamma": self.gamma, "cell": list(self.cell),
               "grid": list(self.grid), "key_grid": list(self.key_grid), "entropy_nats": self.entropy_nats,
               "uniform_entropy_nats": self.uniform_entropy_nats, "entropy_norm": self.entropy_norm,
               "mean_distance_px": self.mean_distance_px, "max_weight": self.max_weight,
               "total_weight": self.total_weight}
        if self.has_slots:       # only layers that have them: older models answer as before
            out.update(register_share=self.register_share, null_share=self.null_share,
                       pixel_share=self.pixel_share)
        if self.gamma_ctx is not None:
            out["gamma_ctx"] = self.gamma_ctx
        return out

    def describe(self, markdown: bool = False) -> str:
        """One or two lines for people: the CLI prints them, the studio shows them under the map."""
        verb = "looks at" if self.mode == LOOKS_AT else "is looked at by"
        head = "mean" if self.head is None else self.head
        numbers = (f"γ (gamma) = {self.gamma:+.4f} · entropy {self.entropy_nats:.2f} nats "
                   f"({100 * self.entropy_norm:.0f}% of uniform) · mean distance {self.mean_distance_px:.1f} px "
                   f"· peak weight {self.max_weight:.3f}")
        if self.gamma_ctx is not None:
            numbers += f" · γ context {self.gamma_ctx:+.4f}"
        slots = self.slots_sentence()
        if markdown:
            return f"**{self.layer}**, head {head}: the pixel {verb} this map.  \n{numbers}" + (
                f"  \n{slots}" if slots else "")
        return f"{self.layer}, head {head}, cell {self.cell}: the pixel {verb} this map. {numbers}" + (
            f" {slots}" if slots else "")

    def slots_sentence(self) -> str:
        """What the row puts outside the picture, in words ('' when nothing can go there)."""
        if self.pixel_share is None or self.pixel_share > 1.0 - 5e-3:
            return ""
        parts = []
        if self.null_share:
            parts.append(f"{100 * self.null_share:.0f}% on no pixel (the null slot)")
        if self.register_share:
            parts.append(f"{100 * self.register_share:.0f}% on the registers")
        text = "This pixel puts " + " and ".join(parts) + f"; the map holds the other {100 * self.pixel_share:.0f}%."
        if self.pixel_share < LOW_PIXEL_SHARE:
            text += " Nearly all of its attention leaves the picture: the map is what little is left."
        return text
