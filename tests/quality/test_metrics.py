"""FID-emoji / KID-emoji / SWD: sanity of the numbers, determinism, feature-net files, the eval CLI."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from attn_demo.cli import main
from attn_demo.imaging.folders import SHAPES, make_shapes
from attn_demo.errors import CheckpointError
from attn_demo.quality.feature_net import (FeatureConfig, FeatureNet, load_feature_net, save_feature_net,
                                   train_feature_net)
from attn_demo.quality.metrics import KID_SUBSETS, class_accuracy, compare, features, precision_recall
from attn_demo.quality.swd import laplacian_pyramid, swd

from conftest import make_model_dir

TINY_NET = dict(num_features=32, widths=(8, 16, 32), num_classes=3, class_names=SHAPES)


def tiny_net(seed: int = 0) -> FeatureNet:
    """Untrained but seeded: enough to tell shapes from noise, and fast."""
    torch.manual_seed(seed)
    return FeatureNet(FeatureConfig(**TINY_NET)).eval()


@pytest.fixture(scope="module")
def halves():
    shapes = make_shapes(128, 32, seed=1).images
    return shapes[:64], shapes[64:]


def noise(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_real_vs_real_is_small_next_to_real_vs_noise(halves):
    a, b = halves
    net = tiny_net()
    same = compare(net, a, b, seed=0)
    far = compare(net, a, noise(64), seed=0)
    for key in ("fid_emoji", "kid_emoji"):
        assert far[key] > 10 * max(abs(same[key]), 1e-9), (key, same[key], far[key])
    # SWD's small-sample floor is high on shapes (mostly flat white patches): about 40 for
    # two halves of 64 images against about 290 for noise.
    assert far["swd_x1e3"] > 5 * same["swd_x1e3"] > 0
    assert set(far["swd_levels_x1e3"]) == {"32", "16"}
    assert compare(net, a, a, seed=0)["swd_x1e3"] == 0.0     # shared patch positions


def test_scores_are_deterministic_and_leave_the_global_rng_alone(halves):
    a, b = halves
    net = tiny_net()
    state = torch.get_rng_state()
    first = compare(net, a, b, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert compare(net, a, b, seed=3) == first
    assert swd(a, b, seed=4)["mean"] != first["swd_x1e3"]    # the seed matters


def test_fid_and_kid_of_features_computed_once_equal_torchmetrics_own_passes(halves):
    """compare() runs the feature net once per image set; FID and KID must be what torchmetrics
    computes when it runs the net over the images itself."""
    import warnings

    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance
    a, b = halves
    net = tiny_net()
    fid = FrechetInceptionDistance(feature=net, normalize=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kid = KernelInceptionDistance(feature=net, subsets=KID_SUBSETS, subset_size=32, normalize=True)
    with torch.no_grad():
        for metric in (fid, kid):
            metric.update(a.float() / 255, real=True)
            metric.update(b.float() / 255, real=False)
        expected_fid = float(fid.compute())
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(5)
            expected_kid = float(kid.compute()[0])
    got = compare(net, a, b, seed=5)
    assert got["fid_emoji"] == pytest.approx(expected_fid, rel=1e-9)
    assert got["kid_emoji"] == pytest.approx(expected_kid, rel=1e-6)


def test_pyramid_of_a_flat_image_has_empty_bands():
    x = torch.full((1, 3, 32, 32), 0.7)
    bands = laplacian_pyramid(x, 2)
    assert [t.shape[-1] for t in bands] == [32, 16]
    assert bands[0].abs().max() < 1e-5 and torch.allclose(bands[1], x[:, :, :16, :16])


def test_training_is_seeded_and_the_feature_size_is_configurable():
    data = make_shapes(96, 32, seed=2)
    nets = [train_feature_net(data, epochs=2, seed=5, batch_size=32, log=lambda s: None, num_features=16,
                              widths=(8, 16, 16)) for _ in range(2)]
    a, b = (n.state_dict() for n in nets)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert nets[0].num_features == 16 and nets[0](data.images[:4]).shape == (4, 16)


def test_save_load_round_trip_is_bit_exact_and_corruption_is_refused(tmp_path):
    net = tiny_net(seed=1)
    path = save_feature_net(tmp_path / "fnet", net, {"note": "test"})
    loaded = load_feature_net(tmp_path / "fnet")
    ref, got = net.state_dict(), loaded.state_dict()
    assert ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)
    x = torch.rand(4, 3, 64, 64)           # 64 px in: resized to 32 inside
    assert torch.equal(net(x), loaded(x))

    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_feature_net(tmp_path / "fnet")
    path.write_bytes(b"\x80\x04" + data[2:])          # looks like a pickle
    with pytest.raises(CheckpointError, match="pickle"):
        load_feature_net(tmp_path / "fnet")
    with pytest.raises(CheckpointError, match="features"):
        load_feature_net(tmp_path / "nowhere")


def shapes_folder(data_dir, size: int):
    """60 seeded shapes at `size` px in a folder per class."""
    shapes = make_shapes(60, size, seed=3)
    for i, (img, label) in enumerate(zip(shapes.images, shapes.labels)):
        folder = data_dir / SHAPES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")
    return data_dir


def test_eval_cli_end_to_end(tmp_path, capsys):
    data_dir = shapes_folder(tmp_path / "shapes", 32)
    model = make_model_dir(tmp_path / "tiny", num_classes=3, class_names=SHAPES)
    fnet = tmp_path / "fnet"

    assert main(["features", "--data", str(data_dir), "--out", str(fnet), "--epochs", "1", "--size", "32"]) == 0
    assert "train accuracy" in capsys.readouterr().out

    assert main(["eval", "--weights", str(model), "--data", str(data_dir), "--features", str(fnet),
                 "--n", "16", "--seeds", "2", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "real vs real (baseline)" in out and "tiny vs real" in out and "FID-emoji" in out
    metrics = json.loads((model / "metrics.json").read_text())
    assert metrics["n"] == 16 and metrics["seeds"] == [0, 1]
    assert metrics["feature_net"]["sha256"] in out
    assert np.isfinite(metrics["model_vs_real"]["fid_emoji"]["mean"])
    for key in ("precision", "recall", "class_accuracy"):
        assert 0 <= metrics["model_vs_real"][key]["mean"] <= 1 and len(metrics["real_vs_real"][key]["values"]) == 2
    assert "recall ↑" in out and "class accuracy ↑" in out and "Kynkäänniemi" in metrics["note"]
    assert set(metrics["model_vs_real"]["class_accuracy_per_class"]) <= {"0", "1", "2"}
    assert "Class accuracy per class, model (real): " in out and metrics["class_names"] == list(SHAPES)
    assert "real vs real (baseline)" in (model / "README.md").read_text()

    assert main(["eval", "--weights", str(model), "--data", str(data_dir), "--features", str(fnet),
                 "--n", "31", "--no-write"]) == 2
    assert "two disjoint sets" in capsys.readouterr().err


def test_a_64px_feature_net_and_an_upscaled_baseline_score_at_64_px(tmp_path, capsys):
    """features --input-size 64 trains a net that sees 64 px; eval --size 64 scores a 32-px model's
    samples upscaled to 64 px against real images at 64 px, and writes nothing."""
    data_dir = shapes_folder(tmp_path / "shapes", 64)
    model = make_model_dir(tmp_path / "tiny", num_classes=3, class_names=SHAPES)
    fnet = tmp_path / "fnet64"
    assert main(["features", "--data", str(data_dir), "--out", str(fnet), "--epochs", "1", "--input-size", "64"]) == 0
    net = load_feature_net(fnet)
    assert net.cfg.input_size == 64 and net.resize(torch.rand(2, 3, 32, 32)).shape[-1] == 64
    capsys.readouterr()
    assert main(["eval", "--weights", str(model), "--data", str(data_dir), "--features", str(fnet),
                 "--n", "16", "--seeds", "2", "--size", "64", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "tiny (32 px, resized to 64) vs real" in out and "; 64 px, psi 1." in out and "not written" in out
    assert not (model / "metrics.json").exists()
    assert main(["features", "--data", str(data_dir), "--out", str(fnet), "--input-size", "48"]) == 2
    assert "--input-size must be" in capsys.readouterr().err


def test_a_texture_feature_net_learns_from_crops(tmp_path, capsys):
    """features --crops: random wrapped crops of every image, each with its image's class."""
    data_dir = shapes_folder(tmp_path / "shapes", 64)
    fnet = tmp_path / "fnet-crops"
    assert main(["features", "--data", str(data_dir), "--out", str(fnet), "--epochs", "1", "--size", "64",
                 "--crops", "32", "--crops-per-image", "2", "--input-size", "32"]) == 0
    assert "120 crops of 32 px" in capsys.readouterr().out
    info = json.loads((fnet / "training.json").read_text())
    assert info["crops"] == 32 and info["crops_per_image"] == 2 and info["input_size"] == 32
    for bad in (["--crops", "16"], ["--crops", "128"], ["--crops", "32", "--crops-per-image", "0"]):
        assert main(["features", "--data", str(data_dir), "--out", str(fnet), "--size", "64",
                     "--input-size", "32", *bad]) == 2
        assert "--crops must be" in capsys.readouterr().err


def test_precision_and_recall_tell_fidelity_from_variety():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(400, 8, generator=g, dtype=torch.float64)
    same = torch.randn(400, 8, generator=g, dtype=torch.float64)
    p, r = precision_recall(real, same)
    assert p > 0.8 and r > 0.8
    # one corner of the real distribution, painted again and again: faithful, but no variety
    collapsed = real[real[:, 0] > 1.0][:1].repeat(400, 1) + 0.01 * torch.randn(400, 8, generator=g, dtype=torch.float64)
    p, r = precision_recall(real, collapsed)
    assert p > 0.9 and r < 0.1
    assert precision_recall(real, same + 100.0) == (0.0, 0.0)     # nowhere near: neither
    assert precision_recall(real, real) == (1.0, 1.0)
    with pytest.raises(Exception, match="more than 3"):
        precision_recall(real[:3], same)


def test_class_accuracy_counts_the_nets_own_verdicts(halves):
    a, _ = halves
    net = tiny_net()
    with torch.no_grad():
        named = net.logits(a.float() / 255).argmax(dim=1)
    assert class_accuracy(net, a, named)[0] == 1.0
    overall, per_class = class_accuracy(net, a, (named + 1) % 3)
    assert overall == 0.0 and set(per_class.values()) == {0.0} and set(per_class) <= {0, 1, 2}
    labels = named.clone()
    labels[:16] = (named[:16] + 1) % 3                       # a quarter asked for another class
    overall, per_class = class_accuracy(net, a, labels)
    assert overall == 0.75 and min(per_class.values()) < 1.0
    assert features(net, a).shape == (64, 32)


def test_compare_reports_precision_recall_and_asked_classes(halves):
    a, b = halves
    net = tiny_net()
    plain = compare(net, a, b, seed=0)
    assert "class_accuracy" not in plain and 0 <= plain["precision"] <= 1 and 0 <= plain["recall"] <= 1
    with torch.no_grad():
        named = net.logits(b.float() / 255).argmax(dim=1)
    assert compare(net, a, b, seed=0, fake_labels=named)["class_accuracy"] == 1.0
