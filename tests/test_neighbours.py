"""Nearest training images (quality/neighbours.py): the index that ships beside a model, and the studio's panel."""
import json
import shutil

import pytest
import torch

from attn_demo.errors import CheckpointError
from attn_demo.quality.feature_net import FeatureConfig, FeatureNet, save_feature_net
from attn_demo.quality.neighbours import (INDEX_FILE, build_index, distance_report, load_index, report_table,
                                          save_index)
from attn_demo.serving.engine import Engine, RenderArgs


@pytest.fixture(scope="module")
def weights(tmp_path_factory, cond_model_dir):
    """A weights folder: the tiny conditional model with a feature net beside it and an index of 40 'training' images."""
    root = tmp_path_factory.mktemp("nnw")
    model = shutil.copytree(cond_model_dir, root / "tinycond")
    torch.manual_seed(0)
    net = FeatureNet(FeatureConfig(num_features=16, widths=(8, 16), num_classes=3)).eval()
    save_feature_net(root / "feature_net", net)
    images = torch.randint(0, 255, (40, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(40) % 3
    save_index(model, build_index(net, images, labels, {"class_names": json.dumps(["cat", "dog", "fish"]),
                                                        "attribution": "test images"}))
    return root, net, images, labels


def test_an_indexed_image_finds_itself_first_by_features_and_by_pixels(weights):
    root, net, images, _ = weights
    index = load_index(root / "tinycond")
    assert len(index) == 40 and index.meta["attribution"] == "test images"
    found = index.nearest(net, images[7].permute(1, 2, 0).numpy(), k=5)
    for kind in ("features", "pixels"):
        assert found[kind][0][0] == 7 and found[kind][0][1] < 1e-3, kind
        assert [d for _, d in found[kind]] == sorted(d for _, d in found[kind]) and len(found[kind]) == 5


def test_a_broken_index_is_refused_with_a_clear_error(weights, tmp_path):
    root, *_ = weights
    bad = shutil.copytree(root / "tinycond", tmp_path / "m")
    (bad / INDEX_FILE).write_bytes(b"not safetensors at all" * 10)
    with pytest.raises(CheckpointError):
        load_index(bad)
    shutil.copy(bad / "model.safetensors", bad / INDEX_FILE)           # a safetensors file of another kind
    with pytest.raises(CheckpointError, match="not a neighbour index"):
        load_index(bad)


def test_the_studio_shows_the_nearest_training_images_of_its_view(weights):
    from attn_demo.studio.core import Studio, find_models
    from attn_demo.studio.view import View
    root, *_ = weights
    studio = Studio(find_models(root), device="cpu")
    found = studio.neighbours(View("tinycond", RenderArgs(seed=3, label="dog")), k=4)
    assert set(found) == {"features", "pixels"} and len(found["features"]) == 4
    thumb, caption = found["features"][0]
    assert thumb.shape == (64, 64, 3) and caption.split(" · ")[1] in ("cat", "dog", "fish")


def test_the_copy_report_compares_samples_with_held_out_real_images(weights, cond_model_dir):
    _, net, images, labels = weights
    engine = Engine.from_pretrained(cond_model_dir, device="cpu")
    r = distance_report(engine, net, images, labels, n=20, holdout=0.25)
    assert r["samples"]["n"] == 20 and r["held_out_real"]["n"] == 10 and r["index_images"] == 30
    assert r["samples"]["q1"] <= r["samples"]["median"] <= r["samples"]["q3"]
    assert "held-out real images | 10 |" in report_table(r)
