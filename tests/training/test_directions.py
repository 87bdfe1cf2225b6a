from dataclasses import replace

import numpy as np
import pytest
import torch

from attn_demo.cli import main
from attn_demo.errors import InputError
from attn_demo.models.checkpoint import load_directions, load_pretrained, save_directions
from attn_demo.quality.feature_net import FeatureConfig, FeatureNet
from attn_demo.training.directions import (STATS, _first_block_features, compute_directions, manifold_radii,
                                           measure_ranges, name_directions, on_manifold)
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
    moved = e.render(RenderArgs(seed=3, sliders=(2.0, 0.0))).image
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


def test_the_manifold_estimate_holds_its_points_and_not_far_ones():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(200, 8, generator=gen)
    radii = manifold_radii(real, k=3)
    assert on_manifold(real, real, radii).all()
    assert not on_manifold(real[:20] + 50.0, real, radii).any()


def test_a_sliders_range_ends_where_its_samples_leave_the_real_images(tmp_path):
    """Measured, not set: a direction scaled 1000x leaves the manifold at the first step; scaled
    to nothing it never does (the whole range)."""
    model = make_model_dir(tmp_path / "m")
    G = load_pretrained(model)
    d = compute_directions(G, k=2, samples=300)
    torch.manual_seed(0)
    net = FeatureNet(FeatureConfig(num_features=16, widths=(8, 16), num_classes=2, class_names=("a", "b"))).eval()
    real = ((G(torch.randn(300, 16), None) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)   # G's own images
    spans, report = measure_ranges(G, replace(d, stds=torch.tensor([1000.0, 1e-6])), net, real, samples=64)
    assert spans == (0.25, 5.0)
    assert report[0]["on_manifold_at"][0.25] < 0.9 * report[0]["on_manifold_without"]
    assert len(report[1]["on_manifold_at"]) == 20


def test_measured_ranges_bound_the_sliders_everywhere(tmp_path):
    model = make_model_dir(tmp_path / "m")
    assert main(["directions", "--weights", str(model), "--k", "2", "--samples", "300"]) == 0
    d = load_directions(model, 16)
    assert d.spans == (2.0, 2.0)                        # not measured: the prior's +-2
    save_directions(model, replace(d, spans=(0.5, 3.0)))
    e = Engine.from_pretrained(model, device="cpu")
    assert e.directions.spans == (0.5, 3.0)
    e.render(RenderArgs(seed=3, sliders=(0.5, -3.0)))
    with pytest.raises(InputError, match=r"slider 1 \(range -0.5 to 0.5"):
        e.render(RenderArgs(seed=3, sliders=(0.75, 0.0)))
    with pytest.raises(InputError):
        replace(d, spans=(0.5,))                        # one per direction
    with pytest.raises(InputError):
        replace(d, spans=(0.5, -1.0))


def test_a_directions_file_with_bad_ranges_is_refused(tmp_path):
    from attn_demo.errors import CheckpointError
    from attn_demo.models.checkpoint import DIRECTIONS_FILE, save_tensors
    model = make_model_dir(tmp_path / "m")
    for spans in ([-1.0, 2.0], [9.0, 1.0], [1.0]):       # NaN: refused when saving already
        save_tensors(model / DIRECTIONS_FILE, {"vectors": torch.eye(16)[:2], "stds": torch.ones(2),
                                               "spans": torch.tensor(spans)}, {"labels": '["a", "b"]'})
        with pytest.raises(CheckpointError, match="slider spans"):
            load_directions(model, 16)


def test_directions_report_progress_in_each_phase(tmp_path):
    """`directions` printed nothing for minutes (152 s; 570 s measuring ranges)."""
    G = load_pretrained(make_model_dir(tmp_path / "m"))
    torch.manual_seed(0)
    net = FeatureNet(FeatureConfig(num_features=16, widths=(8, 16), num_classes=2, class_names=("a", "b"))).eval()
    real = ((G(torch.randn(64, 16), None) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    seen = []
    compute_directions(G, k=2, samples=300, batch=100, net=net, real_images=real,
                       progress=lambda phase, done, total: seen.append((phase, done, total)))
    phases = list(dict.fromkeys(p for p, _, _ in seen))
    assert phases == ["sampling", "naming", "ranges"]
    for phase in phases:
        steps = [(d, t) for p, d, t in seen if p == phase]
        assert steps[-1][0] == steps[-1][1] and all(a[0] <= b[0] for a, b in zip(steps, steps[1:]))
    assert [d for p, d, _ in seen if p == "sampling"] == [0, 1, 2, 3]


def test_directions_say_when_the_data_are_too_few_to_measure_a_range(tmp_path, capsys, monkeypatch):
    """64 real images measured every range at the limit (+-5) without a word. (The measurement is
    stubbed with what 30 pictures gave this model: +-5, in minutes.)"""
    from PIL import Image
    import attn_demo.training.directions as directions

    def at_the_limit(G, d, net, real, progress, **kw):
        progress("ranges", 0, 20)
        progress("ranges", 20, 20)
        return (5.0,) * len(d), []
    monkeypatch.setattr(directions, "measure_ranges", at_the_limit)
    model = make_model_dir(tmp_path / "m")
    data = tmp_path / "few"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(30):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(data / f"{i}.png")
    assert main(["directions", "--weights", str(model), "--k", "1", "--samples", "300",
                 "--feature-net", "weights/feature_net", "--data", str(data)]) == 0
    out = capsys.readouterr()
    assert "only 30 real images" in out.err and "too few" in out.err
    assert "sampling" in out.err and "ranges" in out.err            # the progress bars
    assert "±5: the limit, no edge found" in out.out
