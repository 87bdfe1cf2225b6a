"""Nearest training images (quality/neighbours.py): the index that ships beside a model, and the studio's panel."""
import json
import shutil

import numpy as np

import pytest
import torch

from attn_demo.errors import CheckpointError, InputError
from attn_demo.quality.feature_net import FeatureConfig, FeatureNet, save_feature_net
from attn_demo.quality.neighbours import (INDEX_FILE, build_index, distance_report, grid_crops, load_index,
                                          report_table, sample_images, save_index)
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
    from attn_demo.serving.loader import find_models
    from attn_demo.studio.core import Studio
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
    r = distance_report(net, sample_images(engine, labels, 20), images, holdout=0.25)
    assert r["samples"]["n"] == 20 and r["held_out_real"]["n"] == 10 and r["index_images"] == 30
    assert r["samples"]["q1"] <= r["samples"]["median"] <= r["samples"]["q3"]
    assert "held-out real images | 10 |" in report_table(r)


def test_textures_are_indexed_as_the_grid_crops_a_canvas_model_trains_on():
    images = torch.randint(0, 255, (3, 3, 70, 64), dtype=torch.uint8)
    crops, labels, source = grid_crops(images, torch.tensor([2, 0, 1]), 32)
    assert crops.shape == (12, 3, 32, 32) and source.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert labels.tolist() == [2] * 4 + [0] * 4 + [1] * 4
    assert torch.equal(crops[5], images[1, :, :32, 32:64]) and torch.equal(crops[10], images[2, :, 32:64, :32])
    with pytest.raises(InputError, match="smaller than the model's crops"):
        grid_crops(images, None, 128)


def test_held_out_textures_leave_the_index_whole(weights):
    """For canvas models whole textures are held out: no held-out crop has its texture's crops in the index."""
    _, net, images, labels = weights
    groups = torch.arange(40) // 4                      # 10 'textures' of 4 crops
    r = distance_report(net, images[:5], images, groups, holdout=0.2)
    assert r["held_out"] == 8 and r["index_images"] == 32 and r["samples"]["n"] == 5
    assert r["samples"]["min"] < 1e-3                  # the samples here are index images (or held out)...
    assert r["held_out_real"]["min"] > 1e-3            # ...while held-out crops are never in the index


def test_the_textures_desk_shows_the_training_crops_nearest_the_clicked_window(ui_weights, tmp_path):
    """A canvas model with an index: the window around the click (wrapping where the canvas tiles)
    is what is looked up; a crop cut from the index finds itself."""
    from dataclasses import replace
    from attn_demo.serving.loader import find_models
    from attn_demo.studio.core import Studio
    root = tmp_path / "w"
    shutil.copytree(ui_weights, root)
    torch.manual_seed(0)
    save_feature_net(root / "feature_net", FeatureNet(FeatureConfig(num_features=16, widths=(8, 16),
                                                                    num_classes=3)).eval())
    studio = Studio(find_models(root, kind=None), device="cpu")
    desk = studio.canvas
    v = desk.view(desk.default_view(), "tinytex", 5, 96, 64, "both", 1.0, "rock")
    canvas = desk.render(v).image
    assert desk.neighbours(v) is None                                  # no index shipped: the panel hides
    crops, labels, _ = grid_crops(torch.from_numpy(canvas).permute(2, 0, 1)[None], torch.tensor([1]), 32)
    net = studio.feature_net
    save_index(root / "tinytex", build_index(net, crops, labels, {"class_names": json.dumps(["sand", "rock", "snow"])}))
    studio = Studio(find_models(root, kind=None), device="cpu")
    desk = studio.canvas
    w = desk.window(replace(v, click=(48, 16)))                         # the grid crop at column 1, row 0
    assert w.shape == (32, 32, 3) and (w == canvas[:32, 32:64]).all()
    found = desk.neighbours(replace(v, click=(48, 16)), k=3)
    for kind in ("features", "pixels"):
        distance, surface = found[kind][0][1].split(" · ")
        assert float(distance) < 0.01 and surface == "rock", kind
    wrapped = desk.window(replace(v, click=(2, 60)))                    # corner: wraps both ways
    assert (wrapped[:, :14] == canvas[np.r_[44:64, 0:12]][:, 82:96]).all()
    band = replace(v, tiling="x", click=(2, 60))                       # a band stops at top and bottom
    assert (desk.window(band) == desk.render(band).image[32:64][:, np.r_[82:96, 0:18]]).all()


def test_the_index_verb_indexes_a_canvas_model_by_grid_crops_and_writes_its_card(ui_weights, tmp_path):
    """`index` on a canvas model: textures at its training size cut into grid crops, whole textures
    held out, the report and the card say crops."""
    from PIL import Image
    from attn_demo.cli import main
    model = shutil.copytree(ui_weights / "tinytex", tmp_path / "tinytex")
    torch.manual_seed(0)
    save_feature_net(tmp_path / "feature_net", FeatureNet(FeatureConfig(num_features=16, widths=(8, 16),
                                                                        num_classes=3)).eval())
    rng = np.random.default_rng(0)
    for c in ("sand", "rock", "snow"):
        (tmp_path / "tex" / c).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(tmp_path / "tex" / c / f"{i}.png")
    assert main(["index", "--weights", str(model), "--data", str(tmp_path / "tex"), "--features",
                 str(tmp_path / "feature_net"), "--n", "12"]) == 0
    index = load_index(model)
    assert len(index) == 12 * 16 and index.meta["crops"] == "32"          # 128-px textures (4 crops), 32-px crops
    assert index.labels.tolist()[:16] == [index.labels.tolist()[0]] * 16  # a texture's crops share its class
    report = json.loads((model / "neighbours.json").read_text())
    assert report["unit"] == "crops" and report["held_out"] == 16 and report["index_images"] == 176
    assert "grid crops of the training textures" in (model / "README.md").read_text()
