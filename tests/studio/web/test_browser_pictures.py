"""The "Your picture" tab in a real browser: an upload becomes the view; a second click cancels."""
import io
import time
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from PIL import Image

from attn_demo.serving.engine import RenderArgs
from attn_demo.studio.view import latent_from_text
from test_browser import image_bytes, image_src, page as page, wait_and_get_src_change  # noqa: F401

pytestmark = pytest.mark.browser


def open_tab(page):
    page.get_by_role("tab", name="Your picture").click()
    page.wait_for_selector("#inv_btn", timeout=10000)


def info(page) -> str:
    return page.inner_text("#inv_info")


def test_an_uploaded_picture_becomes_the_view(page, studio, tmp_path):
    engine = studio.engine("tiny32")
    target = engine.render(RenderArgs(seed=5)).image
    path = tmp_path / "mine.png"
    Image.fromarray(target).resize((96, 96), Image.NEAREST).save(path)
    open_tab(page)
    page.set_input_files("#inv_file input[type='file']", str(path))
    before = image_src(page, "#gen_img img")
    page.click("#inv_btn")
    page.wait_for_function("() => (document.querySelector('#inv_info')?.innerText ?? '').includes('PSNR')", timeout=60000)
    shown = image_bytes(page, wait_and_get_src_change(page, before))
    page.get_by_role("tab", name="Export / import").click()
    page.click("#share_btn")
    page.wait_for_function("() => document.querySelector('#share_link textarea').value.includes('latent=')")
    link = page.input_value("#share_link textarea")
    params = {k: v[-1] for k, v in parse_qs(urlparse(link).query).items()}
    latent = latent_from_text(params["latent"], engine.cfg.z_dim)
    want = engine.render(RenderArgs(seed=int(params["seed"]), psi=1.0, latent=latent)).image
    img = np.asarray(Image.open(io.BytesIO(shown)).convert("RGB"))
    scale = img.shape[0] // want.shape[0]
    assert np.array_equal(img[::scale, ::scale], want)
    assert page.inner_text("#inv_btn") == "Find it in the model"


def test_a_second_click_cancels_and_the_view_stays(page, studio, tmp_path, monkeypatch):
    import attn_demo.serving.invert as inv
    slow = inv.invert
    monkeypatch.setattr(inv, "invert", lambda *a, **k: slow(*a, **{**k, "steps": 5000}))
    path = tmp_path / "mine.png"
    Image.fromarray(studio.engine("tiny32").render(RenderArgs(seed=2)).image).save(path)
    open_tab(page)
    page.set_input_files("#inv_file input[type='file']", str(path))
    before = image_src(page, "#gen_img img")
    page.click("#inv_btn")
    page.wait_for_function("() => (document.querySelector('#inv_btn')?.innerText ?? '') === 'Cancel'")
    time.sleep(1.0)
    page.click("#inv_btn")                                   # the second click
    page.wait_for_selector("text=inversion cancelled", timeout=20000)
    page.wait_for_function("() => (document.querySelector('#inv_btn')?.innerText ?? '') === 'Find it in the model'")
    assert image_src(page, "#gen_img img") == before and "PSNR" not in info(page)
    monkeypatch.setattr(inv, "invert", lambda *a, **k: slow(*a, **{**k, "steps": 20}))
    page.click("#inv_btn")                                   # the next one works
    page.wait_for_function("() => (document.querySelector('#inv_info')?.innerText ?? '').includes('PSNR')", timeout=60000)


def test_the_gallery_tab_downloads_a_labelled_data_set(page):
    page.get_by_role("tab", name="Gallery").click()
    page.click("#ds_btn")
    page.wait_for_selector("#ds_file a[href$='.zip']", timeout=60000)
    href = page.eval_on_selector("#ds_file a[href$='.zip']", "e => e.href")
    import zipfile
    with zipfile.ZipFile(io.BytesIO(page.request.get(href).body())) as z:
        names = z.namelist()
    assert "labels.csv" in names and len([n for n in names if n.endswith(".png")]) == 64   # tiny32: one class


def test_two_inversions_running_never_hold_up_clicks(browser, app_url, studio, tmp_path, monkeypatch):
    """Two sessions invert (long runs); a third clicks the image 20 times: every click is answered
    while both inversions are still running (their own concurrency group). The server says when
    both run: the patched inversion counts itself in and out."""
    import threading
    from test_browser import click_pixel, wait_ready
    import attn_demo.serving.invert as inv
    slow, lock, running, cancels = inv.invert, threading.Lock(), [0], []

    def long_inversion(*a, **k):
        with lock:
            running[0] += 1
            cancels.append(k.get("cancel"))
        try:
            return slow(*a, **{**k, "steps": 5000})
        finally:
            with lock:
                running[0] -= 1
    monkeypatch.setattr(inv, "invert", long_inversion)
    path = tmp_path / "mine.png"
    Image.fromarray(studio.engine("tiny32").render(RenderArgs(seed=2)).image).save(path)
    contexts = []
    for _ in range(2):
        ctx = browser.new_context(viewport={"width": 1920, "height": 1200})
        p = ctx.new_page()
        p.goto(app_url)
        wait_ready(p)
        open_tab(p)
        p.set_input_files("#inv_file input[type='file']", str(path))
        p.click("#inv_btn")
        contexts.append(ctx)
    deadline = time.time() + 60
    while running[0] < 2 and time.time() < deadline:
        time.sleep(0.1)
    try:
        assert running[0] == 2, f"{running[0]} inversions running, not 2"
        clicker = browser.new_context(viewport={"width": 1920, "height": 1200})
        contexts.append(clicker)
        page = clicker.new_page()
        page.goto(app_url)
        wait_ready(page)
        shown = page.input_value("#click_info textarea")
        for i in range(20):
            click_pixel(page, 20 + 24 * i, 300 - 12 * i)                  # 20 different pixels
            deadline = time.time() + 10
            while page.input_value("#click_info textarea") == shown and time.time() < deadline:
                time.sleep(0.02)
            assert page.input_value("#click_info textarea") != shown, f"click {i} was not answered"
            shown = page.input_value("#click_info textarea")
        assert running[0] == 2                                         # both still inverting
    finally:
        for cancel in cancels:                                         # end them (as a second click does)
            if cancel is not None:
                cancel.set()
        deadline = time.time() + 30
        while running[0] and time.time() < deadline:
            time.sleep(0.1)
        for ctx in contexts:
            ctx.close()
    assert running[0] == 0
