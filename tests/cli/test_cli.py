import json
import subprocess
import sys
from pathlib import Path

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


def test_class_left_out_is_class_zero_as_help_says(cond_model_dir, tmp_path):
    """The README's `generate --seeds 0-15 --grid` and `probe` name no class: a class-conditional
    model then draws class 0, the same pixels as --class 0 (and as its name)."""
    def grid(*extra):
        out = tmp_path / f"grid{len(extra)}{extra[-1] if extra else ''}.png"
        assert main(["generate", "--weights", str(cond_model_dir), "--seeds", "0-3", "--grid", "--out", str(out),
                     *extra]) == 0
        return np.asarray(Image.open(out))
    assert np.array_equal(grid(), grid("--class", "0")) and np.array_equal(grid(), grid("--class", "cat"))
    assert not np.array_equal(grid(), grid("--class", "dog"))
    npy = tmp_path / "map.npy"
    assert main(["probe", "--weights", str(cond_model_dir), "--seed", "1", "--x", "3", "--y", "3",
                 "--out", str(tmp_path / "ov.png"), "--npy", str(npy)]) == 0 and npy.exists()


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


def test_shipped_feature_net_is_found_from_any_directory(tmp_path, monkeypatch):
    from pathlib import Path
    from attn_demo.cli import build_parser
    from attn_demo.cli.common import REPO, in_repo
    from attn_demo.quality.feature_net import load_feature_net
    monkeypatch.chdir(tmp_path)
    shipped = REPO / "weights" / "feature_net"
    parse = build_parser().parse_args
    from attn_demo.cli.quality import eval_features
    given = parse(["eval", "--weights", "w", "--data", "d"]).features
    assert eval_features(given, canvas=False) == shipped
    assert eval_features(given, canvas=True) == REPO / "weights" / "feature_net_textures"   # a texture model's
    assert parse(["index", "--weights", "w", "--data", "d"]).features == shipped
    assert parse(["invert", "--weights", "w", "--image", "i.png", "--out", "s.json"]).feature_net == shipped
    assert parse(["eval", "--weights", "w", "--data", "d", "--features", "weights/feature_net64"]).features \
        == REPO / "weights" / "feature_net64"
    load_feature_net(in_repo("weights/feature_net"))
    (tmp_path / "weights" / "feature_net").mkdir(parents=True)      # the user's own copy wins
    assert in_repo("weights/feature_net") == Path("weights/feature_net")
    assert in_repo("no/such/net") == Path("no/such/net")             # an error then names it as typed


def _error(capsys, argv) -> str:
    """The one-line error of a command that must fail with exit code 2."""
    assert main([str(a) for a in argv]) == 2
    return capsys.readouterr().err


def test_invert_names_a_missing_picture_or_a_folder(model_dir, tmp_path, capsys):
    base = ["invert", "--weights", model_dir, "--out", tmp_path / "s.json", "--feature-net", "none"]
    err = _error(capsys, base + ["--image", tmp_path / "nosuch.png"])
    assert "no such file" in err and "nosuch.png" in err and "corrupt" not in err
    err = _error(capsys, base + ["--image", tmp_path])
    assert "a folder" in err and "corrupt" not in err
    assert not (tmp_path / "s.json").exists()


def test_out_suffix_picks_the_format_or_is_refused(model_dir, tmp_path, capsys):
    """--out x.jpg wrote PNG bytes under a .jpg name: the suffix now picks the format, and a suffix
    we cannot write is refused before anything is rendered."""
    for name, fmt in [("a.png", "PNG"), ("b.jpg", "JPEG"), ("c.JPEG", "JPEG"), ("d.webp", "WEBP")]:
        assert main(["generate", "--weights", str(model_dir), "--seed", "1", "--out", str(tmp_path / name)]) == 0
        assert Image.open(tmp_path / name).format == fmt, name
    assert main(["probe", "--weights", str(model_dir), "--seed", "1", "--x", "3", "--y", "3",
                 "--out", str(tmp_path / "ov.jpg")]) == 0
    assert Image.open(tmp_path / "ov.jpg").format == "JPEG"
    assert main(["generate", "--weights", str(model_dir), "--seeds", "0-3", "--grid",
                 "--out", str(tmp_path / "g.webp")]) == 0 and Image.open(tmp_path / "g.webp").format == "WEBP"
    for bad in ("e.gif", "f"):
        err = _error(capsys, ["generate", "--weights", model_dir, "--seed", 1, "--out", tmp_path / bad])
        assert ".png, .jpg" in err and not (tmp_path / bad).exists()
    err = _error(capsys, ["probe", "--weights", model_dir, "--seed", 1, "--x", 3, "--y", 3,
                          "--out", tmp_path / "o.bmp"])
    assert ".png, .jpg" in err


def test_help_never_shows_an_empty_default_beside_its_own():
    r = run("dataset", "--help")
    assert r.returncode == 0 and "(default: )" not in r.stdout
    assert r.stdout.count("default: every class") == 1
    assert "the first seed (default: 0)" in " ".join(r.stdout.split())     # 0 is a default, not "none"


def test_dry_run_leaves_nothing_in_the_temp_folder(tmp_path, monkeypatch):
    """Every `train --dry-run` left its run (26 MB: checkpoints, samples) in the temp folder."""
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["train", "--dry-run", "--device", "cpu"]) == 0
    assert not list(tmp_path.glob("attn-demo-dry-*"))   # (torch may leave its empty torchinductor_USER)
    kept = tmp_path / "kept"                           # with --out the run is kept, as asked
    assert main(["train", "--dry-run", "--device", "cpu", "--out", str(kept)]) == 0
    assert (kept / "checkpoint.safetensors").exists()


def _picture_folder(root, n: int, size: int = 32):
    """n random pictures in a flat folder (an unconditional model's data)."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / f"{i:03d}.png")
    return root


def test_eval_on_a_small_folder_names_the_option_that_lowers_its_need(model_dir, tmp_path, capsys):
    data = _picture_folder(tmp_path / "small", 40)
    err = _error(capsys, ["eval", "--weights", model_dir, "--data", data, "--no-write"])
    assert "--n 20" in err and "2000 real images" in err and "40" in err, err
    assert main(["eval", "--weights", str(model_dir), "--data", str(data), "--no-write", "--n", "20",
                 "--seeds", "1"]) == 0


def test_index_keeps_an_up_to_date_index_and_cards_name_no_absolute_path(model_dir, tmp_path, capsys):
    """`index` of the same data with the same feature net rewrote the shipped index files with new
    bytes; an absolute --weights went into the card's commands."""
    import shutil
    model = tmp_path / "m" / "tinyidx"
    shutil.copytree(model_dir, model)
    data = _picture_folder(tmp_path / "pics", 40)
    argv = ["index", "--weights", str(model.resolve()), "--data", str(data), "--n", "12"]
    assert main(argv) == 0
    files = [model / "neighbours.safetensors", model / "neighbours.json"]
    before = [(p.read_bytes(), p.stat().st_mtime_ns) for p in files]
    capsys.readouterr()
    assert main(argv) == 0
    assert "up to date" in capsys.readouterr().out
    assert [(p.read_bytes(), p.stat().st_mtime_ns) for p in files] == before      # not even rewritten
    assert main(argv + ["--force"]) == 0                                           # rebuilt: the same bytes
    assert [p.read_bytes() for p in files] == [b for b, _ in before]
    card = (model / "README.md").read_text()
    assert str(tmp_path) not in card and "--weights weights/tinyidx" in card


def test_published_paths_are_relative_to_the_repository():
    from attn_demo.cli.common import REPO
    from attn_demo.training.publish import portable_path
    assert portable_path(REPO / "weights" / "emoji32") == "weights/emoji32"
    assert portable_path("weights/emoji32") == "weights/emoji32"
    assert portable_path("/somewhere/else/mine") == "weights/mine"
    assert portable_path(REPO / "data" / "emoji", home=None) == "data/emoji"
    assert portable_path("/somewhere/else/pics", home=None) == "/somewhere/else/pics"


def test_readme_own_pictures_flow_uses_one_folder():
    """The README trained on my_pictures/ and then measured slider ranges on data/mine, which does
    not exist: every --data of the flow names the folder it trained on."""
    from attn_demo.cli.common import REPO
    readme = (REPO / "README.md").read_text()
    block = readme.split("## Train on your own pictures", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    folders = {line.split("--data ", 1)[1].split()[0] for line in block.splitlines() if "--data " in line}
    assert folders == {"my_pictures/"}, folders


def test_the_card_names_the_data_the_model_trained_on(model_dir, tmp_path):
    """The card's directions command said `--data data/emoji` whatever folder was used."""
    import shutil
    from attn_demo.models.checkpoint import load_pretrained, save_directions
    from attn_demo.training.directions import compute_directions
    from attn_demo.training.publish import TRAINING_FILE, write_card
    model = tmp_path / "mine"
    shutil.copytree(model_dir, model)
    save_directions(model, compute_directions(load_pretrained(model), k=2, samples=300))
    training = {"steps": 10, "images_seen": 640, "wall_time_s": 60.0, "hardware": "cpu", "stop_reason": "max_steps",
                "torch": "2", "gamma": {"G16": 0.1}, "data": {"source": "my_pictures", "images": 40}}
    (model / TRAINING_FILE).write_text(json.dumps(training))
    card = write_card(model)
    assert "--data my_pictures`" in card and "data/emoji" not in card
    (model / TRAINING_FILE).unlink()                    # no record of the data: the card says DIR
    card = write_card(model)
    assert "--data DIR`" in card and "data/emoji" not in card


def test_repository_paths_resolve_from_any_directory(tmp_path, monkeypatch, capsys):
    """Outside the repository root `--weights weights/emoji32` and `--data data/emoji` failed: a
    relative input that is not there from the working directory is the repository's."""
    from attn_demo.cli import build_parser
    from attn_demo.cli.common import REPO
    monkeypatch.chdir(tmp_path)
    # assets/ stands in for a data folder: data/ is built on demand and absent from a fresh clone
    parse = build_parser().parse_args
    w, d = REPO / "weights" / "emoji32", REPO / "assets"
    assert parse(["info", "--weights", "weights/emoji32"]).weights == w
    assert parse(["generate", "--weights", "weights/emoji32", "--seed", "1", "--out", "x.png"]).weights == w
    assert parse(["eval", "--weights", "weights/emoji32", "--data", "assets"]).data == d
    assert parse(["index", "--weights", "weights/emoji32", "--data", "assets"]).data == d
    a = parse(["directions", "--weights", "weights/emoji32", "--data", "assets"])
    assert (a.weights, a.data) == (w, d)
    a = parse(["train", "--data", "assets", "--out", "runs/x", "--init-from", "weights/emoji32"])
    assert (a.data, a.init_from, a.out) == (str(d), str(w), Path("runs/x"))     # outputs stay where typed
    assert parse(["train", "--data", "shapes"]).data == "shapes"
    assert parse(["data", "check", "assets"]).folder == d
    assert parse(["features", "--data", "assets"]).data == d
    assert main(["info", "--weights", "weights/emoji32", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "emoji32"
