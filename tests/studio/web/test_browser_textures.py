"""The Textures tab in a real browser: paint a canvas of any size, click it, re-roll, undo, export."""
import io
import time

import numpy as np
import pytest
from PIL import Image

from attn_demo.studio.textures.desk import CanvasView
from test_browser import click_pixel, image_bytes, image_src, wait_ready

pytestmark = pytest.mark.browser


@pytest.fixture()
def tex_page(browser, app_url):
    context = browser.new_context(viewport={"width": 1920, "height": 1400}, accept_downloads=True)
    page = context.new_page()
    page.goto(app_url)
    wait_ready(page)
    page.get_by_role("tab", name="Textures").click()
    page.wait_for_selector("#tex_img img", timeout=30000)
    yield page
    context.close()


def picture(page, selector, old=None, timeout=30.0) -> np.ndarray:
    deadline = time.time() + timeout
    while time.time() < deadline:
        src = image_src(page, selector)
        if src and src != old:
            return np.asarray(Image.open(io.BytesIO(image_bytes(page, src))).convert("RGB"))
        time.sleep(0.05)
    toasts = page.eval_on_selector_all(".toast-body", "els => els.map(e => e.innerText)")
    raise AssertionError(f"{selector} did not change; messages: {toasts}")


def click_canvas(page, px, py):
    """Click display pixel (px, py) of the canvas (the tab sits low on the page: scroll to it first)."""
    page.locator("#tex_img img").scroll_into_view_if_needed()
    click_pixel(page, px, py, "#tex_img img")


def set_number(page, elem_id, value):
    box = page.locator(f"#{elem_id} input")
    box.fill(str(value))


def test_paint_click_reroll_undo_and_export_a_canvas(tex_page, studio):
    page, desk = tex_page, studio.canvas
    old = image_src(page, "#tex_img img")
    set_number(page, "tex_w", 96)
    set_number(page, "tex_h", 64)
    page.click("#tex_paint")
    shown = picture(page, "#tex_img img", old)
    v = desk.view(desk.default_view(), "tinytex", 7, 96, 64, "both", 1.0, "sand")
    scale = desk.display_scale(v)
    assert scale == 5 and shown.shape == (320, 480, 3)
    assert np.array_equal(shown[::scale, ::scale], desk.render(v).image)       # the canvas, exactly

    # an inspecting click: the map of that canvas pixel
    click_canvas(page, 5 * 70 + 2, 5 * 20 + 2)
    overlay = picture(page, "#tex_overlay img")
    want = desk.inspect(CanvasView(**{**v.__dict__, "click": (70, 20)}), 70, 20).overlay
    assert overlay.shape == want.shape and np.abs(overlay.astype(int) - want).mean() < 3     # JPEG

    # a re-rolling click changes the canvas around it; undo brings back the same bytes
    page.get_by_label("re-roll under the brush").check()
    old = image_src(page, "#tex_img img")
    click_canvas(page, 5 * 12, 5 * 12)
    rerolled = picture(page, "#tex_img img", old)
    assert not np.array_equal(rerolled, shown)
    page.wait_for_function("() => (document.querySelector('#tex_info')?.innerText ?? '').includes('re-rolled')")
    old = image_src(page, "#tex_img img")
    page.click("#tex_undo")
    assert np.array_equal(picture(page, "#tex_img img", old), shown)

    # a size the model cannot paint: a clear message, the canvas stays
    set_number(page, "tex_w", 100)
    page.click("#tex_paint")
    page.wait_for_selector("text=multiple of 8", timeout=20000)

    set_number(page, "tex_w", 96)
    page.click("#tex_export")
    page.wait_for_selector("#tex_files a[href$='_normal.png']", timeout=30000)
    links = page.eval_on_selector_all("#tex_files a", "els => els.map(e => e.href)")
    tile = next(u for u in links if u.endswith("_sand_seed7_psi1.00.png"))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(page.request.get(tile).body()))), desk.render(v).image)
    assert any(u.endswith("_height16.png") for u in links) and any(u.endswith("_state.json") for u in links)


def test_the_nearest_training_crops_follow_the_clicked_window(browser, app_url, studio, tmp_path, monkeypatch):
    """With an index beside the canvas model, the panel under the canvas shows the 8 nearest training
    crops of the window around the click, and a crop of the canvas itself comes first."""
    import shutil
    import torch
    from attn_demo.quality.feature_net import FeatureConfig, FeatureNet
    from attn_demo.quality.neighbours import build_index, grid_crops, save_index
    from attn_demo.studio.neighbours import NeighbourShelf
    desk = studio.canvas
    v = desk.view(desk.default_view(), "tinytex", 7, 128, 128, "both", 1.0, "sand")
    canvas = torch.from_numpy(desk.render(v).image).permute(2, 0, 1)[None]
    torch.manual_seed(0)
    net = FeatureNet(FeatureConfig(num_features=16, widths=(8, 16), num_classes=3)).eval()
    crops, _, _ = grid_crops(canvas, None, 32)                     # 16 crops of this very canvas
    noise = torch.randint(0, 255, (40, 3, 32, 32), dtype=torch.uint8)
    model = shutil.copytree(desk.engine("tinytex").path, tmp_path / "tinytex")
    save_index(model, build_index(net, torch.cat([noise, crops]), None, {}))
    shelf = NeighbourShelf(lambda: net)
    shelf.index("tinytex", model)                                  # loaded from the copy, cached under the name
    monkeypatch.setattr(desk, "shelf", shelf)

    context = browser.new_context(viewport={"width": 1920, "height": 1400})
    page = context.new_page()
    page.goto(app_url)
    wait_ready(page)
    page.get_by_role("tab", name="Textures").click()
    page.wait_for_selector("#tex_img img", timeout=30000)
    page.click("#tex_nn_panel button, #tex_nn_panel .label-wrap")  # open the accordion
    page.wait_for_function("() => document.querySelectorAll('#tex_nn_pixels img').length === 8", timeout=30000)
    # a click on the canvas: the window around (80, 48) is the grid crop at row 1, column 2
    click_canvas(page, 4 * 80 + 2, 4 * 48 + 2)
    page.wait_for_function("() => (document.querySelector('#tex_nn_pixels')?.innerText ?? '').startsWith('By pixels') && "
                           "[...document.querySelectorAll('#tex_nn_pixels .caption-label, #tex_nn_pixels .caption')]"
                           ".some(e => e.innerText.startsWith('0.000'))", timeout=30000)
    context.close()
