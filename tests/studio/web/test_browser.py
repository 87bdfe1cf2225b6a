"""A real browser (Debian Chromium via Playwright) clicking the studio."""
import base64
import json
import math
import time
from dataclasses import replace
from urllib.parse import urlparse

import numpy as np
import pytest

from attn_demo.imaging import draw
from attn_demo.serving.engine import MapSettings, RenderArgs
from attn_demo.studio.view import View

pytestmark = pytest.mark.browser
DEFAULT = View("tiny32", RenderArgs(seed=42, psi=0.8), click=(256, 256))


@pytest.fixture()
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1920, "height": 1200}, accept_downloads=True)
    page = context.new_page()
    page.requests = []
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto(app_url)
    page.wait_for_selector("#gen_img img", timeout=30000)
    wait_text(page, "x=256, y=256")
    wait_ready(page)
    yield page
    hosts = {urlparse(u).hostname for u in page.requests if urlparse(u).scheme in ("http", "https", "ws", "wss")}
    assert hosts <= {"127.0.0.1", "localhost"}, f"requests outside localhost: {hosts}"
    context.close()


def wait_ready(page, timeout=30.0) -> None:
    """Until the page's first view has set every widget (the load chain's last step, events.wire)."""
    page.wait_for_function("() => window.attnDemo && window.attnDemo.ready === true", timeout=timeout * 1000)


def wait_text(page, prefix, timeout=20.0):
    deadline = time.time() + timeout
    text = ""
    while time.time() < deadline:
        text = page.input_value("#click_info textarea")
        if text.startswith(prefix):
            return text
        time.sleep(0.05)
    raise AssertionError(f"click info is {text!r}, expected {prefix!r}")


def image_src(page, selector):
    return page.evaluate("s => { const i = document.querySelector(s); return i && i.complete && "
                         "i.naturalWidth > 0 ? i.src : null }", selector)


def image_bytes(page, src) -> bytes:
    """The picture of an image source: inline (a data: URL, as the studio shows its image and the
    clicked map) or a file the page would fetch (the summary, the pinned points)."""
    if src.startswith("data:"):
        return base64.b64decode(src.split(",", 1)[1])
    return page.request.get(src).body()


def wait_new_image(page, selector, old, timeout=20.0) -> bytes:
    """The bytes of the image shown at `selector` once it is loaded and no longer `old`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        src = image_src(page, selector)
        if src and src != old:
            return image_bytes(page, src)
        time.sleep(0.05)
    raise AssertionError(f"{selector} did not change")


def click_pixel(page, px, py, selector="#gen_img img"):
    """Click so that Gradio's mapping gives exactly (px, py).

    Gradio (ImagePreview) computes round((clientX - left - pad) / r) with
    r = min(w/nw, h/nh, 1) and the image centred in its box; mouse events carry
    whole-pixel clientX/clientY, so pick the whole pixel that rounds to px.
    At r = 1 (a wide window) every pixel has one.
    """
    g = page.evaluate("""s => {const i=document.querySelector(s), r=i.getBoundingClientRect();
        return {x:r.x, y:r.y, w:r.width, h:r.height, nw:i.naturalWidth, nh:i.naturalHeight}}""", selector)
    r = min(g["w"] / g["nw"], g["h"] / g["nh"], 1.0)
    ox, oy = g["x"] + (g["w"] - g["nw"] * r) / 2, g["y"] + (g["h"] - g["nh"] * r) / 2
    page.mouse.click(math.ceil(ox + (px - 0.5) * r + 1e-6), math.ceil(oy + (py - 0.5) * r + 1e-6))


def assert_shown(served: bytes, expected: np.ndarray, where=None) -> None:
    """The overlay file the browser got is the engine's array encoded as the studio serves it (JPEG)."""
    assert served == draw.encode_jpeg(expected), where


def test_clicks_reach_handler_and_overlay_matches_engine(page, studio):
    for px, py in [(30, 90), (500, 10), (256, 256), (511, 1), (0, 511), (137, 402)]:
        old = image_src(page, "#attn_img img")
        click_pixel(page, px, py)
        text = wait_text(page, f"x={px}, y={py}")
        shown = wait_new_image(page, "#attn_img img", old)
        assert_shown(shown, studio.inspect(DEFAULT, px, py).overlay, text)
        assert image_src(page, "#attn_img img").startswith("data:image/jpeg;base64,")   # inline, no fetch
    assert image_src(page, "#gen_img img").startswith("data:image/png;base64,")

    # A click reads the View the last render left on the server: after a new seed, it maps that seed.
    old_image = image_src(page, "#gen_img img")
    page.click("#next_btn")
    wait_and_get_src_change(page, old_image)
    old = image_src(page, "#attn_img img")
    click_pixel(page, 300, 200)
    wait_text(page, "x=300, y=200")
    view = View("tiny32", RenderArgs(seed=43, psi=0.8), click=(300, 200))
    assert_shown(wait_new_image(page, "#attn_img img", old), studio.inspect(view, 300, 200).overlay)


def test_summary_and_pinned_maps_follow_the_image_on_screen(page, studio):
    """The layer summary and the pinned points' maps read the View the last render left on the
    server: after "next" both show the new seed's."""
    click_pixel(page, 200, 300)
    wait_text(page, "x=200, y=300")
    page.click("button[role='tab']:has-text('Compare')")
    page.click("#pin_btn")
    seed42 = View("tiny32", RenderArgs(seed=42, psi=0.8), click=(200, 300), pins=[(200, 300)])
    pinned = wait_new_image(page, "#compare_img img", None)
    assert pinned == draw.encode_jpeg(studio.compare(seed42))
    old_compare = image_src(page, "#compare_img img")
    page.click("button[role='tab']:has-text('Layer summary')")
    wait_new_image(page, "#summary_img img", None)
    old_summary = image_src(page, "#summary_img img")

    page.click("#next_btn")
    seed43 = replace(seed42, args=RenderArgs(seed=43, psi=0.8))
    summary = wait_new_image(page, "#summary_img img", old_summary)
    assert summary == draw.encode_jpeg(studio.summary(seed43, "distance").overlay)
    page.click("button[role='tab']:has-text('Compare')")
    assert wait_new_image(page, "#compare_img img", old_compare) == draw.encode_jpeg(studio.compare(seed43))


def select_option(page, elem_id, option):
    page.click(f"#{elem_id} input")
    page.click(f"ul[role='listbox'] li:has-text('{option}')")


def test_mode_and_layer_switches(page, studio):
    click_pixel(page, 200, 300)
    wait_text(page, "x=200, y=300")
    old = image_src(page, "#attn_img img")
    page.click("#mode_radio label:has-text('what looks at this pixel')")
    shown = wait_new_image(page, "#attn_img img", old)
    view = View("tiny32", DEFAULT.args, click=(200, 300), map=MapSettings(mode="looked-at-by"))
    assert_shown(shown, studio.inspect(view, 200, 300).overlay)

    # A model with two attention layers: switch model, then layer.
    old = image_src(page, "#gen_img img")
    select_option(page, "model_dd", "tinycond")
    wait_new_image(page, "#gen_img img", old)
    old = image_src(page, "#attn_img img")
    select_option(page, "layer_dd", "G8")
    shown = wait_new_image(page, "#attn_img img", old)
    cond = View("tinycond", RenderArgs(42, 0.8, "cat", (0.0, 0.0, 0.0)), click=(200, 300),
                map=MapSettings("G8", mode="looked-at-by"))
    assert_shown(shown, studio.inspect(cond, 200, 300).overlay)


def test_export_and_reimport_state_gives_same_image(page, studio, tmp_path):
    click_pixel(page, 120, 40)
    wait_text(page, "x=120, y=40")
    before_src = image_src(page, "#gen_img img")
    before = image_bytes(page, before_src)
    page.click("button[role='tab']:has-text('Export / import')")
    page.click("#export_btn")
    page.wait_for_selector("#export_files a[href$='_state.json']", timeout=20000)
    links = page.eval_on_selector_all("#export_files a", "els => els.map(e => e.href)")
    assert any(h.endswith(".png") for h in links) and any(h.endswith(".npy") for h in links)
    state = json.loads(page.request.get(next(h for h in links if h.endswith("_state.json"))).body())
    assert state["model"] == "tiny32" and state["click"] == [120, 40] and state["seed"] == 42

    page.click("#next_btn")                          # move away: seed 43
    moved_src = wait_and_get_src_change(page, before_src)
    assert image_bytes(page, moved_src) != before

    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    page.set_input_files("#import_file input[type='file']", str(path))
    back_src = wait_and_get_src_change(page, moved_src)
    wait_text(page, "x=120, y=40")
    assert image_bytes(page, back_src) == before      # the same PNG bytes


def wait_and_get_src_change(page, old, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        src = image_src(page, "#gen_img img")
        if src and src != old:
            return src
        time.sleep(0.05)
    raise AssertionError("the image did not change")


def test_narrow_screen_still_clickable(browser, app_url, studio):
    context = browser.new_context(viewport={"width": 420, "height": 900})
    page = context.new_page()
    page.goto(app_url)
    page.wait_for_selector("#gen_img img", timeout=30000)
    wait_text(page, "x=256, y=256")
    page.locator("#gen_img").scroll_into_view_if_needed()
    click_pixel(page, 64, 448)
    # shown smaller than its 512 px, a display pixel is under a client pixel only to within one
    # (clientX/Y are whole numbers; the image's top may sit at a fraction): the click lands there
    page.wait_for_function("() => !document.querySelector('#click_info textarea').value.startsWith('x=256, y=256')")
    text = wait_text(page, "x=")
    x, y = (int(v.split("=")[1]) for v in text.split(" →")[0].split(", "))
    assert abs(x - 64) <= 1 and abs(y - 448) <= 1, text
    context.close()


def set_seed(page, value):
    page.fill("#seed input", str(value))
    page.press("#seed input", "Enter")


def test_seed_buttons_step_and_roll_in_the_page_and_clamp(page, studio):
    seed = lambda: page.input_value("#seed input")  # noqa: E731
    old = image_src(page, "#gen_img img")
    page.click("#prev_btn")                                   # 42 -> 41, and the image follows
    assert wait_and_get_src_change(page, old) and seed() == "41"
    wait_text(page, "x=256, y=256")
    for start, button, expected in [(0, "#prev_btn", "0"), (2**32 - 1, "#next_btn", str(2**32 - 1))]:
        set_seed(page, start)
        page.click(button)
        time.sleep(0.5)
        assert seed() == expected, (start, button)
    old = image_src(page, "#gen_img img")
    page.click("#rand_btn")
    wait_and_get_src_change(page, old)
    assert 0 <= int(seed()) <= 2**32 - 1
    # The browser only stepped the box: the image is the studio's render of that seed.
    shown = image_bytes(page, image_src(page, "#gen_img img"))
    picture = studio.display_image("tiny32", studio.render("tiny32", RenderArgs(seed=int(seed()), psi=0.8)))
    assert shown == draw.encode_png(picture, compress_level=1)


def test_all_layers_and_heads_tab_follows_the_click(page, app_url, studio):
    """The clicked pixel's map in every layer and head (and the rollout) for the View on screen."""
    page.goto(app_url + "?model=tinycond&seed=42&psi=0.8&class=cat&x=256&y=256")
    page.wait_for_selector("#gen_img img", timeout=30000)
    wait_ready(page)
    page.click("button[role='tab']:has-text('All layers & heads')")
    page.wait_for_function("() => { const i = document.querySelector('#all_img img'); return i && i.src; }")
    old = image_src(page, "#all_img img")
    click_pixel(page, 200, 300)
    wait_text(page, "x=200, y=300")
    expected = draw.encode_jpeg(studio.all_maps(View("tinycond", RenderArgs(42, 0.8, "cat", (0.0, 0.0, 0.0)),
                                                      click=(200, 300))))
    shown = wait_new_image(page, "#all_img img", old)
    deadline = time.time() + 20          # the page's first render may land its own picture first
    while shown != expected and time.time() < deadline:
        time.sleep(0.1)
        shown = image_bytes(page, image_src(page, "#all_img img"))
    assert shown == expected


def test_controls_with_one_possible_value_are_hidden(page, app_url):
    """A one-layer, one-head model shows no Layer list, no Head choice and no grid of identical tiles;
    a model with two layers and two heads shows all three (#33)."""
    def shown(selector):
        return page.evaluate(f"() => {{ const e = document.querySelector({selector!r}); "
                             "return !!e && e.offsetParent !== null; }")

    def tab_shown():
        return page.locator("button[role='tab']:has-text('All layers & heads')").count() > 0
    assert not shown("#layer_dd") and not shown("#head_dd") and not tab_shown()
    page.goto(app_url + "?model=tinycond&seed=42&psi=0.8&class=cat&x=256&y=256")
    page.wait_for_selector("#gen_img img", timeout=30000)
    wait_ready(page)
    page.wait_for_function("() => { const e = document.querySelector('#layer_dd'); return e && e.offsetParent; }")
    assert shown("#head_dd")
    page.wait_for_selector("button[role='tab']:has-text('All layers & heads')", timeout=20000)


def test_one_colour_scale_relative_to_uniform(page, studio):
    old = image_src(page, "#attn_img img")
    old_legend = image_src(page, "#attn_legend img")
    assert old_legend and old_legend.startswith("data:image/png;base64,")
    page.click("#norm_radio label:has-text('relative to uniform')")
    shown = wait_new_image(page, "#attn_img img", old)
    view = View("tiny32", DEFAULT.args, click=(256, 256), map=MapSettings("G16", norm="uniform"))
    assert_shown(shown, studio.inspect(view, 256, 256).overlay)
    assert image_src(page, "#attn_legend img") != old_legend


def test_a_ring_marks_the_clicked_pixel_on_the_image(page):
    def ring_centre():
        return page.evaluate("() => { const r = document.querySelector('#click_marker'); if (!r || "
                             "r.style.display === 'none') return null; const b = r.getBoundingClientRect(); "
                             "return [b.x + b.width / 2, b.y + b.height / 2]; }")

    def pixel_centre(px, py):
        g = page.evaluate("""s => {const i=document.querySelector(s), r=i.getBoundingClientRect();
            return {x:r.x, y:r.y, w:r.width, h:r.height, nw:i.naturalWidth, nh:i.naturalHeight}}""", "#gen_img img")
        r = min(g["w"] / g["nw"], g["h"] / g["nh"], 1.0)
        return (g["x"] + (g["w"] - g["nw"] * r) / 2 + (px + 0.5) * r, g["y"] + (g["h"] - g["nh"] * r) / 2 + (py + 0.5) * r)

    for px, py in [(256, 256), (40, 470)]:                 # the opening click, then a new one
        if (px, py) != (256, 256):
            click_pixel(page, px, py)
            wait_text(page, f"x={px}, y={py}")
        deadline = time.time() + 5
        while time.time() < deadline:
            got, want = ring_centre(), pixel_centre(px, py)
            if got and abs(got[0] - want[0]) <= 2 and abs(got[1] - want[1]) <= 2:
                break
            time.sleep(0.05)
        assert got and abs(got[0] - want[0]) <= 2 and abs(got[1] - want[1]) <= 2, (got, want)


def test_dropping_an_exported_png_restores_its_view(page, tmp_path):
    click_pixel(page, 120, 40)
    wait_text(page, "x=120, y=40")
    before_src = image_src(page, "#gen_img img")
    page.click("button[role='tab']:has-text('Export / import')")
    page.click("#export_btn")
    page.wait_for_selector("#export_files a[href$='_all.zip']", timeout=20000)
    links = page.eval_on_selector_all("#export_files a", "els => els.map(e => e.href)")
    png = next(h for h in links if h.endswith("px.png"))
    assert "tiny32_none_seed42_psi0.80_sl0_32px" in png
    path = tmp_path / "exported.png"
    path.write_bytes(page.request.get(png).body())
    page.click("#next_btn")                          # move away: seed 43
    moved_src = wait_and_get_src_change(page, before_src)
    page.set_input_files("#import_file input[type='file']", str(path))
    back_src = wait_and_get_src_change(page, moved_src)
    wait_text(page, "x=120, y=40")
    assert image_bytes(page, back_src) == image_bytes(page, before_src)


def test_a_link_opens_on_its_view_and_the_share_button_makes_one(browser, app_url, studio):
    context = browser.new_context(viewport={"width": 1920, "height": 1200})
    page = context.new_page()
    page.goto(app_url + "?model=tinycond&seed=7&class=dog&psi=0.5&x=100&y=50&layer=G8")
    page.wait_for_selector("#gen_img img", timeout=30000)
    wait_text(page, "x=100, y=50")
    view = View("tinycond", RenderArgs(7, 0.5, "dog"), click=(100, 50), map=MapSettings("G8"))
    picture = studio.display_image("tinycond", studio.render("tinycond", view.args))
    assert image_bytes(page, image_src(page, "#gen_img img")) == draw.encode_png(picture, compress_level=1)
    deadline = time.time() + 10                      # the widgets show the link's view too
    while page.input_value("#seed input") != "7" and time.time() < deadline:
        time.sleep(0.05)
    assert page.input_value("#seed input") == "7"
    page.click("button[role='tab']:has-text('Export / import')")
    page.click("#share_btn")
    deadline = time.time() + 10
    while not page.input_value("#share_link textarea").startswith("http") and time.time() < deadline:
        time.sleep(0.05)
    link = page.input_value("#share_link textarea")
    assert link.startswith(app_url) and "seed=7" in link and "x=100" in link and "class=dog" in link
    # the widgets taking the link's values one by one never made the studio refuse a half-set view
    assert not page.eval_on_selector_all(".toast-body", "els => els.map(e => e.innerText)")
    context.close()
