"""studio/desk.py: every tab's desk has one shape, and one reader loads every state."""
import json

import pytest

from attn_demo.errors import InputError
from attn_demo.serving.engine import RenderArgs
from attn_demo.studio.desk import Desk, check_kind, read_state
from attn_demo.studio.view import View


def test_both_desks_have_the_desk_shape(studio):
    assert isinstance(studio, Desk) and isinstance(studio.canvas, Desk)
    view = View("tiny32", RenderArgs(seed=3))
    assert studio.render(view) is studio.render("tiny32", RenderArgs(seed=3))   # one cached render


def test_read_state_reads_json_and_exported_pngs_and_routes_by_kind(studio):
    view = View("tiny32", RenderArgs(seed=5))
    files = studio.export(view)
    png = next(p for p in files if p.suffix == ".png")
    state = read_state(png.read_bytes())
    assert state == read_state(json.dumps(studio.state_dict(view)).encode())
    assert studio.parse_state(check_kind(state, studio))[0] == view
    with pytest.raises(InputError, match="the Export / import tab"):
        check_kind(state, studio.canvas)
    textures = studio.canvas.state_dict(studio.canvas.default_view())
    with pytest.raises(InputError, match="the Textures tab"):
        check_kind(textures, studio)
    for bad, message in ((None, "no file"), (b"\xff\xfe", "not a valid state"), (b'{"app": "x"}', "not an attn-demo")):
        with pytest.raises(InputError, match=message):
            read_state(bad)
