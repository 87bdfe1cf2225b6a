import numpy as np
import torch

from attn_demo.models.checkpoint import load_directions, load_pretrained
from attn_demo.cli import main
from attn_demo.training.directions import _first_block_features, compute_directions
from attn_demo.serving.engine import Engine, RenderArgs

from conftest import make_model_dir


def test_directions_follow_principal_components(tmp_path):
    model = make_model_dir(tmp_path / "m")
    G = load_pretrained(model)
    d = compute_directions(G, k=3, samples=600)
    assert d.vectors.shape == (3, 16) and torch.allclose(d.vectors.norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.isfinite(d.stds).all() and (d.stds > 0).all()
    assert all(label.startswith(f"PC{i + 1} ") for i, label in enumerate(d.labels))
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
