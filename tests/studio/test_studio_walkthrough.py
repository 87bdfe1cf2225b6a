"""The bugs a new user's walkthrough of the studio found (issue #33), each pinned by a test that
fails without its fix. The handlers are called as Gradio calls them, without a browser."""
from dataclasses import replace

import pytest

from attn_demo.serving.engine import MapSettings, RenderArgs
from attn_demo.studio._gradio import gr
from attn_demo.studio.view import View


def handlers(studio, v=None):
    from attn_demo.studio.events import Handlers
    return Handlers(studio, v or View("tiny32", RenderArgs(1)))


def skipped(update) -> bool:
    return update == gr.skip()


def test_1_the_model_list_opened_and_closed_changes_nothing(studio):
    v = View("tinycond", RenderArgs(seed=4, label="fish", sliders=(1.0,)), map=MapSettings("G8", 1))
    assert all(skipped(u) for u in handlers(studio, v).on_model("tinycond", v))


def test_1_a_model_with_the_same_classes_keeps_the_class(studio, monkeypatch):
    v = View("tinycond", RenderArgs(seed=4, label="fish"))
    h = handlers(studio, v)
    engine = studio.engine("tinycond")
    monkeypatch.setitem(studio.engines, "tinycond2", engine)           # the same classes, another name
    assert h.on_model("tinycond2", v)[0]["value"] == "fish"
    assert h.on_model("tinycond", View("tiny32", RenderArgs(1)))[0]["value"] == "cat"   # no class before


@pytest.fixture(scope="module")
def demo(studio):
    from attn_demo.studio.ui import build_demo
    return build_demo(studio)


def dependencies(demo, elem_id: str, event: str) -> list[dict]:
    """The config's events that `event` of the component with `elem_id` starts."""
    ids = {b._id for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id}
    return [d for d in demo.config["dependencies"] if any(t[0] in ids and t[1] == event for t in d["targets"])]


def after(demo, dep: dict) -> list[dict]:
    return [d for d in demo.config["dependencies"] if d.get("trigger_after") == dep["id"]]


def test_2_the_picture_button_says_find_again_after_a_refused_picture(demo):
    from attn_demo.studio import web
    (go,) = dependencies(demo, "inv_go", "click")
    done = [d for d in after(demo, go) if d.get("js") == web.INVERT_DONE]
    # Gradio runs .then only after a success: a refused picture (a bomb, not an image) needs .failure
    assert any(d.get("trigger_only_on_failure") for d in done)
    assert any(not d.get("trigger_only_on_failure") for d in done)


def test_7_a_cancel_asked_for_is_news_not_an_error(studio, monkeypatch):
    from attn_demo.serving.invert import Cancelled
    from attn_demo.studio.pictures import PictureHandlers
    infos = []
    monkeypatch.setattr(gr, "Info", lambda msg, *a, **k: infos.append(msg))

    def cancelled(*a, **k):
        raise Cancelled("inversion cancelled")
    monkeypatch.setattr(studio, "invert", cancelled)
    v = View("tiny32", RenderArgs(1))
    view, picture, text = PictureHandlers(studio).on_invert(b"png", v, progress=lambda *a, **k: None)
    assert skipped(view) and skipped(picture) and "cancelled" in text and infos == ["inversion cancelled"]


class Click:
    def __init__(self, x, y):
        self.index = [x, y]


def test_3_the_texture_seed_box_paints_when_left_or_entered(demo):
    paints = [d for d in dependencies(demo, "tex_paint", "click")]
    assert paints
    # page.js turns Enter in a number box into leaving it: leaving the box must paint as the button does
    left = dependencies(demo, "tex_seed", "blur")
    assert left and left[0]["inputs"] == paints[0]["inputs"] and left[0]["outputs"] == paints[0]["outputs"]


def test_4_a_click_on_a_texture_updates_its_numbers(studio):
    from attn_demo.studio.textures import ACTIONS, TextureHandlers
    desk = studio.canvas
    h = TextureHandlers(desk)
    v = desk.view(desk.default_view(), "tinytex", 7, 64, 64, "both", 1.0, "sand")
    scale = desk.display_scale(v)
    overlay, info, new = h.on_inspect(Click(10 * scale, 20 * scale), ACTIONS[0], v)
    assert new.click == (10, 20)
    assert "Clicked (10, 20)" in info and "γ" in info and "64 × 64 px" in info


def test_7_undo_is_disabled_when_there_is_nothing_to_undo(studio):
    from attn_demo.studio.textures import TextureHandlers
    desk = studio.canvas
    h = TextureHandlers(desk)
    v = desk.view(desk.default_view(), "tinytex", 7, 64, 64, "both", 1.0, "sand")
    assert h.undo_state(v)["interactive"] is False
    assert all(skipped(u) for u in h.on_undo(v))                     # a late second press: no red error
    edited = desk.reroll_brush(v, 10, 10, 1, 5)
    assert h.undo_state(edited)["interactive"] is True


def test_6_gamma_in_the_all_layers_labels_is_a_glyph_not_a_box():
    import numpy as np
    from attn_demo.imaging import draw
    tile = [np.zeros((16, 16, 3), np.uint8)]

    def label(text):
        return draw.labelled_grid([tile], [text], [""], label_width=40)[:, :40]
    missing = label("\u0378")                       # an unassigned code point: the font's missing-glyph box
    assert not np.array_equal(label("γ"), missing)
    assert not np.array_equal(label("γ"), label("y"))


def test_9_export_names_say_the_image_size_and_the_maps_their_own(studio):
    v = View("tinycond", RenderArgs(seed=4, psi=0.9, label="fish"), click=(100, 200), map=MapSettings("G8", 1))
    names = [f.name for f in studio.export(v, "x4 pixel")]          # 32 px x 4 = 128 px; maps at 512 px
    assert all("_128px" in n for n in names), names
    assert all("512px" not in n for n in names if "_map512px_" not in n), names
    assert [n for n in names if "_map512px_" in n] == [names[2], names[3]]
    smooth = [f.name for f in studio.export(v, "x4 smooth")]
    assert all("_128px-smooth" in n for n in smooth), smooth


def test_9_texture_export_names_carry_the_surface_psi_and_the_reroll(studio):
    desk = studio.canvas
    v = desk.view(desk.default_view(), "tinytex", 7, 64, 64, "both", 1.0, "sand")
    names = {}
    for key, view in {"sand": v, "rock": replace(v, label="rock"), "psi": replace(v, psi=0.7),
                      "a": desk.reroll_brush(v, 10, 10, 1, 5), "b": desk.reroll_brush(v, 10, 10, 1, 6)}.items():
        names[key] = {f.name for f in desk.export(view)}
    assert all("_sand_seed7_psi1.00" in n for n in names["sand"])
    assert all("_psi0.70" in n for n in names["psi"])
    everything = [n for group in names.values() for n in group]
    assert len(everything) == len(set(everything))               # never one name for two canvases
    assert all("_edited" in n for n in names["a"] | names["b"])


def test_8_a_typed_count_beyond_the_range_is_named(monkeypatch):
    from attn_demo.studio.events import clamp_note
    said = []
    monkeypatch.setattr(gr, "Warning", lambda msg, *a, **k: said.append(msg))
    clamp_note(256, "images per class")(100000)
    clamp_note(256, "images per class")(200)
    assert said == ["at most 256 images per class: 100000 was set to 256"]


def test_10_a_fifth_pin_says_the_first_made_way(studio, monkeypatch):
    said = []
    monkeypatch.setattr(gr, "Warning", lambda msg, *a, **k: said.append(msg))
    v = View("tiny32", RenderArgs(1), click=(50, 60), pins=[(1, 1), (2, 2), (3, 3), (4, 4)])
    _, pinned = handlers(studio).on_pin(v)
    assert pinned.pins == [(2, 2), (3, 3), (4, 4), (50, 60)] and len(said) == 1 and "at most 4 pins" in said[0]
    said.clear()
    handlers(studio).on_pin(replace(v, pins=[(1, 1)]))
    assert said == []


def test_11_an_inverted_picture_empties_the_seed_box_and_an_empty_box_keeps_it(studio):
    engine = studio.engine("tiny32")
    v = View("tiny32", RenderArgs(seed=9, psi=1.0, latent=tuple([0.25] * engine.cfg.z_dim)), click=(10, 10))
    h = handlers(studio, v)
    assert h.seed_of(v) is None                                       # not seed 9: the picture has none
    values = h.values_of(v)
    kept = h.view_from(v, values[0], None, *values[2:])               # the emptied box: the same view
    assert kept.args.latent == v.args.latent
    moved = h.view_from(v, values[0], 10, *values[2:])                # next: seed 10, no latent
    assert moved.args.seed == 10 and moved.args.latent is None
    assert h.seed_of(moved) == 10


def test_5_a_model_without_an_index_says_why_its_panel_is_empty(studio):
    from attn_demo.studio.textures import TextureHandlers
    features, pixels = handlers(studio).on_neighbours(View("tiny32", RenderArgs(1)))
    assert features["visible"] and "Nothing to compare" in features["label"] and pixels["visible"] is False
    desk = studio.canvas
    features, _ = TextureHandlers(desk).on_neighbours(desk.default_view())
    assert features["visible"] and "Nothing to compare" in features["label"]
