"""/material and /material_glb (studio/material.py) through gradio_client on the in-process app:
the same maps as the engine, the same names and limits as the CLI, clear errors for bad input."""
import numpy as np
import pytest

from attn_demo.serving import glb
from attn_demo.serving import material_set as M
from attn_demo.studio.textures.material import export_material, view_material

from test_material_set import parse_glb

GOOD = ("tinytex", 4, 64, 32, "x", 1.0, "rock", 5.0, 3.0, 0.7, 0.2)


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client
    return Client(app_url, verbose=False)


def test_the_endpoints_are_listed_with_the_clis_names(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/material", "/material_glb"} <= set(api)
    names = [p["parameter_name"] for p in api["/material_glb"]["parameters"]]
    assert names == ["model", "seed", "width", "height", "tiling", "truncation", "label", *M.LIMITS, "shape", "repeat"]


def test_material_matches_the_engine_and_names_every_map(client, studio):
    path, manifest = client.predict(*GOOD, api_name="/material")
    got_manifest, maps = M.read_zip(path)
    assert got_manifest == manifest
    assert manifest["model"] == "tinytex" and manifest["seed"] == 4 and manifest["surface"] == "rock"
    assert manifest["tiling"] == "x" and (manifest["width"], manifest["height"]) == (64, 32)
    assert manifest["strengths"] == dict(zip(M.LIMITS, GOOD[7:]))
    assert manifest["maps"]["albedo"]["colour_space"] == "sRGB" and manifest["state"]["kind"] == "canvas"
    desk = studio.canvas
    v = desk.view(desk.default_view(), *GOOD[:7])
    want = view_material(desk, v, M.Strengths(*GOOD[7:]))
    for m in M.MAPS:
        assert np.array_equal(maps[m], want.maps[m]), m


def test_material_glb_is_a_gltf_object(client):
    path, info = client.predict(*GOOD, "surround", 2, api_name="/material_glb")
    doc, _ = parse_glb(open(path, "rb").read())
    assert info["shape"] == "surround" and info["repeat"] == 2
    assert doc["extras"]["attn_demo"]["surface"] == "rock" and len(doc["images"]) == 3


BAD = [
    ("/material", dict(roughness=1.5), "greater than maximum value 1.0"),     # Gradio's bound
    ("/material", dict(ao_strength=-1), "less than minimum value 0.0"),
    ("/material", dict(width=4096, height=2048), "over the limit"),
    ("/material", dict(width=60), "multiple of 8"),
    ("/material", dict(tiling="y"), "tiling must be one of"),
    ("/material", dict(label="lava"), "lava"),
    ("/material_glb", dict(shape="torus"), "shape must be one of"),
    ("/material_glb", dict(tiling="none", shape="sphere"), "tiles"),
    ("/material_glb", dict(repeat=1.5), "repeat"),
]


@pytest.mark.parametrize("endpoint, change, message", BAD, ids=[f"{e}-{i}" for i, (e, _, _) in enumerate(BAD)])
def test_bad_input_gets_a_clear_message_and_writes_nothing(client, studio, endpoint, change, message):
    names = ["model", "seed", "width", "height", "tiling", "truncation", "label", *M.LIMITS]
    args = dict(zip(names, GOOD))
    if endpoint == "/material_glb":
        args.update(shape="sphere", repeat=1)
    args.update(change)
    before = set(studio.files.root.rglob("*.zip")) | set(studio.files.root.rglob("*.glb"))
    with pytest.raises(Exception) as info:
        client.predict(*args.values(), api_name=endpoint)
    assert message in str(info.value) and "Traceback" not in str(info.value)
    after = set(studio.files.root.rglob("*.zip")) | set(studio.files.root.rglob("*.glb"))
    assert after == before and not list(studio.files.root.rglob("*.part"))


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_strengths_sent_raw_are_refused(app_url, value):
    """NaN passes Gradio's bounds (and gradio_client cannot even send it): the handler refuses it."""
    import json
    from test_api import raw_call
    for i, name in enumerate(M.LIMITS):
        args = [json.dumps(a) for a in GOOD]
        args[7 + i] = value
        status, text = raw_call(app_url, "material", '{"data": [' + ", ".join(args) + "]}")
        assert status in (200, 422) and "event: complete" not in text and "Traceback" not in text
        if value == "NaN":                      # infinities meet Gradio's bounds first
            assert status == 200 and f"{name} must be finite" in text, text


def test_export_checks_the_object_before_painting(studio):
    desk = studio.canvas
    v = desk.view(desk.default_view(), "tinytex", 1, 32, 32, "none", 1.0, "sand")
    with pytest.raises(Exception, match="tiles"):
        export_material(desk, v, M.Strengths(), "surround", 1)
    zip_path, glb_path = export_material(desk, v, M.Strengths(), "plane", 1)
    assert zip_path.suffix == ".zip" and glb_path.suffix == ".glb"
    assert parse_glb(glb_path.read_bytes())[0]["samplers"][0]["wrapS"] == glb.CLAMP
