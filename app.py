"""attn-demo: the self-attention GAN studio on the shipped weights.

    python app.py                      # http://127.0.0.1:7860
    ATTN_DEMO_WEIGHTS=dir python app.py  # models from another folder

On a Hugging Face Space this file is the entry point (README front matter).
"""
import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from attn_demo.studio import Studio, find_models  # noqa: E402
from attn_demo.ui import CSS, build_demo  # noqa: E402

WEIGHTS = Path(os.environ.get("ATTN_DEMO_WEIGHTS", Path(__file__).parent / "weights"))

studio = Studio(find_models(WEIGHTS))
demo = build_demo(studio)
# One render at a time (2 CPU cores); a bounded queue refuses the excess quickly.
demo.queue(default_concurrency_limit=1, max_size=32)

if __name__ == "__main__":
    # Host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (a Space sets them).
    demo.launch(css=CSS, max_file_size="1mb", footer_links=["gradio", "settings", "api"])
