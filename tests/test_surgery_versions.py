"""The tab's timeline and A/B handlers (studio/surgery/versions.py) on the studio's tiny models (which
ship no snapshots: the timeline says so; A/B compares two models)."""
import numpy as np
import pytest

from attn_demo.errors import InputError
from attn_demo.serving.engine import RenderArgs
from attn_demo.serving.timeline import ab_picture, frame
from attn_demo.studio.surgery.versions import VersionsHandlers
from attn_demo.studio.view import DISPLAY, View

VIEW = View("tinycond", RenderArgs(seed=7, psi=0.8, label="cat"), click=(200, 300))


@pytest.fixture(scope="module")
def h(studio):
    return VersionsHandlers(studio)


def test_no_snapshots_is_said(h):
    slider, note, b = h.on_refresh(VIEW)
    assert "ships no training snapshots" in note and slider["interactive"] is False
    assert "tiny32" in b["choices"]
    picture, info = h.on_step(0, VIEW)
    assert picture is None and "no timeline" in info
    with pytest.raises(InputError, match="ships no training snapshots"):
        h.engine("tinycond@100")


def test_ab_is_both_engines_maps_at_the_same_click(h, studio):
    v = View("tinycond", RenderArgs(seed=7, psi=0.8, label="cat"), click=(200, 300))
    picture, info = h.on_ab("tinyslots", View("tiny32", RenderArgs(seed=7, psi=0.8), click=(200, 300)))
    a = frame(studio.engine("tiny32"), "tiny32", RenderArgs(7, 0.8), (200, 300), DISPLAY, v.map, 8)
    b = frame(studio.engine("tinyslots"), "tinyslots", RenderArgs(7, 0.8), (200, 300), DISPLAY, v.map, 8)
    assert np.array_equal(picture, ab_picture(a, b)) and "tinyslots" in info
    with pytest.raises(InputError, match="choose B"):
        h.on_ab("", v)
    with pytest.raises(InputError, match="unknown model"):
        h.on_ab("nope", v)
