"""What a designer's first visit hit (issue: "the studio as a designer meets it"), in a real browser.

Each test failed before its fix: a refused value left the box out of step with the image and the
exports, 1.5 was rounded to seed 2, prev / next did nothing after an invalid seed, the phone-width
gallery scrolled sideways, a user's mistake printed a traceback, and Enter did not apply a number.
"""
import json
import time

import pytest

from attn_demo.imaging import draw
from attn_demo.serving.engine import RenderArgs
from test_browser import image_bytes, image_src, page, wait_and_get_src_change  # noqa: F401 (page: fixture)

pytestmark = pytest.mark.browser
PSI = "input[aria-label='number input for Truncation ψ']"
OPACITY = "input[aria-label='number input for Opacity']"


def toasts(page) -> list[str]:
    return page.eval_on_selector_all(".toast-body", "els => els.map(e => e.innerText)")


def wait_toast(page, text, timeout=20.0) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [t for t in toasts(page) if text in t]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no message with {text!r}; shown: {toasts(page)}")


def wait_value(page, selector, value, timeout=20.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if page.input_value(selector) == value:
            return
        time.sleep(0.05)
    raise AssertionError(f"{selector} holds {page.input_value(selector)!r}, expected {value!r}")


def type_in(page, selector, text, key="Enter") -> None:
    page.fill(selector, text)
    page.press(selector, key)


def shown_seed_picture(studio, seed: int) -> bytes:
    picture = studio.display_image("tiny32", studio.render("tiny32", RenderArgs(seed=seed, psi=0.8)))
    return draw.encode_png(picture, compress_level=1)


def export_state(page) -> dict:
    page.click("button[role='tab']:has-text('Export / import')")
    old = page.eval_on_selector_all("#export_files a", "els => els.map(e => e.href)")
    page.click("#export_btn")
    deadline = time.time() + 20
    while time.time() < deadline:
        links = page.eval_on_selector_all("#export_files a", "els => els.map(e => e.href)")
        states = [h for h in links if h.endswith("_state.json") and h not in old]
        if states:
            return json.loads(page.request.get(states[0]).body())
        time.sleep(0.1)
    raise AssertionError("no export")


def test_a_refused_value_puts_the_box_back_and_exports_what_is_on_screen(page, studio):
    before = image_src(page, "#gen_img img")
    type_in(page, PSI, "5")                          # the box would clamp to 1; the image stays at 0.8
    wait_toast(page, "greater than maximum")
    wait_value(page, PSI, "0.8")                     # the box shows what the image was made with
    assert image_src(page, "#gen_img img") == before
    overlay = image_src(page, "#attn_img img")
    type_in(page, OPACITY, "3")
    wait_value(page, OPACITY, "0.6")
    assert image_src(page, "#attn_img img") == overlay
    state = export_state(page)                       # the export is the image on screen
    assert (state["seed"], state["truncation"], state["opacity"]) == (42, 0.8, 0.6)


def test_a_fractional_seed_is_refused_not_rounded(page, studio):
    before = image_src(page, "#gen_img img")
    type_in(page, "#seed input", "1.5")
    assert "whole number" in wait_toast(page, "seed")
    wait_value(page, "#seed input", "42")
    assert image_src(page, "#gen_img img") == before
    assert image_bytes(page, before) == shown_seed_picture(studio, 42)


def test_prev_and_next_step_from_the_seed_on_screen_after_an_invalid_one(page, studio):
    page.fill("#seed input", "")                     # cleared to type another: no error, no render
    time.sleep(0.5)
    assert not [t for t in toasts(page) if "seed" in t]
    before = image_src(page, "#gen_img img")
    page.click("#next_btn")
    after = wait_and_get_src_change(page, before)
    assert page.input_value("#seed input") == "43" and image_bytes(page, after) == shown_seed_picture(studio, 43)
    type_in(page, "#seed input", "-5")
    wait_toast(page, "less than minimum")            # refused by the box's bound
    wait_value(page, "#seed input", "43")
    page.click("#prev_btn")
    wait_and_get_src_change(page, after)
    assert page.input_value("#seed input") == "42"
    # An empty box does not block a GIF, whose seeds are its own.
    page.fill("#seed input", "")
    page.click("button[role='tab']:has-text('Interpolate')")
    page.click("#interp_btn")
    page.wait_for_function("() => { const i = document.querySelector('img[src*=\".gif\"]'); "
                           "return i && i.naturalWidth > 0 }", timeout=60000)
    assert not [t for t in toasts(page) if "seed" in t]
    page.locator("#seed input").blur()               # leaving the empty box puts the seed on screen back
    wait_value(page, "#seed input", "42")


def test_the_gallery_fits_a_phone_screen(browser, app_url):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(app_url)
    page.wait_for_selector("#gen_img img", timeout=30000)
    page.click("button[role='tab']:has-text('Gallery')")
    page.click("button:has-text('Show samples')")
    page.wait_for_function("() => document.querySelectorAll('#gallery img').length >= 8", timeout=30000)
    overflow = page.evaluate("() => [...document.querySelectorAll('#gallery *')].filter("
                             "e => e.scrollWidth > e.clientWidth + 2 && getComputedStyle(e).overflowX != 'visible')"
                             ".map(e => [e.className, e.scrollWidth, e.clientWidth])")
    assert overflow == [], overflow
    context.close()


def test_a_users_mistake_is_one_line_in_the_log_and_a_fault_keeps_its_traceback(page, studio, capfd, caplog,
                                                                                 monkeypatch):
    """Gradio prints no traceback for either (print_exception=False): our log has one line for a
    user's mistake and the traceback for a fault. (The app leaves logging to Python's default, which
    prints warnings to stderr; under pytest the records are captured instead.)"""
    capfd.readouterr()
    caplog.clear()
    type_in(page, PSI, "5")                          # refused by Gradio's bounds
    wait_toast(page, "greater than maximum")
    type_in(page, "#seed input", "1.5")              # refused by the studio
    wait_toast(page, "whole number")
    time.sleep(0.5)
    assert "Traceback" not in capfd.readouterr().err
    refused = [r for r in caplog.records if r.name == "attn_demo.studio"]
    assert [r.getMessage().split(":")[0] for r in refused] == ["refused by Gradio", "refused (on_change)"]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in refused)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")
    monkeypatch.setattr(studio, "summary", broken)  # a real fault: its traceback stays in the log
    caplog.clear()
    page.click("button[role='tab']:has-text('Layer summary')")
    page.click("#mode_radio label:has-text('what looks at this pixel')")
    wait_toast(page, "internal error (RuntimeError)")
    time.sleep(0.5)
    assert "Traceback" not in capfd.readouterr().err            # printed once, by our log, not Gradio
    faults = [r for r in caplog.records if r.exc_info]
    assert len(faults) == 1 and "RuntimeError: a bug" in caplog.text


def test_enter_applies_a_number_box(page):
    before = image_src(page, "#gen_img img")
    type_in(page, PSI, "0.5")                        # Enter, no click elsewhere
    wait_and_get_src_change(page, before)
    overlay = image_src(page, "#attn_img img")
    type_in(page, OPACITY, "0.2")
    deadline = time.time() + 20
    while image_src(page, "#attn_img img") == overlay and time.time() < deadline:
        time.sleep(0.05)
    assert image_src(page, "#attn_img img") != overlay
