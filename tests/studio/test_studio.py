"""The studio's logic (no Gradio) and the real app's start-up."""
import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from attn_demo.imaging import draw
from attn_demo.serving.engine import MapSettings, RenderArgs
from attn_demo.errors import AttnDemoError, InputError
from attn_demo.serving.loader import find_models
from attn_demo.serving.latents import slerp
from attn_demo.studio.core import Studio
from attn_demo.studio.view import DISPLAY, View

from conftest import free_port, wait_serving, make_model_dir


@pytest.fixture()
def view():
    return View("tinycond", RenderArgs(seed=4, psi=0.9, label="fish", sliders=(1.0, 0.0, -0.5)),
                click=(100, 200), pins=[(10, 20), (400, 300)], map=MapSettings("G8", 1))


def test_find_models_skips_non_generators(tmp_path, ui_weights):
    assert [p.name for p in find_models(ui_weights)] == ["tiny32", "tinycond", "tinyslots"]
    assert [p.name for p in find_models(ui_weights, kind="canvas")] == ["tinytex"]
    assert [p.name for p in find_models(ui_weights, kind=None)] == ["tiny32", "tinycond", "tinyslots", "tinytex"]
    (tmp_path / "feature_net").mkdir()
    (tmp_path / "feature_net" / "config.json").write_text("{}")
    from attn_demo.models.checkpoint import save_tensors
    import torch
    save_tensors(tmp_path / "feature_net" / "model.safetensors", {"w": torch.zeros(2)}, {"format": "other"})
    assert find_models(tmp_path) == []


def test_broken_model_is_skipped_not_fatal(tmp_path):
    make_model_dir(tmp_path / "good")
    bad = make_model_dir(tmp_path / "bad")
    (bad / "model.safetensors").write_bytes(b"\x80\x04garbage")
    s = Studio(find_models(tmp_path), device="cpu")
    assert s.models == ["good"] and "pickle" in s.problems["bad"]
    (tmp_path / "good" / "model.safetensors").write_bytes(b"")
    with pytest.raises(InputError, match="no loadable model"):
        Studio(find_models(tmp_path), device="cpu")


def test_click_runs_no_generator_pass(studio, view, monkeypatch):
    studio.render(view.model, view.args)
    engine = studio.engine(view.model)
    calls = []
    original = engine.generator.forward
    monkeypatch.setattr(engine.generator, "forward", lambda *a: calls.append(1) or original(*a))
    for x, y in [(0, 0), (511, 511), (200, 17)]:
        out = studio.inspect(view, x, y)
        assert out.overlay.shape == (DISPLAY, DISPLAY, 3)
    studio.summary(view)
    studio.compare(view)
    assert calls == []


def test_compare_tiles(studio, view):
    img = studio.compare(view)
    assert img.shape == (256, 256 * 3, 3)              # the image + one tile per pin
    with pytest.raises(InputError, match="pin"):
        studio.compare(View("tiny32", RenderArgs(1)))


def test_grid_seeds_and_bounds(studio):
    tiles = studio.grid("tiny32", RenderArgs(seed=2 ** 32 - 3), 8)
    assert [s for _, s in tiles] == [2 ** 32 - 3, 2 ** 32 - 2, 2 ** 32 - 1]
    single = studio.engine("tiny32").render(RenderArgs(seed=2 ** 32 - 2)).image
    assert np.abs(tiles[1][0][::4, ::4].astype(int) - single.astype(int)).max() <= 1
    for bad in (0, 65, 2.5, float("nan")):
        with pytest.raises(InputError):
            studio.grid("tiny32", RenderArgs(seed=1), bad)


def test_interpolation_gif(studio, view):
    gif = studio.interpolate(view, [1, 2], frames=5, follow=(100, 100))
    with Image.open(gif) as im:
        assert im.n_frames == 5 and im.size == (512, 256)    # frame + map side by side
    loop = studio.interpolate(View("tiny32", RenderArgs(seed=0)), [1, 2, 3], frames=3)
    with Image.open(loop) as im:
        assert im.n_frames == 9 and im.size == (256, 256)
    for seeds, frames in [([1], 4), ([1, 2], 1), (list(range(20)), 4), ([1, 2, 3], 120)]:
        with pytest.raises(InputError):
            studio.interpolate(view, seeds, frames)


def test_an_exact_loop_is_made_of_prior_samples_and_closes(studio, view):
    """z(theta) = a cos theta + b sin theta: frame 0 is seed A's image, frame n/4 seed B's, and one
    step past the last frame is the first again; as MP4 (H.264) and WebP too."""
    import av
    plain = View("tiny32", RenderArgs(seed=0))
    webp = studio.interpolate(plain, [3, 9], frames=8, path="circle", fmt="webp")
    with Image.open(webp) as im:
        assert im.n_frames == 8 and im.size == (256, 256)
        im.seek(0)
        first = np.asarray(im.convert("RGB"))
        im.seek(2)
        quarter = np.asarray(im.convert("RGB"))
    scale = 256 // 32
    a = draw.upscale_nearest(studio.render("tiny32", RenderArgs(3, 1.0)).image, scale)
    b = draw.upscale_nearest(studio.render("tiny32", RenderArgs(9, 1.0)).image, scale)
    assert np.abs(first.astype(int) - a).max() <= 1 and np.abs(quarter.astype(int) - b).max() <= 1   # lossless
    mp4 = studio.interpolate(plain, [3, 9], frames=6, path="circle", fmt="mp4")
    with av.open(str(mp4)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == 6 and decoded[0].shape == (256, 256, 3)
    assert np.abs(decoded[0].astype(int) - a).mean() < 8                 # H.264 at crf 18: close
    assert not list(mp4.parent.glob("*.part"))
    with pytest.raises(InputError, match="two seeds"):
        studio.interpolate(plain, [1, 2, 3], frames=4, path="circle")
    with pytest.raises(InputError, match="format"):
        studio.interpolate(plain, [1, 2], frames=4, fmt="avi")
    with pytest.raises(InputError, match="path"):
        studio.interpolate(plain, [1, 2], frames=4, path="spiral")


def test_slerp_endpoints():
    import torch
    a, b = torch.randn(16), torch.randn(16)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)


def test_export_files_and_state_round_trip(studio, view):
    import zipfile
    files = studio.export(view, "x4 smooth")
    names = [f.name for f in files]
    stem = "tinycond_fish_seed4_psi0.90_sl"
    assert names[0].startswith(stem) and names[0].endswith("_all.zip")
    assert names[1].startswith(stem) and names[1].endswith("_128px-smooth.png")    # 32 px x 4, Lanczos
    assert [n.rsplit("_", 1)[-1] for n in names[2:]] == ["overlay.png", "heatmap.png", names[4].rsplit("_", 1)[-1],
                                                         "state.json"]
    assert "_g8_looks-at_h1_x100y200_" in names[2] and names[4].endswith(".npy")
    with zipfile.ZipFile(files[0]) as z:                    # the zip holds every other file
        assert sorted(z.namelist()) == sorted(names[1:])
    img = Image.open(files[1])
    assert img.size == (128, 128) and "attn-demo-state" in img.text
    heat = Image.open(files[3])
    assert heat.mode == "RGBA" and heat.size == Image.open(files[2]).size == (512, 512)
    rgba, levels = np.asarray(heat), draw.map_levels(np.load(files[4]), 512, 512)
    assert np.array_equal(rgba[:, :, 3], levels) and levels.max() == 255   # alpha = the map's level
    palette = np.frombuffer(draw.palette(view.map.cmap), np.uint8).reshape(256, 3)
    assert np.array_equal(rgba[:, :, :3], palette[levels])                   # its colormap's colours
    assert np.load(files[4]).shape == (4, 4)               # G8: 8x8 queries, 4x4 keys
    state = json.loads(files[-1].read_text())
    restored, warnings = studio.parse_state(files[-1].read_text())
    assert warnings == [] and restored == view
    assert state["map"]["layer"] == "G8"


def test_export_sizes_and_names_that_never_collide(studio, view):
    from attn_demo.studio import exports
    big = studio.export(view, "1024 pixel")
    assert Image.open(big[1]).size == Image.open(big[2]).size == (1024, 1024)
    assert studio.export(view, "1024 smooth")[1].name == big[1].name.replace("_1024px", "_1024px-smooth")
    others = [replace(view, args=replace(view.args, sliders=(0.5, 0.0, 0.0))),
              replace(view, click=(101, 200)), replace(view, map=replace(view.map, cmap="gray"))]
    names = {f.name for v in [view, *others] for f in studio.export(v, "1024 pixel")[2:4]}
    assert len(names) == 8                                    # every view's overlay and heat map named apart
    with pytest.raises(InputError, match="export size"):
        exports.export_side(32, "2048")


def test_an_exported_png_gives_its_view_back(studio, view):
    from attn_demo.studio.exports import state_from_png
    png = studio.export(view, "native")[1].read_bytes()
    assert studio.parse_state(state_from_png(png))[0] == view
    import io
    plain = io.BytesIO()
    Image.new("RGB", (8, 8)).save(plain, format="PNG")
    for data, message in ((plain.getvalue(), "no attn-demo state"), (b"\x89PNG\r\n\x1a\n broken", "cannot read"),
                          (b"GIF89a", "cannot read")):
        with pytest.raises(InputError, match=message):
            state_from_png(data)


@pytest.mark.parametrize("change,message", [
    ({"app": "other"}, "not an attn-demo state"), ({"version": 99}, "version"),
    ({"model": "../etc"}, "unknown model"), ({"seed": -1}, "seed"), ({"truncation": "NaN"}, "truncation"),
    ({"click": [600, 1]}, "x"), ({"pins": [[1, 1]] * 5}, "pins"), ({"mode": "sideways"}, "mode"),
    ({"colormap": "nope"}, "colormap"), ({"layer": "G99"}, "layer"), ({"class": "horse"}, "class"),
    ({"sliders": [1e9]}, "slider"), ({"sliders": "abc"}, "sliders"), ({"display_size": 99}, "display size"),
])
def test_bad_state_files(studio, view, change, message):
    state = {**studio.state_dict(view), **change}
    with pytest.raises(InputError, match=message):
        studio.parse_state(json.dumps(state))
    with pytest.raises(InputError):
        studio.parse_state(b"\xff\xfe not json")


def test_state_from_other_weights_warns(studio, view):
    state = {**studio.state_dict(view), "weights_sha256": "0" * 64}
    _, warnings = studio.parse_state(json.dumps(state))
    assert warnings and "other weights" in warnings[0]


def test_real_app_starts_and_serves(ui_weights):
    port = free_port()
    env = {**os.environ, "ATTN_DEMO_WEIGHTS": str(ui_weights), "GRADIO_SERVER_PORT": str(port)}
    p = subprocess.Popen([sys.executable, "app.py"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_serving(p, port, 120)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/gradio_api/file=app.py", timeout=5) as r:
            raise AssertionError(f"source file served: {r.status}")
    except urllib.error.HTTPError as e:
        assert e.code in (403, 404)
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_space_settings(studio):
    """README front matter, ZeroGPU decorator, bounded cache and uploads."""
    import gradio
    import spaces

    import attn_demo.studio.guard as guard
    import attn_demo.studio.ui as ui
    from attn_demo.studio.ui import build_demo
    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")).read()
    front = readme.split("---")[1]
    assert "sdk: gradio" in front and f"sdk_version: {gradio.__version__}" in front
    assert 'python_version: "3.11"' in front and "app_file: app.py" in front
    assert guard.gpu is spaces.GPU                      # used when the package is there ...
    assert spaces.GPU(test_space_settings) is test_space_settings   # ... and a no-op off ZeroGPU
    demo = build_demo(studio)
    assert demo.delete_cache == ui.CACHE == (120, 600)
    # Every picture that Gradio encodes is PNG, never its default lossy WEBP.
    encoded = [b for b in demo.blocks.values() if isinstance(b, gradio.Gallery)
               or (isinstance(b, gradio.Image) and b.type == "numpy")]
    assert encoded and all(b.format == "png" for b in encoded)
    app_src = open(os.path.join(os.path.dirname(__file__), "..", "..", "app.py")).read()
    assert 'max_file_size=f"{UPLOAD_MB}mb"' in app_src and "queue_size=QUEUE_SIZE" in app_src
    # the bounded queue is set inside build_demo (before the Blocks closes: one app build less)
    assert demo._queue.max_size == 32 and demo._queue.default_concurrency_limit == ui.CONCURRENCY
    assert build_demo(studio, queue_size=5)._queue.max_size == 5


def test_gallery_pick_sets_the_seed(studio):
    from attn_demo.studio.events import Handlers

    class Evt:
        value = {"image": {}, "caption": "seed 1234"}
    assert Handlers(studio, View("tiny32", RenderArgs(1))).on_pick(Evt()) == 1234
    Evt.value = {"caption": "not a seed"}
    with pytest.raises(AttnDemoError):
        Handlers(studio, View("tiny32", RenderArgs(1))).on_pick(Evt())


def widget_values(seed: int) -> list:
    """What the UI's widgets send for tiny32 at `seed` (Handlers.view_from order), defaults elsewhere."""
    return ["tiny32", seed, 0.8, None, *[0.0] * 8, "G16", "mean", "where this pixel looks", 0.6, "inferno",
            "each map to its own maximum"]


def test_click_maps_the_view_the_last_render_left(studio):
    """The UI's click reads only the session's View; a render leaves its View (new seed, the old
    click) as an output, so the next click maps the image on screen. Both come inline: the image
    as PNG, the overlay as JPEG."""
    from attn_demo.studio.events import Handlers

    class Click:
        index = [300, 100]
    h = Handlers(studio, View("tiny32", RenderArgs(1)))
    start = View("tiny32", RenderArgs(1, 0.8), click=(5, 5))
    values = widget_values(seed=77)
    image, overlay, _, _, _, left = h.on_change(start, *values)
    assert left.args.seed == 77 and left.click == (5, 5)
    assert image["url"].startswith("data:image/png;base64,") and overlay["url"].startswith("data:image/jpeg;")
    picture = studio.display_image("tiny32", studio.render("tiny32", left.args))
    assert base64.b64decode(image["url"].split(",", 1)[1]) == draw.encode_png(picture)
    overlay, legend, stats, text, after = h.on_click(Click(), left)
    assert legend["url"].startswith("data:image/png;base64,")   # the colour scale, inline too
    assert after.click == (300, 100) and after.args == left.args and text.startswith("x=300, y=100")
    prefix = "data:image/jpeg;base64,"                        # the click's overlay comes inline
    assert overlay["url"].startswith(prefix) and overlay["mime_type"] == "image/jpeg"
    served = base64.b64decode(overlay["url"][len(prefix):])
    assert served == draw.encode_jpeg(studio.inspect(after, 300, 100).overlay)
    assert served != draw.encode_jpeg(studio.inspect(replace(after, args=RenderArgs(1, 0.8)), 300, 100).overlay)


def test_summary_and_pinned_maps_are_served_as_jpeg_of_the_studio_pictures(studio):
    from attn_demo.studio.events import Handlers
    h = Handlers(studio, View("tiny32", RenderArgs(1)))
    values = widget_values(seed=5)
    view = View("tiny32", RenderArgs(5, 0.8), click=(40, 300))
    shown = h.view_from(view, *values)                 # the View a render of these values leaves
    path, text = h.on_summary("distance", shown)       # the summary and the comparison read only it
    assert path.endswith(".jpg") and text.startswith("**G16**")
    assert open(path, "rb").read() == draw.encode_jpeg(studio.summary(shown, "distance").overlay)
    path, pinned = h.on_pin(shown)                     # the pin reads the View on screen too
    assert pinned.pins == [(40, 300)] and open(path, "rb").read() == draw.encode_jpeg(studio.compare(pinned))
    path = h.on_compare(pinned)
    assert open(path, "rb").read() == draw.encode_jpeg(studio.compare(pinned))
    assert h.on_compare(shown) is None                 # nothing pinned: an empty comparison


def test_a_refused_value_gives_back_the_widgets_of_the_view_on_screen(studio):
    """After a refused value the widgets go back to the View's values (Widgets.values order); the
    View the handlers read back from them is the same View."""
    from attn_demo.studio.events import Handlers
    h = Handlers(studio, View("tiny32", RenderArgs(1)))
    for view in (View("tiny32", RenderArgs(7, 0.5), click=(3, 4), map=MapSettings("G16", alpha=0.3, cmap="gray")),
                 View("tinycond", RenderArgs(9, 0.9, "dog", (0.5, -1.0, 0.0)), click=(10, 20),
                      map=MapSettings("G8", 1, "looked-at-by", 0.75, "viridis", "uniform"))):
        values = h.values_of(view)
        assert h.on_refused(view)[1] != view.args.seed and h.on_refused(view)[2:] == values[2:]   # seed: the page's
        assert len(values) == 4 + 8 + 6 and values[:3] == [view.model, view.args.seed, view.args.psi]
        assert h.view_from(view, *values) == view


def test_exports_pins_gallery_and_gifs_use_the_view_on_screen(studio, monkeypatch):
    """Not widget values: a refused value (truncation 5, the box clamped to 1) never reaches them."""
    from attn_demo.studio.events import Handlers
    h = Handlers(studio, View("tiny32", RenderArgs(1)))
    shown = View("tiny32", RenderArgs(5, 0.8), click=(40, 300))
    files = h.on_export("native", shown)
    state = json.loads(open(next(f for f in files if f.endswith("_state.json"))).read())
    assert (state["seed"], state["truncation"], state["click"]) == (5, 0.8, [40, 300])
    _, pinned = h.on_pin(shown)
    assert pinned.pins == [(40, 300)] and pinned.args == shown.args
    assert [c for _, c in h.on_grid(4, shown)] == ["seed 5", "seed 6", "seed 7", "seed 8"]
    used = []
    monkeypatch.setattr(studio, "interpolate",
                        lambda v, seeds, frames, follow, fps, progress, path, fmt: used.append(v) or f"x.{fmt}")
    # the picture for GIF and WebP, the looping video player for MP4 (#33), and the file
    image, video, file = h.on_interpolate("1, 7", 4, 12, True, "slerp", "gif", shown, progress=lambda *a, **k: None)
    assert (image["value"], image["visible"], video["value"], video["visible"], file) == ("x.gif", True, None, False,
                                                                                          "x.gif")
    image, video, file = h.on_interpolate("1, 7", 4, 12, True, "circle", "mp4", shown, progress=lambda *a, **k: None)
    assert (image["value"], image["visible"], video["value"], video["visible"], file) == (None, False, "x.mp4", True,
                                                                                          "x.mp4")
    assert used == [shown, shown]


def test_an_empty_seed_box_keeps_the_seed_on_screen(studio):
    from attn_demo.studio.events import Handlers
    h = Handlers(studio, View("tiny32", RenderArgs(1)))
    shown = View("tiny32", RenderArgs(5, 0.8), click=(40, 300))
    values = widget_values(seed=None)
    assert h.view_from(shown, *values).args.seed == 5      # no error while the user types a new seed
    with pytest.raises(InputError, match="whole number"):
        h.view_from(shown, *widget_values(seed=1.5))


def test_the_focused_click_is_the_lowest_entropy_pixel(studio):
    view = View("tinycond", RenderArgs(4, 0.9, "dog"), map=MapSettings("G8", 1))
    x, y = studio.focused_click(view)
    cap = studio.render("tinycond", view.args).captures["G8"]
    _, ent = cap.summary(head=1)
    h, w = cap.grid
    assert float(ent[y * h // DISPLAY, x * w // DISPLAY]) == float(ent.min())
    out = studio.inspect(replace(view, click=(x, y)), x, y)
    assert out.map.entropy_nats == pytest.approx(float(ent.min()), abs=1e-4)


def test_the_colour_scale_is_part_of_the_state_and_old_states_load(studio):
    view = View("tiny32", RenderArgs(3, 0.8), click=(10, 20), map=MapSettings(norm="uniform"))
    state = studio.state_dict(view)
    assert state["colour_scale"] == "uniform"
    assert studio.parse_state(json.dumps(state))[0] == view
    old = {k: v for k, v in state.items() if k != "colour_scale"}          # written before the choice existed
    assert studio.parse_state(json.dumps(old))[0].map.norm == "peak"
    with pytest.raises(InputError, match="colour scale"):
        studio.parse_state(json.dumps({**state, "colour_scale": "log"}))


def test_the_layer_summary_has_a_legend_in_the_views_colormap(studio):
    view = View("tiny32", RenderArgs(3, 0.8), map=MapSettings(cmap="gray"))
    out = studio.summary(view, "entropy")
    assert out.overlay.shape == (512 + 44, 512, 3)
    legend = out.overlay[512 + 14:512 + 28]                                   # the bar's colours
    assert np.all(legend[:, :, 0] == legend[:, :, 1]) and np.all(legend[:, :, 1] == legend[:, :, 2])   # gray


def test_a_link_names_a_view_and_opens_on_it(studio, view):
    from urllib.parse import parse_qsl, urlparse

    from attn_demo.studio.view import query_of, view_from_query
    default = View("tiny32", RenderArgs(42, 0.8), click=(256, 256))
    params = dict(parse_qsl(urlparse(query_of(view)).query))
    assert params["class"] == "fish" and params["x"] == "100" and params["sliders"] == "1,0,-0.5"
    back = view_from_query(params, studio.engines, default)
    assert (back.model, back.args, back.click, back.map.layer, back.map.head) == \
        (view.model, view.args, view.click, view.map.layer, view.map.head)
    assert view_from_query({}, studio.engines, default) is None               # no view in the link
    assert view_from_query({"seed": "7"}, studio.engines, default).args == RenderArgs(7, 0.8)
    for bad, message in (({"model": "../x"}, "unknown model"), ({"seed": "1.5"}, "whole number"),
                         ({"seed": "abc"}, "must be a number"), ({"psi": "nan"}, "finite"),
                         ({"x": "600", "y": "1"}, "x"), ({"model": "tinycond", "class": "horse"}, "class"),
                         ({"layer": "G99"}, "layer")):
        with pytest.raises(InputError, match=message):
            view_from_query(bad, studio.engines, default)


def test_slider_previews_show_each_direction_one_step_down_and_up(studio):
    view = View("tinycond", RenderArgs(4, 0.9, "dog", (0.5, 0.0, 0.0)))
    picture = studio.slider_previews(view, step=1.0, tile=32)
    assert picture.shape[0] > 3 * 32 and picture.shape[1] > 2 * 32          # 3 rows of - / + tiles
    engine = studio.engine("tinycond")
    images, _ = engine.render_many([RenderArgs(4, 0.9, "dog", (-0.5, 0.0, 0.0)),
                                    RenderArgs(4, 0.9, "dog", (1.5, 0.0, 0.0))])
    tiles = [t for t in (images[0], images[1])]
    found = [any(np.array_equal(picture[y:y + 32, x:x + 32], t) for y in range(picture.shape[0] - 31)
                 for x in range(picture.shape[1] - 31)) for t in tiles]
    assert all(found), found                                                 # direction 1 at -0.5 and +1.5
    assert studio.slider_previews(View("tiny32", RenderArgs(1))) is None     # no sliders, no previews


def test_each_slider_spans_its_directions_measured_range(studio, monkeypatch):
    """The sliders end where the model's images stay like the real ones (Directions.spans), and
    the one-step previews stay inside."""
    from attn_demo.studio.events import Handlers
    engine = studio.engine("tinycond")
    monkeypatch.setattr(engine, "directions", replace(engine.directions, spans=(0.5, 1.25, 3.0)))
    updates = Handlers(studio, View("tiny32", RenderArgs(1))).model_updates("tinycond")
    sliders = updates[3:]
    assert [(u["minimum"], u["maximum"]) for u in sliders[:3]] == [(-0.5, 0.5), (-1.25, 1.25), (-3.0, 3.0)]
    assert all(u["visible"] is False for u in sliders[3:])
    view = View("tinycond", RenderArgs(4, 1.0, "cat", (0.5, 0.0, 0.0)))
    assert studio.slider_previews(view) is not None                   # 0.5 + 1 is kept at 0.5
    with pytest.raises(InputError, match="range -0.5 to 0.5"):
        studio.render("tinycond", RenderArgs(4, 1.0, "cat", (0.75, 0.0, 0.0)))


@pytest.mark.parametrize("query, message", [
    ("?model=../../etc/passwd&seed=1", "unknown model"), ("?seed=-3", "seed"), ("?seed=1.5", "seed"),
    ("?psi=nan", "psi"), ("?sliders=9e9,0,0&model=tinycond&class=cat", "slider"), ("?x=99999&y=1", "x must be in"),
    ("?layer=G999", "layer"), ("?head=7&model=tinycond&class=cat", "head"), ("", "names nothing"),
    ("?foo=bar", "names nothing"),
])
def test_a_kept_view_with_a_forged_query_is_refused_clearly(studio, query, message):
    """History and favourites live in the browser: whatever comes back from there is checked like a link."""
    from attn_demo.studio.events import Handlers
    with pytest.raises(AttnDemoError, match=message):
        Handlers(studio, View("tiny32", RenderArgs(1))).on_open(query)


def test_a_kept_view_opens_every_widget_on_it(studio):
    from attn_demo.studio.events import Handlers
    out = Handlers(studio, View("tiny32", RenderArgs(1))).on_open("?model=tinycond&seed=9&class=dog&psi=0.5&x=10&y=20")
    view = out[-1]
    assert view == View("tinycond", RenderArgs(9, 0.5, "dog"), click=(10, 20), map=view.map)
    assert out[0] == "tinycond" and out[1] == 0.5          # the seed box is set after the rest


def test_export_folders_beyond_the_byte_budget_go_oldest_first_but_never_young_ones(tmp_path):
    """The export folders' bytes stay under a budget whatever the request rate (R3 with canvas
    models: 0.7 MB material zips at 0.5 a second): the oldest folders go first; one younger than
    min_age stays even over the budget (its download may be running); `served` is left alone."""
    import os
    import time
    from attn_demo.studio.files import SERVED, ExportFolder, prune_folders
    files = ExportFolder(under=tmp_path / "gradio-cache")
    assert files.root.parent == tmp_path / "gradio-cache" and files.root.name.startswith("attn-demo-export-")
    now = time.time()
    folders = []
    for age in (400, 300, 200, 100, 10):                  # oldest first, 1,000 bytes each
        f = files.new_folder()
        (f / "set.zip").write_bytes(b"x" * 1000)
        os.utime(f, (now - age, now - age))
        folders.append(f)
    served = files.root / SERVED
    served.mkdir()
    (served / "map.jpg").write_bytes(b"x" * 5000)
    os.utime(served, (now - 900, now - 900))
    assert prune_folders(files.root, now, lifetime=350, budget=2500, min_age=60) == 2000
    assert [f.exists() for f in folders] == [False, False, False, True, True] and served.exists()
    # over the budget, but the rest is younger than min_age: kept
    assert prune_folders(files.root, now, lifetime=350, budget=500, min_age=200) == 2000
    assert prune_folders(files.root, now, lifetime=350, budget=500, min_age=50) == 1000
    assert [f.exists() for f in folders] == [False, False, False, False, True]


def test_old_export_folders_with_folders_inside_are_pruned(tmp_path):
    """A data-set export leaves a folder of folders (images/<class>/...); once it was older than
    EXPORT_LIFETIME the next export crashed pruning it (IsADirectoryError, seen in a long test run)."""
    import os
    import time
    from attn_demo.studio.files import EXPORT_LIFETIME, ExportFolder
    files = ExportFolder(tmp_path)
    old = files.new_folder()
    (old / "images" / "cat").mkdir(parents=True)
    (old / "images" / "cat" / "0.png").write_bytes(b"x")
    then = time.time() - EXPORT_LIFETIME - 5
    os.utime(old, (then, then))
    fresh = files.new_file("next.gif")
    assert not old.exists() and fresh.parent.is_dir()
