import json
import pickle
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from attn_demo.models.checkpoint import (CONFIG_FILE, WEIGHTS_FILE, atomic_write, load_pretrained,
                                  remove_stale_temps, save_pretrained)
from attn_demo.serving.engine import Engine, RenderArgs
from attn_demo.errors import CheckpointError

from conftest import make_model_dir, tiny_generator


def test_round_trip_is_bit_exact(tmp_path):
    g = tiny_generator(num_classes=2)
    save_pretrained(tmp_path / "m", g)
    loaded = load_pretrained(tmp_path / "m")
    a, b = g.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)
    assert loaded.cfg == g.cfg
    z = torch.randn(2, g.cfg.z_dim)
    y = torch.tensor([0, 1])
    with torch.no_grad():
        assert torch.equal(g(z, y), loaded(z, y))


def test_atomic_write_keeps_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    atomic_write(target, b"old")

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert not list(tmp_path.glob(".*.tmp"))  # the temp file was cleaned up


def test_stale_temp_files_are_removed(tmp_path):
    (tmp_path / ".model.safetensors.abc.tmp").write_bytes(b"partial")
    assert remove_stale_temps(tmp_path) == 1
    assert not list(tmp_path.iterdir())


def _copy(model_dir, tmp_path):
    dst = tmp_path / "bad"
    shutil.copytree(model_dir, dst)
    return dst


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


BAD_WEIGHTS = {
    "empty": (lambda p: p.write_bytes(b""), "empty"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "not a valid safetensors"),
    "random": (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)), "not a valid safetensors"),
    "pickle": (lambda p: p.write_bytes(pickle.dumps({"w": Evil()})), "pickle"),
    "torch_zip": (lambda p: torch.save({"w": torch.zeros(2)}, p), "PyTorch zip"),
    "missing": (lambda p: p.unlink(), "missing file"),
}


@pytest.mark.parametrize("case", sorted(BAD_WEIGHTS))
def test_bad_weight_files(case, model_dir, tmp_path):
    bad = _copy(model_dir, tmp_path)
    corrupt, message = BAD_WEIGHTS[case]
    corrupt(bad / WEIGHTS_FILE)
    with pytest.raises(CheckpointError, match=message):
        load_pretrained(bad)


def test_nan_weights_rejected(model_dir, tmp_path):
    bad = _copy(model_dir, tmp_path)
    g = load_pretrained(model_dir)
    state = g.state_dict()
    name = next(k for k in state if k.endswith("original"))
    state[name] = state[name].clone()
    state[name][0] = float("nan")
    save_file({k: v.contiguous() for k, v in state.items()}, bad / WEIGHTS_FILE)
    with pytest.raises(CheckpointError, match="NaN"):
        load_pretrained(bad)


def test_other_architecture_names_mismatches(model_dir, tmp_path):
    bad = _copy(model_dir, tmp_path)
    cfg = json.loads((bad / CONFIG_FILE).read_text())
    cfg["g_width"] = 64
    (bad / CONFIG_FILE).write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="shape mismatch.*stem"):
        load_pretrained(bad)
    cfg["g_width"], cfg["g_attn"] = 32, [8, 16]
    (bad / CONFIG_FILE).write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="missing .*attn.8"):
        load_pretrained(bad)


@pytest.mark.parametrize("text,message", [("{", "not valid JSON"), ('{"resolution": 31}', "resolution"),
                                          ('{"wat": 1}', "unknown"), ("[1, 2]", "JSON object")])
def test_bad_config_json(model_dir, tmp_path, text, message):
    bad = _copy(model_dir, tmp_path)
    (bad / CONFIG_FILE).write_text(text)
    with pytest.raises(CheckpointError, match=message):
        load_pretrained(bad)


def test_half_precision_weights_are_cast(model_dir, tmp_path):
    bad = _copy(model_dir, tmp_path)
    state = load_pretrained(model_dir).state_dict()
    save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()},
              bad / WEIGHTS_FILE)
    g = load_pretrained(bad)
    assert all(p.dtype == torch.float32 for p in g.parameters())


def test_int_tensor_where_float_expected_rejected(model_dir, tmp_path):
    bad = _copy(model_dir, tmp_path)
    state = load_pretrained(model_dir).state_dict()
    state = {k: (v.to(torch.int32) if k == "stem.bias" else v).contiguous() for k, v in state.items()}
    save_file(state, bad / WEIGHTS_FILE)
    with pytest.raises(CheckpointError, match="dtype"):
        load_pretrained(bad)


def test_engine_keeps_model_after_failed_load(model_dir, tmp_path):
    engine = Engine.from_pretrained(model_dir, device="cpu")
    before = engine.render(RenderArgs(seed=11)).image.tobytes()
    for case, (corrupt, _) in BAD_WEIGHTS.items():
        bad = tmp_path / case
        shutil.copytree(model_dir, bad)
        corrupt(bad / WEIGHTS_FILE)
        with pytest.raises(CheckpointError):
            engine.load(bad)
    assert engine.name == model_dir.name
    assert engine.render(RenderArgs(seed=11)).image.tobytes() == before


def test_engine_swaps_to_a_good_model(model_dir, tmp_path):
    other = make_model_dir(tmp_path / "other", seed=5)
    engine = Engine.from_pretrained(model_dir, device="cpu")
    before = engine.render(RenderArgs(seed=1)).image
    engine.load(other)
    assert engine.name == "other"
    assert not np.array_equal(engine.render(RenderArgs(seed=1)).image, before)


def test_the_same_tensors_and_metadata_save_to_the_same_bytes(tmp_path):
    """safetensors writes its metadata in a hash map's order, new on every save: a rebuilt index of
    the same data (or a re-export of the same run) came out with new bytes. The header is sorted now."""
    from safetensors import safe_open
    from attn_demo.models.checkpoint import read_tensors, save_tensors
    tensors = {"b": torch.arange(6.0).view(2, 3), "a": torch.ones(5, dtype=torch.int16)}
    meta = {k: f"value {i} é" for i, k in enumerate("qwertyuiop")}
    blobs = set()
    for i in range(4):
        save_tensors(tmp_path / f"{i}.safetensors", tensors, meta)
        blobs.add((tmp_path / f"{i}.safetensors").read_bytes())
    assert len(blobs) == 1
    back, got = read_tensors(tmp_path / "0.safetensors")
    assert got == meta and torch.equal(back["b"], tensors["b"]) and torch.equal(back["a"], tensors["a"])
    with safe_open(tmp_path / "0.safetensors", "pt") as f:           # the library's own reader agrees
        assert f.metadata() == meta and torch.equal(f.get_tensor("b"), tensors["b"])
    assert (8 + int.from_bytes(blobs.pop()[:8], "little")) % 8 == 0  # the data stay 8-byte aligned
