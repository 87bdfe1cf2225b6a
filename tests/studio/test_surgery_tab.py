"""The "What attention does" tab's handlers without a browser (studio/surgery/, issue #35): each action on
the view on screen, faithfulness and D's view on request, the intervention in the view's state, link and
exports, and forged states and links refused."""
import json
from dataclasses import replace
from urllib.parse import parse_qs

import numpy as np
import pytest
import torch
from PIL import Image

from attn_demo.errors import InputError
from attn_demo.models.networks import Discriminator
from attn_demo.serving.discriminator import save_discriminator
from attn_demo.serving.engine import RenderArgs
from attn_demo.studio.desk import read_state
from attn_demo.studio.intervene import Intervention, from_view, intervene
from attn_demo.studio.surgery import SurgeryHandlers, intervention_from_text, intervention_to_text
from attn_demo.studio.view import DISPLAY, View, parse_state, query_of, state_dict, view_from_query
from conftest import make_model_dir, tiny_config

VIEW = View("tinycond", RenderArgs(seed=7, psi=0.8, label="cat"), click=(200, 300))


@pytest.fixture(scope="module")
def handlers(studio):
    return SurgeryHandlers(studio)


def expected(studio, v, spec):
    out, faith = intervene(studio.engine(v.model), studio.render(v.model, v.args), spec)
    return out, faith


def test_switch_off_layer_click_and_brush(handlers, studio):
    for scope, brush, want in (("the whole layer", "", "layer"), ("the clicked pixel", "", "pixel"),
                               ("the pixels under the brush", "64, 64, 256, 256", "brush")):
        picture, info, v = handlers.on_run("switch attention off", scope, brush, "", VIEW)
        spec = v.intervention
        assert spec.action == "off" and spec.size == DISPLAY
        out, _ = expected(studio, VIEW, spec)
        assert np.array_equal(picture, out.picture(studio.scale("tinycond", 256)))
        assert f"scope: {want}" in info and "grey levels" in info
        assert (spec.x is not None) == (want == "pixel") and (spec.brush is not None) == (want == "brush")
        assert v.args == VIEW.args and v.click == VIEW.click      # only the intervention changes


def test_hide_and_redirect(handlers, studio):
    picture, info, v = handlers.on_run("hide the brush's region from every pixel", "the clicked pixel",
                                       "0, 0, 256, 512", "", VIEW)
    assert v.intervention.action == "hide" and v.intervention.brush == (0, 0, 256, 512)
    assert v.intervention.x is None                                   # hide takes the brush alone
    assert "hidden cells" in info
    picture, info, v = handlers.on_run("redirect to the target region", "the clicked pixel", "",
                                       "300, 300, 512, 512", VIEW)
    spec = v.intervention
    assert (spec.action, spec.x, spec.y, spec.target) == ("redirect", 200, 300, (300, 300, 512, 512))
    out, _ = expected(studio, VIEW, spec)
    assert np.array_equal(picture, out.picture(studio.scale("tinycond", 256)))
    assert "target cells" in info


@pytest.mark.parametrize("args, message", [
    (("hide the brush's region from every pixel", "the whole layer", "", ""), "brush"),
    (("redirect to the target region", "the clicked pixel", "", ""), "target"),
    (("switch attention off", "the pixels under the brush", "", ""), "brush"),
    (("switch attention off", "the pixels under the brush", "0, 0, 600, 10", ""), "outside"),
    (("switch attention off", "the pixels under the brush", "10, 10, 10, 20", ""), "no pixel"),
    (("switch attention off", "the pixels under the brush", "a, b", ""), "x0,y0,x1,y1"),
    (("redirect to the target region", "the whole layer", "", "0, 0, 10, 10"), "redirect whom"),
])
def test_bad_input_is_refused_with_a_message(handlers, args, message):
    with pytest.raises(InputError, match=message):
        handlers.on_run(*args, VIEW)


def test_a_click_scope_needs_a_click(handlers):
    with pytest.raises(InputError, match="click a pixel"):
        handlers.on_run("switch attention off", "the clicked pixel", "", "", replace(VIEW, click=None))


def test_faithfulness_and_the_curve_on_request(handlers, studio):
    picture, info, sentence, curve, v = handlers.on_faithfulness(3, VIEW)
    assert v.intervention.action == "faithfulness" and v.intervention.k == 3 and not v.intervention.curve
    _, faith = expected(studio, VIEW, v.intervention)
    assert faith.sentence() in sentence
    assert curve["visible"] is False
    *_, curve, v = handlers.on_curve(3, VIEW)
    assert v.intervention.curve and curve["visible"] is True and curve["value"].ndim == 3
    with pytest.raises(InputError, match="k=999"):
        handlers.on_faithfulness(999, VIEW)


def test_corners_draw_rectangles(handlers):
    class Evt:
        def __init__(self, x, y):
            self.index = [x, y]
    brush, target, corner, sketch = handlers.on_corner(Evt(300, 40), "brush", "", "", None, VIEW)
    assert corner == (300, 40) and sketch.shape == (DISPLAY, DISPLAY, 3)
    brush, target, corner, _ = handlers.on_corner(Evt(100, 200), "brush", "", "", corner, VIEW)
    assert (brush, target, corner) == ("100, 40, 301, 201", "", None)
    _, _, corner, _ = handlers.on_corner(Evt(0, 0), "target", brush, "", None, VIEW)
    brush2, target, _, _ = handlers.on_corner(Evt(511, 511), "target", brush, "", corner, VIEW)
    assert brush2 == brush and target == "0, 0, 512, 512"
    with pytest.raises(InputError, match="outside"):
        handlers.on_boxes("0, 0, 513, 10", "", VIEW)


def test_the_intervention_is_part_of_the_view(handlers, studio):
    _, _, v = handlers.on_run("redirect to the target region", "the pixels under the brush",
                              "10, 10, 100, 100", "300, 300, 512, 512", VIEW)
    engine = studio.engine(v.model)
    # the state (and every PNG that carries it)
    state = state_dict(v, engine.weights_sha256)
    back, warnings = parse_state(json.dumps(state), studio.engines)
    assert back.intervention == v.intervention and not warnings
    # the link, and the history's query (the page's data)
    query = query_of(v)
    params = {k: x[-1] for k, x in parse_qs(query[1:]).items()}
    assert view_from_query(params, studio.engines, VIEW).intervention == v.intervention
    page = json.loads(studio.page_data(v, False))
    assert "iv=" in page["query"]
    # shown again when the view comes back (a link, a kept view, a dropped PNG)
    shown = handlers.on_refresh("open", back)
    again = intervene(engine, studio.render(v.model, v.args), v.intervention)[0]
    assert np.array_equal(shown[1], again.picture(studio.scale(v.model, 256)))
    assert shown[5:9] == ["redirect to the target region", "the pixels under the brush", "10, 10, 100, 100",
                          "300, 300, 512, 512"]
    assert handlers.on_refresh("", back) == [handlers.on_refresh("", back)[0]] * 11       # closed: skipped


def test_old_states_and_links_still_load(studio):
    engine = studio.engine("tinycond")
    state = state_dict(VIEW, engine.weights_sha256)
    assert "intervention" not in state and "iv=" not in query_of(VIEW)
    v, _ = parse_state(state, studio.engines)
    assert v.intervention is None and v == VIEW


@pytest.mark.parametrize("forged, message", [
    ({"action": "melt"}, "action must be one of"),
    ({"action": "off", "layer": "G99"}, "layer"),
    ({"action": "off", "evil": 1}, "unknown fields"),
    ({"action": "off", "brush": [0, 0, 1]}, "x0,y0,x1,y1"),
    ({"action": "off", "x": 3}, "both x and y"),
    ({"action": "off", "k": -1}, "k"),
    ({"action": "off", "head": 5}, "head"),
    ("off", "not an object"),
])
def test_forged_states_and_links_are_refused(studio, forged, message):
    engine = studio.engine("tinycond")
    state = {**state_dict(VIEW, engine.weights_sha256), "intervention": forged}
    with pytest.raises(InputError, match=message):
        parse_state(state, studio.engines)
    params = {"model": "tinycond", "seed": "7", "iv": json.dumps(forged)}
    with pytest.raises(InputError, match=message):
        view_from_query(params, studio.engines, VIEW)
    with pytest.raises(InputError, match="not valid JSON"):
        view_from_query({**params, "iv": "{nope"}, studio.engines, VIEW)


def test_link_text_round_trip():
    spec = Intervention("hide", "G16", brush=(1, 2, 3, 4), size=DISPLAY).checked()
    text = intervention_to_text(spec)
    assert "draws" not in text and intervention_from_text(text) == spec


def test_another_model_drops_the_intervention(studio):
    from attn_demo.studio.events import Handlers
    from attn_demo.studio.view import MAX_SLIDERS
    h = Handlers(studio, VIEW)
    v = replace(VIEW, intervention=from_view(VIEW, "off", "layer"))
    rest = [0.0] * MAX_SLIDERS + ["G16", "mean", "where this pixel looks", 0.6, "inferno", "peak"]
    assert h.view_from(v, "tinycond", 7, 0.8, "cat", *rest).intervention == v.intervention
    assert h.view_from(v, "tiny32", 7, 0.8, None, *rest).intervention is None


def test_exports_carry_the_view(handlers, studio):
    with pytest.raises(InputError, match="intervene first"):
        handlers.on_export(VIEW)
    _, _, v = handlers.on_run("switch attention off", "the clicked pixel", "", "", VIEW)
    files = handlers.on_export(v)
    names = [f.rsplit("_", 1)[-1] for f in files]
    assert names == ["before.png", "after.png", "difference.png", "difference.npy", "state.json"]
    out, _ = expected(studio, v, v.intervention)
    assert np.array_equal(np.load(files[3]), out.delta)
    for f in files[:3]:                               # a dropped PNG gives the same view back
        back, _ = studio.parse_state(read_state(open(f, "rb").read()))
        assert back == v
    assert np.array_equal(np.asarray(Image.open(files[0]).convert("RGB"))[::8, ::8], out.before)


def test_d_view_only_with_d(handlers, studio, tmp_path):
    picture, text = handlers.on_d(VIEW)
    assert picture is None and "ships no discriminator" in text
    torch.manual_seed(3)
    path = make_model_dir(tmp_path / "withd", num_classes=3, class_names=("cat", "dog", "fish"), heads=2,
                          d_attn=(16, 8))
    D = Discriminator(tiny_config(num_classes=3, class_names=("cat", "dog", "fish"), heads=2, d_attn=(16, 8)))
    D.train()
    with torch.no_grad():
        D(torch.randn(2, 3, 32, 32), torch.tensor([0, 1]))
    save_discriminator(path, D.eval())
    from attn_demo.studio.core import Studio
    s = Studio([path], device="cpu")
    h = SurgeryHandlers(s)
    v = View("withd", RenderArgs(seed=1, psi=0.8, label="dog"), click=(100, 400))
    picture, text = h.on_d(v)
    assert picture.ndim == 3 and "D's score" in text
    assert h.discriminator("withd") is h.discriminator("withd")        # loaded once
    with pytest.raises(InputError, match="click"):
        h.on_d(replace(v, click=None))
