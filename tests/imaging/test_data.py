"""The image-folder loader against broken, hostile and unusual files."""
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from attn_demo.imaging.folders import load_folder, load_image, make_shapes
from attn_demo.errors import DataError


def save(path, img, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kw)
    return path


def rgb(colour=(200, 30, 30), size=(40, 40)):
    return Image.new("RGB", size, colour)


def test_modes_become_the_same_rgb(tmp_path):
    d = tmp_path
    a = np.zeros((40, 40, 4), np.uint8)
    a[..., 0] = 255
    a[:20, :, 3] = 255                      # top half opaque red, bottom half transparent
    cases = {
        "rgba.png": Image.fromarray(a, "RGBA"),
        "la.png": Image.new("LA", (40, 40), (0, 0)),            # fully transparent -> white
        "p.gif": rgb((0, 0, 255)).convert("P"),
        "one.png": Image.new("1", (40, 40), 1),
        "cmyk.jpg": Image.new("CMYK", (40, 40), (0, 255, 255, 0)),
        "i16.png": Image.fromarray(np.full((40, 40), 32896, np.uint16)),
        "f.tif": Image.fromarray(np.full((40, 40), 0.5, np.float32)),
    }
    for name, im in cases.items():
        save(d / name, im)
    out = {name: load_image(d / name, 16) for name in cases}
    assert all(v.shape == (16, 16, 3) and v.dtype == np.uint8 for v in out.values())
    assert out["rgba.png"][2, 8].tolist() == [255, 0, 0] and out["rgba.png"][14, 8].tolist() == [255, 255, 255]
    assert (out["la.png"] == 255).all()
    assert out["p.gif"][8, 8].tolist() == [0, 0, 255]
    assert (out["one.png"] == 255).all()
    assert out["cmyk.jpg"][8, 8, 0] > 200 and out["cmyk.jpg"][8, 8, 1] < 60
    assert out["i16.png"][8, 8].tolist() == [128, 128, 128]   # 32896 / 257, not clipped to 255
    assert out["f.tif"][8, 8].tolist() == [128, 128, 128]


def test_exif_orientation_applied(tmp_path):
    im = Image.new("RGB", (40, 20), (0, 0, 0))
    im.paste((255, 255, 255), (0, 0, 20, 20))          # left half white
    exif = Image.Exif()
    exif[0x0112] = 6                                     # rotate 90 degrees clockwise on display
    save(tmp_path / "rot.jpg", im, exif=exif, quality=95)
    with Image.open(tmp_path / "rot.jpg") as raw:
        assert raw.size == (40, 20)
    from attn_demo.imaging.folders import to_rgb
    from PIL import ImageOps
    with Image.open(tmp_path / "rot.jpg") as raw:
        shown = to_rgb(ImageOps.exif_transpose(raw))
    assert shown.size == (20, 40)
    top = np.asarray(shown)[:20].mean()
    assert top > 200                                      # white ends up on top after rotation


def test_animated_gif_first_frame(tmp_path):
    frames = [rgb((255, 0, 0)), rgb((0, 255, 0))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    img = load_image(tmp_path / "anim.gif", 8)
    assert img[4, 4, 0] > 200 and img[4, 4, 1] < 50


def make_mixed_folder(root, good=10):
    for i in range(good):
        save(root / "red" / f"r{i}.png", rgb((200 + i, 0, 0)))
        save(root / "blue" / f"b{i}.jpg", rgb((0, 0, 200 + i)))
    bad = root / "red"
    (bad / "notes.txt").write_text("not an image")
    (bad / "empty.png").write_bytes(b"")
    (bad / ".hidden.png").write_bytes((root / "red" / "r0.png").read_bytes())
    png = (root / "red" / "r1.png").read_bytes()
    (bad / "truncated.png").write_bytes(png[: len(png) // 2])
    jpg = (root / "blue" / "b1.jpg").read_bytes()
    (bad / "truncated.jpg").write_bytes(jpg[: len(jpg) // 3])
    save(bad / "tiny.png", rgb(size=(1, 1)))
    save(bad / "strip.png", rgb(size=(400, 20)))
    save(bad / "bomb.png", Image.new("L", (8000, 8000)))   # 64 Mpx > our 40 Mpx cap, a few KB
    (bad / "link.png").symlink_to(root / "blue" / "b0.jpg")
    (bad / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    save(root / "stray.png", rgb())                           # outside the class folders
    return 11                                                 # files that must be skipped


def test_mixed_folder_skips_exactly_the_bad_files(tmp_path):
    n_bad = make_mixed_folder(tmp_path / "data")
    data = load_folder(tmp_path / "data", 16)
    assert len(data) == 20 and data.class_names == ("blue", "red")
    assert data.labels.tolist().count(0) == 10
    assert len(data.skipped) == n_bad, data.skipped
    reasons = {p.rsplit("/", 1)[-1]: r for p, r in data.skipped}
    assert reasons["notes.txt"] == "not an image"
    assert reasons["empty.png"] == "empty file"
    assert reasons["truncated.jpg"] == "truncated or corrupt image"
    assert reasons["link.png"] == "symlink (not followed)"
    assert reasons["bomb.png"] == "decompression bomb or huge image"
    assert reasons["tiny.png"] == "too small" and reasons["strip.png"] == "extreme aspect ratio"
    report = data.report()
    assert "skipped 11 files" in report and "warning: only 20 images" in report


def test_unconditional_folder(tmp_path):
    for i in range(5):
        save(tmp_path / f"{i}.png", rgb((i * 40, 0, 0)))
    data = load_folder(tmp_path, 16)
    assert data.labels is None and len(data) == 5 and data.num_classes == 0


@pytest.mark.parametrize("setup", ["missing", "empty", "all_bad"])
def test_unusable_folder_exits_fast_and_writes_nothing(tmp_path, setup):
    data = tmp_path / "data"
    if setup != "missing":
        data.mkdir()
    if setup == "all_bad":
        (data / "a.txt").write_text("x")
        (data / "b.png").write_bytes(b"")
        (data / "c.jpg").write_bytes(b"\xff\xd8\xff garbage")
    out = tmp_path / "run"
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "attn_demo", "train", "--data", str(data), "--out", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "error" in r.stderr and "Traceback" not in r.stderr
    assert time.monotonic() - t < 30       # seconds, mostly the torch import
    assert not out.exists()


def test_load_folder_errors():
    with pytest.raises(DataError, match="does not exist"):
        load_folder("/no/such/folder", 16)


def test_shapes_are_seeded():
    a, b = make_shapes(12, 16, seed=3), make_shapes(12, 16, seed=3)
    assert (a.images == b.images).all() and a.labels.tolist() == [0, 1, 2] * 4
    assert not (make_shapes(12, 16, seed=4).images == a.images).all()


def test_merging_sets_joins_classes_and_attributions_and_refuses_clashes(tmp_path, capsys):
    """data merge: the classes of both sets in one new folder, a manifest naming where each came from,
    both attributions; a class in both sets, a non-empty out or a single folder is refused, and a
    failure leaves no folder behind."""
    import json
    from attn_demo.cli import main
    from attn_demo.imaging.folders import merge_folders
    a, b = tmp_path / "a", tmp_path / "b"
    save(a / "grass" / "g1.png", rgb((0, 200, 0)))
    save(a / "grass" / "deep" / "g1.png", rgb((0, 100, 0)))          # same name one folder down: both kept
    save(b / "brick" / "b1.png", rgb((150, 40, 30)))
    (a / "ATTRIBUTION.txt").write_text("grass: CC0, by A")
    (a / "manifest.json").write_text(json.dumps({"source": "pkg-a"}))
    out = tmp_path / "all"
    assert main(["data", "merge", str(a), str(b), "--out", str(out)]) == 0
    data = load_folder(out, 16)
    assert data.class_names == ("brick", "grass") and len(data) == 3
    info = json.loads((out / "manifest.json").read_text())
    assert [m["classes"] for m in info["merged_from"]] == [{"grass": 2}, {"brick": 1}]
    assert info["merged_from"][0]["manifest"] == {"source": "pkg-a"} and info["merged_from"][1]["manifest"] is None
    attribution = (out / "ATTRIBUTION.txt").read_text()
    assert "grass: CC0, by A" in attribution and "has no ATTRIBUTION.txt" in attribution
    with pytest.raises(DataError, match="not an empty folder"):
        merge_folders([a, b], out)
    save(b / "grass" / "g2.png", rgb())
    with pytest.raises(DataError, match="class 'grass' is in both"):
        merge_folders([a, b], tmp_path / "again")
    with pytest.raises(DataError, match="at least two"):
        merge_folders([a], tmp_path / "again")
    assert not (tmp_path / "again").exists()
    assert main(["data", "merge", str(a), str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) != 0
    assert "does not exist" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "all", "b"]   # no scratch folder left
