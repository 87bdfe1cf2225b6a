"""The studio on a phone (390 x 844, touch): the image in the first screen, the map right under it,
every lower tab in reach without an overflow menu, export names readable (#33, the page)."""
import pytest

from test_browser import wait_ready, wait_text

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture()
def phone(browser, app_url):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    page.goto(app_url)
    page.wait_for_selector("#gen_img img", timeout=30000)
    wait_text(page, "x=256, y=256")
    wait_ready(page)
    yield page
    context.close()


def box(page, selector):
    return page.evaluate(f"""() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect();
        return {{top: r.top + window.scrollY, bottom: r.bottom + window.scrollY, left: r.left, right: r.right,
                 width: r.width, height: r.height}}; }}""")


def test_the_image_is_in_the_first_screen_and_the_map_right_under_it(phone):
    image, overlay = box(phone, "#gen_img img"), box(phone, "#attn_img img")
    assert 0 <= image["top"] and image["bottom"] <= PHONE["height"], image
    assert image["right"] <= PHONE["width"] and image["width"] >= 0.75 * PHONE["width"], image
    # under the image only the click line and the live switch, then the map (its tabs' header)
    assert image["bottom"] < overlay["top"] <= image["bottom"] + 260, (image, overlay)
    assert overlay["right"] <= PHONE["width"] and overlay["width"] >= 0.75 * PHONE["width"]
    # the image box is as tall as the picture it shows (no 512-px box with blank space)
    assert box(phone, "#gen_img")["height"] <= image["height"] + 8


def test_every_lower_tab_is_in_reach_without_an_overflow_menu(phone):
    tabs = phone.evaluate("""() => Array.from(document.querySelectorAll('#lower_tabs button[role=tab]')).map(b => {
        const r = b.getBoundingClientRect(); return [b.innerText.trim(), b.offsetParent !== null, r.left, r.right]; })""")
    names = [t[0] for t in tabs]
    assert {"Gallery", "Interpolate", "Export / import", "Your picture"} <= set(names), names
    assert all(shown and left >= 0 and right <= PHONE["width"] for _, shown, left, right in tabs), tabs
    menu = phone.evaluate("""() => { const m = document.querySelector('#lower_tabs .overflow-menu');
        return !!m && m.offsetParent !== null && !m.classList.contains('hide'); }""")
    assert not menu


def test_export_names_are_readable_on_a_phone(phone):
    phone.click("#lower_tabs button[role=tab]:has-text('Export / import')")
    phone.click("#export_btn")
    phone.wait_for_selector("#export_files .stem", timeout=30000)
    names = phone.evaluate("""() => Array.from(document.querySelectorAll('#export_files .stem')).map(s => {
        const r = s.getBoundingClientRect();
        return [s.innerText.replace(/\\s+/g, ''), s.scrollWidth, s.clientWidth, r.left, r.right]; })""")
    assert len(names) >= 5
    for text, scroll, client, left, right in names:
        assert scroll <= client + 1, f"{text!r} is cut ({scroll} > {client} px)"
        assert left >= 0 and right <= PHONE["width"], text
        assert text.startswith("tiny32_")
