"""Interventions on attention in the studio (issue #35): what one is, as state, and its API.

`Intervention` is the part of a view that says what was done to the attention (the action, the
layer, the click, the brush and target rectangles, k and draws); `to_dict` / `from_dict` carry it
through the JSON state and share links, and a forged or stale one is refused with a message.
`intervene` runs it on a render (serving/surgery.py, serving/faithfulness.py) and `export_files`
writes before, after and difference PNGs and the raw difference as .npy.

Named endpoints (gradio_client):

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

from ..checks import SEED_MAX, check_whole, parse_head
from ..errors import InputError
from ..imaging import draw
from ..serving.faithfulness import MAX_DRAWS, Faithfulness, faithfulness
from ..serving.regions import parse_region, region_mask
from ..serving.surgery import ACTIONS, Surgery, SurgeryResult

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
    from .view import DISPLAY
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


def add_intervene_api(studio) -> None:
    """/intervene and /d_attention (inside a gr.Blocks)."""
    from ._gradio import gr
    from .api import ApiNumber, ApiText, described
    from .guard import GROUP, gpu, guard
    from ..models.latents import PSI_RANGE
    from ..checks import check_finite, check_seed, parse_numbers
    from ..serving.engine import RenderArgs

    first = studio.models[0]
    engine0 = studio.engine(first)
    a_class = engine0.class_names[0] if engine0.cfg.num_classes else ""
    with gr.Column(visible=False):
        model = described(ApiText(label="model"), f"a model name: {', '.join(studio.models)}", first)
        seed = described(ApiNumber(label="seed", minimum=0, maximum=SEED_MAX, value=0),
                         f"a whole number in 0..{SEED_MAX}", 42, whole=True)
        psi = described(ApiNumber(label="truncation", minimum=PSI_RANGE[0], maximum=PSI_RANGE[1], value=1.0),
                        "psi in [0, 1]", 1.0)
        label = described(ApiText(label="label"), "a class name or index; empty for unconditional models", a_class)
        sliders = described(ApiText(label="sliders"), "comma-separated slider offsets; empty for none", "")
        action = described(ApiText(label="action", value="off"), "'off' (attention output 0: the layer, the "
                           "clicked pixel or the brush), 'hide' (the brush's key cells leave every pixel's "
                           "softmax), 'redirect' (the click or brush attends only to the target) or "
                           "'faithfulness' (the click's k brightest key cells removed vs k random ones)", "off")
        layer = described(ApiText(label="layer"), "an attention layer, e.g. G16; empty = the last one", "")
        x = described(ApiNumber(label="x", minimum=NO_CLICK, maximum=8191, value=NO_CLICK),
                      "the clicked pixel's column in a size x size picture of the image; -1 = no click", NO_CLICK,
                      whole=True)
        y = described(ApiNumber(label="y", minimum=NO_CLICK, maximum=8191, value=NO_CLICK),
                      "the clicked pixel's row; -1 = no click", NO_CLICK, whole=True)
        size = described(ApiNumber(label="size", minimum=0, maximum=8192, value=0),
                         "the side of the picture x, y and the boxes refer to; 0 = the image itself", 0, whole=True)
        brush = described(ApiText(label="brush"), "'x0, y0, x1, y1': pixels x0 <= x < x1, y0 <= y < y1 (off, "
                          "redirect: whose attention; hide: the region hidden); empty = none", "")
        target = described(ApiText(label="target"), "redirect: the region 'x0, y0, x1, y1' to look at", "")
        k = described(ApiNumber(label="k", minimum=1, maximum=4096, value=5),
                      "faithfulness: key cells removed, 1 .. the layer's key cells - 1", 5, whole=True)
        draws = described(ApiNumber(label="draws", minimum=1, maximum=MAX_DRAWS, value=8),
                          f"faithfulness: draws of k random cells, 1..{MAX_DRAWS}", 8, whole=True)
        head = described(ApiText(label="head", value="mean"), "faithfulness: 'mean' or a head index: the map "
                         "whose order is tested", "mean")
        curve = described(ApiNumber(label="curve", minimum=0, maximum=1, value=0),
                          "faithfulness: 1 = also the deletion curve (cells removed in the map's order vs at "
                          "random; about a second on a 32-px model), 0 = the ratio only", 0, whole=True)
        image_in = gr.Image(format="png", type="numpy", label="image", image_mode="RGB")
        picture_out = gr.Image(format="png", type="numpy", label="picture")
        info_out = gr.JSON(label="info")
        file_out = gr.File(label="before, after, difference (.png) and the difference (.npy)", file_count="multiple")
        buttons = [gr.Button(visible=False) for _ in range(2)]

    def click_of(x, y):
        x, y = check_whole("x", x, NO_CLICK), check_whole("y", y, NO_CLICK)
        if (x == NO_CLICK) != (y == NO_CLICK):
            raise InputError("a click needs both x and y (or -1 for both: no click)")
        return (None, None) if x == NO_CLICK else (x, y)

    @gpu
    @guard
    def intervene_api(model, seed, truncation, label, sliders, action, layer, x, y, size, brush, target, k,
                      draws, head, curve=0):
        """Edit one attention layer of a render and re-render from that layer. Returns before | after |
        difference (a heat map in grey levels with its colour bar), the numbers (mean and largest change
        and where; for faithfulness the ratio, its sentence and the deletion curve) and the files:
        before, after and difference PNGs and the raw difference after - before as .npy.

        Args:
            model: a model name, e.g. "emoji32"
            seed: a whole number in 0..4294967295
            truncation: psi in [0, 1]
            label: a class name or index; "" for unconditional models
            sliders: comma-separated slider offsets; "" for none
            action: "off", "hide", "redirect" or "faithfulness"
            layer: an attention layer, e.g. "G16"; "" = the last one
            x: the clicked pixel's column in a size x size picture; -1 = no click
            y: the clicked pixel's row; -1 = no click
            size: the side of the picture x, y and the boxes refer to; 0 = the image itself
            brush: "x0, y0, x1, y1" (pixels x0 <= x < x1, y0 <= y < y1) or "" for none
            target: redirect's region "x0, y0, x1, y1"
            k: faithfulness: key cells removed
            draws: faithfulness: draws of k random cells
            head: faithfulness: "mean" or a head index
            curve: faithfulness: 1 = also the deletion curve, 0 = the ratio only
        """
        studio.engine(model)
        args = RenderArgs(check_seed(seed), check_finite("truncation", truncation), label or None,
                          parse_numbers("sliders", sliders))
        cx, cy = click_of(x, y)
        spec = Intervention(action or "off", layer or None, cx, cy, brush.strip() or None if brush else None,
                            target.strip() or None if target else None, k, draws, head or "mean",
                            check_whole("size", size, 0), check_flag("curve", curve))
        engine = studio.engine(model)
        out, faith = intervene(engine, studio.render(model, args), spec)
        info = faith.stats() if faith is not None else out.stats()
        info["intervention"] = spec.checked().to_dict()
        folder = studio.files.new_folder()
        files = export_files(folder, f"{model}_{args.seed}_{out.layer}_{out.action}", out)
        return out.picture(studio.scale(model)), info, [str(f) for f in files]

    @gpu
    @guard
    def d_attention(model, image, x, y, label, head):
        """Where the discriminator's attention looks from a pixel of a picture, in each of D's attention
        layers, and D's score. Only for a model whose directory holds discriminator.safetensors.

        Args:
            model: a model name
            image: a picture at the model's resolution (an RGB image)
            x: the pixel's column in the picture
            y: the pixel's row
            label: the picture's class (class-conditional models); "" otherwise
            head: "mean" or a head index
        """
        from ..serving.discriminator import discriminator_view, load_discriminator
        from ..serving.engine import MapSettings
        engine = studio.engine(model)
        if image is None:
            raise InputError("give a picture to look at")
        D = load_discriminator(engine.path) if engine.path else None
        if D is None:
            raise InputError("this model ships no discriminator")
        view = discriminator_view(D, np.asarray(image, np.uint8), check_whole("x", x), check_whole("y", y),
                                  label or None, head=parse_head(head or "mean"))
        side, scale, s = D.cfg.resolution, studio.scale(model), MapSettings()
        tiles = [draw.overlay_picture(np.asarray(image, np.uint8)[..., :3], m.heat.numpy(), scale, s.alpha, s.cmap,
                                      (*draw.marker_point(m.x, m.y, (side, side), side * scale),
                                       draw.MARKER_COLORS[0], max(4, side * scale // 48))) for m in view.maps]
        return draw.labelled_grid([tiles], [f"D {view.score:+.2f}"], [m.layer for m in view.maps]), view.stats()

    buttons[0].click(intervene_api, [model, seed, psi, label, sliders, action, layer, x, y, size, brush, target,
                                     k, draws, head, curve], [picture_out, info_out, file_out], api_name="intervene",
                     **GROUP)
    buttons[1].click(d_attention, [model, image_in, x, y, label, head], [picture_out, info_out],
                     api_name="d_attention", **GROUP)
