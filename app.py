"""attn-demo: the self-attention GAN studio on the shipped weights.

    python app.py                      # http://127.0.0.1:7860
    ATTN_DEMO_WEIGHTS=dir python app.py  # models from another folder

Also read: ATTN_DEMO_EXPORT_DIR (where exports and served pictures go; default a
fresh folder inside Gradio's cache) and ATTN_DEMO_QUEUE_SIZE (the queue's max_size, default 32;
scripts/reliability sets both to measure and overload the app).

On a Hugging Face Space this file is the entry point (README front matter).
"""
import gc
import os
import signal
import tempfile
from dataclasses import replace
from pathlib import Path

# Importing torch and Gradio creates ~300k objects that live as long as the app: the
# collector's passes over them during start-up freed almost nothing and slowed the cold start
# (docs/PERFORMANCE_NOTES.md). Off until the app is built, then those objects are frozen out of its sight.
gc.disable()
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Gradio's queue keeps a record of its last N events for its monitoring page whether or not
# analytics are on (~0.5 KB each; 10,000 by default): 1,000 is plenty and keeps R2's memory flat.
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
# Gradio reads matplotlib's backend around every event; left to auto-detect, the first
# event imports pyplot to resolve it, which delays the first image. A server draws headless.
os.environ.setdefault("MPLBACKEND", "agg")
# ... and that import makes matplotlib's config folder, ~/.config/matplotlib: on a Space, outside
# the app's folder. It goes to the temp directory instead (scripts/space/rehearse.py checks that
# the app writes nowhere else).
os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "attn-demo-matplotlib"))

import torch  # noqa: E402

from attn_demo.imaging.folders import UPLOAD_MB  # noqa: E402
from attn_demo.machine import keep_freed_memory  # noqa: E402
from attn_demo.serving.engine import MapSettings, RenderArgs  # noqa: E402
from attn_demo.serving.probe import LOOKS_AT  # noqa: E402
from attn_demo.serving.loader import find_models  # noqa: E402
from attn_demo.studio.core import Studio  # noqa: E402
from attn_demo.studio.ui import CONCURRENCY, CSS, JS, SESSIONS, build_demo  # noqa: E402
from attn_demo.studio.view import View  # noqa: E402
from gradio.utils import get_upload_folder  # noqa: E402  (Gradio's cache folder: GRADIO_TEMP_DIR or the default)

WEIGHTS = Path(os.environ.get("ATTN_DEMO_WEIGHTS", Path(__file__).parent / "weights"))
QUEUE_SIZE = int(os.environ.get("ATTN_DEMO_QUEUE_SIZE", "32"))
# CONCURRENCY handlers may run at once; each gets its share of the cores, never more.
torch.set_num_threads(max(1, (os.cpu_count() or 1) // CONCURRENCY))
# Reuse freed activation memory instead of fresh pages (attn_demo/machine.py), in at most
# CONCURRENCY malloc arenas: with glibc's default, Gradio's worker threads made 16 arenas that each
# kept its own peak free (R2 with every model: +84.4 MB; capped at 2: +12.7 MB, docs/reliability/NOTES.md).
keep_freed_memory(arenas=CONCURRENCY)

# Exports go to a folder inside Gradio's cache unless ATTN_DEMO_EXPORT_DIR says otherwise: Gradio then serves
# them where they are instead of keeping a second copy for 10 minutes (studio/files.py; R3, docs/RELIABILITY.md).
studio = Studio(find_models(WEIGHTS, kind=None), export_dir=os.environ.get("ATTN_DEMO_EXPORT_DIR"),
                export_under=Path(get_upload_folder()))
# The page opens on a clean face in the mode a newcomer reads first ("where this pixel looks"), on
# the pixel whose map is the most focused: what attention does, at a glance.
OPENING = View("emoji32", RenderArgs(seed=10, psi=0.8, label="Smileys & Emotion"), map=MapSettings(mode=LOOKS_AT))
if OPENING.model in studio.models:
    OPENING = replace(OPENING, click=studio.focused_click(OPENING))
demo = build_demo(studio, OPENING if OPENING.model in studio.models else None, queue_size=QUEUE_SIZE)
gc.freeze()  # start-up's garbage (~12k objects) stays too; everything made from here is collected
gc.enable()


def _stop(signum, frame):
    """SIGTERM (a Space restarting, `kill`) stops the app as Ctrl-C does: Gradio closes the server and
    the process exits normally, so the atexit hook removes the studio's export folder (the default
    SIGTERM ends the process at once, and every stop left the folder in the temp directory)."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    # Host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (a Space sets them).
    # uploads up to UPLOAD_MB (a phone photo for "Your picture"); Gradio refuses larger ones (HTTP 413)
    demo.launch(css=CSS, js=JS, max_file_size=f"{UPLOAD_MB}mb", footer_links=["gradio", "settings", "api"],
                state_session_capacity=SESSIONS)
