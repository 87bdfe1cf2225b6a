"""Material sets (serving/material_set.py) and GLB objects (serving/glb.py) from canvases: every map
tiles exactly like the albedo, the zip names every map, the GLB reads back in a glTF library, and
bad input is refused before anything is written."""
import io
import json
import struct
import zipfile

import numpy as np
import pytest
from PIL import Image

from attn_demo.cli import main
from attn_demo.errors import InputError
from attn_demo.quality.canvas import seam_ratios
from attn_demo.serving import glb
from attn_demo.serving import material_set as M
from attn_demo.serving.canvas import CanvasEngine

from conftest import tiny_canvas


def periodic(h: int = 96, w: int = 128, seed: int = 0, noise: float = 0.5) -> np.ndarray:
    """A tiling RGB texture: whole-period waves plus periodic noise (a blurred wrap of random values)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w].astype(np.float64)
    img = sum(np.sin(2 * np.pi * (kx * x / w + ky * y / h) + rng.uniform(0, 6.3)) for kx, ky in rng.integers(1, 7, (5, 2)))
    noise_level, noise = noise, rng.normal(size=(h, w))
    noise = sum(np.roll(noise, (dy, dx), (0, 1)) for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    img = img + noise_level * noise
    img = (img - img.min()) / np.ptp(img)
    return (np.stack([img * 200 + 30, img * 170 + 40, img * 120 + 50], -1)).astype(np.uint8)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from attn_demo.models.checkpoint import save_pretrained
    return CanvasEngine.from_pretrained(save_pretrained(tmp_path_factory.mktemp("w") / "tex", tiny_canvas()),
                                        device="cpu")


def test_every_map_is_there_in_its_format():
    mat = M.material_set(periodic(), "both")
    assert set(mat.maps) == set(M.MAPS) and mat.size == (128, 96)
    assert mat.maps["albedo"].dtype == np.uint8 and mat.maps["albedo"].shape == (96, 128, 3)
    assert mat.maps["height"].dtype == np.uint16 and mat.maps["height"].max() == 65535 and mat.maps["height"].min() == 0
    for m in ("normal_gl", "normal_dx"):
        assert mat.maps[m].shape == (96, 128, 3) and mat.maps[m].dtype == np.uint8
    assert np.array_equal(mat.maps["normal_dx"][..., 1], 255 - mat.maps["normal_gl"][..., 1])
    assert np.array_equal(mat.maps["normal_dx"][..., [0, 2]], mat.maps["normal_gl"][..., [0, 2]])
    for m in ("roughness", "ao"):
        assert mat.maps[m].shape == (96, 128) and mat.maps[m].dtype == np.uint8
    assert 0.6 < mat.maps["ao"].mean() / 255 < 1.0          # mostly open, darker in crevices
    assert abs(mat.maps["roughness"].mean() / 255 - 0.8) < 0.1


def test_the_normals_point_the_right_way():
    # a ramp rising to the right: OpenGL normals lean left (red < 128); rising downwards: lean up (green > 128)
    ramp = np.tile(np.linspace(0, 255, 64), (64, 1)).astype(np.uint8)
    mat = M.material_set(np.dstack([ramp] * 3), "none")
    assert mat.maps["normal_gl"][32, 32, 0] < 128 and mat.maps["normal_gl"][32, 32, 1] == 128
    mat = M.material_set(np.dstack([ramp.T] * 3), "none")
    assert mat.maps["normal_gl"][32, 32, 1] > 128 and mat.maps["normal_dx"][32, 32, 1] < 128
    # a pit is occluded, a peak is open
    y, x = np.mgrid[:64, :64]
    bowl = np.clip(np.hypot(x - 32, y - 32) * 8, 0, 255).astype(np.uint8)
    ao = M.material_set(np.dstack([bowl] * 3), "both", M.Strengths(ao_strength=16)).maps["ao"]
    ao_peak = M.material_set(np.dstack([255 - bowl] * 3), "both", M.Strengths(ao_strength=16)).maps["ao"]
    assert ao[32, 32] < 200 and ao_peak[32, 32] > 250


@pytest.mark.parametrize("tiling, shift", [("both", (37, 53)), ("x", (0, 53))])
def test_every_map_tiles_exactly_like_the_albedo(tiling, shift):
    """Shifting the canvas across its wrap shifts every map the same way, bit for bit: the filters
    see the same neighbours wherever the edge is."""
    img = periodic()
    a = M.material_set(img, tiling)
    b = M.material_set(np.roll(img, shift, (0, 1)), tiling)
    for m in M.MAPS:
        assert np.array_equal(np.roll(a.maps[m], shift, (0, 1)), b.maps[m]), m


def test_seams_of_every_map_are_as_smooth_as_their_inside():
    """The existing seam measure (quality/canvas.py): across the wrap the step is an ordinary one.
    The contrast: the same tile's maps filtered as if it did not tile (mirrored edges) show seams."""
    img = periodic(128, 128, 3, noise=0)
    wrapped, mirrored = M.material_set(img, "both"), M.material_set(img, "none")
    for m in M.MAPS:
        sx, sy = seam_ratios(wrapped.maps[m].astype(np.float32))
        assert 0.7 < sx < 1.3 and 0.7 < sy < 1.3, (m, sx, sy)
    for m in ("roughness", "ao"):
        assert min(seam_ratios(mirrored.maps[m].astype(np.float32))) > 2, m


def test_a_canvas_models_maps_tile_across_the_wrap(engine):
    mat = M.canvas_material(engine, 3, 64, 48, "both", 1.0, "rock")
    assert mat.meta["surface"] == "rock" and mat.meta["class"] == 1 and mat.meta["seed"] == 3
    for m in M.MAPS:
        sx, sy = seam_ratios(mat.maps[m].astype(np.float32))
        assert sx < 1.6 and sy < 1.6, (m, sx, sy)
    band = M.canvas_material(engine, 3, 64, 32, "x", 1.0, "sand")
    assert seam_ratios(band.maps["ao"].astype(np.float32))[0] < 1.6


@pytest.mark.parametrize("kwargs, message", [
    ({"normal_strength": float("nan")}, "normal_strength must be finite"),
    ({"ao_strength": -1.0}, r"ao_strength must be in \[0.0, 64.0\]"),
    ({"roughness": 1.5}, "roughness must be in"),
    ({"roughness_contrast": float("inf")}, "roughness_contrast must be finite"),
    ({"roughness": "0.5"}, "roughness must be a number"),
])
def test_bad_strengths_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        M.material_set(periodic(), "both", M.Strengths(**kwargs))


def test_bad_pictures_sizes_and_tilings_are_refused(engine):
    with pytest.raises(InputError, match="at most 4,194,304 pixels"):
        M.material_set(np.zeros((2048, 2056, 3), np.uint8))
    with pytest.raises(InputError, match="RGB uint8"):
        M.material_set(np.zeros((64, 64), np.uint8))
    with pytest.raises(InputError, match="RGB uint8"):
        M.material_set(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(InputError, match="tiling must be one of"):
        M.material_set(periodic(), "y")
    with pytest.raises(InputError, match="over the limit"):
        M.canvas_material(engine, 0, 4096, 2048)
    with pytest.raises(InputError, match="multiple of 8"):
        M.canvas_material(engine, 0, 60, 64)


def test_the_zip_names_every_map_its_colour_space_and_what_made_it(engine, tmp_path):
    mat = M.canvas_material(engine, 5, 64, 64, "both", 0.9, "snow", M.Strengths(normal_strength=6, roughness=0.6))
    path = M.write_zip(mat, tmp_path / "snow.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snow.zip"]       # no temporary file left
    manifest, maps = M.read_zip(path)
    assert manifest["kind"] == "material" and manifest["model"] == "tex" and manifest["seed"] == 5
    assert manifest["class"] == 2 and manifest["surface"] == "snow" and manifest["tiling"] == "both"
    assert manifest["weights_sha256"] == engine.weights_sha256 and manifest["truncation"] == 0.9
    assert manifest["strengths"] == {"normal_strength": 6.0, "ao_strength": 2.0, "roughness": 0.6,
                                     "roughness_contrast": 0.3}
    assert set(manifest["maps"]) == set(M.MAPS)
    assert manifest["maps"]["albedo"]["colour_space"] == "sRGB"
    assert {manifest["maps"][m]["colour_space"] for m in M.MAPS if m != "albedo"} == {"linear"}
    assert manifest["maps"]["height"]["bits"] == 16 and manifest["maps"]["height"]["file"] == "snow_height16.png"
    for m in M.MAPS:
        assert np.array_equal(maps[m], mat.maps[m]), m
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == sorted([M.MANIFEST] + [i["file"] for i in manifest["maps"].values()])
        assert Image.open(io.BytesIO(z.read("snow_height16.png"))).mode.startswith("I;16")


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    mat = M.material_set(periodic(), "both")
    (tmp_path / "old.zip").write_bytes(b"the previous set")
    calls = []

    def broken(a, compress_level=3):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return b"png"
    monkeypatch.setattr(M, "png_bytes", broken)
    with pytest.raises(OSError):
        M.write_zip(mat, tmp_path / "old.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.zip"]
    assert (tmp_path / "old.zip").read_bytes() == b"the previous set"    # the old file stays whole
    with pytest.raises(InputError, match=".zip"):
        M.write_zip(mat, tmp_path / "set.tar")


# ---------------------------------------------------------------- GLB
def parse_glb(data: bytes) -> tuple[dict, bytes]:
    """A strict reading of the container (glTF 2.0, section 4.4): header, JSON chunk, BIN chunk, aligned."""
    magic, version, length = struct.unpack_from("<4sII", data)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    n, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON" and n % 4 == 0
    doc = json.loads(data[20:20 + n])
    m, kind = struct.unpack_from("<I4s", data, 20 + n)
    assert kind == b"BIN\0" and m % 4 == 0 and 28 + n + m == len(data)
    return doc, data[28 + n:]


@pytest.mark.parametrize("shape", glb.SHAPES)
def test_a_glb_carries_the_material_and_reads_back_in_a_gltf_library(shape, tmp_path):
    pygltflib = pytest.importorskip("pygltflib")
    mat = M.material_set(periodic(64, 128), "both", meta={"model": "tex", "seed": 1, "surface": "sand"})
    path = glb.write_glb(mat, tmp_path / f"{shape}.glb", shape, 2)
    doc, blob = parse_glb(path.read_bytes())
    g = pygltflib.GLTF2().load(str(path))
    assert g.asset.version == "2.0"
    material = g.materials[0]
    pbr = material.pbrMetallicRoughness
    assert (pbr.baseColorTexture.index, material.normalTexture.index) == (0, 1)
    assert pbr.metallicRoughnessTexture.index == material.occlusionTexture.index == 2
    blob = g.binary_blob()
    pictures = {}
    for texture in g.textures:
        image = g.images[texture.source]
        view = g.bufferViews[image.bufferView]
        assert image.mimeType == "image/png"
        pictures[image.name] = np.asarray(Image.open(io.BytesIO(blob[view.byteOffset:view.byteOffset + view.byteLength])))
    assert np.array_equal(pictures["albedo"], mat.maps["albedo"])
    assert np.array_equal(pictures["normal"], mat.maps["normal_gl"])      # glTF's convention is OpenGL's
    orm = pictures["occlusion_roughness_metalness"]
    assert np.array_equal(orm[..., 0], mat.maps["ao"]) and np.array_equal(orm[..., 1], mat.maps["roughness"])
    assert not orm[..., 2].any()
    assert g.samplers[0].wrapS == g.samplers[0].wrapT == glb.REPEAT

    prim = g.meshes[0].primitives[0]

    def read(index):
        acc = g.accessors[index]
        view = g.bufferViews[acc.bufferView]
        dtype = np.uint32 if acc.componentType == glb.UINT32 else np.float32
        width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[acc.type]
        start = view.byteOffset + (acc.byteOffset or 0)
        return np.frombuffer(blob, dtype, acc.count * width, start).reshape(acc.count, width), acc
    pos, acc = read(prim.attributes.POSITION)
    assert np.allclose(acc.min, pos.min(0)) and np.allclose(acc.max, pos.max(0))
    nrm, _ = read(prim.attributes.NORMAL)
    tan, _ = read(prim.attributes.TANGENT)
    uv, _ = read(prim.attributes.TEXCOORD_0)
    tris, _ = read(prim.indices)
    assert np.allclose(np.linalg.norm(nrm, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(tan[:, :3], axis=1), 1, atol=1e-5) and set(tan[:, 3]) == {1.0}
    assert tris.max() < len(pos) and len(tris) % 3 == 0
    # every triangle faces the side its normals face (counter-clockwise: glTF's front)
    t = tris.reshape(-1, 3)
    geometric = np.cross(pos[t[:, 1]] - pos[t[:, 0]], pos[t[:, 2]] - pos[t[:, 0]])
    area = np.linalg.norm(geometric, axis=1) > 1e-9
    assert ((geometric * nrm[t[:, 0]]).sum(1)[area] > 0).all()
    assert uv.min() >= 0 and uv.max() == {"sphere": 4, "surround": 2}.get(shape, 2)
    if shape == "surround":            # seen from inside: normals point to the axis
        assert ((nrm[:, [0, 2]] * pos[:, [0, 2]]).sum(1) < 0).all()
    assert doc["extras"]["attn_demo"]["surface"] == "sand" and doc["extras"]["attn_demo"]["shape"] == shape


def test_a_band_wraps_in_x_only_and_bad_objects_are_refused(tmp_path):
    band = M.material_set(periodic(32, 128), "x")
    doc, _ = parse_glb(glb.glb_bytes(band, "surround", 1))
    assert (doc["samplers"][0]["wrapS"], doc["samplers"][0]["wrapT"]) == (glb.REPEAT, glb.CLAMP)
    pos = np.array(doc["accessors"][0]["max"]) - np.array(doc["accessors"][0]["min"])
    assert pos[1] == pytest.approx(2 * np.pi * 32 / 128, rel=1e-5)       # as tall as the band's aspect
    flat = M.material_set(periodic(), "none")
    with pytest.raises(InputError, match="tiles"):
        glb.glb_bytes(flat, "sphere")
    with pytest.raises(InputError, match="repeat 2"):
        glb.glb_bytes(band, "plane", 2)
    with pytest.raises(InputError, match="shape must be one of"):
        glb.glb_bytes(band, "torus")
    for bad in (0, 17, 1.5, float("nan")):
        with pytest.raises(InputError, match="repeat"):
            glb.glb_bytes(band, "surround", bad)
    with pytest.raises(InputError, match="ends in .glb"):
        glb.write_glb(band, tmp_path / "x.gltf", "surround")
    big = M.MaterialSet({"albedo": np.zeros((1, 4097, 3), np.uint8)}, "both", M.Strengths())
    with pytest.raises(InputError, match="too large for a GLB"):
        glb.glb_bytes(big, "plane")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the command line
def test_the_cli_writes_a_set_and_a_glb_and_refuses_bad_input(tmp_path, capsys):
    from attn_demo.models.checkpoint import save_pretrained
    weights = save_pretrained(tmp_path / "tex", tiny_canvas())
    base = ["material", "--weights", str(weights), "--seed", "4", "--class", "rock", "--width", "64", "--height", "32"]
    assert main([*base, "--tile", "x", "--ao-strength", "3", "--out", str(tmp_path / "o" / "r.zip"),
                 "--glb", str(tmp_path / "o" / "r.glb"), "--shape", "surround"]) == 0
    manifest, maps = M.read_zip(tmp_path / "o" / "r.zip")
    assert manifest["strengths"]["ao_strength"] == 3.0 and manifest["tiling"] == "x" and maps["albedo"].shape == (32, 64, 3)
    parse_glb((tmp_path / "o" / "r.glb").read_bytes())
    capsys.readouterr()
    for extra, message in ((["--roughness", "nan", "--out", "a.zip"], "roughness must be finite"),
                           (["--normal-strength", "65", "--out", "a.zip"], "normal_strength must be in"),
                           (["--tile", "none", "--glb", str(tmp_path / "n.glb")], "tiles"),
                           (["--out", str(tmp_path / "a.png")], "is a .zip"),
                           ([], "give --out")):
        assert main([*base, *extra]) == 2
        assert message in capsys.readouterr().err
    assert main(["material", "--weights", str(weights), "--seed", "1", "--width", "4096", "--height", "2048",
                 "--out", str(tmp_path / "big.zip")]) == 2
    assert "over the limit" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "tex"]
