"""The tab's timeline and A/B (studio/surgery/versions.py), and the versions on screen as part of the
view (View.versions: state, link `vs=`, exports, history's query): on the studio's tiny models (which
ship no snapshots: the timeline says so; A/B compares two models) and on a small studio whose model
ships two snapshots (written by hand with models/snapshots.save_snapshots)."""
import json
from dataclasses import replace
from urllib.parse import parse_qs

import numpy as np
import pytest

from attn_demo.errors import InputError
from attn_demo.models.snapshots import save_snapshots
from attn_demo.serving.engine import RenderArgs
from attn_demo.serving.timeline import Snapshots, ab_picture, frame
from attn_demo.studio.desk import read_state
from attn_demo.studio.surgery.link import NO_VERSIONS, Versions, versions_from_text, versions_to_text
from attn_demo.studio.surgery.versions import VersionsHandlers
from attn_demo.studio.view import DISPLAY, View, parse_state, query_of, state_dict, view_from_query
from conftest import make_model_dir, tiny_generator

VIEW = View("tinycond", RenderArgs(seed=7, psi=0.8, label="cat"), click=(200, 300))
SNAP = View("tiny32", RenderArgs(seed=5, psi=0.9), click=(100, 400))


@pytest.fixture(scope="module")
def h(studio):
    return VersionsHandlers(studio)


@pytest.fixture(scope="module")
def snap_studio(tmp_path_factory):
    """tiny32 ships snapshots at steps 0 and 100; other32 (same resolution) and tiny64 ship none."""
    from attn_demo.serving.loader import find_models
    from attn_demo.studio.core import Studio
    root = tmp_path_factory.mktemp("snapweights")
    make_model_dir(root / "tiny32")
    save_snapshots(root / "tiny32", [(0, tiny_generator(seed=1, gamma=0.0)), (100, tiny_generator(seed=2))])
    make_model_dir(root / "other32", seed=3)
    make_model_dir(root / "tiny64", resolution=64, g_width=8, d_width=8, g_attn=(16,), d_attn=(16,))
    return Studio(find_models(root, kind=None), device="cpu")


@pytest.fixture(scope="module")
def sh(snap_studio):
    return VersionsHandlers(snap_studio)


def test_no_snapshots_is_said(h):
    slider, note, img, a, b, ab_img, ab_info = h.on_refresh("open", VIEW)
    assert "ships no training snapshots" in note and slider["interactive"] is False and img is None
    assert "tiny32" in b["choices"] and a["choices"] == ["tinycond"] and a["value"] == "tinycond"
    picture, info, _, v = h.on_step(0, VIEW)
    assert picture is None and "no timeline" in info and v is VIEW
    with pytest.raises(InputError, match="ships no training snapshots"):
        h.engine("tinycond@100")
    with pytest.raises(InputError, match="ships no training snapshots"):
        h.on_a("tinycond@100", VIEW)
    assert h.on_refresh("", VIEW) == [h.on_refresh("", VIEW)[0]] * 7           # the tab closed: skipped


def test_ab_is_both_engines_maps_at_the_same_click(h, studio):
    v = View("tiny32", RenderArgs(seed=7, psi=0.8), click=(200, 300))
    picture, info, new = h.on_ab("tiny32", "tinyslots", v)
    a = frame(studio.engine("tiny32"), "tiny32", RenderArgs(7, 0.8), (200, 300), DISPLAY, v.map, 8)
    b = frame(studio.engine("tinyslots"), "tinyslots", RenderArgs(7, 0.8), (200, 300), DISPLAY, v.map, 8)
    assert np.array_equal(picture, ab_picture(a, b)) and "tinyslots" in info
    assert new.versions == Versions(None, "tinyslots") and replace(new, versions=NO_VERSIONS) == v
    with pytest.raises(InputError, match="choose B"):
        h.on_ab("tinycond", "", VIEW)
    with pytest.raises(InputError, match="not a model here"):
        h.on_ab("tinycond", "nope", VIEW)
    with pytest.raises(InputError, match="A is the view's model"):
        h.on_ab("tiny32", "tinyslots", VIEW)


def test_the_step_on_screen_is_the_timelines_and_as(sh, snap_studio):
    """The slider and A's choice are one value; A/B of two snapshots of the same model in the tab."""
    slider, note, img, a, b, ab_img, _ = sh.on_refresh("open", SNAP)
    assert slider["interactive"] and slider["maximum"] == 1 and img is None and ab_img is None
    assert a["choices"] == ["tiny32", "tiny32@0", "tiny32@100"] and a["value"] == "tiny32"
    assert b["choices"] == ["other32", "tiny32", "tiny32@0", "tiny32@100"]          # not tiny64: 64 px
    picture, info, a_update, v = sh.on_step(0, SNAP)
    assert v.versions == Versions(0, None) and a_update["value"] == "tiny32@0" and "step 0" in info
    snaps = Snapshots(snap_studio.engine("tiny32"))
    f0 = frame(snaps.engine(0), "tiny32@0", SNAP.args, SNAP.click, DISPLAY, SNAP.map, 8)
    assert np.array_equal(picture, sh.timeline(v)[0]) and "γ G16 +0.000" in info
    slider_update, v = sh.on_a("tiny32@100", v)
    assert v.versions.step == 100 and slider_update["value"] == 1
    picture, info, v = sh.on_ab("tiny32@0", "tiny32@100", v)            # A at one step, B at another
    f100 = frame(snaps.engine(100), "tiny32@100", SNAP.args, SNAP.click, DISPLAY, SNAP.map, 8)
    assert np.array_equal(picture, ab_picture(f0, f100)) and v.versions == Versions(0, "tiny32@100")
    assert "A **tiny32@0**" in info and "B **tiny32@100**" in info
    # the view set anew shows the same (a link, a kept view, a dropped PNG)
    slider, _, img, a, b, ab_img, _ = sh.on_refresh("open", v)
    assert slider["value"] == 0 and a["value"] == "tiny32@0" and b["value"] == "tiny32@100"
    assert np.array_equal(ab_img, picture) and img is not None
    # the same limits as the CLI's --step and the API's model@step
    with pytest.raises(InputError, match="no snapshot at step 50; its snapshots are at steps 0, 100"):
        sh.on_a("tiny32@50", v)
    with pytest.raises(InputError, match="whole step"):
        sh.on_a("tiny32@x", v)
    with pytest.raises(InputError, match="one resolution"):
        sh.on_ab("tiny32", "tiny64", v)


def test_versions_travel_in_state_link_history_and_exports(snap_studio):
    v = replace(SNAP, versions=Versions(100, "other32"))
    engine = snap_studio.engine("tiny32")
    state = state_dict(v, engine.weights_sha256)
    assert state["versions"] == {"step": 100, "b": "other32"}
    assert parse_state(json.loads(json.dumps(state)), snap_studio.engines)[0] == v
    query = query_of(v)
    assert "vs=100%2Cother32" in query
    params = {k: x[-1] for k, x in parse_qs(query[1:]).items()}
    assert view_from_query(params, snap_studio.engines, SNAP) == v
    assert "vs=" in json.loads(snap_studio.page_data(v, False))["query"]               # history, favourites
    for vs in (Versions(100), Versions(None, "tiny32@0"), Versions(0, "tiny32")):
        assert versions_from_text(versions_to_text(vs)) == vs
    for f in snap_studio.export(v):                                          # every PNG carries the view
        if f.suffix == ".png":
            assert snap_studio.parse_state(read_state(f.read_bytes()))[0] == v
    # states and links from before have none, and load as before
    state = state_dict(SNAP, engine.weights_sha256)
    assert "versions" not in state and "vs=" not in query_of(SNAP)
    assert parse_state(state, snap_studio.engines)[0].versions == NO_VERSIONS


@pytest.mark.parametrize("forged, link, message", [
    ({"step": 50}, "50", "no snapshot at step 50; its snapshots are at steps 0, 100"),
    ({"b": "nope"}, ",nope", "not a model here"),
    ({"b": "tiny64"}, ",tiny64", "one resolution"),
    ({"b": "other32@0"}, ",other32@0", "other32 ships no training snapshots"),
    ({"b": "tiny32@7"}, ",tiny32@7", "no snapshot at step 7"),
    ({"b": "tiny32@x"}, ",tiny32@x", "whole step"),
    ({"step": "100"}, "1e2", "whole number"),
    ({"step": True}, "-1", "whole number"),
    ({"step": 1.5}, "1.5,other32", "whole number"),
    ({"evil": 1}, "x" * 500, "unknown fields|too long"),
    ("100", "١٠٠", "not an object|whole number"),
])
def test_forged_versions_are_refused(snap_studio, forged, link, message):
    engine = snap_studio.engine("tiny32")
    state = {**state_dict(SNAP, engine.weights_sha256), "versions": forged}
    with pytest.raises(InputError, match=message):
        parse_state(state, snap_studio.engines)
    with pytest.raises(InputError, match=message):
        view_from_query({"model": "tiny32", "seed": "5", "vs": link}, snap_studio.engines, SNAP)


def test_a_step_on_a_model_without_snapshots_is_refused(studio):
    state = {**state_dict(VIEW, studio.engine("tinycond").weights_sha256), "versions": {"step": 0}}
    with pytest.raises(InputError, match="tinycond ships no training snapshots"):
        parse_state(state, studio.engines)


def test_another_model_drops_the_versions(snap_studio):
    from attn_demo.studio.events import Handlers
    from attn_demo.studio.view import MAX_SLIDERS
    handlers = Handlers(snap_studio, SNAP)
    v = replace(SNAP, versions=Versions(0, "other32"))
    rest = [0.0] * MAX_SLIDERS + ["G16", "mean", "where this pixel looks", 0.6, "inferno", "peak"]
    assert handlers.view_from(v, "tiny32", 6, 0.9, None, *rest).versions == v.versions       # a new seed keeps them
    assert handlers.view_from(v, "other32", 5, 0.9, None, *rest).versions == NO_VERSIONS
