"""The terrain texture set builder (training/textures.py), on a small zip laid out as 0 A.D.'s."""
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from attn_demo.cli import main
from attn_demo.errors import DataError
from attn_demo.training.textures import DEB, TERRAIN, build_from_zip, fetch_zip, surface_class, wrap_ratio


@pytest.mark.parametrize("member, expected", [
    ("alpine_snow_a.dds.cached.dds", "snow"), ("nubia/rocks_dirt_01.png.cached.dds", "rock"),
    ("india/grass_dirt_02.png.cached.dds", "grass"), ("dirta.dds", "dirt"), ("grass1_spring.dds", "grass"),
    ("sandstone_cracks_01.dds", "rock"), ("tropic_citytile_a.dds", "paving"), ("alpine_forrestfloor.dds", "forest floor"),
    ("temperate/paving_002_norm.png.cached.dds", None), ("medit_dirt_c_spec.png.cached.dds", None),
    ("tropic_ocean_coral.dds", None), ("blue.png.cached.dds", None), ("DirtTests2.dds", None),
])
def test_a_texture_is_classed_by_the_first_word_that_names_a_surface(member, expected):
    assert surface_class(TERRAIN + member) == expected


def tiling(seed: int, size: int = 256) -> np.ndarray:
    """A periodic random texture: a sum of whole-period waves, so its wrap seam is as smooth as its inside."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size] * (2 * np.pi / size)
    img = sum(np.sin(kx * x + ky * y + rng.uniform(0, 6.3)) for kx, ky in rng.integers(1, 6, (4, 2)))
    img = (img - img.min()) / np.ptp(img) * 200 + 20
    return np.stack([img, img * 0.8, img * 0.6], axis=-1).astype(np.uint8)


def test_the_seam_measure_tells_tiling_textures_from_cut_ones():
    t = tiling(0)
    assert wrap_ratio(t) < 1.5
    assert wrap_ratio(np.roll(t, 100, axis=(0, 1))) < 1.5         # wherever the edge is
    assert wrap_ratio(t[17:157, 17:157]) > 1.5                     # a crop of it does not tile


def fake_zip(path, members: dict) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, array in members.items():
            buf = io.BytesIO()
            Image.fromarray(array).save(buf, format="PNG")      # Pillow reads the content, not the name
            z.writestr(TERRAIN + name, buf.getvalue())


def test_build_from_a_zip_writes_classes_manifest_and_attribution(tmp_path):
    members = {f"temp_grass_{i:02d}.dds": tiling(i) for i in range(3)}
    members.update({f"sahara/sand_{i:02d}.png.cached.dds": tiling(10 + i) for i in range(3)})
    members["snow_01.dds"] = tiling(20)                                   # a class with too few
    members["rock_01.dds"] = tiling(21)[:, 30:250]                        # not square
    members["grass_cut.dds"] = np.concatenate([tiling(22)[:, :200], tiling(23)[:, :56]], axis=1)  # a seam
    members["grass_01_norm.dds"] = tiling(24)                             # a normal map
    zpath = tmp_path / "public.zip"
    fake_zip(zpath, members)
    info = build_from_zip(zpath, tmp_path / "out", size=64, min_per_class=3)
    assert info["classes"] == {"grass": 3, "sand": 3}
    assert sorted(p.name for p in (tmp_path / "out" / "sand").iterdir()) == [f"sahara_sand_{i:02d}.png" for i in range(3)]
    assert Image.open(tmp_path / "out" / "grass" / "temp_grass_00.png").size == (64, 64)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["licence"] == "CC-BY-SA-3.0" and len(manifest["files"]) == 6
    assert manifest["skipped"]["does not tile (visible seam)"] == 1
    assert "Wildfire Games" in (tmp_path / "out" / "ATTRIBUTION.txt").read_text()
    with pytest.raises(DataError, match="not empty"):
        build_from_zip(zpath, tmp_path / "out", size=64, min_per_class=3)
    # the CLI's data check reads it as a training folder with classes
    assert main(["data", "check", str(tmp_path / "out"), "--size", "64"]) == 0


def test_a_download_that_is_not_the_pinned_package_is_refused(tmp_path):
    (tmp_path / DEB).write_bytes(b"not the package")
    with pytest.raises(DataError, match="sha256"):
        fetch_zip(tmp_path)
