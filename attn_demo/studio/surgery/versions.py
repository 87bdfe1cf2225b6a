"""The "What attention does" tab's training timeline and A/B (serving/timeline.py), on the view on screen.

- Timeline: for a model that ships snapshots (models/snapshots.py), a slider over its training steps
  keeps the view's seed, class, sliders, layer, head and click and shows the image, the map at the
  click and every layer's gamma at that step. A model without snapshots says why (its card too).
- A/B: the view's model beside another source, another model of the same resolution or one of the
  model's snapshots ("model@step"), with the same seed, class and click. Hovering either picture
  moves a marker on both (web/ab.js); a click on the main image redraws both.
Named endpoints: /timeline and /ab (`add_versions_api`), the CLI verbs of the same names.
"""
from __future__ import annotations

from dataclasses import dataclass

from .._gradio import gr
from ...checks import check_whole
from ...errors import InputError
from ...serving.engine import RenderArgs
from ...serving.timeline import (Snapshots, ab_picture, frame, gamma_text, parse_source, source_text,
                                 timeline_picture)
from ..guard import GROUP, PRIVATE, gpu, guard
from ..view import DISPLAY, View


@dataclass
class VersionsWidgets:
    step: gr.Slider
    tl_img: gr.Image
    tl_info: gr.Markdown
    b: gr.Dropdown
    ab_btn: gr.Button
    ab_img: gr.Image
    ab_info: gr.Markdown


def versions_layout() -> VersionsWidgets:
    with gr.Accordion("Along training, and A/B", open=False, elem_id="surg_versions"):
        with gr.Row():
            step = gr.Slider(0, 1, value=1, step=1, label="Training snapshot (seed, class, sliders and click kept)",
                             elem_id="surg_step")
        tl_info = gr.Markdown(elem_id="surg_tl_info")
        tl_img = gr.Image(elem_id="surg_tl_img", format="png", type="numpy", interactive=False,
                          buttons=["download"], show_label=False)
        with gr.Row():
            b = gr.Dropdown([], label="B: another model, or a snapshot (model@step)", elem_id="surg_b",
                            allow_custom_value=False)
            ab_btn = gr.Button("Show A (the view) and B side by side", elem_id="surg_ab_btn")
        ab_info = gr.Markdown(elem_id="surg_ab_info")
        ab_img = gr.Image(elem_id="surg_ab_img", format="png", type="numpy", interactive=False,
                          buttons=["download"], show_label=False)
    return VersionsWidgets(step, tl_img, tl_info, b, ab_btn, ab_img, ab_info)


class VersionsHandlers:
    def __init__(self, studio):
        self.studio = studio
        self._snaps: dict[str, Snapshots] = {}

    def snapshots(self, model: str) -> Snapshots:
        if model not in self._snaps:
            self._snaps[model] = Snapshots(self.studio.engine(model))
        return self._snaps[model]

    def engine(self, source: str):
        model, step = parse_source(source)
        if model not in self.studio.models:
            raise InputError(f"unknown model {model!r}; choose one of {', '.join(self.studio.models)}")
        return self.snapshots(model).engine(step)

    def sources(self, model: str) -> list[str]:
        res = self.studio.engine(model).cfg.resolution
        others = [m for m in self.studio.models if m != model and self.studio.engine(m).cfg.resolution == res]
        return others + [source_text(model, s) for s in self.snapshots(model).steps]

    def render(self, source: str, v: View, size: int = DISPLAY):
        click = v.click or (size // 2, size // 2)
        engine = self.engine(source)
        return frame(engine, source, v.args, click, size, v.map, self.studio.scale(v.model, 256))

    def on_refresh(self, v: View):
        """The step slider and B's choices for the view's model."""
        steps = self.snapshots(v.model).steps
        slider = gr.update(minimum=0, maximum=max(1, len(steps) - 1), value=max(0, len(steps) - 1),
                           interactive=bool(steps), label=(f"Training snapshot: {len(steps)} steps, "
                                                           f"{steps[0]:,} .. {steps[-1]:,}" if steps else
                                                           "Training snapshot: none shipped"))
        note = "" if steps else (f"{v.model} ships no training snapshots: its run's kept checkpoints no longer "
                                 "exist (its card says so). A/B still compares it with another model.")
        choices = self.sources(v.model)
        return slider, note, gr.update(choices=choices, value=choices[0] if choices else None)

    def on_step(self, index, v: View):
        steps = self.snapshots(v.model).steps
        if not steps:
            return None, f"{v.model} ships no training snapshots: no timeline for it."
        i = check_whole("snapshot", index, 0, len(steps) - 1)
        f = self.render(source_text(v.model, steps[i]), v)
        return (timeline_picture(f, self.studio.scale(v.model, 256)),
                f"**step {steps[i]:,}** ({i + 1} of {len(steps)}): {gamma_text(f.gammas)}")

    def on_ab(self, b, v: View):
        if not b:
            raise InputError("choose B: another model of this resolution or a snapshot")
        a, bf = self.render(v.model, v), self.render(str(b), v)
        return ab_picture(a, bf), f"A **{a.source}**: {gamma_text(a.gammas)}  \nB **{bf.source}**: {gamma_text(bf.gammas)}"


def wire_versions(vw: VersionsWidgets, h: VersionsHandlers, view, tab=None) -> None:
    if tab is not None:
        tab.select(guard(h.on_refresh), [view], [vw.step, vw.tl_info, vw.b], **PRIVATE)
    vw.step.release(gpu(guard(h.on_step)), [vw.step, view], [vw.tl_img, vw.tl_info], **PRIVATE)
    vw.ab_btn.click(gpu(guard(h.on_ab)), [vw.b, view], [vw.ab_img, vw.ab_info], **PRIVATE)
    add_versions_api(h)


def add_versions_api(h: VersionsHandlers) -> None:
    """/timeline and /ab: the same as the tab and the CLI verbs, with explicit arguments."""
    from ...checks import check_finite, check_seed, parse_head, parse_numbers
    from ...serving.engine import MapSettings
    try:                                   # the described inputs (studio/endpoint.py; api.py before it)
        from ..endpoint import ApiNumber, ApiText, described
    except ImportError:
        from ..api import ApiNumber, ApiText, described
    studio = h.studio
    first = studio.models[0]
    with gr.Column(visible=False):
        source = described(ApiText(label="model"), "a model name, or a snapshot of one as model@step", first)
        b = described(ApiText(label="b"), "ab: B, another model or model@step", first)
        seed = described(ApiNumber(label="seed", minimum=0, maximum=2 ** 32 - 1, value=0), "seed", 42, whole=True)
        psi = described(ApiNumber(label="truncation", minimum=0, maximum=1, value=1.0), "psi in [0, 1]", 1.0)
        label = described(ApiText(label="label"), "a class name or index; empty for unconditional models", "")
        sliders = described(ApiText(label="sliders"), "comma-separated slider offsets; empty for none", "")
        x = described(ApiNumber(label="x", minimum=0, maximum=8191, value=0), "the click's column in a size x size "
                      "picture of the image", 0, whole=True)
        y = described(ApiNumber(label="y", minimum=0, maximum=8191, value=0), "the click's row", 0, whole=True)
        size = described(ApiNumber(label="size", minimum=0, maximum=8192, value=0),
                         "the side of the picture x, y refer to; 0 = the image itself", 0, whole=True)
        layer = described(ApiText(label="layer"), "an attention layer, e.g. G16; empty = the last one", "")
        head = described(ApiText(label="head", value="mean"), "'mean' or a head index", "mean")
        picture_out = gr.Image(format="png", type="numpy", label="picture")
        info_out = gr.JSON(label="info")
        buttons = [gr.Button(visible=False) for _ in range(2)]

    def view_of(src, seed, psi, label, sliders, x, y, size, layer, head):
        engine = h.engine(src)
        side = check_whole("size", size, 0, 8192) or engine.cfg.resolution
        args = RenderArgs(check_seed(seed), check_finite("truncation", psi, 0, 1), label or None,
                          parse_numbers("sliders", sliders))
        click = (check_whole("x", x, 0, side - 1), check_whole("y", y, 0, side - 1))
        return args, click, side, MapSettings(layer or None, parse_head(head or "mean")).checked()

    @gpu
    @guard
    def timeline(model, seed, truncation, label, sliders, x, y, size, layer, head):
        """One source (a model or model@step) at a seed: the image and its map at the click side by side,
        and every layer's gamma. A model without the snapshot asked for: a message naming its steps."""
        args, click, side, settings = view_of(model, seed, truncation, label, sliders, x, y, size, layer, head)
        f = frame(h.engine(model), model, args, click, side, settings, max(1, 256 // h.engine(model).cfg.resolution))
        return timeline_picture(f, max(1, 256 // f.image.shape[0])), {**f.info(), "steps": h.snapshots(
            parse_source(model)[0]).steps}

    @gpu
    @guard
    def ab(model, b, seed, truncation, label, sliders, x, y, size, layer, head):
        """A (model or model@step) and B side by side: the same seed, class and click, each one's map."""
        args, click, side, settings = view_of(model, seed, truncation, label, sliders, x, y, size, layer, head)
        scale = max(1, 256 // h.engine(model).cfg.resolution)
        fa = frame(h.engine(model), model, args, click, side, settings, scale)
        fb = frame(h.engine(b), b, args, click, side, settings, scale)
        return ab_picture(fa, fb), {"a": fa.info(), "b": fb.info()}

    common = [seed, psi, label, sliders, x, y, size, layer, head]
    buttons[0].click(timeline, [source, *common], [picture_out, info_out], api_name="timeline", **GROUP)
    buttons[1].click(ab, [source, b, *common], [picture_out, info_out], api_name="ab", **GROUP)
