"""The greyscale surface classifier (quality/grey_classifier.py, issue #36 §2) on a tiny synthetic set:
three kinds of structure in random colours, so only the structure tells the class."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from attn_demo.imaging.folders import load_folder
from attn_demo.quality import grey_classifier as gc

KINDS = ("across", "along", "spots")
SIDE = 64


def texture(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A tiling (SIDE, SIDE, 3) uint8 texture of one kind of structure, in a random colour and tone."""
    y, x = np.mgrid[:SIDE, :SIDE] / SIDE
    k = rng.choice([4, 8])                                     # whole periods per tile: it tiles
    phase = rng.uniform(0, 2 * np.pi)
    if kind == "across":
        v = np.sin(2 * np.pi * k * y + phase)
    elif kind == "along":
        v = np.sin(2 * np.pi * k * x + phase)
    else:
        v = np.sin(2 * np.pi * k * x + phase) * np.sin(2 * np.pi * k * y + rng.uniform(0, 6))
    v = v + 0.3 * rng.normal(size=v.shape)
    colour = rng.uniform(0.2, 1.0, 3)
    tone = rng.uniform(60, 190)
    img = tone + rng.uniform(20, 50) * v[..., None] * colour
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("grey")
    rng = np.random.default_rng(0)
    for kind in KINDS:
        (root / kind).mkdir()
        for i in range(6):
            Image.fromarray(texture(kind, rng)).save(root / kind / f"{i}.png")
    return root


def crops_of(kinds, n: int, seed: int) -> torch.Tensor:
    """n crops of 32 px of fresh textures of each kind in `kinds`, (len(kinds) * n, 3, 32, 32) uint8."""
    rng = np.random.default_rng(seed)
    out = [torch.from_numpy(texture(k, rng)).permute(2, 0, 1)[:, i % 32:i % 32 + 32, (3 * i) % 32:(3 * i) % 32 + 32]
           for k in kinds for i in range(n)]
    return torch.stack(out)


def test_whole_textures_are_held_out_and_structure_is_recognised(folder):
    torch.set_num_threads(1)
    data = load_folder(folder, SIDE)
    split = gc.split_textures(data.labels, 0.34, seed=0)
    assert set(split.train.tolist()).isdisjoint(split.held.tolist())
    assert torch.bincount(data.labels[split.held]).tolist() == [2, 2, 2]   # two of six per class, whole
    net = gc.train_grey(data, split, crop=32, steps=120, batch=32, seed=0, log=lambda s: None)
    names = list(data.class_names)
    # "generated" crops of the right kinds: recognised; the same crops under shuffled labels: not
    right = crops_of(names, 24, seed=5)
    truth = torch.arange(3).repeat_interleave(24)
    rep = gc.report(net, data, split, 32, 8, 0, True, (right, truth))
    assert rep["real_mean_of_classes"] >= 0.8, rep["real_held_out"]
    assert rep["generated_mean_of_classes"] >= 0.8 and rep["passes_bar"], rep["generated"]
    wrong = gc.report(net, data, split, 32, 8, 0, True, (right, (truth + 1) % 3))
    assert wrong["generated_mean_of_classes"] < 0.3 and not wrong["passes_bar"]
    json.dumps(rep)                                            # the report is plain JSON


def test_standardised_grey_ignores_colour_and_tone():
    rng = np.random.default_rng(1)
    a = torch.from_numpy(texture("spots", rng)).permute(2, 0, 1)[None]
    lum = gc.grey(a, standardise=False)
    # the same luminance pattern in another tone: identical input up to uint8 rounding
    b = torch.from_numpy(np.clip(0.8 * a.numpy().astype(float) + 30, 0, 255).round().astype(np.uint8))
    assert torch.allclose(gc.grey(a), gc.grey(b), atol=0.1)
    assert not torch.allclose(lum, gc.grey(b, standardise=False), atol=0.05)
    with pytest.raises(Exception):
        gc.grey(a[:, :1])
