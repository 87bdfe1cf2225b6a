"""The walkthrough's bugs that live in the page (issue #33): focus and blur, markers, overlaps."""
import pytest

from test_browser_textures import click_canvas, picture, tex_page as tex_page  # noqa: F401
from test_browser import image_src, page as page  # noqa: F401

pytestmark = pytest.mark.browser


def test_3_a_typed_texture_seed_paints_on_enter(tex_page, studio):
    page = tex_page
    old = image_src(page, "#tex_img img")
    box = page.locator("#tex_seed input")
    box.fill("12")
    box.press("Enter")
    shown = picture(page, "#tex_img img", old)
    desk = studio.canvas
    v = desk.view(desk.default_view(), "tinytex", 12, 128, 128, "both", 1.0, "sand")
    scale = desk.display_scale(v)
    assert (shown[::scale, ::scale] == desk.render(v).image).all()


def test_4_a_click_on_a_texture_draws_a_ring_there(tex_page, studio):
    page = tex_page
    scale = studio.canvas.display_scale(studio.canvas.default_view())
    click_canvas(page, scale * 30 + 1, scale * 50 + 1)
    page.wait_for_function("() => (document.querySelector('#tex_info')?.innerText ?? '').includes('Clicked (30, 50)')",
                           timeout=20000)
    page.wait_for_function("() => document.querySelector('#tex_marker').style.display === 'block'", timeout=5000)
    ring = page.locator("#tex_marker").bounding_box()
    img = page.evaluate("""() => {const i = document.querySelector('#tex_img img'), r = i.getBoundingClientRect();
        const s = Math.min(r.width / i.naturalWidth, r.height / i.naturalHeight, 1);
        return {x: r.x + (r.width - i.naturalWidth * s) / 2, y: r.y + (r.height - i.naturalHeight * s) / 2, s}}""")
    cx, cy = ring["x"] + ring["width"] / 2, ring["y"] + ring["height"] / 2      # 18 px, margin -9 px
    want_x, want_y = img["x"] + (30.5 * scale) * img["s"], img["y"] + (50.5 * scale) * img["s"]
    assert abs(cx - want_x) <= 3 and abs(cy - want_y) <= 3, (cx, cy, want_x, want_y)


@pytest.mark.parametrize("elem_id, typed, message", [("ds_count", 100000, "at most 256 images per class"),
                                                     ("grid_count", 1000, "at most 64 images in the gallery")])
def test_8_a_typed_count_beyond_the_range_says_it_was_clamped(page, elem_id, typed, message):
    page.get_by_role("tab", name="Gallery").click()
    box = page.locator(f"#{elem_id} input[type='number']")
    box.fill(str(typed))
    box.press("Tab")
    page.wait_for_selector(f"text={message}", timeout=20000)


def overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_10_compare_and_the_slider_previews_keep_their_pictures_clear(page, app_url):
    from test_browser import click_pixel, wait_ready
    page.goto(app_url + "?model=tinycond&seed=3&class=cat&x=100&y=100")
    wait_ready(page)
    page.wait_for_selector("#slider_img img", timeout=30000)
    label = page.locator("#slider_img [data-testid='block-label']").bounding_box()
    assert not overlap(label, page.locator("#slider_img img").bounding_box())       # "direction 1" stays clear
    page.get_by_role("tab", name="Compare").click()
    for xy in [(100, 100), (300, 300)]:
        click_pixel(page, *xy)
        page.wait_for_timeout(1500)                  # the click's map and View (the line may follow the pointer)
        page.click("#pin_btn")
    page.wait_for_selector("#compare_img img", timeout=20000)
    button = page.locator("#compare_img button[aria-label='Download']").bounding_box()
    assert not overlap(button, page.locator("#compare_img img").bounding_box())      # the last tile stays clear


def test_5_the_copy_panel_shows_all_8_neighbours_with_whole_captions(page, studio, monkeypatch):
    import numpy as np
    thumbs = [(np.full((64, 64, 3), 30 * i, np.uint8), f"0.{i}23 · smiling-face-{i}") for i in range(8)]
    monkeypatch.setattr(studio, "neighbours", lambda v, k=8: {"features": thumbs, "pixels": thumbs})
    page.click("#nn_panel button, #nn_panel .label-wrap")
    page.click("#next_btn")                                       # a new image asks for its neighbours
    page.wait_for_function("() => document.querySelectorAll('#nn_features img').length === 8", timeout=30000)
    page.wait_for_timeout(500)
    shown = page.evaluate("""() => {
        const g = document.querySelector('#nn_features').getBoundingClientRect();
        return [...document.querySelectorAll('#nn_features img')].map(i => {
            const r = i.getBoundingClientRect();
            return r.width > 20 && r.height > 20 && r.right <= g.right + 1 && r.bottom <= g.bottom + 1; }); }""")
    assert shown == [True] * 8
    cut = page.evaluate("""() => [...document.querySelectorAll('#nn_features .caption-label, #nn_features figcaption')]
        .filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.innerText)""")
    assert cut == []
