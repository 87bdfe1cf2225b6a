"""The "What attention does" tab in a real browser: a brush drawn with two clicks, one intervention run
from the page, its picture the studio's, and the share link carrying it."""
import io
import time

import numpy as np
import pytest
from PIL import Image

from attn_demo.studio.intervene import Intervention, intervene
from attn_demo.studio.view import DISPLAY
from test_browser import DEFAULT, click_pixel, image_bytes, image_src, page as page  # noqa: F401

pytestmark = pytest.mark.browser


def wait_box(page, selector, timeout=20.0) -> tuple:
    """The rectangle a box shows once it holds one."""
    deadline = time.time() + timeout
    value = ""
    while time.time() < deadline:
        value = page.input_value(selector)
        if value:
            return tuple(int(v) for v in value.split(","))
        time.sleep(0.05)
    raise AssertionError(f"{selector} stayed empty")


def test_switch_off_under_a_brush_from_the_page(page, studio):
    page.get_by_role("tab", name="What attention does").click()
    page.wait_for_function("() => { const i = document.querySelector('#surg_sketch img'); "
                           "return i && i.complete && i.naturalWidth === %d; }" % DISPLAY, timeout=20000)
    page.locator("#surg_sketch img").scroll_into_view_if_needed()
    before = image_src(page, "#surg_sketch img")
    click_pixel(page, 64, 96, "#surg_sketch img")                 # two corners: the brush
    deadline = time.time() + 20                                   # the first corner is marked
    while image_src(page, "#surg_sketch img") in (None, before) and time.time() < deadline:
        time.sleep(0.05)
    click_pixel(page, 255, 300, "#surg_sketch img")
    brush = wait_box(page, "#surg_brush textarea, #surg_brush input")
    # the page maps a click to the picture's pixel by rounding: within a pixel of the corner asked for
    assert np.abs(np.subtract(brush, (64, 96, 256, 301))).max() <= 1, brush
    page.get_by_label("the pixels under the brush").check()
    page.click("#surg_run")
    page.wait_for_function("() => (document.querySelector('#surg_info')?.innerText ?? '').includes('grey levels')",
                           timeout=30000)
    assert "scope: brush" in page.inner_text("#surg_info")
    deadline = time.time() + 20
    while not image_src(page, "#surg_img img") and time.time() < deadline:
        time.sleep(0.05)
    shown = np.asarray(Image.open(io.BytesIO(image_bytes(page, image_src(page, "#surg_img img")))).convert("RGB"))
    spec = Intervention("off", None, brush=brush, size=DISPLAY)
    out, _ = intervene(studio.engine(DEFAULT.model), studio.render(DEFAULT.model, DEFAULT.args), spec)
    assert np.array_equal(shown, out.picture(studio.scale(DEFAULT.model, 256)))
    # the intervention is part of the view: its link carries it
    page.get_by_role("tab", name="Export / import").click()
    page.click("#share_btn")
    page.wait_for_function("() => document.querySelector('#share_link textarea').value.includes('iv=')")


def test_a_link_with_an_intervention_shows_it(page, app_url, studio):
    """A share link's intervention (iv=) comes back: the tab shows its picture and its controls."""
    from dataclasses import replace
    from attn_demo.studio.view import query_of
    spec = Intervention("hide", None, brush=(0, 0, 256, 512), size=DISPLAY)
    view = replace(DEFAULT, intervention=spec.checked())
    page.goto(app_url.rstrip("/") + "/" + query_of(view))
    page.wait_for_function("() => window.attnDemo && window.attnDemo.ready === true", timeout=30000)
    page.get_by_role("tab", name="What attention does").click()
    page.wait_for_function("() => (document.querySelector('#surg_info')?.innerText ?? '').includes('hide')",
                           timeout=30000)
    assert page.input_value("#surg_brush textarea, #surg_brush input") == "0, 0, 256, 512"
    out, _ = intervene(studio.engine(DEFAULT.model), studio.render(DEFAULT.model, DEFAULT.args), spec)
    deadline = time.time() + 20
    while not image_src(page, "#surg_img img") and time.time() < deadline:
        time.sleep(0.05)
    shown = np.asarray(Image.open(io.BytesIO(image_bytes(page, image_src(page, "#surg_img img")))).convert("RGB"))
    assert np.array_equal(shown, out.picture(studio.scale(DEFAULT.model, 256)))


def sketch_pixels(page, old=None, timeout=20.0) -> np.ndarray:
    """The tab's picture to paint on, once it is not `old` (a src) any more."""
    deadline = time.time() + timeout
    src = image_src(page, "#surg_sketch img")
    while (not src or src == old) and time.time() < deadline:
        time.sleep(0.05)
        src = image_src(page, "#surg_sketch img")
    assert src and src != old, "the tab's picture did not change"
    return np.asarray(Image.open(io.BytesIO(image_bytes(page, src))).convert("RGB"))


def test_a_new_seed_redraws_the_open_tab_and_a_closed_tab_when_it_opens(page, studio):
    """One request refreshes the tab and its versions, pressed by the page only while the tab is on
    screen: a new seed with the tab open redraws it; with the tab closed it is drawn when it opens."""
    from dataclasses import replace
    from attn_demo.serving.engine import RenderArgs
    from attn_demo.studio.surgery import SurgeryHandlers
    handlers = SurgeryHandlers(studio)

    def expected(seed):
        return np.asarray(handlers.sketch(replace(DEFAULT, args=RenderArgs(seed=seed, psi=0.8))))[..., :3]
    page.get_by_role("tab", name="What attention does").click()
    first = sketch_pixels(page)
    assert np.array_equal(first, expected(42))
    old = image_src(page, "#surg_sketch img")
    page.click("#next_btn")                                      # seed 43, the tab open
    assert np.array_equal(sketch_pixels(page, old), expected(43))
    old = image_src(page, "#surg_sketch img")
    page.get_by_role("tab", name="Gallery").click()              # closed: seed 44 draws nothing here
    page.click("#next_btn")
    page.wait_for_function("() => document.querySelector('#seed input').value === '44'")
    page.get_by_role("tab", name="What attention does").click()
    assert np.array_equal(sketch_pixels(page, old), expected(44))


def test_a_and_b_side_by_side_from_the_page(page, studio):
    """The versions accordion: B picked from its list in the page, the button pressed; the picture is
    the handler's A/B of the view on screen, and the view (its link) keeps B."""
    from attn_demo.studio.surgery.versions import VersionsHandlers
    from test_browser import select_option
    h = VersionsHandlers(studio)
    page.get_by_role("tab", name="What attention does").click()
    sketch_pixels(page)                                          # the tab drawn: its choices are set
    page.click("#surg_versions button, #surg_versions .label-wrap")
    page.wait_for_function("() => (document.querySelector('#surg_tl_info')?.innerText ?? '').includes('no training')",
                           timeout=20000)
    select_option(page, "surg_b", "tinyslots")
    page.click("#surg_ab_btn")
    page.wait_for_function("() => (document.querySelector('#surg_ab_info')?.innerText ?? '').includes('tinyslots')",
                           timeout=30000)
    deadline = time.time() + 20
    while not image_src(page, "#surg_ab_img img") and time.time() < deadline:
        time.sleep(0.05)
    shown = np.asarray(Image.open(io.BytesIO(image_bytes(page, image_src(page, "#surg_ab_img img")))).convert("RGB"))
    expected, _ = h.ab(h.with_versions(DEFAULT, None, "tinyslots"))
    assert np.array_equal(shown, np.asarray(expected)[..., :3])
    page.get_by_role("tab", name="Export / import").click()
    page.click("#share_btn")
    page.wait_for_function("() => document.querySelector('#share_link textarea').value.includes('vs=')")
