"""Shared fixtures: tiny randomly initialised models on the CPU (seconds, no downloads)."""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from attn_demo.checkpoint import save_pretrained  # noqa: E402
from attn_demo.config import ModelConfig  # noqa: E402
from attn_demo.model import Generator  # noqa: E402

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
