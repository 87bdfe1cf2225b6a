"""An intervention's result (serving/surgery.py): before, after, their signed difference in grey
levels, the numbers, and the pictures the studio, the CLI and the API show and export."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..imaging import draw


@dataclass
class SurgeryResult:
    """Before, after and their difference (after - before, grey levels 0..255 per channel)."""

    action: str
    layer: str
    before: np.ndarray                 # (R, R, 3) uint8
    after: np.ndarray                  # (R, R, 3) uint8
    delta: np.ndarray                  # (R, R, 3) float32, signed, grey levels
    touched: dict = field(default_factory=dict)     # how many query rows / key cells the edit changed
    timings: dict[str, float] = field(default_factory=dict)   # milliseconds
    click: tuple[int, int] | None = None             # the clicked image pixel, marked on the pictures
    regions: tuple[tuple[str, np.ndarray], ...] = ()  # (what, mask): brush and target, outlined

    @property
    def change(self) -> np.ndarray:
        """(R, R) float32: how much each pixel changed, the mean over channels of |after - before|."""
        return np.abs(self.delta).mean(axis=-1)

    def stats(self) -> dict:
        ch = self.change
        yy, xx = np.unravel_index(int(ch.argmax()), ch.shape)
        return {"action": self.action, "layer": self.layer, "mean_change_grey": float(ch.mean()),
                "max_change_grey": float(ch.max()), "max_change_at": [int(xx), int(yy)],
                "changed_pixels": int((ch >= 0.5).sum()), **self.touched, "timings_ms": self.timings}

    def describe(self) -> str:
        s = self.stats()
        return (f"{self.layer} {self.action}: mean change {s['mean_change_grey']:.2f} grey levels, largest "
                f"{s['max_change_grey']:.1f} at ({s['max_change_at'][0]}, {s['max_change_at'][1]}); "
                f"{s['changed_pixels']} pixels changed by half a grey level or more"
                + (f"; every key cell hidden: each pixel attends to {s['left_to_attend']}"
                   if "left_to_attend" in s else ""))

    def difference_picture(self, scale: int = 8, cmap: str = "inferno") -> tuple[np.ndarray, float]:
        """The change as a heat map (nearest-upscaled: one block per image pixel) and its top, in grey
        levels (at least 1, so a tiny change is not stretched to full colour)."""
        top = max(1.0, float(self.change.max()))
        levels = np.clip(self.change * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        pal = np.frombuffer(draw.palette(draw.colormap(cmap)), np.uint8).reshape(256, 3)
        return draw.upscale_nearest(pal[levels], scale), top

    def _marked(self, image: np.ndarray, scale: int) -> np.ndarray:
        """The image upscaled, each region outlined (brush cyan, target magenta: a rectangle's sides, a
        painted mask's own edge) and the click marked."""
        out = np.ascontiguousarray(draw.upscale_nearest(image, scale)).copy()
        for what, mask in self.regions:
            colour = draw.MARKER_COLORS[1] if what == "target" else draw.MARKER_COLORS[0]
            big = draw.upscale_nearest(np.asarray(mask, bool)[..., None], scale)[..., 0]
            out[outline(big, max(1, scale // 4))] = colour
        if self.click is not None:
            out = draw.draw_marker(out.copy(), (self.click[0] + 0.5) * scale, (self.click[1] + 0.5) * scale,
                                   draw.MARKER_COLORS[0], max(3, scale))
        return out

    def picture(self, scale: int = 8, cmap: str = "inferno") -> np.ndarray:
        """before | after | difference, labelled, with the difference's colour bar in grey levels."""
        diff, top = self.difference_picture(scale, cmap)
        s = self.stats()
        tiles = [[self._marked(self.before, scale), self._marked(self.after, scale), diff]]
        grid = draw.labelled_grid(tiles, [f"{self.layer} {self.action}"], ["before", "after", "|after - before|"])
        bar = draw.colour_bar(cmap, top, [(s["mean_change_grey"], f"mean {s['mean_change_grey']:.2f}"),
                                          (top, f"{top:.1f}"), (0.0, "0")],
                              f"change in grey levels (0-255), largest {s['max_change_grey']:.1f} at "
                              f"({s['max_change_at'][0]}, {s['max_change_at'][1]})", width=grid.shape[1])
        return np.concatenate([grid, bar], axis=0)


def outline(mask: np.ndarray, width: int) -> np.ndarray:
    """(H, W) bool: the pixels of `mask` within `width` pixels of its edge (outside it, or the picture's)."""
    inside = np.pad(mask, width, constant_values=False)
    core = np.ones_like(mask)
    h, w = mask.shape
    for dy in range(-width, width + 1):
        for dx in range(-width, width + 1):
            core &= inside[width + dy:width + dy + h, width + dx:width + dx + w]
    return mask & ~core


def images_result(action: str, layer: str, images: torch.Tensor, touched: dict, t0: float) -> SurgeryResult:
    """images[0] is the unedited render, images[1] the edited one (both from the explicit path)."""
    before, after = images[0], images[1]
    delta = ((after - before) * 127.5).permute(1, 2, 0).numpy().astype(np.float32)
    pics = draw.to_uint8(images[:2].numpy())
    return SurgeryResult(action, layer, pics[0], pics[1], delta, touched,
                         {"intervene_ms": (time.perf_counter() - t0) * 1e3})
