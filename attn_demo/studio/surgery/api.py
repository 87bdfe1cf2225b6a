"""The interventions' named endpoints, /intervene and /d_attention (studio/intervene.py runs them).

    from gradio_client import Client
    c = Client("http://127.0.0.1:7860/")
    picture, info, files = c.predict("emoji32", 42, 1.0, "Smileys & Emotion", "", "off", "G16", -1, -1, 0,
                                     "", "", 5, 8, "mean", 0, api_name="/intervene")

The hidden inputs are built and described once (`intervene_inputs`); each endpoint is a function
of its own (`intervene_endpoint`, `d_attention_endpoint`), wired by `add_intervene_api`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._gradio import gr
from ...checks import SEED_MAX, check_finite, check_seed, check_whole, parse_head, parse_numbers
from ...errors import InputError
from ...imaging import draw
from ...models.latents import PSI_RANGE
from ...serving.engine import MapSettings, RenderArgs
from ...serving.faithfulness import MAX_DRAWS
from ..endpoint import ApiNumber, ApiText, described, hidden_buttons
from ..guard import GROUP, gpu, guard
from ..intervene import NO_CLICK, Intervention, check_flag, export_files, intervene


@dataclass
class InterveneInputs:
    """The hidden components of /intervene and /d_attention (Gradio reads the endpoints' inputs from them)."""
    model: Any
    seed: Any
    psi: Any
    label: Any
    sliders: Any
    action: Any
    layer: Any
    x: Any
    y: Any
    size: Any
    brush: Any
    target: Any
    k: Any
    draws: Any
    head: Any
    curve: Any
    image_in: Any
    picture_out: Any
    info_out: Any
    file_out: Any
    buttons: Any

    @property
    def intervene(self) -> list:
        """/intervene's inputs, in its parameters' order."""
        return [self.model, self.seed, self.psi, self.label, self.sliders, self.action, self.layer, self.x,
                self.y, self.size, self.brush, self.target, self.k, self.draws, self.head, self.curve]


def render_inputs(studio) -> dict:
    """What to render: model, seed, truncation, class and sliders, described."""
    first = studio.models[0]
    engine = studio.engine(first)
    a_class = engine.class_names[0] if engine.cfg.num_classes else ""
    return dict(
        model=described(ApiText(label="model"), f"a model name: {', '.join(studio.models)}", first),
        seed=described(ApiNumber(label="seed", minimum=0, maximum=SEED_MAX, value=0),
                       f"a whole number in 0..{SEED_MAX}", 42, whole=True),
        psi=described(ApiNumber(label="truncation", minimum=PSI_RANGE[0], maximum=PSI_RANGE[1], value=1.0),
                      "psi in [0, 1]", 1.0),
        label=described(ApiText(label="label"), "a class name or index; empty for unconditional models", a_class),
        sliders=described(ApiText(label="sliders"), "comma-separated slider offsets; empty for none", ""))


def where_inputs() -> dict:
    """What to do and where: the action, layer, click, picture size and the two boxes."""
    return dict(
        action=described(ApiText(label="action", value="off"), "'off' (attention output 0: the layer, the "
                         "clicked pixel or the brush), 'hide' (the brush's key cells leave every pixel's "
                         "softmax), 'redirect' (the click or brush attends only to the target) or "
                         "'faithfulness' (the click's k brightest key cells removed vs k random ones)", "off"),
        layer=described(ApiText(label="layer"), "an attention layer, e.g. G16; empty = the last one", ""),
        x=described(ApiNumber(label="x", minimum=NO_CLICK, maximum=8191, value=NO_CLICK),
                    "the clicked pixel's column in a size x size picture of the image; -1 = no click", NO_CLICK,
                    whole=True),
        y=described(ApiNumber(label="y", minimum=NO_CLICK, maximum=8191, value=NO_CLICK),
                    "the clicked pixel's row; -1 = no click", NO_CLICK, whole=True),
        size=described(ApiNumber(label="size", minimum=0, maximum=8192, value=0),
                       "the side of the picture x, y and the boxes refer to; 0 = the image itself", 0, whole=True),
        brush=described(ApiText(label="brush"), "'x0, y0, x1, y1': pixels x0 <= x < x1, y0 <= y < y1 of the "
                        "size x size picture, or a painted mask 'mask:N:BITS' (an N x N grid over the whole "
                        "picture, 8 cells a byte, row by row, base64url; what the tab's free-hand brush "
                        "paints) (off, redirect: whose attention; hide: the region hidden); empty = none", ""),
        target=described(ApiText(label="target"), "redirect: the region to look at, 'x0, y0, x1, y1' or a "
                         "painted mask 'mask:N:BITS' as the brush", ""))


def faithfulness_inputs() -> dict:
    """The faithfulness test's k, draws, head and curve."""
    return dict(
        k=described(ApiNumber(label="k", minimum=1, maximum=4096, value=5),
                    "faithfulness: key cells removed, 1 .. the layer's key cells - 1", 5, whole=True),
        draws=described(ApiNumber(label="draws", minimum=1, maximum=MAX_DRAWS, value=8),
                        f"faithfulness: draws of k random cells, 1..{MAX_DRAWS}", 8, whole=True),
        head=described(ApiText(label="head", value="mean"), "faithfulness: 'mean' or a head index: the map "
                       "whose order is tested", "mean"),
        curve=described(ApiNumber(label="curve", minimum=0, maximum=1, value=0),
                        "faithfulness: 1 = also the deletion curve (cells removed in the map's order vs at "
                        "random; about a second on a 32-px model), 0 = the ratio only", 0, whole=True))


def intervene_inputs(studio) -> InterveneInputs:
    """The hidden components, described and with examples for the "Use via API" page (inside a gr.Blocks)."""
    with gr.Column(visible=False):
        inputs = {**render_inputs(studio), **where_inputs(), **faithfulness_inputs()}
        return InterveneInputs(
            **inputs, image_in=gr.Image(format="png", type="numpy", label="image", image_mode="RGB"),
            picture_out=gr.Image(format="png", type="numpy", label="picture"), info_out=gr.JSON(label="info"),
            file_out=gr.File(label="before, after, difference (.png) and the difference (.npy)",
                             file_count="multiple"),
            buttons=hidden_buttons(2))


def click_of(x, y) -> tuple[int | None, int | None]:
    """The API's click: (x, y), or (None, None) for -1, -1 (no click)."""
    x, y = check_whole("x", x, NO_CLICK), check_whole("y", y, NO_CLICK)
    if (x == NO_CLICK) != (y == NO_CLICK):
        raise InputError("a click needs both x and y (or -1 for both: no click)")
    return (None, None) if x == NO_CLICK else (x, y)


def intervene_endpoint(studio):
    """/intervene: one intervention on a render, with its numbers and files."""
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
            brush: "x0, y0, x1, y1" (pixels x0 <= x < x1, y0 <= y < y1), a painted mask "mask:N:BITS"
                (an N x N grid over the picture, serving/regions.py) or "" for none
            target: redirect's region, "x0, y0, x1, y1" or "mask:N:BITS"
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
        out, faith = intervene(studio.engine(model), studio.render(model, args), spec)
        info = faith.stats() if faith is not None else out.stats()
        info["intervention"] = spec.checked().to_dict()
        files = export_files(studio.files.new_folder(), f"{model}_{args.seed}_{out.layer}_{out.action}", out)
        return out.picture(studio.scale(model)), info, [str(f) for f in files]

    return intervene_api


def d_attention_endpoint(studio):
    """/d_attention: where the discriminator looks from a pixel of a picture."""
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
        from ...serving.discriminator import discriminator_view, load_discriminator
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

    return d_attention


def add_intervene_api(studio) -> None:
    """/intervene and /d_attention (inside a gr.Blocks)."""
    w = intervene_inputs(studio)
    w.buttons[0].click(intervene_endpoint(studio), w.intervene, [w.picture_out, w.info_out, w.file_out],
                       api_name="intervene", **GROUP)
    w.buttons[1].click(d_attention_endpoint(studio), [w.model, w.image_in, w.x, w.y, w.label, w.head],
                       [w.picture_out, w.info_out], api_name="d_attention", **GROUP)
