"""The named API endpoints through gradio_client, good and bad inputs, on an in-process server."""
import math

import numpy as np
import pytest
from PIL import Image

from attn_demo.serving.engine import MapSettings, RenderArgs


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client
    return Client(app_url, verbose=False)


def png(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_endpoints_listed(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/generate", "/inspect", "/interpolate", "/grid"} <= names
    assert not any("on_change" in n or "on_click" in n for n in names)   # UI events stay private


def test_generate_matches_engine(client, studio):
    path, info = client.predict("tinycond", 42, 0.8, "dog", "1.5, 0, -1", api_name="/generate")
    expected = studio.engine("tinycond").render(RenderArgs(42, 0.8, "dog", (1.5, 0.0, -1.0))).image
    assert np.array_equal(png(path), expected)
    assert info["seed"] == 42 and info["class"] == 1


def test_inspect_with_explicit_coordinates(client, studio):
    path, stats = client.predict("tinycond", 7, 1.0, "cat", "", 100, 300, 512, "G8", "1", "looked-at-by",
                                 api_name="/inspect")
    engine = studio.engine("tinycond")
    ref = engine.inspect(engine.render(RenderArgs(7, 1.0, "cat")), 100, 300,
                         MapSettings("G8", 1, "looked-at-by"), size=(512, 512), scale=studio.scale("tinycond"))
    assert np.allclose(np.array(stats["map"]), ref.heat, atol=1e-6)
    assert stats["cell"] == ref.stats["cell"] and stats["layer"] == "G8"
    assert np.array_equal(png(path), ref.overlay)


def test_inspect_every_layer_and_the_rollout(client, studio):
    """layer 'all': every layer and head in one picture with each map; 'rollout': through every layer."""
    path, out = client.predict("tinycond", 7, 1.0, "cat", "", 100, 300, 512, "all", "mean", "looks-at",
                               api_name="/inspect")
    engine = studio.engine("tinycond")
    result = engine.render(RenderArgs(7, 1.0, "cat"))
    ref = engine.all_maps(result, 100, 300, MapSettings(), size=(512, 512))
    assert [(m["layer"], m["head"]) for m in out["maps"]] == [(n, h) for n in ("G8", "G16") for h in ("mean", 0, 1)]
    assert np.allclose(np.array(out["maps"][4]["map"]), ref.maps[4].heat.numpy(), atol=1e-6)
    assert np.allclose(np.array(out["rollout"]), ref.rollout, atol=1e-6) and np.array_equal(png(path), ref.picture)
    path, roll = client.predict("tinycond", 7, 1.0, "cat", "", 100, 300, 512, "rollout", "1", "looks-at",
                                api_name="/inspect")
    expected = engine.rollout(result, 100, 300, head=1, size=(512, 512))
    assert roll["layer"] == "rollout" and roll["approximation"] and np.allclose(np.array(roll["map"]), expected)
    with pytest.raises(Exception, match="two or more attention layers"):
        client.predict("tiny32", 7, 1.0, "", "", 1, 1, 32, "rollout", "mean", "looks-at", api_name="/inspect")


def test_interpolate_and_grid(client):
    gif = client.predict("tiny32", "3, 9, 12", 1.0, "", 4, api_name="/interpolate")   # path and format optional
    mp4 = client.predict("tiny32", "3, 9", 1.0, "", 6, "circle", "mp4", api_name="/interpolate")
    assert str(mp4).endswith(".mp4") and open(mp4, "rb").read(12)[4:8] == b"ftyp"
    with Image.open(gif) as im:
        assert im.n_frames == 12                      # a loop: 3 steps x 4 frames
    grid, info = client.predict("tiny32", 5, 6, 1.0, "", "", api_name="/grid")
    assert info["seeds"] == [5, 6, 7, 8, 9, 10]
    assert png(grid).shape[0] > 128


BAD_CALLS = [
    ("/generate", ("nope", 1, 1.0, "", "")),                       # unknown model
    ("/generate", ("../weights/tiny32", 1, 1.0, "", "")),         # path tricks are just unknown names
    ("/generate", ("tiny32", -1, 1.0, "", "")),                     # seed out of range (component bound)
    ("/generate", ("tiny32", 2 ** 40, 1.0, "", "")),
    ("/generate", ("tiny32", 1, float("nan"), "", "")),             # NaN passes Gradio's bound check
    ("/generate", ("tiny32", 1, float("inf"), "", "")),
    ("/generate", ("tiny32", 1, 2.0, "", "")),
    ("/generate", ("tiny32", 1, 1.0, "", "a,b")),                    # malformed sliders
    ("/generate", ("tiny32", 1, 1.0, "", "1e308")),
    ("/generate", ("tinycond", 1, 1.0, "horse", "")),               # unknown class
    ("/generate", ("tinycond", 1, 1.0, "", "")),                    # missing class
    ("/inspect", ("tiny32", 1, 1.0, "", "", -5, 3, 32, "", "mean", "looks-at")),      # forged clicks
    ("/inspect", ("tiny32", 1, 1.0, "", "", 40, 3, 32, "", "mean", "looks-at")),
    ("/inspect", ("tiny32", 1, 1.0, "", "", float("nan"), 3, 32, "", "mean", "looks-at")),
    ("/inspect", ("tiny32", 1, 1.0, "", "", 3, 3, 32, "G99", "mean", "looks-at")),
    ("/inspect", ("tiny32", 1, 1.0, "", "", 3, 3, 32, "", "7", "looks-at")),
    ("/inspect", ("tiny32", 1, 1.0, "", "", 3, 3, 32, "", "mean", "sideways")),
    ("/interpolate", ("tiny32", "1", 1.0, "", 4)),                  # one seed only
    ("/interpolate", ("tiny32", "1, x", 1.0, "", 4)),
    ("/interpolate", ("tiny32", "1, 2", 1.0, "", 1000)),
    ("/grid", ("tiny32", 1, 0, 1.0, "", "")),
    ("/grid", ("tiny32", 1, 65, 1.0, "", "")),
]


@pytest.mark.parametrize("endpoint,args", BAD_CALLS, ids=[f"{e}-{i}" for i, (e, _) in enumerate(BAD_CALLS)])
def test_bad_inputs_give_clear_errors(client, endpoint, args):
    with pytest.raises(Exception) as info:
        client.predict(*args, api_name=endpoint)
    message = str(info.value)
    assert "Traceback" not in message and "File \"" not in message
    assert message.strip() and "internal error" not in message


def test_server_healthy_after_bad_calls(client, studio):
    for endpoint, args in BAD_CALLS[:6]:
        with pytest.raises(Exception):
            client.predict(*args, api_name=endpoint)
    path, _ = client.predict("tiny32", 42, 1.0, "", "", api_name="/generate")
    assert np.array_equal(png(path), studio.engine("tiny32").render(RenderArgs(42)).image)
    assert not math.isnan(float(png(path).mean()))


def raw_call(url, endpoint, payload: str) -> tuple[int, str]:
    """POST a hand-written JSON body (NaN literals included) and read the result stream."""
    import httpx
    r = httpx.post(f"{url}gradio_api/call/{endpoint}", content=payload,
                   headers={"Content-Type": "application/json"}, timeout=30)
    if r.status_code != 200:
        return r.status_code, r.text
    event_id = r.json()["event_id"]
    s = httpx.get(f"{url}gradio_api/call/{endpoint}/{event_id}", timeout=30)
    return s.status_code, s.text


@pytest.mark.parametrize("body", [
    '{"data": ["tiny32", 1, NaN, "", ""]}',
    '{"data": ["tiny32", 1, Infinity, "", ""]}',
    '{"data": ["tiny32", 1, -Infinity, "", ""]}',
    '{"data": ["tiny32", NaN, 1.0, "", ""]}',
    '{"data": ["tiny32", "abc", 1.0, "", ""]}',
    '{"data": ["tiny32", null, 1.0, "", ""]}',
    '{"data": [null, 1, 1.0, "", ""]}',
    '{"data": ["tiny32", 1e400, 1.0, "", ""]}',
    '{"data": "not a list"}',
    '{"nodata": 1}',
    '{broken json',
])
def test_raw_http_garbage_never_gives_a_500_or_traceback(app_url, body):
    status, text = raw_call(app_url, "generate", body)
    assert status in (200, 422), (status, text)
    assert "Traceback" not in text and 'File "' not in text
    if status == 200:
        assert "event: error" in text and "event: complete" not in text


def test_raw_http_forged_click_coordinates(app_url):
    for x, y in [("NaN", "1"), ("1e308", "NaN"), ("-5", "99999"), ('"abc"', "null")]:
        body = f'{{"data": ["tiny32", 1, 1.0, "", "", {x}, {y}, 32, "", "mean", "looks-at"]}}'
        status, text = raw_call(app_url, "inspect", body)
        assert status in (200, 422) and "event: complete" not in text and "Traceback" not in text


def test_forged_click_events_on_the_unqueued_click_route(app_url):
    """Clicks skip the queue (one HTTP round trip); forged event data still gets a clear error."""
    import json

    import httpx
    config = httpx.get(f"{app_url}config", timeout=30).json()
    image_id = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "gen_img")
    fn_index, dep = next((i, d) for i, d in enumerate(config["dependencies"])
                         if [image_id, "select"] in [list(t) for t in d["targets"]])
    assert dep["queue"] is False
    inputs = [next(c for c in config["components"] if c["id"] == i)["props"].get("value") for i in dep["inputs"]]
    for index in ([float("nan"), 1], [1e308, 5], [-5, 99999], ["abc", None], "not a pair", [600, 10]):
        body = json.dumps({"fn_index": fn_index, "data": inputs, "session_hash": "forged",
                           "event_data": {"index": index, "value": None, "selected": True}})
        r = httpx.post(f"{app_url}gradio_api/run/predict", content=body,
                       headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code in (200, 422) and "Traceback" not in r.text and 'File "' not in r.text, (index, r.text)
        if r.status_code == 200:
            overlay, legend, stats, line, view = r.json()["data"]
            assert line.startswith("⚠") and "click" in line, (index, line)
            assert overlay == legend == stats == {"__type__": "update"}      # nothing on screen changes
    # A genuine click on the same route works.
    body = json.dumps({"fn_index": fn_index, "data": inputs, "session_hash": "forged",
                       "event_data": {"index": [100, 200], "value": None, "selected": True}})
    r = httpx.post(f"{app_url}gradio_api/run/predict", content=body,
                   headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 200 and "x=100, y=200" in r.text, r.text


def test_click_answers_with_its_overlay_inline(app_url, studio):
    """The click's answer carries the overlay itself (a JPEG data: URL, no file for the page to
    fetch), the studio's picture of the session's View: build_demo's opening view, clicked."""
    import base64
    import json

    import httpx

    from attn_demo.imaging import draw
    from attn_demo.serving.engine import RenderArgs
    from attn_demo.studio.view import View
    config = httpx.get(f"{app_url}config", timeout=30).json()
    image_id = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "gen_img")
    fn_index = next(i for i, d in enumerate(config["dependencies"])
                    if [image_id, "select"] in [list(t) for t in d["targets"]])
    body = json.dumps({"fn_index": fn_index, "data": [None], "session_hash": "inline",
                       "event_data": {"index": [100, 200], "value": None, "selected": True}})
    r = httpx.post(f"{app_url}gradio_api/run/predict", content=body,
                   headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 200, r.text
    overlay, legend, stats, line, _ = r.json()["data"]
    assert legend["url"].startswith("data:image/png;base64,")          # the colour bar, inline too
    prefix = "data:image/jpeg;base64,"
    assert overlay["url"].startswith(prefix) and "meta" not in overlay and overlay.get("path") is None
    view = View("tiny32", RenderArgs(seed=42, psi=0.8), click=(100, 200))
    expected = studio.inspect(view, 100, 200)
    assert base64.b64decode(overlay["url"][len(prefix):]) == draw.encode_jpeg(expected.overlay)
    assert line.startswith("x=100, y=200") and stats.startswith(f"**{expected.stats['layer']}**")


def test_fast_events_show_no_progress_and_skip_postprocessing(studio):
    """A render, a map change and a click show their pictures inline (no postprocessing) and no
    status tracker (it kept the browser drawing for ~100 ms a step); the page's first render and a
    model switch, which may load a model, keep theirs."""
    from attn_demo.studio.ui import build_demo
    demo = build_demo(studio)
    ids = {getattr(b, "elem_id", None): i for i, b in demo.blocks.items()}
    shown = [f for f in demo.fns.values() if ids["attn_img"] in [b._id for b in f.outputs]]
    assert len(shown) >= 15 and all(f.postprocess is False for f in shown)
    kinds = {f.targets[0][1] for f in shown if f.targets}
    assert {"change", "input", "release", "select", "load"} <= kinds
    for f in shown:
        kind = f.targets[0][1]
        if kind != "then":                                          # a widget, the image or the page
            assert f.show_progress == ("full" if kind == "load" else "hidden"), (f.name, f.targets)
    # after "Reset sliders": hidden; after a model switch, an import, opening a kept view and an
    # inversion (your picture): full
    assert sorted(f.show_progress for f in shown if f.targets[0][1] == "then") == ["full"] * 4 + ["hidden"]


def test_the_api_page_names_and_describes_every_parameter(client):
    """The "Use via API" page reads like the README: real parameter names and each endpoint described."""
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    names = {name: [p["parameter_name"] for p in ep["parameters"]] for name, ep in info.items()}
    assert names["/generate"] == ["model", "seed", "truncation", "label", "sliders"]
    assert names["/inspect"] == ["model", "seed", "truncation", "label", "sliders", "x", "y", "size", "layer",
                                 "head", "mode"]
    assert names["/interpolate"] == ["model", "seeds", "truncation", "label", "frames", "path", "format"]
    assert names["/grid"] == ["model", "seed", "count", "truncation", "label", "sliders"]
    assert not any(n.endswith("_v") for ps in names.values() for n in ps)
    types = {(name, p["parameter_name"]): p["python_type"]["type"] for name, ep in info.items() for p in ep["parameters"]}
    for key in [("/generate", "seed"), ("/inspect", "x"), ("/inspect", "size"), ("/grid", "count"),
                ("/interpolate", "frames")]:
        assert types[key] == "int", (key, types[key])
    assert types[("/generate", "truncation")] == "float"
    for name, ep in info.items():                   # every parameter described, with a real example
        for p in ep["parameters"]:
            assert p["python_type"]["description"], (name, p["parameter_name"])
            assert p["example_input"] != "Hello!!", (name, p["parameter_name"])
    examples = {p["parameter_name"]: p["example_input"] for p in info["/generate"]["parameters"]}
    assert examples["seed"] == 42 and examples["model"] in ("tiny32", "tinycond")


def test_a_fractional_whole_number_sent_to_the_api_is_refused_not_rounded(client):
    with pytest.raises(Exception, match="whole"):
        client.predict("tiny32", 1.5, 1.0, "", "", api_name="/generate")
