"""Synthetic data sets (serving/dataset.py, `python -m attn_demo dataset`): layout, resume, faults."""
import csv
import errno
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from attn_demo.errors import InputError
from attn_demo.serving import dataset
from attn_demo.serving.dataset import export_dataset, plan_dataset
from attn_demo.serving.engine import Engine, RenderArgs


@pytest.fixture(scope="module")
def engine(cond_model_dir):
    return Engine.from_pretrained(cond_model_dir, device="cpu")


def read_labels(folder: Path) -> list[dict]:
    with open(folder / "labels.csv") as f:
        return list(csv.DictReader(f))


def test_a_data_set_is_a_labelled_folder_of_the_models_images(engine, tmp_path):
    plan = plan_dataset(engine, 3, psi=0.8, classes=["dog", "cat"], scale=2, seed_start=10)
    out = export_dataset(engine, plan, tmp_path / "ds")
    rows = read_labels(out)
    assert [r["class"] for r in rows] == ["cat"] * 3 + ["dog"] * 3           # the model's class order
    assert [int(r["seed"]) for r in rows] == [10, 11, 12, 13, 14, 15]
    first = np.asarray(Image.open(out / rows[0]["file"]))
    want = engine.render(RenderArgs(10, 0.8, "cat")).image
    assert np.array_equal(first[::2, ::2], want) and first.shape == (64, 64, 3)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["plan"]["weights_sha256"] == engine.weights_sha256
    assert manifest["images"] == 6 and manifest["seeds"] == {"cat": [10, 12], "dog": [13, 15]}
    with pytest.raises(InputError, match="not empty"):
        export_dataset(engine, plan_dataset(engine, 4), out)
    export_dataset(engine, plan_dataset(engine, 1), out, force=True)
    z = export_dataset(engine, plan, tmp_path / "work", zip_to=tmp_path / "ds.zip")
    with zipfile.ZipFile(z) as f:
        assert sorted(f.namelist())[-2:] == ["labels.csv", "manifest.json"] and len(f.namelist()) == 8
    with pytest.raises(InputError, match="unknown class"):
        plan_dataset(engine, 3, classes=["zebra"])


def test_a_full_disk_is_refused_before_anything_is_written(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(dataset.shutil, "disk_usage", lambda p: type("U", (), {"free": 1000})())
    with pytest.raises(InputError, match="not enough free disk space"):
        export_dataset(engine, plan_dataset(engine, 50), tmp_path / "ds")
    assert list((tmp_path / "ds").iterdir()) == []


def test_a_disk_that_fills_up_midway_leaves_only_whole_files(engine, tmp_path, monkeypatch):
    real = Path.write_bytes
    calls = []

    def write_bytes(self, data):
        calls.append(self)
        if len(calls) > 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)
    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    out = tmp_path / "ds"
    with pytest.raises(InputError, match="No space left"):
        export_dataset(engine, plan_dataset(engine, 5), out)
    pngs = list(out.rglob("*.png"))
    assert len(pngs) == 4 and not list(out.rglob(".*.tmp")) and not (out / "labels.csv").exists()
    assert json.loads((out / "manifest.json").read_text())["complete"] is False
    monkeypatch.setattr(Path, "write_bytes", real)
    export_dataset(engine, plan_dataset(engine, 5), out)                      # the same command finishes it
    assert len(read_labels(out)) == 15 and len(list(out.rglob("*.png"))) == 15


def test_an_export_killed_with_sigkill_resumes_without_corrupt_or_duplicate_files(cond_model_dir, tmp_path):
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "attn_demo", "dataset", "--weights", str(cond_model_dir), "--per-class", "400",
           "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.rglob("*.png"))) < 150:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    partial = len(list(out.rglob("*.png")))
    assert 0 < partial < 1200
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    rows = read_labels(out)
    assert len(rows) == 1200 and len({r["file"] for r in rows}) == 1200
    files = sorted(out.rglob("*.png"))
    assert len(files) == 1200 and not list(out.rglob(".*.tmp"))
    for f in files:
        assert np.asarray(Image.open(f)).shape == (32, 32, 3)                # whole, decodable


def test_the_studio_zips_a_data_set_of_the_view(studio):
    from attn_demo.studio.view import View
    v = View("tinycond", RenderArgs(seed=7, psi=0.5, label="dog", sliders=(1.0, 0.0, 0.0)))
    path = studio.dataset_zip(v, 2)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        manifest = json.loads(z.read("manifest.json"))
        first = np.asarray(Image.open(z.open("cat/cat_7.png")))
    assert len(names) == 8 and manifest["plan"]["psi"] == 0.5 and manifest["plan"]["sliders"] == [1.0, 0.0, 0.0]
    assert np.array_equal(first, studio.engine("tinycond").render(RenderArgs(7, 0.5, "cat", (1.0, 0, 0))).image)
    with pytest.raises(InputError, match="images per class"):
        studio.dataset_zip(v, 257)
