"""Live mode in a real browser: the map under the pointer, computed in the page (studio/live.py)."""
import math
import time

import numpy as np
import pytest

from attn_demo.serving.engine import MapSettings, RenderArgs
from attn_demo.serving.probe import LOOKED_AT_BY, LOOKS_AT
from attn_demo.studio.view import DISPLAY, View

from test_browser import page, wait_ready, wait_text  # noqa: F401  (the page fixture)

pytestmark = pytest.mark.browser


def hover_pixel(page, px, py, selector="#gen_img img"):
    """Move the pointer onto display pixel (px, py) of the image (live.js maps with floor)."""
    g = page.evaluate("""s => {const i=document.querySelector(s), r=i.getBoundingClientRect();
        return {x:r.x, y:r.y, w:r.width, h:r.height, nw:i.naturalWidth, nh:i.naturalHeight}}""", selector)
    r = min(g["w"] / g["nw"], g["h"] / g["nh"], 1.0)
    ox, oy = g["x"] + (g["w"] - g["nw"] * r) / 2, g["y"] + (g["h"] - g["nh"] * r) / 2
    page.mouse.move(ox + (px + 0.5) * r, oy + (py + 0.5) * r)


def wait_live(page, count: int, timeout=20.0) -> None:
    """Until the page has drawn `count` live maps in all."""
    page.wait_for_function(f"() => window.attnDemo?.live && window.attnDemo.live.times.length >= {count}",
                           timeout=timeout * 1000)


def canvas_pixels(page) -> np.ndarray:
    data = page.evaluate("""() => { const c = document.getElementById('live_canvas');
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }""")
    return np.asarray(data, np.uint8).reshape(DISPLAY, DISPLAY, 4)[..., :3]


def away_from(px, py, radius=16):
    yy, xx = np.mgrid[:DISPLAY, :DISPLAY]
    return (xx - px) ** 2 + (yy - py) ** 2 > radius ** 2


def open_view(page, app_url, query: str) -> None:
    page.goto(app_url + query)
    page.wait_for_selector("#gen_img img", timeout=30000)
    wait_ready(page)
    wait_payload(page)


@pytest.mark.parametrize("query, view", [
    ("", View("tiny32", RenderArgs(42, 0.8), click=(256, 256))),
    ("?model=tinycond&seed=7&class=dog&psi=0.5&x=100&y=50&layer=G8&head=1",
     View("tinycond", RenderArgs(7, 0.5, "dog"), click=(100, 50), map=MapSettings("G8", 1))),
    ("?model=tinycond&seed=3&class=cat&psi=1&x=10&y=10&mode=looked-at-by",
     View("tinycond", RenderArgs(3, 1.0, "cat"), click=(10, 10), map=MapSettings(None, None, LOOKED_AT_BY))),
    # registers and a null slot: the row's softmax reaches past the picture; the map is drawn at its share
    ("?model=tinyslots&seed=5&psi=0.8&x=300&y=200", View("tinyslots", RenderArgs(5, 0.8), click=(300, 200))),
    ("?model=tinyslots&seed=5&psi=0.8&x=300&y=200&mode=looked-at-by",
     View("tinyslots", RenderArgs(5, 0.8), click=(300, 200), map=MapSettings(None, None, LOOKED_AT_BY))),
])
def test_the_live_map_is_the_servers_map_of_the_pixel_under_the_pointer(page, app_url, studio, query, view):
    if query:
        open_view(page, app_url, query)
    else:
        open_view(page, app_url, "?model=tiny32&seed=42&psi=0.8&x=256&y=256")
    for i, (px, py) in enumerate([(40, 470), (300, 100), (511, 0)]):
        hover_pixel(page, px, py)
        wait_live(page, i + 1)
        assert page.evaluate("() => document.getElementById('live_canvas').style.display") == "block"
        heat = np.asarray(page.evaluate(f"() => Array.from(window.attnDemo.live.heat({px}, {py}))"))
        engine = studio.engine(view.model)
        expected = engine.capture(studio.render(view.model, view.args), view.map.layer).probe(
            px, py, (DISPLAY, DISPLAY), view.map.head, view.map.mode).heat.numpy().reshape(-1)
        np.testing.assert_allclose(heat, expected, rtol=1e-4, atol=1e-6)
        # the picture: the server's overlay of that point (PNG-exact arrays), but for the marker
        drawn = canvas_pixels(page).astype(int)
        server = studio.inspect(View(view.model, view.args, click=(px, py), map=view.map), px, py).overlay
        diff = np.abs(drawn - server.astype(int))[away_from(px, py)].max(axis=1)
        # float rounding may put a rare pixel one palette level away
        assert (diff > 0).mean() < 1e-3 and diff.mean() < 0.05, ((diff > 0).mean(), diff.max())
        assert not np.array_equal(drawn, canvas_before if i else None)
        canvas_before = drawn


def wait_payload(page) -> None:
    page.wait_for_function("() => { const t = document.querySelector('#view_data textarea'); "
                           "return t && t.value.includes('\"live\":{'); }", timeout=30000)


def test_the_click_map_comes_back_when_the_pointer_leaves_and_live_can_be_off(page):
    wait_payload(page)
    hover_pixel(page, 100, 100)
    wait_live(page, 1)
    page.mouse.move(5, 5)
    page.wait_for_function("() => document.getElementById('live_canvas').style.display === 'none'")
    assert page.input_value("#click_info textarea").startswith("x=256, y=256")   # the click is kept
    page.click("#live_toggle input")
    page.wait_for_function("() => document.querySelector('#view_data textarea').value.includes('\"live\":null')")
    hover_pixel(page, 200, 200)
    time.sleep(0.5)
    assert page.evaluate("() => document.getElementById('live_canvas').style.display") == "none"
    assert page.evaluate("() => window.attnDemo.live.times.length") == 1


def test_a_model_too_large_for_the_page_answers_the_pointer_on_the_server(page, studio):
    wait_payload(page)
    limit = studio.live_limit
    studio.live_limit = 1                      # every model is now "too large" to ship
    try:
        page.click("#live_toggle input")       # off, then on: a payload under the new limit
        page.wait_for_function("() => document.querySelector('#view_data textarea').value.includes('\"live\":null')")
        page.click("#live_toggle input")
        page.wait_for_function("() => document.querySelector('#view_data textarea').value.includes('\"server\":true')")
        hover_pixel(page, 123, 321)
        wait_text(page, "x=123, y=321")
        hover_pixel(page, 400, 20)
        wait_text(page, "x=400, y=20")
        assert page.evaluate("() => window.attnDemo.live.times.length") == 0
    finally:
        studio.live_limit = limit


def test_a_forged_pointer_position_is_refused_in_the_click_line(page):
    for forged in ("999,3", "a,b", "1.5,2", "3"):
        page.evaluate("(v) => { window.attnDemo.live.point = v; document.querySelector('#live_go').click(); }", forged)
        wait_text(page, "⚠")
        page.evaluate("() => { document.querySelector('#click_info textarea').value = ''; }")


@pytest.mark.parametrize("query, view", [
    ("?model=tinycond&seed=7&class=dog&psi=0.5&x=100&y=50&layer=G8&head=1",
     View("tinycond", RenderArgs(7, 0.5, "dog"), click=(100, 50), map=MapSettings("G8", 1))),
    ("?model=tinycond&seed=3&class=cat&psi=1&x=10&y=10&mode=looked-at-by",
     View("tinycond", RenderArgs(3, 1.0, "cat"), click=(10, 10), map=MapSettings(None, None, LOOKED_AT_BY))),
    ("?model=tinyslots&seed=5&psi=0.8&x=300&y=200", View("tinyslots", RenderArgs(5, 0.8), click=(300, 200))),
])
def test_the_pixel_line_and_the_numbers_follow_the_pointer(page, app_url, studio, query, view):
    """γ, entropy, distance and peak under the pointer are the server's numbers of that pixel (#33)."""
    open_view(page, app_url, query)
    engine = studio.engine(view.model)
    res = engine.cfg.resolution
    for i, (px, py) in enumerate([(40, 470), (300, 100), (511, 0), (256, 257)]):
        hover_pixel(page, px, py)
        wait_live(page, i + 1)
        got = page.evaluate(f"() => window.attnDemo.live.shown")
        assert (got["x"], got["y"]) == (px, py)
        want = engine.capture(studio.render(view.model, view.args), view.map.layer).probe(
            px, py, (DISPLAY, DISPLAY), view.map.head, view.map.mode).stats()
        assert got["cell"] == want["cell"]
        for key in ("gamma", "entropy_nats", "uniform_entropy_nats", "mean_distance_px", "max_weight", "total_weight",
                    *(("register_share", "null_share") if "null_share" in want else ())):
            assert math.isclose(got[key], want[key], rel_tol=1e-4, abs_tol=1e-6), (key, got[key], want[key])
        line = page.input_value("#click_info textarea")
        assert line == (f"pointer x={px}, y={py} → image pixel ({px * res // DISPLAY}, {py * res // DISPLAY}), "
                        f"attention cell ({want['cell'][0]}, {want['cell'][1]})")
        shown = page.inner_text("#live_numbers")
        assert f"γ (gamma) = {want['gamma']:+.4f}" in shown and f"mean distance {want['mean_distance_px']:.1f} px" in shown
    page.mouse.move(5, 5)                         # off the image: the clicked point's line comes back
    page.wait_for_function("() => document.querySelector('#click_info textarea').value.startsWith('x=')")
    assert page.input_value("#click_info textarea").startswith(f"x={view.click[0]}, y={view.click[1]}")


def test_a_click_draws_its_map_in_the_page_at_once_and_the_server_confirms(page, studio):
    """A click's map is on screen before the server's answer: drawn from the payload at pointer-down,
    held until the server's overlay replaces the old one (#33: click to overlay)."""
    wait_payload(page)
    old = page.evaluate("() => document.querySelector('#attn_img img').src")
    hover_pixel(page, 60, 400)
    page.mouse.down()
    page.wait_for_function("() => window.attnDemo.live.clicks.length >= 1")
    page.mouse.up()
    page.mouse.move(5, 5)                         # leave at once: the clicked map stays until the answer
    assert page.evaluate(f"() => document.getElementById('live_canvas').style.display === 'block' "
                         f"|| document.querySelector('#attn_img img').src !== {old!r}")
    drawn = canvas_pixels(page).astype(int)       # (a hidden canvas keeps its picture)
    v = View("tiny32", RenderArgs(42, 0.8), click=(60, 400))
    server = studio.inspect(v, 60, 400).overlay
    diff = np.abs(drawn - server.astype(int))[away_from(60, 400)].max(axis=1)
    assert (diff > 0).mean() < 1e-3 and diff.mean() < 0.05
    wait_text(page, "x=60, y=400")                # the server's answer
    page.wait_for_function(f"() => document.querySelector('#attn_img img').src !== {old!r}")
    page.wait_for_function("() => document.getElementById('live_canvas').style.display === 'none'")
    assert 0 < page.evaluate("() => window.attnDemo.live.clicks[0]") < 1000
    assert page.evaluate("() => window.attnDemo.live.clickFrames.length") == 1
