"""Interventions on attention in the studio (issue #35): what one is, and running it.

`Intervention` is the part of a view that says what was done to the attention (the action, the
layer, the click, the brush and target rectangles, k and draws); `to_dict` / `from_dict` carry it
through the JSON state and share links, and a forged or stale one is refused with a message.
`intervene` runs it on a render (serving/surgery.py, serving/faithfulness.py) and `export_files`
writes before, after and difference PNGs and the raw difference as .npy.

Its named endpoints (surgery/api.py), for gradio_client:

    from gradio_client import Client
    c = Client("http://127.0.0.1:7860/")
    picture, info, files = c.predict("emoji32", 42, 1.0, "Smileys & Emotion", "", "off", "G16", -1, -1, 0,
                                     "", "", 5, 8, "mean", 0, api_name="/intervene")
    overlays, info = c.predict("mymodel", handle_file("cat.png"), 16, 12, "cat", "mean", api_name="/d_attention")

/d_attention answers only for a model directory that holds discriminator.safetensors (the
shipped ones hold only G: they say so).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..checks import check_whole, parse_head
from ..errors import InputError
from ..imaging import draw
from ..serving.faithfulness import MAX_DRAWS, Faithfulness, faithfulness
from ..serving.regions import parse_region, region_mask
from ..serving.surgery import ACTIONS, Surgery, SurgeryResult
from .desk import DISPLAY

NO_CLICK = -1


@dataclass(frozen=True)
class Intervention:
    """What is done to a render's attention. Coordinates are pixels of a size x size picture of
    the image (0: the image itself); boxes are x0, y0, x1, y1 (x0 <= x < x1)."""

    action: str = "off"
    layer: str | None = None
    x: int | None = None
    y: int | None = None
    brush: tuple[int, int, int, int] | str | None = None     # a box, or a painted "mask:N:BITS"
    target: tuple[int, int, int, int] | str | None = None
    k: int = 5
    draws: int = 8
    head: int | None = None
    size: int = 0
    curve: bool = False            # faithfulness: also the deletion curve (a few hundred re-renders)

    def checked(self) -> "Intervention":
        if self.action not in ACTIONS:
            raise InputError(f"action must be one of {', '.join(ACTIONS)}, got {self.action!r}")
        if (self.x is None) != (self.y is None):
            raise InputError("a click needs both x and y")
        box = [None if b is None else parse_region(b, what)
               for b, what in ((self.brush, "brush"), (self.target, "target"))]
        return Intervention(self.action, self.layer or None,
                            None if self.x is None else check_whole("x", self.x, 0),
                            None if self.y is None else check_whole("y", self.y, 0), box[0], box[1],
                            check_whole("k", self.k, 1), check_whole("draws", self.draws, 1, MAX_DRAWS),
                            parse_head(self.head), check_whole("size", self.size, 0, 8192),
                            check_flag("curve", self.curve))

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d) -> "Intervention":
        """From a state or a link; unknown keys or wrong types are refused, not dropped."""
        if not isinstance(d, dict):
            raise InputError("the intervention in this state is not an object")
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"the intervention in this state has unknown fields: {', '.join(sorted(unknown))}")
        try:
            return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}).checked()
        except TypeError as e:
            raise InputError(f"the intervention in this state is malformed: {e}") from None


SCOPES = ("layer", "click", "brush")     # whose attention an "off" or a "redirect" changes, in the page


def from_view(view, action: str, scope: str = "click", brush=None, target=None, k: int = 5,
              draws: int = 8, curve: bool = False) -> Intervention:
    """The intervention the page asks for on a view (studio/view.View): its layer and head, and, with
    scope "click", its clicked pixel (DISPLAY px; boxes are in the same picture's pixels)."""
    if scope not in SCOPES:
        raise InputError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    click = view.click if scope == "click" or action == "faithfulness" else None
    if click is None and (scope == "click" or action == "faithfulness"):
        raise InputError("click a pixel of the image first")
    region = brush if scope == "brush" or action == "hide" else None
    return Intervention(action, view.map.layer, *(click or (None, None)), region, target, k, draws, view.map.head,
                        DISPLAY, curve).checked()


def check_flag(name: str, value) -> bool:
    """True/False, or 1/0 (an API number); anything else is refused."""
    if isinstance(value, bool):
        return value
    return bool(check_whole(name, value, 0, 1))


def intervene(engine, result, spec: Intervention) -> tuple[SurgeryResult, Faithfulness | None]:
    """Run an intervention on a render: its surgery result, and the faithfulness test if that was asked."""
    spec = spec.checked()
    side = spec.size or engine.cfg.resolution
    surgery = Surgery(engine, result, spec.layer, (side, side))
    pixel = None if spec.x is None else (spec.x, spec.y)
    brush = None if spec.brush is None else region_mask(spec.brush, (side, side), "brush")
    target = None if spec.target is None else region_mask(spec.target, (side, side), "target")
    needs = {"hide": (brush, "a brush: the region to hide"), "redirect": (target, "a target region to look at"),
             "faithfulness": (pixel, "a clicked pixel")}
    if spec.action in needs and needs[spec.action][0] is None:
        raise InputError(f"{spec.action} needs {needs[spec.action][1]}")
    if spec.action == "off":
        return surgery.switch_off(pixel, brush), None
    if spec.action == "hide":
        if pixel is not None:
            raise InputError("hide takes a brush, not a click: it hides a region from every pixel")
        return surgery.hide(brush), None
    if spec.action == "redirect":
        return surgery.redirect(target, pixel, brush), None
    f = faithfulness(surgery, *pixel, k=spec.k, draws=spec.draws, head=spec.head, curve=spec.curve)
    return f.surgery, f


def export_files(folder: Path, stem: str, out: SurgeryResult, scale: int = 8) -> list[Path]:
    """before, after and difference PNGs (upscaled `scale` times; the difference as its heat map) and
    the raw difference after - before, (R, R, 3) float32 grey levels, as .npy."""
    files = []
    diff, _ = out.difference_picture(scale)
    for name, img in (("before", draw.upscale_nearest(out.before, scale)),
                      ("after", draw.upscale_nearest(out.after, scale)), ("difference", diff)):
        path = folder / f"{stem}_{name}.png"
        draw.save_png(img, path)
        files.append(path)
    path = folder / f"{stem}_difference.npy"
    np.save(path, out.delta)
    return files + [path]
