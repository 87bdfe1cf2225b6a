"""The Gradio studio: build_demo(studio) -> gr.Blocks.

The widgets (widgets.py) are wired to the handlers (events.py); the named API
endpoints (api.py) take explicit arguments; the UI's own events are private
(hidden from API clients). All share one concurrency group (guard.py).
"""
from __future__ import annotations

from ._gradio import gr
from ..serving.engine import RenderArgs
from .api import add_api
from .core import Studio
from .events import Handlers, show_view, wire
from .pictures import PictureHandlers, wire_pictures
from .surgery import SurgeryHandlers, wire_surgery
from .guard import CONCURRENCY
from .textures import TextureHandlers, wire_textures
from .view import DISPLAY, View
from .web import CSS, JS
from .widgets import layout

__all__ = ["build_demo", "CSS", "JS", "CONCURRENCY", "SESSIONS"]

# Gradio's cache of served files: every CACHE[0] s, delete files older than CACHE[1] s, so the disk
# holds at most ~12 minutes of outputs. Per-session state is capped likewise: every raw API call is a
# new session, and Gradio keeps ~180 KB per session up to its default of 10,000.
CACHE = (120, 600)
SESSIONS = 200


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
        wire(demo, widgets, handlers)
        wire_pictures(widgets.pictures, PictureHandlers(studio), widgets.view,
                      lambda after: show_view(after, widgets, handlers))
        wire_surgery(widgets.surgery, SurgeryHandlers(studio), widgets)
        if widgets.textures is not None:
            wire_textures(demo, widgets.textures, TextureHandlers(studio.canvas))
        add_api(studio)
    return demo
