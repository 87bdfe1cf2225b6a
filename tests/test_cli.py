import json
import subprocess
import sys

import numpy as np
from PIL import Image

from attn_demo.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "attn_demo", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_generate_probe_info_end_to_end(model_dir, tmp_path):
    out = tmp_path / "img.png"
    r = run("generate", "--weights", model_dir, "--seed", 42, "--truncation", 0.7, "--out", out, "--scale", 2)
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (64, 64)

    grid = tmp_path / "grid.png"
    assert main(["generate", "--weights", str(model_dir), "--seeds", "0-15", "--grid", "--out", str(grid)]) == 0
    assert Image.open(grid).size == (4 * 32 + 5 * 2,) * 2

    overlay, npy = tmp_path / "ov.png", tmp_path / "map.npy"
    assert main(["probe", "--weights", str(model_dir), "--seed", "42", "--x", "31", "--y", "12",
                 "--out", str(overlay), "--npy", str(npy), "--scale", "4"]) == 0
    assert Image.open(overlay).size == (128, 128)
    m = np.load(npy)
    assert m.shape == (8, 8) and abs(m.sum() - 1) < 1e-5

    r = run("info", "--weights", model_dir, "--json")
    assert r.returncode == 0
    assert list(json.loads(r.stdout)["gamma"]) == ["G16"]


def test_seeds_to_directory(model_dir, tmp_path):
    assert main(["generate", "--weights", str(model_dir), "--seeds", "3,5", "--out", str(tmp_path / "d")]) == 0
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["seed00003.png", "seed00005.png"]


def test_help_shows_defaults_and_example():
    r = run("probe", "--help")
    assert r.returncode == 0
    assert "default: looks-at" in r.stdout and "example:" in r.stdout


def test_bad_arguments_give_one_line_and_exit_2(model_dir, tmp_path):
    cases = [
        ("generate", "--weights", model_dir, "--seed", "abc", "--out", tmp_path / "a.png"),
        ("generate", "--weights", model_dir, "--seed", -5, "--out", tmp_path / "a.png"),
        ("generate", "--weights", tmp_path / "nope", "--seed", 1, "--out", tmp_path / "a.png"),
        ("probe", "--weights", model_dir, "--seed", 1, "--x", 99, "--y", 0, "--out", tmp_path / "p.png"),
        ("probe", "--weights", model_dir, "--seed", 1, "--x", 1, "--y", 0, "--layer", "G3", "--out", tmp_path / "p.png"),
        ("generate", "--weights", model_dir, "--seeds", "5-1", "--out", tmp_path / "a.png"),
        ("frobnicate",),
    ]
    for args in cases:
        r = run(*args)
        assert r.returncode == 2, (args, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "error" in lines[0], (args, r.stderr)
        assert "Traceback" not in r.stderr
