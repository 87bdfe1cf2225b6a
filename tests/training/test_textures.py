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


# --- the regular surfaces (--regular): a fake Debian package tree with a DEP-5 copyright file ---

from attn_demo.training.regular_textures import (DebSource, collect, copyright_stanzas, licence_allowed,  # noqa: E402
                                                 regular_class, stanza_of, write_set)

FAKE = DebSource("fake-data", "1.0-1", "0" * 64, "1 MB", "./usr/share/games/fake/", ("data/",), "fk")
COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2020 Fake Team
License: GPL-3+

Files: data/textures/brick_* data/textures/wood_planks*
       data/textures/cut_tiles.png
Copyright: 2021 Ann Author
License: CC0

Files: data/textures/brick_gpl.png
Copyright: 2019 Gee Pee
License: GPL-2

Files:
 data/textures/floor_tile*
Copyright:
 2022 Tia Tiler
 2023 Second Person
License: CC-BY-SA-3.0 or GPL-2
"""


def fake_tree(root, images: dict) -> None:
    """A package tree as the .deb's would be extracted: images under the game's data, the copyright file."""
    doc = root / "usr/share/doc/fake-data"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT)
    for rel, array in images.items():
        path = root / "usr/share/games/fake/data" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path)


@pytest.mark.parametrize("member, expected", [
    ("data/textures/beige_bricks.jpg", "brick"), ("data/dziq/brick_wall01_b.jpg", "brick"),
    ("data/textures/stktex_generic_cobbleStoneA.png", "cobblestone"), ("data/dziq/boards01.jpg", "wood planks"),
    ("data/textures/wood_planks1.jpg", "wood planks"), ("data/textures/toll_roof.png", "roof"),
    ("data/wicked/wickedtile14a.jpg", "tiles"), ("data/textures/roof_tiles.png", "roof"),
    ("data/textures/stk_generic_brickA_Normal.png", None), ("data/mikeplus64/bricks_n.png", None),
    ("data/textures/wood_planks1_alpha.png", None), ("data/jojo/windowstile02lit.png", None),
    ("data/textures/stk_woodWindowA.png", None), ("data/actors/player/brick.png", None),
    ("data/wicked/wickedwood04.jpg", None), ("data/textures/grass.png", None),
])
def test_a_regular_texture_is_classed_by_a_name_fragment(member, expected):
    assert regular_class(member) == expected


def test_the_licence_of_a_file_is_its_last_matching_stanza():
    stanzas = copyright_stanzas(COPYRIGHT)
    assert [s["license"] for s in stanzas] == ["GPL-3+", "CC0", "GPL-2", "CC-BY-SA-3.0 or GPL-2"]
    assert stanza_of("data/textures/brick_red.png", stanzas)["license"] == "CC0"
    assert stanza_of("data/textures/brick_gpl.png", stanzas)["license"] == "GPL-2"     # the later stanza wins
    assert stanza_of("data/other/thing.png", stanzas)["license"] == "GPL-3+"           # Files: * catches the rest
    assert stanza_of("data/textures/floor_tile_a.png", stanzas)["copyright"] == "2022 Tia Tiler; 2023 Second Person"
    assert all(licence_allowed(x) for x in ("CC0", "CC0-1.0", "CC-BY-3.0", "CC-BY-SA-3.0+", "public-domain",
                                            "CC-BY-SA-3.0 or GPL-2", "CC-BY-4.0 and CC-BY-3.0"))
    assert not any(licence_allowed(x) for x in ("GPL-3+", "GPL", "Expat", "GPL and CC-BY-SA", "RaZgRiZ-simple"))


def test_regular_build_keeps_classed_tiling_shareable_textures_and_credits_each(tmp_path):
    images = {f"textures/brick_{i}.png": tiling(30 + i) for i in range(3)}            # CC0, tile
    images.update({f"textures/wood_planks{i}.png": tiling(40 + i) for i in range(2)})  # CC0, too few for a class
    images["textures/brick_gpl.png"] = tiling(50)                                       # GPL-2: licence filter
    images["textures/brick_cut.png"] = tiling(51)[17:157, 17:157].repeat(2, 0).repeat(2, 1)  # no tiling: seam
    images["textures/brick_4_n.png"] = tiling(52)                                        # a normal map
    half = tiling(53, 128)
    images["textures/floor_tile_a.png"] = np.concatenate([half, half[::-1]])            # 128 x 256: repeated twice
    images["textures/floor_tile_b.png"] = tiling(54)
    images["textures/floor_tile_bn.png"] = tiling(55)                                    # floor_tile_b's normal map
    images["textures/floor_tile_c.png"] = tiling(56, 64)                                 # too small
    images["textures/floor_tile_d.png"] = tiling(58)
    images["textures/grass.png"] = tiling(57)                                            # not a regular class
    fake_tree(tmp_path / "tree", images)
    picked, funnel, skipped = collect(tmp_path / "tree", FAKE, min_size=128)
    assert funnel["brick"] == {"found": 5, "seamless": 4, "licensed": 3}
    assert funnel["tiles"] == {"found": 4, "seamless": 3, "licensed": 3}
    assert funnel["wood planks"] == {"found": 2, "seamless": 2, "licensed": 2}
    assert skipped["licence GPL-2"] == 1 and skipped["does not tile (visible seam)"] == 1
    assert skipped["smaller than 128 px"] == 1
    assert skipped["a normal, specular or height map of another texture"] == 1
    info = write_set(tmp_path / "out", picked, funnel, skipped, size=64, min_per_class=3)
    assert info["classes"] == {"brick": 3, "tiles": 3}
    assert info["skipped"]["class 'wood planks' has fewer than 3 textures"] == 2
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "brick").iterdir()) == [f"fk_brick_{i}.png" for i in range(3)]
    assert Image.open(out / "tiles" / "fk_floor_tile_a.png").size == (64, 64)
    manifest = json.loads((out / "manifest.json").read_text())
    by_file = {f["file"]: f for f in manifest["files"]}
    assert by_file["brick/fk_brick_0.png"]["licence"] == "CC0"
    assert by_file["tiles/fk_floor_tile_a.png"]["original_size"] == [128, 256]
    assert by_file["tiles/fk_floor_tile_b.png"]["copyright"] == "2022 Tia Tiler; 2023 Second Person"
    assert manifest["per_class"]["brick"] == {"found": 5, "seamless": 4, "licensed": 3}
    attribution = (out / "ATTRIBUTION.txt").read_text()
    assert "brick/fk_brick_0.png: data/textures/brick_0.png from Debian fake-data 1.0-1, " \
           "(c) 2021 Ann Author, CC0" in attribution
    assert "Tia Tiler" in attribution and "Gee Pee" not in attribution
    assert main(["data", "check", str(out), "--size", "64"]) == 0


def test_regular_build_needs_the_copyright_file(tmp_path):
    (tmp_path / "usr/share/games/fake/data").mkdir(parents=True)
    with pytest.raises(DataError, match="copyright"):
        collect(tmp_path, FAKE)


def test_the_default_build_is_not_the_regular_one(tmp_path, monkeypatch):
    """Without --regular the command builds the terrain set into data/textures, exactly as before."""
    import attn_demo.training.regular_textures as regular
    import attn_demo.training.textures as terrain
    calls = []
    monkeypatch.setattr(terrain, "build_textures", lambda *a: calls.append(("terrain", *a)))
    monkeypatch.setattr(regular, "build_regular_textures", lambda *a: calls.append(("regular", *a)))
    from pathlib import Path
    main(["data", "build-textures"])
    main(["data", "build-textures", "--regular"])
    main(["data", "build-textures", "--regular", "--out", str(tmp_path / "r"), "--size", "128"])
    assert calls == [("terrain", Path("data/textures"), 256, Path("data/raw"), False),
                     ("regular", Path("data/textures-regular"), 256, Path("data/raw"), False),
                     ("regular", tmp_path / "r", 128, Path("data/raw"), False)]
