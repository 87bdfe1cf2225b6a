"""Shared fixtures: tiny randomly initialised models on the CPU (seconds, no downloads)."""
import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Test files share helpers by module name (`from test_browser import page`) across folders: put the
# folders that hold them on the path, so any one file or folder runs alone, not only the whole suite.
# (Test files' names are unique across the folders, as pytest's default import mode needs anyway.)
HERE = Path(__file__).parent
for folder in sorted(p.parent for p in HERE.rglob("test_*.py")):
    if str(folder) not in sys.path:
        sys.path.append(str(folder))

import pytest  # noqa: E402
import torch  # noqa: E402

from attn_demo.models.checkpoint import save_pretrained  # noqa: E402
from attn_demo.models.config import ModelConfig  # noqa: E402
from attn_demo.models.networks import Generator  # noqa: E402

TINY = dict(resolution=32, z_dim=16, g_width=32, d_width=16, g_attn=(16,), d_attn=(16,))


def tiny_config(**overrides) -> ModelConfig:
    return ModelConfig(**{**TINY, **overrides})


def tiny_generator(seed: int = 0, gamma: float = 0.7, **overrides) -> Generator:
    """A random G whose attention actually contributes (gamma != 0) and whose maps are peaked."""
    torch.manual_seed(seed)
    g = Generator(tiny_config(**overrides))
    with torch.no_grad():
        for m in g.attention_layers().values():
            m.gamma.fill_(gamma)
            # Spectral norm keeps random q/k small, which makes every map near-uniform;
            # scale the raw weights so the maps have structure worth testing.
            for conv in (m.query, m.key):
                conv.parametrizations.weight.original.mul_(8.0)
        for name, p in g.named_parameters():
            if ".embed." in name:  # class embeddings start at 0: make classes differ
                p.normal_(0, 0.5)
    # A few training-mode forwards give spectral norm's u/v and BN stats real values.
    g.train()
    with torch.no_grad():
        for _ in range(3):
            z = torch.randn(8, g.cfg.z_dim)
            y = torch.randint(0, g.cfg.num_classes, (8,)) if g.cfg.num_classes else None
            g(z, y)
    return g.eval()


def load_script(name: str):
    """scripts/NAME.py as a module (the scripts are not a package), to call its functions and main."""
    path = Path(__file__).resolve().parent.parent / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_model_dir(path, **kwargs):
    save_pretrained(path, tiny_generator(**kwargs))
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return make_model_dir(tmp_path_factory.mktemp("tiny") / "tiny32")


@pytest.fixture(scope="session")
def cond_model_dir(tmp_path_factory):
    return make_model_dir(tmp_path_factory.mktemp("tinyc") / "tinycond",
                          num_classes=3, class_names=("cat", "dog", "fish"), heads=2)


# ---------------------------------------------------------------- the studio app
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run"]


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_serving(process, port: int, seconds: float = 120) -> None:
    """Until the app started as `process` answers its page on `port` (its stderr's tail if it died)."""
    import time
    import urllib.request
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                assert r.status == 200
                return
        except OSError:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            time.sleep(0.3)
    raise AssertionError(f"app did not serve within {seconds:.0f} s")


@pytest.fixture(scope="session")
def ui_weights(tmp_path_factory):
    """Tiny models: unconditional (one layer), conditional (two layers, two heads, sliders), a canvas,
    and one with attention slots."""
    from attn_demo.models.checkpoint import load_pretrained, save_directions
    from attn_demo.training.directions import compute_directions
    root = tmp_path_factory.mktemp("weights")
    make_model_dir(root / "tiny32")
    cond = make_model_dir(root / "tinycond", num_classes=3, class_names=("cat", "dog", "fish"), heads=2,
                          g_attn=(8, 16))
    save_directions(cond, compute_directions(load_pretrained(cond), k=3, samples=300))
    save_pretrained(root / "tinytex", tiny_canvas())
    # registers, a null slot, whitened queries and the context path (models/attention.py)
    make_model_dir(root / "tinyslots", attn_registers=2, attn_null=True, attn_whiten=True, attn_context=True)
    return root


def tiny_canvas(**overrides):
    """A random canvas model (models/canvas.py), 32-px crops, 8-px cells, attention that matters
    (gamma 0.8, peaked maps)."""
    from attn_demo.models.canvas import CanvasGenerator
    torch.manual_seed(0)
    base = dict(resolution=32, z_dim=8, z_local=4, g_width=16, d_width=16, g_attn=(8,), d_attn=(16,),
                kind="canvas", num_classes=3, class_names=("sand", "rock", "snow"))
    g = CanvasGenerator(ModelConfig(**{**base, **overrides}))
    with torch.no_grad():
        for m in g.attn.values():
            m.gamma.fill_(0.8)
            for conv in (m.query, m.key):
                conv.parametrizations.weight.original.mul_(8.0)
        g.train()
        for _ in range(3):
            g(g.sample_latent(4), torch.randint(0, 3, (4,)))
    return g.eval()


@pytest.fixture(scope="session")
def studio(ui_weights):
    from attn_demo.serving.loader import find_models
    from attn_demo.studio.core import Studio
    return Studio(find_models(ui_weights, kind=None), device="cpu")


@pytest.fixture(scope="session")
def served_demo(studio):
    """The studio's Blocks, served: (demo, url)."""
    from attn_demo.studio.ui import CSS, JS, SESSIONS, build_demo
    demo = build_demo(studio)
    demo.queue(default_concurrency_limit=1, max_size=32)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                            quiet=True, css=CSS, js=JS, max_file_size="1mb", state_session_capacity=SESSIONS)
    yield demo, url
    demo.close()


@pytest.fixture(scope="session")
def app_url(served_demo):
    return served_demo[1]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists("/usr/bin/chromium"):
        if os.environ.get("ATTN_DEMO_REQUIRE_BROWSER") == "1":
            pytest.fail("Debian chromium is missing: apt-get install chromium (scripts/test.sh does)")
        pytest.skip("apt-get install chromium to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=BROWSER_ARGS)
        yield b
        b.close()
