"""The "What attention does" tab redraws for every new View, not only a new image (the bug: a link or a
click that kept the picture left the tab on the previous view), and free-hand painting by clicks."""
from dataclasses import replace

import numpy as np
import pytest

from attn_demo.errors import InputError
from attn_demo.serving.regions import mask_from_text, mask_to_text
from attn_demo.serving.engine import RenderArgs
from attn_demo.studio.intervene import Intervention
from attn_demo.studio.surgery import SurgeryHandlers
from attn_demo.studio.view import DISPLAY, View

VIEW = View("tinycond", RenderArgs(seed=7, psi=0.8, label="cat"), click=(200, 300))


@pytest.fixture(scope="module")
def handlers(studio):
    return SurgeryHandlers(studio)


class Evt:
    def __init__(self, x, y):
        self.index = [x, y]


def test_the_tab_redraws_when_the_view_changes_but_not_the_picture(studio):
    """The wiring: every new View (a new View object each time) makes the page press the tab's hidden
    refresh button, so a kept image with another click, layer or intervention redraws; before, only the
    image's change did. The page presses it only while the tab is on screen, and one request redraws
    the tab and its versions (two queued requests after every render slowed "next seed")."""
    from attn_demo.studio.ui import build_demo
    demo = build_demo(studio)
    try:
        ids = {b.elem_id: b._id for b in demo.blocks.values() if getattr(b, "elem_id", None)}
        states = {b._id for b in demo.blocks.values() if type(b).__name__ == "State"}
        on_view = [f for f in demo.fns.values() if any(t[1] == "change" and t[0] in states for t in f.targets)
                   and "surg_refresh_go" in (f.js or "")]
        assert len(on_view) == 1 and on_view[0].fn is None, "a page-side listener, no request of its own"
        assert "offsetParent" in on_view[0].js                          # only while the tab is on screen
        refreshes = [f for f in demo.fns.values() if ids["surg_sketch"] in [b._id for b in f.outputs]
                     and ids["surg_img"] in [b._id for b in f.outputs]]
        pressed = [f for f in refreshes if (ids["surg_refresh_go"], "click") in f.targets]
        assert len(pressed) == 1
        assert ids["surg_tl_img"] in [b._id for b in pressed[0].outputs]    # the versions, same request
        assert not [f for f in demo.fns.values() if f.fn is not None and f.js
                    and any(t[1] == "change" and t[0] in states for t in f.targets)
                    and ids["surg_tl_img"] in [b._id for b in f.outputs]]
    finally:
        demo.close()


def test_a_view_without_an_intervention_clears_the_last_result(handlers):
    spec = Intervention("off", None, brush=(64, 64, 256, 256), size=DISPLAY).checked()
    shown = handlers.on_refresh("open", replace(VIEW, intervention=spec))
    assert shown[1] is not None and "grey levels" in shown[2] and shown[7] == "64, 64, 256, 256"
    moved = replace(VIEW, click=(10, 20))                  # the same picture, another click, no intervention
    shown = handlers.on_refresh("open", moved, "", "")
    assert shown[1] is None and shown[2] == "" and shown[4]["visible"] is False
    assert np.array_equal(shown[0], handlers.sketch(moved))
    assert not np.array_equal(shown[0], handlers.sketch(VIEW))      # the new click is marked
    assert shown[10] == str(handlers.grid_side(VIEW))
    # a brush being drawn stays on the picture
    shown = handlers.on_refresh("open", moved, "0, 0, 100, 100", "")
    assert np.array_equal(shown[0], handlers.sketch(moved, (0, 0, 100, 100)))


def test_the_run_itself_is_not_computed_twice(handlers, monkeypatch):
    spec = Intervention("hide", None, brush=(0, 0, 256, 512), size=DISPLAY).checked()
    v = replace(VIEW, intervention=spec)
    first = handlers.shown(v, spec)
    monkeypatch.setattr(handlers, "run", lambda *a: (_ for _ in ()).throw(AssertionError("ran again")))
    again = handlers.on_refresh("open", v)
    assert np.array_equal(again[1], first[0])


def test_free_hand_clicks_paint_cells_of_the_layers_grid(handlers, studio):
    side = handlers.grid_side(VIEW)
    brush, target, corner, sketch = handlers.on_corner(Evt(0, 0), "brush: free hand", "", "", None, VIEW)
    assert corner is None and target == ""
    brush, _, _, sketch = handlers.on_corner(Evt(511, 300), "brush: free hand", brush, "", None, VIEW)
    want = np.zeros((side, side), bool)
    want[0, 0] = want[300 * side // DISPLAY, side - 1] = True
    assert np.array_equal(mask_from_text(brush), want)
    assert np.array_equal(sketch, handlers.sketch(VIEW, brush))
    # the painted brush runs as any brush does
    picture, info, v = handlers.on_run("switch attention off", "the pixels under the brush", brush, "", VIEW)
    assert v.intervention.brush == brush and "queries: 2" in info
    # a painted target
    _, target, _, _ = handlers.on_corner(Evt(5, 500), "target: free hand", brush, "", None, VIEW)
    assert mask_from_text(target)[-1, 0]
    _, info, v = handlers.on_run("redirect to the target region", "the pixels under the brush", brush, target, VIEW)
    assert v.intervention.target == target and "target cells: 1" in info


def test_empty_and_all_covering_painted_brushes(handlers):
    side = handlers.grid_side(VIEW)
    with pytest.raises(InputError, match="covers no pixel"):
        handlers.on_boxes("mask:4:AAA", "", VIEW)
    full = mask_to_text(np.ones((side, side), bool))
    with pytest.raises(InputError, match="covers every pixel"):
        handlers.on_run("switch attention off", "the pixels under the brush", full, "", VIEW)
    with pytest.raises(InputError, match="whole image"):
        handlers.on_run("redirect to the target region", "the clicked pixel", "", full, VIEW)


def test_hiding_every_key_cell_leaves_the_slots_and_says_so(handlers, studio):
    """A brush over the whole image hides every key cell: with registers or a null slot each pixel still
    attends to those alone (a question worth asking, kept, and said); without slots it is refused."""
    slots = View("tinyslots", RenderArgs(seed=7, psi=0.8), click=(200, 300))
    picture, info, v = handlers.on_run("hide the brush's region from every pixel", "the whole layer",
                                       f"0, 0, {DISPLAY}, {DISPLAY}", "", slots)
    assert picture is not None and v.intervention.action == "hide"
    assert "left to attend: only the layer's 3 register / null slot(s)" in info
    plain = View("tiny32", RenderArgs(seed=7, psi=0.8), click=(200, 300))
    with pytest.raises(InputError, match="covers every key cell"):
        handlers.on_run("hide the brush's region from every pixel", "the whole layer",
                        f"0, 0, {DISPLAY}, {DISPLAY}", "", plain)
