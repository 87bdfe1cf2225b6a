"""How the studio's events run: their shared concurrency group, and errors as messages.

Every handler runs behind `guard`, which turns our errors into a gr.Error with
the message and anything else into a generic error: no traceback reaches a
client, and a bug's traceback stays in the server log. The UI's events
(events.py) and the named API (api.py) both import from here.
"""
from __future__ import annotations

import functools
import logging

from ._gradio import gr
from ..errors import AttnDemoError, disk_full_message, is_disk_full

log = logging.getLogger("attn_demo.studio")
# Every event, UI or API, shares one concurrency group: at most CONCURRENCY handlers run at once
# (app.py gives torch cores / CONCURRENCY threads each), so the CPU is never oversubscribed.
CONCURRENCY = 2
GROUP = {"concurrency_id": "studio", "concurrency_limit": CONCURRENCY}
PRIVATE = {"api_visibility": "private", **GROUP}
# The events that show the image and its map (Widgets.shown, .shown_map): their handlers return
# the pictures as the page takes them (inline_image), which Gradio's postprocessing would refuse.
# A render or a map takes milliseconds, so they show no progress: Gradio's status tracker over the
# outputs (even "minimal") kept headless Chromium drawing on the cores the server needed
# (docs/PERFORMANCE_NOTES.md). Loading a model or a page keeps its tracker.
SHOWN = {"postprocess": False, "show_progress": "hidden", **PRIVATE}
SHOWN_SLOW = {**SHOWN, "show_progress": "full"}
# Long batch jobs (a data set of up to 256 images per class): one at a time, in a group of their own,
# so they never hold up renders and clicks.
BATCH = {"concurrency_id": "batch", "concurrency_limit": 1, "api_visibility": "private"}
# Painting a texture: one canvas at a time, in a group of its own (the image studio's events never wait on it).
PAINT = {"concurrency_id": "canvas", "concurrency_limit": 1, "api_visibility": "private"}

try:  # On a ZeroGPU Space this asks for a GPU per call; elsewhere it returns the function unchanged.
    import spaces
    gpu = spaces.GPU
except ImportError:  # pragma: no cover - where `spaces` is not installed
    def gpu(fn):
        return fn


def _message(fn, e: Exception) -> str:
    """What the user reads when handler `fn` raised `e` (call it inside the except block). A user's
    mistake is one line in the server log; a bug keeps its traceback there."""
    if isinstance(e, AttnDemoError):
        log.warning("refused (%s): %s", fn.__name__, e)
        return str(e)
    if isinstance(e, gr.Error):
        return e.message
    if is_disk_full(e):                                # the host's disk, not a bug: one line in the log
        log.warning("disk full (%s): %s", fn.__name__, e)
        return disk_full_message(e)
    log.exception("handler %s failed", fn.__name__)   # a bug: the traceback stays in the server log
    return f"internal error ({type(e).__name__}); the server log has details"


def guard(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as e:
            # logged by _message already: Gradio need not print a traceback of its own
            raise gr.Error(_message(fn, e), print_exception=False) from None
    return wrapper


def click_guard(fn):
    """guard for the click, which runs outside the queue: there Gradio answers an exception
    with HTTP 500, so a problem comes back as a message in the click line instead, and the
    overlay, stats and view stay as they were."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            return gr.skip(), gr.skip(), gr.skip(), f"⚠ {_message(fn, e)}", gr.skip()
    return wrapper
