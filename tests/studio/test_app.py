"""app.py as a process: what it leaves behind when it is stopped."""
import os
import subprocess
import sys
from pathlib import Path

from conftest import free_port, wait_serving

ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_removes_the_export_folder(ui_weights, tmp_path):
    """A Space restart or `kill` sends SIGTERM; the default handler ends the process without running
    the atexit hook that removes the studio's own export folder, so every stop left one in /tmp."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    port = free_port()
    env = {**os.environ, "ATTN_DEMO_WEIGHTS": str(ui_weights), "GRADIO_SERVER_PORT": str(port), "TMPDIR": str(tmp)}
    env.pop("ATTN_DEMO_EXPORT_DIR", None)
    env.pop("GRADIO_TEMP_DIR", None)
    p = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        wait_serving(p, port, 180)
        # inside Gradio's cache folder (TMPDIR/gradio by default), so Gradio serves exports in place
        assert list(tmp.glob("gradio/attn-demo-export-*")), "the studio made no export folder in Gradio's cache"
    finally:
        p.terminate()                                  # SIGTERM
        p.wait(timeout=60)
    assert not list(tmp.glob("gradio/attn-demo-export-*"))


def test_the_app_keeps_a_short_record_of_gradio_events(ui_weights):
    """Gradio's queue keeps its last N events for its monitoring page (10,000 by default, whether or
    not analytics are on); app.py keeps 1,000 (mixed-memory's R2, docs/reliability/NOTES.md)."""
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_ANALYTICS_MAX_EVENTS"}
    env["ATTN_DEMO_WEIGHTS"] = str(ui_weights)
    out = subprocess.run([sys.executable, "-c", "import app; print(app.demo._queue.ANALYTICS_MAX_EVENTS)"],
                         capture_output=True, text=True, check=True, env=env, cwd=ROOT, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "1000"
