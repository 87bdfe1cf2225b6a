"""The "What attention does" tab's training timeline and A/B (serving/timeline.py), on the view on screen.

- Timeline: for a model that ships snapshots (models/snapshots.py), a slider over its training steps
  keeps the view's seed, class, sliders, layer, head and click and shows the image, the map at the
  click and every layer's gamma at that step. A model without snapshots says why (its card too).
- A/B: A is the view's model at the step on screen (its shipped weights, or one of its snapshots:
  "model@step", as the CLI's `ab --step` and the API's /ab name it), B another model of the same
  resolution or a snapshot of either, with the same seed, class and click. Hovering either picture
  moves a marker on both (web/ab.js).
The step and B are part of the view (`View.versions`, surgery/link.Versions): in its state, link
(`vs=`), history and exports; a view that comes back with them (a link, a kept view, a dropped PNG)
shows them again when the tab is open. The timeline's slider and A's choice are one value, the step
on screen: moving either moves the other.
Named endpoints: /timeline and /ab (`add_versions_api`), the CLI verbs of the same names.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

from .._gradio import gr
from ...checks import check_finite, check_seed, check_whole, parse_head, parse_numbers
from ...errors import AttnDemoError, InputError
from ...serving.engine import MapSettings, RenderArgs
from ...serving.timeline import (Snapshots, ab_picture, check_pair, frame, gamma_text, parse_source, source_text,
                                 timeline_picture)
from ..endpoint import ApiNumber, ApiText, described, hidden_buttons
from ..guard import GROUP, PRIVATE, gpu, guard
from ..view import DISPLAY, View
from .link import Versions, check_versions

MEMO = 8                   # frames kept: the view set anew by a handler redraws without rendering again


@dataclass
class VersionsWidgets:
    step: gr.Slider
    tl_img: gr.Image
    tl_info: gr.Markdown
    a: gr.Dropdown
    b: gr.Dropdown
    ab_btn: gr.Button
    ab_img: gr.Image
    ab_info: gr.Markdown

    @property
    def shown(self) -> list:
        """What `VersionsHandlers.on_refresh` sets."""
        return [self.step, self.tl_info, self.tl_img, self.a, self.b, self.ab_img, self.ab_info]


def versions_layout() -> VersionsWidgets:
    with gr.Accordion("Along training, and A/B", open=False, elem_id="surg_versions"):
        with gr.Row():
            step = gr.Slider(0, 1, value=1, step=1, label="Training snapshot (seed, class, sliders and click kept)",
                             elem_id="surg_step")
        tl_info = gr.Markdown(elem_id="surg_tl_info")
        tl_img = gr.Image(elem_id="surg_tl_img", format="png", type="numpy", interactive=False,
                          buttons=["download"], show_label=False)
        with gr.Row():
            a = gr.Dropdown([], label="A: the view's model, or one of its snapshots (model@step)", elem_id="surg_a",
                            allow_custom_value=False)
            b = gr.Dropdown([], label="B: another model, or a snapshot (model@step)", elem_id="surg_b",
                            allow_custom_value=False)
            ab_btn = gr.Button("Show A and B side by side", elem_id="surg_ab_btn")
        ab_info = gr.Markdown(elem_id="surg_ab_info")
        ab_img = gr.Image(elem_id="surg_ab_img", format="png", type="numpy", interactive=False,
                          buttons=["download"], show_label=False)
    return VersionsWidgets(step, tl_img, tl_info, a, b, ab_btn, ab_img, ab_info)


class VersionsHandlers:
    def __init__(self, studio):
        self.studio = studio
        self._snaps: dict[str, Snapshots] = {}
        self._memo: OrderedDict = OrderedDict()

    def snapshots(self, model: str) -> Snapshots:
        if model not in self._snaps:
            self._snaps[model] = Snapshots(self.studio.engine(model))
        return self._snaps[model]

    def engine(self, source: str):
        model, step = parse_source(source)
        if model not in self.studio.models:
            raise InputError(f"unknown model {model!r}; choose one of {', '.join(self.studio.models)}")
        return self.snapshots(model).engine(step)

    # ---------------------------------------------------------------- choices and the view
    def a_choices(self, model: str) -> list[str]:
        """A: the model's shipped weights, then each of its snapshots."""
        return [model] + [source_text(model, s) for s in self.snapshots(model).steps]

    def sources(self, model: str) -> list[str]:
        """B: the other models of the view's resolution, the model itself and its snapshots."""
        res = self.studio.engine(model).cfg.resolution
        others = [m for m in self.studio.models if m != model and self.studio.engine(m).cfg.resolution == res]
        return others + self.a_choices(model)

    def with_versions(self, v: View, step, b) -> View:
        """The view with the step on screen and B, checked as a state's or a link's are."""
        return replace(v, versions=check_versions(Versions(step, b or None), v.model, self.studio.engines))

    def step_of(self, a, v: View) -> int | None:
        """A's choice ("model" or "model@step") -> the step; A is always the view's model."""
        model, step = parse_source(a)
        if model != v.model:
            raise InputError(f"A is the view's model, {v.model}, or one of its snapshots ({v.model}@step); "
                             f"to compare {model}, choose it as B")
        return step

    # ---------------------------------------------------------------- pictures
    def render(self, source: str, v: View, size: int = DISPLAY):
        """`source` at the view's seed, class, sliders, layer, head and click (the middle without a
        click); the last MEMO frames are kept."""
        click = v.click or (size // 2, size // 2)
        key = (source, repr(v.args), click, size, repr(v.map))
        if key not in self._memo:
            engine = self.engine(source)
            self._memo[key] = frame(engine, source, v.args, click, size, v.map, self.studio.scale(v.model, 256))
            while len(self._memo) > MEMO:
                self._memo.popitem(last=False)
        self._memo.move_to_end(key)
        return self._memo[key]

    def timeline(self, v: View):
        """The timeline at the view's step: (picture, its line); nothing at the shipped weights."""
        steps = self.snapshots(v.model).steps
        if not steps:
            return None, (f"{v.model} ships no training snapshots: its run's kept checkpoints no longer exist "
                          "(its card says so). A/B still compares it with another model.")
        if v.versions.step is None:
            return None, f"{len(steps)} snapshots: move the slider to see the view along training."
        f = self.render(source_text(v.model, v.versions.step), v)
        return (timeline_picture(f, self.studio.scale(v.model, 256)),
                f"**step {v.versions.step:,}** ({steps.index(v.versions.step) + 1} of {len(steps)}): "
                f"{gamma_text(f.gammas)}")

    def ab(self, v: View):
        """A (the view's model at its step) and B side by side: (picture, the gammas); none without B."""
        if v.versions.b is None:
            return None, ""
        a = self.render(source_text(v.model, v.versions.step), v)
        b = self.render(v.versions.b, v)
        return ab_picture(a, b), (f"A **{a.source}**: {gamma_text(a.gammas)}  \n"
                                  f"B **{b.source}**: {gamma_text(b.gammas)}")

    # ---------------------------------------------------------------- handlers
    def on_refresh(self, open_, v: View) -> list:
        """The tab opened, or a new View while it is open: the slider, A's and B's choices set to the
        view's versions, and its timeline and A/B drawn again (from the memo when just drawn)."""
        if open_ != "open":
            return [gr.skip()] * 7
        steps = self.snapshots(v.model).steps
        at = steps.index(v.versions.step) if v.versions.step in steps else max(0, len(steps) - 1)
        slider = gr.update(minimum=0, maximum=max(1, len(steps) - 1), value=at, interactive=bool(steps),
                           label=(f"Training snapshot: {len(steps)} steps, {steps[0]:,} .. {steps[-1]:,}"
                                  if steps else "Training snapshot: none shipped"))
        a = self.a_choices(v.model)
        b = self.sources(v.model)
        if v.versions.b is not None and v.versions.b not in b:
            b.append(v.versions.b)                  # another model's snapshot, from a link or a state
        try:
            tl_img, tl_info = self.timeline(v)
            ab_img, ab_info = self.ab(v)
        except AttnDemoError as e:                  # it no longer fits (the message says why)
            tl_img, tl_info, ab_img, ab_info = None, f"The view's versions cannot be shown: {e}", None, ""
        return [slider, tl_info, tl_img, gr.update(choices=a, value=source_text(v.model, v.versions.step)),
                gr.update(choices=b, value=v.versions.b or next((s for s in b if s != v.model), None)),
                ab_img, ab_info]

    def on_step(self, index, v: View) -> list:
        """The slider released: the view at that step (the timeline, A), its picture and gammas."""
        steps = self.snapshots(v.model).steps
        if not steps:
            return [None, f"{v.model} ships no training snapshots: no timeline for it.", gr.skip(), v]
        i = check_whole("snapshot", index, 0, len(steps) - 1)
        new = self.with_versions(v, steps[i], v.versions.b)
        return [*self.timeline(new), gr.update(value=source_text(v.model, steps[i])), new]

    def on_a(self, a, v: View) -> list:
        """A chosen: the step on screen (the slider follows; the pictures redraw with the new View)."""
        new = self.with_versions(v, self.step_of(a, v), v.versions.b)
        steps = self.snapshots(v.model).steps
        return [gr.update(value=steps.index(new.versions.step)) if new.versions.step is not None else gr.skip(),
                new]

    def on_ab(self, a, b, v: View) -> list:
        """A and B side by side at the view's seed, class and click; the view keeps both."""
        if not b:
            raise InputError("choose B: another model of this resolution or a snapshot")
        new = self.with_versions(v, self.step_of(a or v.model, v), str(b))
        return [*self.ab(new), new]


def wire_versions(vw: VersionsWidgets, h: VersionsHandlers, w) -> None:
    """The timeline's and A/B's events; `w` is the image studio's Widgets (its session View and page
    data). The tab redraws them with its own picture when it opens or a new View comes (surgery/tab.py)."""
    view = w.view

    def page_data(live, v):       # the view's link, for history and favourites (keep.js)
        return h.studio.page_data(v, bool(live))
    keep = dict(fn=guard(page_data), inputs=[w.live_toggle, view], outputs=[w.view_data], **PRIVATE)
    vw.step.release(gpu(guard(h.on_step)), [vw.step, view], [vw.tl_img, vw.tl_info, vw.a, view],
                    **PRIVATE).success(**keep)
    vw.a.input(guard(h.on_a), [vw.a, view], [vw.step, view], **PRIVATE).success(**keep)
    vw.ab_btn.click(gpu(guard(h.on_ab)), [vw.a, vw.b, view], [vw.ab_img, vw.ab_info, view],
                    **PRIVATE).success(**keep)
    add_versions_api(h)


def add_versions_api(h: VersionsHandlers) -> None:
    """/timeline and /ab: the same as the tab and the CLI verbs, with explicit arguments."""
    studio = h.studio
    first = studio.models[0]
    with gr.Column(visible=False):
        source = described(ApiText(label="model"), "a model name, or a snapshot of one as model@step (A of ab)",
                           first)
        b = described(ApiText(label="b"), "ab: B, another model of A's resolution or model@step", first)
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
        buttons = hidden_buttons(2)

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
        check_pair(model, h.engine(model), b, h.engine(b))
        scale = max(1, 256 // h.engine(model).cfg.resolution)
        fa = frame(h.engine(model), model, args, click, side, settings, scale)
        fb = frame(h.engine(b), b, args, click, side, settings, scale)
        return ab_picture(fa, fb), {"a": fa.info(), "b": fb.info()}

    common = [seed, psi, label, sliders, x, y, size, layer, head]
    buttons[0].click(timeline, [source, *common], [picture_out, info_out], api_name="timeline", **GROUP)
    buttons[1].click(ab, [source, b, *common], [picture_out, info_out], api_name="ab", **GROUP)
