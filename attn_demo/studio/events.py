"""The studio's events: widget values in, the Studio's pictures and numbers out.

`Handlers` turns widget values into a `View`, asks the Studio (core.py, no
Gradio) and formats the answer; the verbs every tab shares (a click's pixel, import,
export, the nearest training images, the model's choices) are tabs.TabHandlers'.
`wire` connects every widget's events to a handler. Every handler runs behind
`guard` (guard.py).
"""
from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs

from ._gradio import gr
from ..checks import check_finite, check_seed, check_whole, parse_head, parse_seeds
from ..errors import AttnDemoError
from ..serving.engine import MapSettings, RenderArgs
from .core import MAX_DATASET_PER_CLASS, MAX_GRID, Studio
from .files import jpeg_data_url, png_data_url
from .guard import BATCH, PRIVATE, SHOWN, SHOWN_SLOW, click_guard, gpu, guard
from .view import DISPLAY, MAX_PINS, NO_VERSIONS, View, check_point, query_of, view_from_query
from . import web
from .tabs import TabHandlers
from .widgets import ALL_TAB, MAX_SLIDERS, MODE_LABELS, NORM_LABELS, PATH_LABELS, Widgets, has_grid


def inline_image(url: str, name: str) -> dict:
    """An Image's value as the page takes it, for an event with postprocess=False (SHOWN): the
    picture is in the answer (a data: URL), so the browser shows it without another request (one
    round trip less per click; docs/PERFORMANCE_NOTES.md).
    Without Gradio's file marker it is not a file to Gradio: nothing is written to its cache."""
    return {"url": url, "orig_name": name, "mime_type": url[len("data:"):url.index(";")]}


class Handlers(TabHandlers):
    """Event handlers: turn widget values into a View, ask the Studio, format the answer."""

    WHAT = "image"

    def __init__(self, studio: Studio, default: View):
        super().__init__(studio)
        self.studio, self.default = studio, default

    def click_bounds(self, v: View) -> tuple[int, int]:
        return DISPLAY, DISPLAY          # a click is kept in page pixels (the image shown DISPLAY x DISPLAY)

    def open_view(self, v: View) -> list:
        """Every widget set to show `v`, then the View itself (an import, a kept view)."""
        return [*self.widgets_for(v), v]

    def view_from(self, v: View, model, seed, psi, label, *rest) -> View:
        """The View the widget values describe. An empty seed box (cleared to type a new seed, or
        holding text a number box cannot parse) keeps the seed on screen: no error while typing;
        an empty class box keeps the session View's class."""
        sliders, (layer, head, mode, alpha, cmap, norm) = rest[:MAX_SLIDERS], rest[MAX_SLIDERS:]
        if seed is None:
            seed = v.args.seed
        if not label and model == v.model:
            # a class box not filled yet (the widgets taking a link's or a kept view's values one
            # by one): the session View's class, never a refusal of a view the user did not make
            label = v.args.label
        n = len(self.studio.engine(model).directions or ())
        # a latent of its own (an inverted picture) stays while the seed box still shows its seed
        latent = v.args.latent if model == v.model and seed == v.args.seed else None
        args = RenderArgs(check_seed(seed), check_finite("truncation", psi), label or None,
                          tuple(check_finite("slider", s) for s in sliders[:n]), latent)
        settings = MapSettings(layer or None, parse_head(head), MODE_LABELS.get(mode, mode),
                               check_finite("opacity", alpha), cmap, NORM_LABELS.get(norm, norm))
        # an intervention and the training versions ("What attention does") stay with their model;
        # another model drops them (its snapshots, its resolution are not the old model's)
        same = model == v.model
        return replace(v, model=model, args=args, map=settings, intervention=v.intervention if same else None,
                       versions=v.versions if same else NO_VERSIONS)

    def values_of(self, v: View) -> list:
        """The widget values (Widgets.values order) that show View `v`: after a refused value the
        boxes go back to what the image on screen was made with, so the screen, the session's View
        and every export agree."""
        engine = self.studio.engine(v.model)
        sliders = list(v.args.sliders) + [0.0] * (MAX_SLIDERS - len(v.args.sliders))
        mode = next(k for k, m in MODE_LABELS.items() if m == v.map.mode)
        norm = next(k for k, n in NORM_LABELS.items() if n == v.map.norm)
        return [v.model, v.args.seed, v.args.psi, v.args.label if engine.cfg.num_classes else None, *sliders,
                v.map.layer or engine.layers[-1], "mean" if v.map.head is None else str(v.map.head), mode,
                v.map.alpha, v.map.cmap, norm]

    def on_refused(self, v: View) -> list:
        """After a refused value: every widget back to the View on screen (values_of), except the
        seed box, which the page itself puts back when it is left (web.RESTORE_SEED): a late answer
        from here must not undo a seed step the user took meanwhile."""
        values = self.values_of(v)
        values[1] = gr.skip()
        return values

    def show(self, v: View):
        picture = self.studio.display_image(v.model, self.studio.render(v.model, v.args))
        return inline_image(png_data_url(picture), "image.png"), *self.show_map(v)

    def show_map(self, v: View):
        """The map of the clicked point; the render comes from the cache (no generator pass)."""
        if v.click is None:
            return None, None, "", "", v
        out = self.studio.inspect(v, *v.click)
        res = self.studio.engine(v.model).cfg.resolution
        text = (f"x={v.click[0]}, y={v.click[1]} → image pixel ({v.click[0] * res // DISPLAY}, "
                f"{v.click[1] * res // DISPLAY}), attention cell {out.map.cell}")
        overlay = inline_image(jpeg_data_url(out.overlay), "attention-map.jpg")
        legend = inline_image(png_data_url(self.studio.engine(v.model).legend(out, v.map)), "colour-scale.png")
        return overlay, legend, out.map.describe(markdown=True), text, v

    def on_change(self, v, *values):
        return self.show(self.view_from(v, *values))

    def on_map_change(self, v, *values):
        return self.show_map(self.view_from(v, *values))

    def on_click(self, evt: gr.SelectData, v: View):
        """A click takes the View the server keeps for the session, not the widgets: every render
        and map change leaves its View there, so it describes the image on screen, and the browser
        sends nothing but the click (18 inputs fewer to gather, send and check)."""
        return self.show_map(v.clicked(*self.point_of(evt, v)))

    def on_page_data(self, live_mode: bool, v: View) -> str:
        """The session's View's link, and its queries and keys when live mode is on (live.py)."""
        return self.studio.page_data(v, bool(live_mode))

    def on_open(self, query: str):
        """A view the page kept (history, favourites: a link's query string), set on every widget."""
        params = {k: v[-1] for k, v in parse_qs(str(query).lstrip("?"), keep_blank_values=True).items()}
        new = view_from_query(params, self.studio.engines, self.default)
        if new is None:
            raise AttnDemoError(f"this kept view names nothing to show: {query!r}")
        return self.open_view(new)

    def on_live_point(self, text: str, v: View):
        """The pointer's pixel "x,y" from a page whose model is too large for live mode in the page:
        answered as a click is."""
        try:
            point = [float(c) for c in str(text).split(",")]
        except ValueError:
            raise AttnDemoError(f"a pointer position is 'x,y', got {text!r}") from None
        return self.show_map(v.clicked(*check_point(point)))

    def on_model(self, name, v: View):
        """Another model: its classes, layers, heads and sliders. The list opened and closed again (or
        the same model picked) changes nothing; a model with the session's class keeps it."""
        if name == v.model:
            return [gr.skip()] * (3 + MAX_SLIDERS)
        return self.model_updates(name, label=v.args.label)

    def on_load(self, request: gr.Request):
        """The page's first view: the one its link names (?seed=..&x=..), else the studio's opening."""
        try:
            v = view_from_query(dict(request.query_params) if request else {}, self.studio.engines, self.default)
        except AttnDemoError as e:
            gr.Warning(f"this link's view cannot be shown ({e}); here is the opening view")
            v = None
        return self.show(v or self.default)

    def on_share(self, v: View) -> str:
        """The query string of a link to the View on screen (the page adds its own address)."""
        return query_of(v)

    def on_summary(self, kind, v: View):
        """The layer summary of the session's View (every render and map change leaves its View,
        so the page sends only the summary's kind: no widget values to gather after each step)."""
        out = self.studio.summary(v, kind)
        s = out.stats
        text = (f"**{s['layer']}** γ = {s['gamma']:+.4f} · mean attention distance {s['mean_distance_px']:.1f} px "
                f"(max {s['max_distance_px']:.1f}) · mean entropy {s['mean_entropy_nats']:.2f} of "
                f"{s['uniform_entropy_nats']:.2f} nats (uniform)")
        return self.studio.files.jpeg_path(out.overlay), text

    def on_pin(self, v: View):
        """Pin the clicked point of the View on screen (the session's: not the widgets, which may
        hold a value the studio refused)."""
        if v.click is None:
            raise AttnDemoError("click the image first, then pin the point")
        if len(v.pins) >= MAX_PINS:
            gr.Warning(f"at most {MAX_PINS} pins: pin 1 made way for this one (Clear pins starts afresh)")
        v = replace(v, pins=(v.pins + [v.click])[-MAX_PINS:])
        return self.studio.files.jpeg_path(self.studio.compare(v)), v

    def on_slider_previews(self, v: View):
        """The sliders' one-step previews for the session's View (after every render)."""
        picture = self.studio.slider_previews(v)
        return gr.update(value=None, visible=False) if picture is None else gr.update(
            value=self.studio.files.jpeg_path(picture), visible=True)

    def on_all_maps(self, v: View, shown: bool = True):
        """Every layer and head of the session's View's click (as on_summary, it reads only the View),
        and whether its tab is there (not for one layer of one head: identical tiles). Drawn only
        while the tab is open (`shown`): a click with the tab closed costs nothing more; opening the
        tab draws it (on_view_tab)."""
        tab = gr.update(visible=has_grid(self.studio.engine(v.model)))
        if not shown:
            return tab, gr.skip()
        picture = self.studio.all_maps(v)
        return tab, None if picture is None else self.studio.files.jpeg_path(picture)

    def on_view_tab(self, evt: gr.SelectData, v: View):
        """A tab of the attention view opened: the "All layers & heads" grid is drawn when it opens."""
        shown = evt.value == ALL_TAB
        return shown, self.on_all_maps(v)[1] if shown else gr.skip()

    def on_compare(self, v: View):
        """The pinned points' maps for the session's View (as on_summary). It reads the View and
        leaves it be: a render that lands meanwhile keeps the View it left."""
        return self.studio.files.jpeg_path(self.studio.compare(v)) if v.pins else None

    def on_grid(self, count, v: View):
        """Samples with the settings of the image on screen, from its seed on."""
        return [(img, f"seed {s}") for img, s in self.studio.grid(v.model, v.args, check_whole("count", count))]

    def on_pick(self, evt: gr.SelectData):
        caption = evt.value.get("caption") if isinstance(evt.value, dict) else None
        if not isinstance(caption, str) or not caption.startswith("seed "):
            raise AttnDemoError("pick an image of the gallery")
        return int(caption[5:])

    def on_interpolate(self, seeds, frames, fps, follow, route, fmt, v: View, progress=gr.Progress()):
        """An animation with the settings of the image on screen (whatever the seed box holds)."""
        path = self.studio.interpolate(v, parse_seeds(seeds), check_whole("frames", frames),
                                       v.click if follow else None, check_finite("fps", fps),
                                       progress=lambda p: progress(p, desc="rendering frames"),
                                       path=PATH_LABELS.get(route, route), fmt=fmt)
        video = fmt == "mp4"        # an <img> shows GIF and WebP; an MP4 loops in the video player
        return (gr.update(value=None if video else str(path), visible=not video),
                gr.update(value=str(path) if video else None, visible=video), str(path))

    def on_dataset(self, count, v: View, progress=gr.Progress()):
        """A zip of `count` images per class with the settings of the image on screen."""
        return str(self.studio.dataset_zip(v, check_whole("images per class", count),
                                           lambda p: progress(p, desc="rendering the data set")))

    def widgets_for(self, v: View) -> list:
        """Every widget set to show View `v`, its model's choices included (Widgets.restored order)."""
        updates = self.model_updates(v.model, v.args.sliders, v.map.layer, v.map.head)
        updates[0] = gr.update(**{**updates[0], "value": v.args.label})
        values = self.values_of(v)
        return [values[0], values[2], *updates, *values[-4:]]

    def seed_of(self, v: View) -> int | None:
        """The seed box's value for View `v`, set after widgets_for (see Widgets.restored). A latent of
        its own (an inverted picture) has no seed: the box is emptied, not left on the seed the search
        started from, and an empty box keeps that view (view_from); prev / next step from the last seed."""
        return None if v.args.latent is not None else v.args.seed


def clamp_note(top: int, what: str):
    """A count slider's release: a typed count beyond its range is clamped by the page (to `top`),
    so say so (the release carries the value as typed)."""
    def note(value):
        if isinstance(value, (int, float)) and value > top:
            gr.Warning(f"at most {top} {what}: {value:g} was set to {top}")
    return note


def wire(demo: gr.Blocks, w: Widgets, h: Handlers) -> None:
    # the first view, then the widgets set to show it (a link may name another than the opening one)
    demo.load(guard(h.on_load), None, w.shown, **SHOWN_SLOW).then(guard(h.widgets_for), [w.view], w.restored,
                                                                   **PRIVATE).then(h.seed_of, [w.view], [w.seed], **PRIVATE).then(
        None, None, None, js=web.READY, **PRIVATE)   # the first view is in place
    demo.load(None, [w.seed], None, js=web.TRACK_SEED, **PRIVATE)
    on_change = gpu(guard(h.on_change))
    refused = guard(h.on_refused)       # a refused value: the widgets go back to the View on screen
    for trigger in (w.seed.change, w.label.input, w.psi.release, *[s.release for s in w.sliders]):
        trigger(on_change, w.settings, w.shown, **SHOWN).failure(refused, [w.view], w.values, **PRIVATE)
    summary, compare, all_maps = guard(h.on_summary), guard(h.on_compare), guard(h.on_all_maps)
    page_data = guard(h.on_page_data)
    # the grid of every layer and head: drawn only while its tab is open (Handlers.on_all_maps)
    all_maps_event = (all_maps, [w.view, w.all_open], [w.all_tab, w.all_img])
    for trigger in (w.layer.input, w.head.input, w.mode.input, w.alpha.release, w.cmap.input, w.norm.input):
        event = trigger(guard(h.on_map_change), w.settings, w.shown_map, **SHOWN)
        event.failure(refused, [w.view], w.values, **PRIVATE)
        event.then(summary, [w.summary_kind, w.view], [w.summary_img, w.summary_md], **PRIVATE).then(
            compare, [w.view], [w.compare_img], **PRIVATE).then(*all_maps_event, **PRIVATE).then(
            page_data, [w.live_toggle, w.view], [w.view_data], **PRIVATE)
    # A click is cheap (no generator pass), so it skips the queue: one HTTP round trip instead of
    # join + event stream, about half the browser latency (docs/PERFORMANCE.md).
    w.image.select(click_guard(h.on_click), [w.view], w.shown_map, queue=False, **SHOWN).then(
        *all_maps_event, **PRIVATE)
    w.model.input(guard(h.on_model), [w.model, w.view], w.model_dependent, **PRIVATE).then(
        on_change, w.settings, w.shown, **SHOWN_SLOW)
    # Stepping or rolling the seed happens in the page: the change of the seed box then renders,
    # one queue round trip instead of two. (A seed the box holds that is not a whole number in
    # range stays as it is, and the render says why.)
    w.seed.change(None, [w.seed], None, js=web.TRACK_SEED, **PRIVATE)
    w.seed.blur(None, [w.seed], [w.seed], js=web.RESTORE_SEED, **PRIVATE)
    w.prev_btn.click(None, [w.seed], [w.seed], js=web.step_seed(-1), **PRIVATE)
    w.next_btn.click(None, [w.seed], [w.seed], js=web.step_seed(+1), **PRIVATE)
    w.rand_btn.click(None, None, [w.seed], js=web.RANDOM_SEED, **PRIVATE)
    w.reset_btn.click(lambda: [0.0] * MAX_SLIDERS, None, w.sliders, **PRIVATE).then(
        on_change, w.settings, w.shown, **SHOWN)

    for trigger in (w.summary_kind.change, w.image.change):
        trigger(summary, [w.summary_kind, w.view], [w.summary_img, w.summary_md], **PRIVATE)
    w.pin_btn.click(guard(h.on_pin), [w.view], [w.compare_img, w.view], **PRIVATE)
    w.clear_btn.click(lambda v: (None, replace(v, pins=[])), [w.view], [w.compare_img, w.view], **PRIVATE)
    w.image.change(page_data, [w.live_toggle, w.view], [w.view_data], **PRIVATE).then(
        compare, [w.view], [w.compare_img], **PRIVATE).then(*all_maps_event, **PRIVATE).then(
        guard(h.on_slider_previews), [w.view], [w.slider_img], **PRIVATE).then(
        guard(h.on_neighbours), [w.view], [w.nn_features, w.nn_pixels], **PRIVATE)
    w.live_toggle.change(page_data, [w.live_toggle, w.view], [w.view_data], **PRIVATE)
    w.view_tabs.select(guard(h.on_view_tab), [w.view], [w.all_open, w.all_img], **PRIVATE)
    # a view the page kept (keep.js puts its query in attnDemo.open and presses the hidden button)
    w.open_go.click(guard(h.on_open), [w.open_query], [*w.restored, w.view], js=web.OPEN,
                    **PRIVATE).then(h.seed_of, [w.view], [w.seed], **PRIVATE).then(on_change, w.settings, w.shown,
                                                                                  **SHOWN_SLOW)
    # live mode for a model too large to ship to the page: the pointer's pixel, answered as a click
    # (live.js presses the hidden button; this function, run in the page first, hands over the pixel)
    w.live_go.click(click_guard(h.on_live_point), [w.live_xy, w.view], w.shown_map, queue=False,
                    js=web.LIVE_POINT, **SHOWN)
    w.grid_btn.click(gpu(guard(h.on_grid)), [w.grid_count, w.view], [w.gallery], **PRIVATE)
    # (preprocess=False: Gradio would refuse the typed value before the note could name it)
    w.grid_count.release(clamp_note(MAX_GRID, "images in the gallery"), [w.grid_count], None, preprocess=False,
                         **PRIVATE)
    w.ds_count.release(clamp_note(MAX_DATASET_PER_CLASS, "images per class"), [w.ds_count], None,
                       preprocess=False, **PRIVATE)
    w.gallery.select(guard(h.on_pick), None, [w.seed], **PRIVATE)
    w.interp_btn.click(gpu(guard(h.on_interpolate)),
                       [w.interp_seeds, w.interp_frames, w.interp_fps, w.interp_follow, w.interp_path,
                        w.interp_format, w.view], [w.interp_img, w.interp_video, w.interp_file], **PRIVATE)
    w.export_btn.click(guard(h.on_export), [w.export_size, w.view], [w.export_files], **PRIVATE)
    w.ds_btn.click(gpu(guard(h.on_dataset)), [w.ds_count, w.view], [w.ds_file], **BATCH)
    w.share_btn.click(guard(h.on_share), [w.view], [w.share_link], **PRIVATE).then(
        None, [w.share_link], [w.share_link], js=web.LINK, **PRIVATE)
    w.import_file.upload(guard(h.on_import), [w.import_file], [*w.restored, w.view],
                         **PRIVATE).then(h.seed_of, [w.view], [w.seed], **PRIVATE).then(on_change, w.settings, w.shown,
                                                                                        **SHOWN_SLOW)


def show_view(after, w: Widgets, h: Handlers) -> None:
    """After `after` (an event's .then or .success) left a new View in the session: every widget set
    to it, then the seed box, then the render."""
    after(guard(h.widgets_for), [w.view], w.restored, **PRIVATE).then(h.seed_of, [w.view], [w.seed], **PRIVATE).then(
        gpu(guard(h.on_change)), w.settings, w.shown, **SHOWN_SLOW)


