"""The Textures tab's material panel in a real browser: the GLB on a lit, orbitable object drawn by
three.js that the app serves itself (no request leaves the app), the surround, and the 1:1 zoom."""
import base64
import io
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from test_browser import wait_ready

pytestmark = pytest.mark.browser
SHOTS = Path(tempfile.gettempdir())       # the views' screenshots, to look at by hand


@pytest.fixture()
def tex_page(browser, app_url):
    context = browser.new_context(viewport={"width": 1600, "height": 1400})
    page = context.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(app_url)
    wait_ready(page)
    page.get_by_role("tab", name="Textures").click()
    page.wait_for_selector("#tex_img img", timeout=30000)
    yield page, requests
    context.close()


def shown(page, shape, timeout=60.0) -> dict:
    """Wait until the 3-D view has drawn `shape` (material3d.js sets attnDemo.view3dShown)."""
    page.wait_for_function(f"() => (window.attnDemo || {{}}).view3dShown && "
                           f"(window.attnDemo.view3dShown.shape === '{shape}' || window.attnDemo.view3dShown.error)",
                           timeout=timeout * 1000)
    out = page.evaluate("() => window.attnDemo.view3dShown")
    assert "error" not in out, out
    return out


def view_pixels(page) -> np.ndarray:
    """What the 3-D view draws (its WebGL canvas keeps its drawing buffer)."""
    url = page.evaluate("() => document.querySelector('#tex_3d_view canvas').toDataURL('image/png')")
    png = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def test_the_material_on_a_lit_object_offline(tex_page, app_url):
    page, requests = tex_page
    page.locator("#tex_show3d").scroll_into_view_if_needed()
    t0 = time.perf_counter()
    page.click("#tex_show3d")
    first = shown(page, "sphere")
    first_paint_s = time.perf_counter() - t0
    names = page.locator("#tex_material_files").inner_text()
    assert "_sphere\n.glb" in names and "_material\n.zip" in names, names
    page.locator("#tex_3d_view").screenshot(path=str(SHOTS / "sphere.png"))
    sphere = view_pixels(page)
    assert sphere.std() > 10                       # an object on the background, not an empty view
    centre = sphere[sphere.shape[0] // 2 - 20:sphere.shape[0] // 2 + 20, sphere.shape[1] // 2 - 20:sphere.shape[1] // 2 + 20]
    assert np.abs(centre - np.array([0x1d, 0x20, 0x26])).sum(-1).mean() > 20      # the sphere fills the middle

    # orbit: a drag turns the view
    box = page.locator("#tex_3d_view canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 150, cy + 40, steps=8)
    page.mouse.up()
    time.sleep(0.5)
    assert np.abs(view_pixels(page) - sphere).mean() > 1

    # the surround: the band around the camera, seen from inside (the whole view is texture)
    page.get_by_label("surround: the band around you, seen from inside (360°)").check()
    shown(page, "surround")
    page.locator("#tex_3d_view").screenshot(path=str(SHOTS / "surround.png"))
    inside = view_pixels(page)
    assert (np.abs(inside - np.array([0x1d, 0x20, 0x26])).sum(-1) > 30).mean() > 0.95

    host = urlparse(app_url).netloc
    outside = [u for u in requests if not u.startswith(("data:", "blob:")) and urlparse(u).netloc != host]
    assert outside == [], outside                  # three.js, the GLB and its textures: all from the app
    assert any("vendor/three/three.module.js" in u for u in requests)
    print(f"3-D preview first paint: {first_paint_s:.2f} s from the click; in the page: " +
          ", ".join(f"{k} {v:.0f}" for k, v in first.items() if k.endswith("ms")))


def test_one_to_one_zoom_shows_canvas_pixels(tex_page):
    page, _ = tex_page
    natural, width = page.evaluate("() => { const i = document.querySelector('#tex_img img'); "
                                   "return [i.naturalWidth, i.getBoundingClientRect().width]; }")
    w = int(page.locator("#tex_w input").input_value())
    scale = max(1, 512 // w)
    page.click("#tex_zoom")
    page.wait_for_function("() => document.getElementById('tex_img').classList.contains('tex-1to1')")
    zoomed = page.evaluate("() => document.querySelector('#tex_img img').getBoundingClientRect().width")
    assert zoomed == pytest.approx(natural / scale, abs=1)
    page.click("#tex_zoom")
    page.wait_for_function("() => !document.getElementById('tex_img').classList.contains('tex-1to1')")
    assert page.evaluate("() => document.querySelector('#tex_img img').getBoundingClientRect().width") == \
        pytest.approx(width, abs=1)
