"""The Gradio studio: build_demo(studio) -> gr.Blocks. Handlers stay short.

Widgets emit arguments; the Studio (studio.py, no Gradio) returns pictures
and numbers. Every handler runs behind `_guard`, which turns our errors into
a gr.Error with the message and anything else into a generic error: no
traceback reaches a client. The named API endpoints (api.py) take explicit
arguments; the UI's own events are private (hidden from API clients).
"""
from __future__ import annotations

import functools
import logging
import math
from dataclasses import replace

from ._gradio import gr

from .engine import RenderArgs
from .errors import AttnDemoError
from .latents import SEED_MAX, check_seed
from .layout import CSS, MAX_SLIDERS, MODE_LABELS, Widgets, layout
from .probe import LOOKS_AT
from .studio import DISPLAY, MAX_PINS, Studio, View

__all__ = ["build_demo", "CSS", "CONCURRENCY", "SESSIONS", "gpu"]

log = logging.getLogger("attn_demo.ui")
# Every event, UI or API, shares one concurrency group: at most CONCURRENCY handlers run at once
# (app.py gives torch cores / CONCURRENCY threads each), so the CPU is never oversubscribed.
CONCURRENCY = 2
GROUP = {"concurrency_id": "studio", "concurrency_limit": CONCURRENCY}
PRIVATE = {"api_visibility": "private", **GROUP}
# The events that show the image and its map (Widgets.shown, .shown_map): their handlers return
# the pictures as the page takes them (inline_image), which Gradio's postprocessing would refuse.
# A render or a map takes milliseconds, so they show no progress: Gradio's status tracker over the
# outputs (even "minimal") kept headless Chromium drawing for ~100 ms per seed step, on the cores
# the server needed (docs/PERFORMANCE_NOTES.md). Loading a model or a page keeps its tracker.
SHOWN = {"postprocess": False, "show_progress": "hidden", **PRIVATE}
SHOWN_SLOW = {**SHOWN, "show_progress": "full"}

try:  # On a ZeroGPU Space this asks for a GPU per call; elsewhere it returns the function unchanged.
    import spaces
    gpu = spaces.GPU
except ImportError:  # pragma: no cover - where `spaces` is not installed
    def gpu(fn):
        return fn

# Gradio's cache of served files: every CACHE[0] s, delete files older than CACHE[1] s, so the disk
# holds at most ~12 minutes of outputs. Per-session state is capped likewise: every raw API call is a
# new session, and Gradio keeps ~180 KB per session up to its default of 10,000.
CACHE = (120, 600)
SESSIONS = 200


def _message(fn, e: Exception) -> str:
    """What the user reads when handler `fn` raised `e` (call it inside the except block)."""
    if isinstance(e, AttnDemoError):
        return str(e)
    if isinstance(e, gr.Error):
        return e.message
    log.exception("handler %s failed", fn.__name__)   # a bug: the traceback stays in the server log
    return f"internal error ({type(e).__name__}); the server log has details"


def _guard(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as e:
            raise gr.Error(_message(fn, e)) from None
    return wrapper


def _click_guard(fn):
    """_guard for the click, which runs outside the queue: there Gradio answers an exception
    with HTTP 500, so a problem comes back as a message in the click line instead, and the
    overlay, stats and view stay as they were."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            return gr.skip(), gr.skip(), f"⚠ {_message(fn, e)}", gr.skip()
    return wrapper


def number(value, name: str) -> float:
    """A finite number from a widget or an API call, else a clear error (NaN passes Gradio's bounds)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AttnDemoError(f"{name} must be a finite number, got {value!r}")
    return value


def whole(value, name: str) -> int:
    """A whole number (an int, or a float with no fraction); 1.5 is an error, not rounded."""
    v = number(value, name)
    if v != int(v):
        raise AttnDemoError(f"{name} must be a whole number, got {value!r}")
    return int(v)


def head_index(text) -> int | None:
    if text in (None, "", "mean"):
        return None
    try:
        return int(text)
    except (TypeError, ValueError):
        raise AttnDemoError(f"head must be 'mean' or a head index, got {text!r}") from None


def stats_markdown(s: dict) -> str:
    verb = "looks at" if s["mode"] == LOOKS_AT else "is looked at by"
    return (f"**{s['layer']}**, head {s['head']}: the pixel {verb} this map.  \n"
            f"γ (gamma) = {s['gamma']:+.4f} · entropy {s['entropy_nats']:.2f} nats "
            f"({100 * s['entropy_norm']:.0f}% of uniform) · mean distance {s['mean_distance_px']:.1f} px "
            f"· peak weight {s['max_weight']:.3f}")


def inline_image(url: str, name: str) -> dict:
    """An Image's value as the page takes it, for an event with postprocess=False (SHOWN): the
    picture is in the answer (a data: URL), so the browser shows it without another request (one
    round trip less per click: 0-20 ms on localhost, the network's latency on a distant Space).
    Without Gradio's file marker it is not a file to Gradio: nothing is written to its cache."""
    return {"url": url, "orig_name": name, "mime_type": url[len("data:"):url.index(";")]}


class Handlers:
    """Event handlers: turn widget values into a View, ask the Studio, format the answer."""

    def __init__(self, studio: Studio, default: View):
        self.studio, self.default = studio, default

    def view_from(self, v: View, model, seed, psi, label, *rest) -> View:
        sliders, (layer, head, mode, alpha, cmap) = rest[:MAX_SLIDERS], rest[MAX_SLIDERS:]
        n = len(self.studio.engine(model).directions or ())
        args = RenderArgs(check_seed(seed), number(psi, "truncation"), label or None,
                          tuple(number(s, "slider") for s in sliders[:n]))
        return replace(v, model=model, args=args, layer=layer or None, head=head_index(head),
                       mode=MODE_LABELS.get(mode, mode), alpha=number(alpha, "opacity"), cmap=cmap)

    def show(self, v: View):
        picture = self.studio.display_image(v.model, self.studio.render(v.model, v.args))
        return inline_image(self.studio.png_data_url(picture), "image.png"), *self.show_map(v)

    def show_map(self, v: View):
        """The map of the clicked point; the render comes from the cache (no generator pass)."""
        if v.click is None:
            return None, "", "", v
        out = self.studio.inspect(v, *v.click)
        res = self.studio.engine(v.model).cfg.resolution
        text = (f"x={v.click[0]}, y={v.click[1]} → image pixel ({v.click[0] * res // DISPLAY}, "
                f"{v.click[1] * res // DISPLAY}), attention cell {tuple(out.stats['cell'])}")
        overlay = inline_image(self.studio.jpeg_data_url(out.overlay), "attention-map.jpg")
        return overlay, stats_markdown(out.stats), text, v

    def on_change(self, v, *values):
        return self.show(self.view_from(v, *values))

    def on_map_change(self, v, *values):
        return self.show_map(self.view_from(v, *values))

    def on_click(self, evt: gr.SelectData, v: View):
        """A click takes the View the server keeps for the session, not the widgets: every render
        and map change leaves its View there, so it describes the image on screen, and the browser
        sends nothing but the click (18 inputs fewer to gather, send and check: ~10 ms)."""
        index = evt.index
        if not isinstance(index, (list, tuple)) or len(index) != 2:
            raise AttnDemoError("click inside the image")
        x, y = (whole(c, "click coordinate") for c in index)
        if not (0 <= x < DISPLAY and 0 <= y < DISPLAY):
            raise AttnDemoError(f"click ({x}, {y}) is outside the image: click inside the image")
        return self.show_map(replace(v, click=(x, y)))

    def model_updates(self, name: str, sliders=(), layer=None, head=None) -> list:
        engine = self.studio.engine(name)
        names = engine.class_names if engine.cfg.num_classes else []
        labels = list(engine.directions.labels) if engine.directions is not None else []
        values = list(sliders) + [0.0] * MAX_SLIDERS
        return [gr.update(choices=names, value=names[0] if names else None, visible=bool(names)),
                gr.update(choices=engine.layers, value=layer or engine.layers[-1]),
                gr.update(choices=["mean"] + [str(h) for h in range(engine.cfg.heads)],
                          value="mean" if head is None else str(head)),
                *[gr.update(visible=i < len(labels), label=labels[i] if i < len(labels) else "",
                            value=values[i]) for i in range(MAX_SLIDERS)]]

    def on_model(self, name):
        return self.model_updates(name)

    def on_load(self):
        return self.show(self.default)

    def on_summary(self, kind, v: View):
        """The layer summary of the session's View (every render and map change leaves its View,
        so the page sends only the summary's kind: no widget values to gather after each step)."""
        out = self.studio.summary(v, kind)
        s = out.stats
        text = (f"**{s['layer']}** γ = {s['gamma']:+.4f} · mean attention distance {s['mean_distance_px']:.1f} px "
                f"(max {s['max_distance_px']:.1f}) · mean entropy {s['mean_entropy_nats']:.2f} of "
                f"{s['uniform_entropy_nats']:.2f} nats (uniform)")
        return self.studio.jpeg_path(out.overlay), text

    def on_pin(self, v, *values):
        v = self.view_from(v, *values)
        if v.click is None:
            raise AttnDemoError("click the image first, then pin the point")
        v = replace(v, pins=(v.pins + [v.click])[-MAX_PINS:])
        return self.studio.jpeg_path(self.studio.compare(v)), v

    def on_compare(self, v: View):
        """The pinned points' maps for the session's View (as on_summary). It reads the View and
        leaves it be: a render that lands meanwhile keeps the View it left."""
        return self.studio.jpeg_path(self.studio.compare(v)) if v.pins else None

    def on_grid(self, count, v, *values):
        v = self.view_from(v, *values)
        return [(img, f"seed {s}") for img, s in self.studio.grid(v.model, v.args, whole(count, "count"))]

    def on_pick(self, evt: gr.SelectData):
        caption = evt.value.get("caption") if isinstance(evt.value, dict) else None
        if not isinstance(caption, str) or not caption.startswith("seed "):
            raise AttnDemoError("pick an image of the gallery")
        return int(caption[5:])

    def on_interpolate(self, progress=gr.Progress(), *values):
        seeds, frames, fps, follow, v, *values = values
        v = self.view_from(v, *values)
        path = self.studio.interpolate(v, seed_list(seeds), whole(frames, "frames"),
                                       v.click if follow else None, number(fps, "fps"),
                                       progress=lambda p: progress(p, desc="rendering frames"))
        return str(path)

    def on_export(self, size, v, *values):
        return [str(p) for p in self.studio.export(self.view_from(v, *values), size)]

    def on_import(self, data):
        if data is None:
            raise AttnDemoError("no file")
        new, warnings = self.studio.parse_state(data)
        for w in warnings:
            gr.Warning(w)
        mode = next(k for k, m in MODE_LABELS.items() if m == new.mode)
        updates = self.model_updates(new.model, new.args.sliders, new.layer, new.head)
        updates[0] = gr.update(**{**updates[0], "value": new.args.label})
        return [new.model, new.args.seed, new.args.psi, *updates, mode, new.alpha, new.cmap, new]


def seed_list(text) -> list[int]:
    try:
        return [int(s) for s in str(text).replace(";", ",").split(",") if s.strip()]
    except ValueError:
        raise AttnDemoError(f"seeds must be whole numbers separated by commas, got {text!r}") from None


def _step_seed_js(step: int) -> str:
    """Browser-side seed +-1, clamped to [0, SEED_MAX]; anything but a whole number in range is left as it is."""
    return (f"(s) => Number.isInteger(s) && s >= 0 && s <= {SEED_MAX} ? "
            f"Math.min({SEED_MAX}, Math.max(0, s + ({step}))) : s")


def _wire(w: Widgets, h: Handlers) -> None:
    on_change = gpu(_guard(h.on_change))
    for trigger in (w.seed.change, w.label.input, w.psi.release, *[s.release for s in w.sliders]):
        trigger(on_change, w.settings, w.shown, **SHOWN)
    summary, compare = _guard(h.on_summary), _guard(h.on_compare)
    for trigger in (w.layer.input, w.head.input, w.mode.input, w.alpha.release, w.cmap.input):
        trigger(_guard(h.on_map_change), w.settings, w.shown_map, **SHOWN).then(
            summary, [w.summary_kind, w.view], [w.summary_img, w.summary_md], **PRIVATE).then(
            compare, [w.view], [w.compare_img], **PRIVATE)
    # A click is cheap (no generator pass), so it skips the queue: one HTTP round trip instead of
    # join + event stream, about half the browser latency (docs/PERFORMANCE.md).
    w.image.select(_click_guard(h.on_click), [w.view], w.shown_map, queue=False, **SHOWN)
    w.model.input(_guard(h.on_model), [w.model], w.model_dependent, **PRIVATE).then(
        on_change, w.settings, w.shown, **SHOWN_SLOW)
    # Stepping or rolling the seed happens in the page: the change of the seed box then renders,
    # one queue round trip instead of two. (A seed the box holds that is not a whole number in
    # range stays as it is, and the render says why.)
    w.prev_btn.click(None, [w.seed], [w.seed], js=_step_seed_js(-1), **PRIVATE)
    w.next_btn.click(None, [w.seed], [w.seed], js=_step_seed_js(+1), **PRIVATE)
    w.rand_btn.click(None, None, [w.seed], js=f"() => Math.floor(Math.random() * {SEED_MAX + 1})", **PRIVATE)
    w.reset_btn.click(lambda: [0.0] * MAX_SLIDERS, None, w.sliders, **PRIVATE).then(
        on_change, w.settings, w.shown, **SHOWN)

    for trigger in (w.summary_kind.change, w.image.change):
        trigger(summary, [w.summary_kind, w.view], [w.summary_img, w.summary_md], **PRIVATE)
    w.pin_btn.click(_guard(h.on_pin), w.settings, [w.compare_img, w.view], **PRIVATE)
    w.clear_btn.click(lambda v: (None, replace(v, pins=[])), [w.view], [w.compare_img, w.view], **PRIVATE)
    w.image.change(compare, [w.view], [w.compare_img], **PRIVATE)
    w.grid_btn.click(gpu(_guard(h.on_grid)), [w.grid_count, *w.settings], [w.gallery], **PRIVATE)
    w.gallery.select(_guard(h.on_pick), None, [w.seed], **PRIVATE)
    w.interp_btn.click(gpu(_guard(h.on_interpolate)),
                       [w.interp_seeds, w.interp_frames, w.interp_fps, w.interp_follow, *w.settings],
                       [w.interp_img], **PRIVATE)
    w.export_btn.click(_guard(h.on_export), [w.export_size, *w.settings], [w.export_files], **PRIVATE)
    w.import_file.upload(_guard(h.on_import), [w.import_file],
                         [w.model, w.seed, w.psi, *w.model_dependent, w.mode, w.alpha, w.cmap, w.view],
                         **PRIVATE).then(on_change, w.settings, w.shown, **SHOWN_SLOW)


def build_demo(studio: Studio, default: View | None = None, cache: tuple[int, int] = CACHE,
               queue_size: int = 32) -> gr.Blocks:
    """The app. Its queue is bounded (queue_size): the excess of a burst is refused at once
    ("queue full"), not left to pile up; CONCURRENCY handlers run at once."""
    first = studio.models[0]
    engine = studio.engine(first)
    default = default or View(first, RenderArgs(seed=42, psi=0.8,
                                                label=engine.class_names[0] if engine.cfg.num_classes else None),
                              click=(DISPLAY // 2, DISPLAY // 2))
    studio.render(default.model, default.args)   # warm-up: the first page is served from the cache
    with gr.Blocks(title="attn-demo · self-attention GAN studio", delete_cache=cache) as demo:
        # Gradio rebuilds its FastAPI app in queue() and when the Blocks closes: set the
        # queue while the Blocks is still empty and the full app is built once less.
        demo.queue(default_concurrency_limit=CONCURRENCY, max_size=queue_size)
        widgets = layout(studio, default)
        handlers = Handlers(studio, default)
        _wire(widgets, handlers)
        demo.load(_guard(handlers.on_load), None, widgets.shown, **SHOWN_SLOW)
        from .api import add_api
        add_api(studio)
    return demo
