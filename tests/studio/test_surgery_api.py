"""/intervene and /d_attention through gradio_client: the engine's numbers, clear refusals."""
import numpy as np
import pytest
from PIL import Image

from attn_demo.errors import InputError
from attn_demo.serving.engine import RenderArgs
from attn_demo.serving.regions import box_mask
from attn_demo.serving.surgery import Surgery
from attn_demo.studio.intervene import Intervention


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client
    return Client(app_url, verbose=False)


def test_endpoints_are_described(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    params = {p["parameter_name"]: p for p in api["/intervene"]["parameters"]}
    assert list(params)[:6] == ["model", "seed", "truncation", "label", "sliders", "action"]
    assert params["k"]["type"]["type"] == "integer" and "key cells" in params["k"]["python_type"]["description"]
    assert "/d_attention" in api
    for name in ("brush", "target"):                      # painted masks, as the tab's free-hand brush
        assert "mask:N:BITS" in params[name]["python_type"]["description"]
    ab = {p["parameter_name"]: p for p in api["/ab"]["parameters"]}
    assert "model@step" in ab["model"]["python_type"]["description"] and "resolution" in ab["b"]["python_type"][
        "description"]


def test_intervene_matches_the_engine(client, studio):
    picture, info, files = client.predict("tinycond", 7, 1.0, "cat", "", "off", "G8", -1, -1, 0, "2, 2, 20, 14", "",
                                          5, 8, "mean", 0, api_name="/intervene")
    names = [f.rsplit("/", 1)[-1] for f in files]
    assert [n.rsplit("_", 1)[-1] for n in names] == ["before.png", "after.png", "difference.png", "difference.npy"]
    npy = files[-1]
    engine = studio.engine("tinycond")
    ref = Surgery(engine, engine.render(RenderArgs(7, 1.0, "cat")), "G8").switch_off(
        brush=box_mask((2, 2, 20, 14), (32, 32)))
    assert np.allclose(np.load(npy), ref.delta, atol=1e-5)
    assert info["mean_change_grey"] == pytest.approx(ref.stats()["mean_change_grey"], abs=1e-5)
    assert info["intervention"]["brush"] == [2, 2, 20, 14]
    assert np.asarray(Image.open(picture)).shape == ref.picture(studio.scale("tinycond")).shape


def test_faithfulness_with_its_sentence_and_curve(client):
    _, info, _ = client.predict("tinycond", 7, 1.0, "dog", "", "faithfulness", "", 100, 300, 512, "", "", 3, 4, "1", 1,
                                api_name="/intervene")
    assert "3 brightest cells" in info["sentence"] and info["head"] == 1 and info["curve"]["removed"][0] == 1
    _, info, _ = client.predict("tinycond", 7, 1.0, "dog", "", "faithfulness", "", 100, 300, 512, "", "", 3, 4, "1", 0,
                                api_name="/intervene")
    assert "curve" not in info and "sentence" in info


@pytest.mark.parametrize("args, message", [
    (("hide", "", -1, -1, 0, "", ""), "needs a brush"),
    (("hide", "", -1, -1, 0, "0, 0, 40, 8", ""), "outside the 32x32 image"),
    (("off", "", -1, -1, 0, "0, 0, 32, 32", ""), "every pixel"),
    (("redirect", "", 3, 3, 0, "", "0, 0, 0, 0"), "covers no pixel"),
    (("faithfulness", "", 3, -1, 0, "", ""), "both x and y"),
    (("off", "G99", -1, -1, 0, "", ""), "unknown attention layer"),
    (("cut", "", -1, -1, 0, "", ""), "action must be one of"),
])
def test_bad_input_is_a_message(client, args, message):
    with pytest.raises(Exception, match=message):
        client.predict("tinycond", 7, 1.0, "cat", "", *args, 5, 8, "mean", 0, api_name="/intervene")


def test_k_beyond_the_key_grid(client):
    with pytest.raises(Exception, match="does not fit the key grid"):
        client.predict("tiny32", 7, 1.0, "", "", "faithfulness", "", 3, 3, 0, "", "", 64, 8, "mean", 0,
                       api_name="/intervene")


def test_d_attention_only_with_d_weights(client, studio, tmp_path):
    from gradio_client import handle_file
    from attn_demo.models.networks import Discriminator
    from attn_demo.serving.discriminator import save_discriminator
    picture = tmp_path / "in.png"
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(picture)
    with pytest.raises(Exception, match="this model ships no discriminator"):
        client.predict("tiny32", handle_file(str(picture)), 3, 4, "", "mean", api_name="/d_attention")
    engine = studio.engine("tiny32")
    save_discriminator(engine.path, Discriminator(engine.cfg))
    try:
        _, info = client.predict("tiny32", handle_file(str(picture)), 3, 4, "", "mean", api_name="/d_attention")
        assert [m["layer"] for m in info["maps"]] == ["D16"] and isinstance(info["score"], float)
    finally:
        (engine.path / "discriminator.safetensors").unlink()


def test_intervention_state_round_trip_and_forgeries():
    spec = Intervention("redirect", "G16", 3, 4, None, (0, 0, 8, 8)).checked()
    assert Intervention.from_dict(spec.to_dict()) == spec
    for forged, message in [({"action": "off", "evil": 1}, "unknown fields"), ([1], "not an object"),
                            ({"action": "off", "x": 1.5, "y": 1}, "whole number"),
                            ({"action": "off", "brush": [0, 0, "a", 1]}, "x0,y0,x1,y1"),
                            ({"action": "off", "draws": 10 ** 6}, "draws"),
                            ({"action": "off", "curve": 2}, "curve")]:
        with pytest.raises(InputError, match=message):
            Intervention.from_dict(forged)


def test_from_view_uses_the_views_click_layer_and_head(studio):
    from attn_demo.serving.engine import MapSettings
    from attn_demo.studio.intervene import from_view, intervene
    from attn_demo.studio.view import DISPLAY, View
    view = View("tinycond", RenderArgs(7, 1.0, "cat"), click=(300, 100), map=MapSettings("G8", 1))
    spec = from_view(view, "faithfulness", k=3, draws=2)
    assert (spec.x, spec.y, spec.layer, spec.head, spec.size) == (300, 100, "G8", 1, DISPLAY)
    engine = studio.engine("tinycond")
    out, faith = intervene(engine, studio.render("tinycond", view.args), spec)
    assert faith is not None and faith.layer == "G8" and out.click == (300 * 32 // DISPLAY, 100 * 32 // DISPLAY)
    off = from_view(view, "off", scope="layer")
    assert off.x is None and off.brush is None
    hide = from_view(view, "hide", scope="layer", brush=(0, 0, 256, 512))
    assert hide.brush == (0, 0, 256, 512) and hide.x is None
    with pytest.raises(InputError, match="click a pixel"):
        from_view(View("tinycond", RenderArgs(7)), "off")
    with pytest.raises(InputError, match="scope must be"):
        from_view(view, "off", scope="everything")
