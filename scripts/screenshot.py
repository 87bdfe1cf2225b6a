"""Screenshot of the running studio for the README (assets/screenshot.png).

    python app.py &                                  # the app on the shipped weights
    python scripts/screenshot.py --out assets/screenshot.png --click 300 200

Drives Debian's Chromium (apt-get install chromium) with Playwright; --click
clicks that pixel of the 512x512 image first, so the attention view shows its map.
"""
from __future__ import annotations

import argparse
import time

from playwright.sync_api import sync_playwright

BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run"]
# Where an <img> shown with object-fit: contain puts its picture, in page pixels.
IMAGE_BOX = """s => {const i = document.querySelector(s), r = i.getBoundingClientRect();
    const k = Math.min(r.width / i.naturalWidth, r.height / i.naturalHeight);
    return {x: r.x + (r.width - i.naturalWidth * k) / 2, y: r.y + (r.height - i.naturalHeight * k) / 2, k: k}}"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:7860/")
    p.add_argument("--out", default="assets/screenshot.png")
    p.add_argument("--width", type=int, default=1400, help="viewport width (default: %(default)s)")
    p.add_argument("--height", type=int, default=1000, help="viewport height (default: %(default)s)")
    p.add_argument("--click", type=int, nargs=2, metavar=("X", "Y"), help="image pixel to click first")
    p.add_argument("--full-page", action="store_true", help="the whole page, not just the viewport")
    a = p.parse_args()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": a.width, "height": a.height})
        page.goto(a.url)
        page.wait_for_selector("#gen_img img", timeout=60_000)
        page.wait_for_selector("#attn_img img", timeout=60_000)
        if a.click:
            before = page.get_attribute("#attn_img img", "src")
            box = page.evaluate(IMAGE_BOX, "#gen_img img")
            page.mouse.click(box["x"] + (a.click[0] + 0.5) * box["k"], box["y"] + (a.click[1] + 0.5) * box["k"])
            page.wait_for_function("([s, b]) => document.querySelector(s).src !== b", arg=["#attn_img img", before],
                                   timeout=30_000)
        time.sleep(1.0)   # let the new picture decode and paint
        page.screenshot(path=a.out, full_page=a.full_page)
        browser.close()
    print(a.out)


if __name__ == "__main__":
    main()
