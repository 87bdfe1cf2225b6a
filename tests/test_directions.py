import numpy as np
import torch

from attn_demo.models.checkpoint import load_directions, load_pretrained
from attn_demo.cli import main
from attn_demo.training.directions import STATS, _first_block_features, compute_directions, name_directions
from attn_demo.serving.engine import Engine, RenderArgs

from conftest import make_model_dir


def test_directions_follow_principal_components(tmp_path):
    model = make_model_dir(tmp_path / "m")
    G = load_pretrained(model)
    d = compute_directions(G, k=3, samples=600)
    assert d.vectors.shape == (3, 16) and torch.allclose(d.vectors.norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.isfinite(d.stds).all() and (d.stds > 0).all()
    assert all(label.startswith(f"Direction {i + 1}") for i, label in enumerate(d.labels))
    # Moving along direction 1 moves the early activations mostly along their first component.
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(400, 16, generator=gen)
    f = _first_block_features(G, z, None)
    _, _, vt = torch.linalg.svd(f - f.mean(0), full_matrices=False)
    step = _first_block_features(G, z + d.vectors[0], None) - f
    proj = (step @ vt[:5].T).abs().mean(0)
    assert int(proj.argmax()) == 0


def test_directions_cli_and_engine_sliders(tmp_path):
    model = make_model_dir(tmp_path / "m")
    assert main(["directions", "--weights", str(model), "--k", "2", "--samples", "300"]) == 0
    d = load_directions(model, 16)
    assert len(d) == 2
    e = Engine.from_pretrained(model, device="cpu")
    base = e.render(RenderArgs(seed=3)).image
    moved = e.render(RenderArgs(seed=3, sliders=(3.0, 0.0))).image
    assert not np.array_equal(base, moved)
    assert np.array_equal(base, e.render(RenderArgs(seed=3, sliders=(0.0, 0.0))).image)


def test_directions_are_named_only_by_a_clear_and_unclaimed_effect():
    """Each word once, to the direction that changes it most; no word where no statistic dominates."""
    e = torch.zeros(4, len(STATS))
    warmth, size = STATS.index("warmth"), STATS.index("size")
    e[0, warmth], e[0, size] = 2.0, 0.3          # clearly warmer
    e[1, warmth] = -3.0                          # cooler, and stronger: it takes the warmth word
    e[2, size], e[2, warmth] = 1.0, 0.9          # size barely ahead of warmth: no single word is honest
    e[3, size] = 0.2                             # changes almost nothing
    assert name_directions(e) == ("Direction 1", "Direction 2: + makes it cooler", "Direction 3", "Direction 4")
    e[2, warmth] = 0.1
    assert name_directions(e)[2] == "Direction 3: + makes it bigger"
