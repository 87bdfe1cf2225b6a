"""The emoji demo-set builder, fed a small local tarball in the npm package's layout."""
import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

import attn_demo.training.emoji as demo
from attn_demo.imaging.folders import load_folder
from attn_demo.errors import DataError


def test_normalize_sequence():
    assert demo.normalize_sequence("0023-FE0F-20E3") == "23-20e3"
    assert demo.normalize_sequence("1f600") == "1f600"
    assert demo.normalize_sequence("1F469-200D-1F52C") == "1f469-200d-1f52c"


def test_categories_cover_skin_tones():
    cats = demo.emoji_categories()
    assert cats["1f600"] == "Smileys & Emotion"
    assert cats["1f44d-1f3fd"] == "People & Body"       # thumbs up, medium skin tone
    assert cats["1f1eb-1f1f7"] == "Flags"


def _webp(colour):
    a = np.zeros((64, 64, 4), np.uint8)
    a[16:48, 16:48] = colour + (255,)
    buf = io.BytesIO()
    Image.fromarray(a, "RGBA").save(buf, format="WEBP", lossless=True)
    return buf.getvalue()


def fake_tarball(path):
    files = {"1f600.webp": (255, 200, 0), "1f436.webp": (150, 100, 50), "1f1eb-1f1f7.webp": (0, 0, 255),
             "0023-fe0f-20e3.webp": (90, 90, 90), "0023-20e3.webp": (90, 90, 90), "ffffff.webp": (1, 2, 3)}
    with tarfile.open(path, "w:gz") as tar:
        for name, colour in files.items():
            data = _webp(colour)
            info = tarfile.TarInfo(f"package/assets/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        evil = tarfile.TarInfo("../../escape.webp")      # never extracted: only read in memory
        evil.size = 3
        tar.addfile(evil, io.BytesIO(b"abc"))
    return path


def test_build_emoji_from_tarball(tmp_path, monkeypatch):
    tgz = fake_tarball(tmp_path / "pkg.tgz")
    monkeypatch.setattr(demo, "fetch_fluent", lambda cache: tgz)
    manifest = demo.build_emoji(tmp_path / "emoji", 32, log=lambda *a: None)
    assert manifest["images"] == 3 and manifest["dropped_flags_and_components"] == 1
    assert manifest["unmapped"] == 1 and manifest["duplicates"] == 1
    assert sorted(manifest["classes"]) == ["Animals & Nature", "Smileys & Emotion", "Symbols"]
    data = load_folder(tmp_path / "emoji", 32)
    assert len(data) == 3 and not data.skipped        # manifest/attribution are not images
    corner = data.images[0, :, 0, 0].tolist()
    assert corner == [255, 255, 255]                   # composited on white
    assert "MIT" in (tmp_path / "emoji" / "ATTRIBUTION.txt").read_text()
    assert json.loads((tmp_path / "emoji" / "manifest.json").read_text())["size"] == 32
    assert not (tmp_path / "escape.webp").exists()


def test_build_refuses_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("precious")
    with pytest.raises(DataError, match="not an earlier build"):
        demo.build_emoji(tmp_path / "mine", 32)
    assert (tmp_path / "mine" / "keep.txt").exists()


def test_integrity_check_rejects_tampered_tarball(tmp_path):
    (tmp_path / demo.FLUENT_TARBALL).write_bytes(b"tampered")
    with pytest.raises(DataError, match="integrity"):
        demo.fetch_fluent(tmp_path)
    assert not (tmp_path / demo.FLUENT_TARBALL).exists()
