"""The "Your picture" tab: upload a picture and find it in the model (inversion, serving/invert.py).

The result becomes the studio's view (sliders, clicks, exports and the gallery work on it). The
button starts an inversion, and a second click cancels it: the page keeps whether one runs
(attnDemo.inverting, studio/web/) and presses one of two hidden buttons. Inversions run in a concurrency
group of their own (two at once), so they never hold up clicks and renders.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ._gradio import gr
from ..errors import AttnDemoError
from ..imaging import draw
from ..serving.invert import Cancelled
from . import web
from .core import Studio
from .guard import PRIVATE, guard
from .view import View

INVERT = {"concurrency_id": "invert", "concurrency_limit": 2, "api_visibility": "private"}


@dataclass
class PictureWidgets:
    file: gr.File
    button: gr.Button
    go: gr.Button
    stop: gr.Button
    result: gr.Image
    info: gr.Markdown


def picture_layout() -> PictureWidgets:
    gr.Markdown("Upload a picture (PNG, JPEG or WebP, up to 20 MB: a phone photo is fine) and find the latent and class whose image is closest "
                "to it: the result becomes the current view, to click, slide and export. Emoji-like pictures "
                "come back recognisably; photos do not (the model only draws emoji). A second click cancels.")
    with gr.Row():
        file = gr.File(label="Your picture", file_types=[".png", ".jpg", ".jpeg", ".webp"], type="binary",
                       elem_id="inv_file")
        with gr.Column():
            button = gr.Button("Find it in the model", variant="primary", elem_id="inv_btn")
            go = gr.Button("start", elem_id="inv_go", elem_classes="attn-carrier")
            stop = gr.Button("stop", elem_id="inv_stop", elem_classes="attn-carrier")
            info = gr.Markdown(elem_id="inv_info")
        result = gr.Image(label="Your picture as the model sees it, and its inversion", format="png",
                          type="numpy", interactive=False, elem_id="inv_img", buttons=["download"])
    return PictureWidgets(file, button, go, stop, result, info)


class PictureHandlers:
    def __init__(self, studio: Studio):
        self.studio = studio
        self._running: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def on_invert(self, data, v: View, request: gr.Request = None, progress=gr.Progress()):
        if data is None:
            raise AttnDemoError("upload a picture first")
        key = getattr(request, "session_hash", None) or "local"
        cancel = threading.Event()
        with self._lock:
            self._running[key] = cancel
        try:
            new, out = self.studio.invert(v, bytes(data), lambda p: progress(p, desc="inverting"), cancel)
        except Cancelled:
            # asked for: news, not an error; the view on screen stays (its refresh renders it again)
            gr.Info("inversion cancelled")
            return gr.skip(), gr.skip(), "Inversion cancelled: the view on screen stays as it was."
        finally:
            with self._lock:
                if self._running.get(key) is cancel:
                    del self._running[key]
        scale = max(1, 256 // out.image.shape[0])
        pair = np.concatenate([draw.upscale_nearest(out.target, scale), draw.upscale_nearest(out.image, scale)], 1)
        label = new.args.label
        note = " A poor match: the model draws emoji-like pictures, and this one is far from them." if out.psnr < 14 else ""
        text = (f"Found{' class **' + str(label) + '**' if label else ''}: PSNR {out.psnr:.1f} dB, feature distance "
                f"{out.feature_distance:.2f}, {out.steps} steps × {out.restarts} restarts in {out.seconds:.1f} s.{note}")
        return new, pair, text

    def on_cancel(self, request: gr.Request = None):
        key = getattr(request, "session_hash", None) or "local"
        with self._lock:
            cancel = self._running.get(key)
        if cancel is not None:
            cancel.set()


def wire_pictures(w: PictureWidgets, h: PictureHandlers, view: gr.State, then_show) -> None:
    """then_show(event): chain the main view's refresh (widgets, seed, render) after the inversion."""
    w.button.click(None, None, None, js=web.TOGGLE_INVERT, **PRIVATE)
    event = w.go.click(guard(h.on_invert), [w.file, view], [view, w.result, w.info],
                       **INVERT)
    # the button says "Find it" again however the search ended (Gradio's .then runs only after a
    # success: a refused picture needs .failure as well)
    event.then(None, None, None, js=web.INVERT_DONE, **PRIVATE)
    event.failure(None, None, None, js=web.INVERT_DONE, **PRIVATE)
    then_show(event.success)
    w.stop.click(guard(h.on_cancel), None, None, queue=False, **PRIVATE)
