"""D's attention for a clicked pixel (serving/discriminator.py): maps against the full matrix, D's
score, and the plain refusal where a model ships no discriminator."""
import numpy as np
import pytest
import torch

from attn_demo.errors import InputError
from attn_demo.models.checkpoint import save_pretrained
from attn_demo.models.networks import Discriminator
from attn_demo.serving.discriminator import (DISCRIMINATOR_FILE, discriminator_view, has_discriminator,
                                             image_tensor, load_discriminator, save_discriminator)

from conftest import tiny_config, tiny_generator
from naive import naive_attention_matrix


@pytest.fixture(scope="module")
def model_with_d(tmp_path_factory):
    torch.manual_seed(3)
    cfg = tiny_config(num_classes=3, class_names=("cat", "dog", "fish"), heads=2, d_attn=(16, 8))
    D = Discriminator(cfg)
    with torch.no_grad():
        for m in D.attention_layers().values():
            m.gamma.fill_(0.5)
            for conv in (m.query, m.key):
                conv.parametrizations.weight.original.mul_(8.0)
    D.train()
    with torch.no_grad():
        D(torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 0]))   # spectral norm's u/v
    path = tmp_path_factory.mktemp("withd") / "tinyd"
    save_pretrained(path, tiny_generator(num_classes=3, class_names=("cat", "dog", "fish"), heads=2,
                                         d_attn=(16, 8)))
    save_discriminator(path, D)
    return path, D.eval()


def test_maps_and_score_match_the_full_matrix(model_with_d):
    path, D = model_with_d
    loaded = load_discriminator(path)
    assert has_discriminator(path)
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    view = discriminator_view(loaded, image, 20, 9, label="dog")
    x = image_tensor(image, 32)
    inputs = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: inputs.__setitem__(n, i[0]))
             for n, m in D.attention_layers().items()]
    with torch.no_grad():
        score = float(D(x, torch.tensor([1]))[0])
    for h in hooks:
        h.remove()
    assert view.score == pytest.approx(score, abs=1e-5)
    assert [m.layer for m in view.maps] == list(D.attention_layers())
    for m in view.maps:
        module = D.attention_layers()[m.layer]
        with torch.no_grad():
            full = naive_attention_matrix(module, inputs[m.layer])[0].mean(0)    # (Nq, Nk): rows are queries
        rows, cols = m.grid
        qi = (9 * rows // 32) * cols + 20 * cols // 32
        assert torch.allclose(m.heat.flatten(), full[qi], atol=1e-5)
    assert "D's score" in view.describe() and len(view.stats()["maps"]) == 2


def test_no_discriminator_is_said_plainly(model_dir):
    assert not has_discriminator(model_dir)
    with pytest.raises(InputError, match="this model ships no discriminator"):
        load_discriminator(model_dir)


def test_bad_images_and_clicks(model_with_d):
    path, _ = model_with_d
    D = load_discriminator(path)
    good = np.zeros((32, 32, 3), np.uint8)
    for args, message in [((np.zeros((64, 64, 3), np.uint8), 1, 1, "cat"), "takes 32x32"),
                          ((np.zeros((32, 32, 3), np.float32), 1, 1, "cat"), "RGB picture"),
                          ((good, 40, 1, "cat"), "outside the image"),
                          ((good, float("nan"), 1, "cat"), "whole pixel"),
                          ((good, 1, 1, None), "class-conditional"),
                          ((good, 1, 1, "horse"), "unknown class")]:
        with pytest.raises(InputError, match=message):
            discriminator_view(D, *args)


def test_weights_for_another_architecture_are_refused(model_with_d, tmp_path):
    path, _ = model_with_d
    other = tmp_path / "other"
    save_pretrained(other, tiny_generator(num_classes=3, class_names=("cat", "dog", "fish"), heads=2,
                                          d_attn=(16, 8)))
    save_discriminator(other, Discriminator(tiny_config(num_classes=3, heads=2, d_width=32, d_attn=(16, 8))))
    with pytest.raises(Exception, match="does not match its config"):
        load_discriminator(other)
    assert (other / DISCRIMINATOR_FILE).is_file()


def test_a_broken_discriminator_is_named_by_its_model_not_the_servers_folders(model_with_d, tmp_path):
    import shutil
    from attn_demo.errors import CheckpointError
    path, _ = model_with_d
    broken = tmp_path / "deep" / "server" / "folders" / "mine"
    shutil.copytree(path, broken)
    (broken / DISCRIMINATOR_FILE).write_bytes(b"not a safetensors file at all")
    with pytest.raises(CheckpointError) as e:
        load_discriminator(broken)
    assert f"mine/{DISCRIMINATOR_FILE}" in str(e.value) and "folders" not in str(e.value)
