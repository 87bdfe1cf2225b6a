"""The app as a user meets it: `python app.py` to the first image, and clicks in Chromium."""
from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .common import ROOT


@contextlib.contextmanager
def _app(weights: Path, root: Path = ROOT):
    """`python app.py` of the checkout at `root` on the models in `weights`, on a free port:
    yields its URL and the seconds from the start of the process to its first page (HTTP 200)."""
    import urllib.request
    port = _free_port()
    env = {**os.environ, "ATTN_DEMO_WEIGHTS": str(Path(weights).resolve()), "GRADIO_SERVER_PORT": str(port)}
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "app.py"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, cwd=root)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                    break
            except OSError:
                if p.poll() is not None or time.perf_counter() - t0 > 120:
                    raise RuntimeError("the app did not start")
                time.sleep(0.02)
        yield f"http://127.0.0.1:{port}/", time.perf_counter() - t0
    finally:
        p.terminate()
        p.wait(timeout=30)


def first_image(url: str, data: list) -> bytes:
    """Ask a running app for an image over plain HTTP, as any client must: /generate through
    the queue (the call, then its result stream), then the image file it names, returned.
    (gradio_client would first fetch the app's config and API description: 0.24-0.30 s
    more, which a browser does not spend either.)"""
    import httpx
    r = httpx.post(f"{url}gradio_api/call/generate", json={"data": data}, timeout=60)
    r.raise_for_status()
    stream = httpx.get(f"{url}gradio_api/call/generate/{r.json()['event_id']}", timeout=60)
    event, payload = None, None
    for line in stream.text.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "complete":
            payload = json.loads(line.split(":", 1)[1])
    if not payload or not isinstance(payload[0], dict) or not payload[0].get("url"):
        raise RuntimeError(f"/generate gave no image: {stream.text[:300]}")
    image = httpx.get(payload[0]["url"], timeout=60)
    image.raise_for_status()
    return image.content


def bench_cold_start(weights: Path, runs: int = 3) -> dict:
    """`python app.py` to the first page (HTTP 200) and to the first image from /generate."""
    from attn_demo.models.checkpoint import load_config
    from attn_demo.serving.loader import find_models
    model_dir = find_models(weights)[0]
    model, label = model_dir.name, ("0" if load_config(model_dir).num_classes else "")
    pages, images, imports, imports_gc_off, imports_app = [], [], [], [], []

    def bare(code):   # the floor: an interpreter importing torch and gradio and nothing else
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        return time.perf_counter() - t0
    for _ in range(runs):   # interleaved, so that the machine's drift hits all four alike
        with _app(weights) as (url, page_s):
            t = time.perf_counter()
            first_image(url, [model, 42, 0.8, label, ""])
            pages.append(page_s)
            images.append(page_s + time.perf_counter() - t)
        imports.append(bare("import torch, gradio"))
        imports_gc_off.append(bare("import gc; gc.disable(); import torch, gradio"))
        # as app.py imports them: the collector off, Gradio without its stub writer (attn_demo/studio/_gradio.py)
        imports_app.append(bare("import gc; gc.disable(); import torch; from attn_demo.studio._gradio import gr"))
    return {"runs": runs, "to_first_page_s": statistics.median(pages), "to_first_image_s": statistics.median(images),
            "all_first_image_s": images, "import_torch_gradio_s": statistics.median(imports),
            "import_torch_gradio_gc_off_s": statistics.median(imports_gc_off),
            "import_as_app_s": statistics.median(imports_app)}


def bench_browser(weights: Path, clicks: int = 20, steps_count: int = 10, root: Path = ROOT,
                  latency_ms: float = 0) -> dict:
    """Playwright on localhost: mouse click on the image to the new overlay loaded (the server's
    answer) and to the clicked map drawn in the page (live.js, at pointer-down), timed in the page,
    against `python app.py` as a user starts it; then the "next" seed button to the new
    image loaded (a render through the queue). `root`: the checkout whose app.py runs
    (scripts/browser_ab.py compares two); `latency_ms`: Chromium adds this much to every request
    and limits the link to 10 / 5 Mbit/s down / up, as a Space far away would."""
    from playwright.sync_api import sync_playwright
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
    lat = []
    with _app(weights, root) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=args)
        page = browser.new_page(viewport={"width": 1920, "height": 1200})
        if latency_ms:
            cdp = page.context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": latency_ms,
                                                          "downloadThroughput": 10e6 / 8, "uploadThroughput": 5e6 / 8})
        page.goto(url)
        page.wait_for_selector("#attn_img img", timeout=60000)
        page.evaluate(_WATCH_JS)
        g = page.evaluate("() => {const r=document.querySelector('#gen_img img').getBoundingClientRect();"
                          "return [r.x, r.y, r.width, r.height]}")
        rng = np.random.default_rng(0)
        _wait_payload(page)                             # the page draws a click's map from it (live.js)
        for i in range(clicks + 2):
            x, y = g[0] + 5 + rng.uniform(0, g[2] - 10), g[1] + 5 + rng.uniform(0, g[3] - 10)
            page.evaluate("() => window.attnDemo.timers.click.arm()")
            page.mouse.click(x, y)
            page.wait_for_function("() => window.attnDemo.timers.click.done !== null", timeout=30000)
            if i >= 2:                                  # the first two warm the path up
                lat.append(page.evaluate("() => { const w = window.attnDemo.timers.click; return w.done - w.t0; }"))
        drawn, frames = _taps(page, g, rng, clicks)
        moves = _live_moves(page, g, rng, 40 if clicks < 20 else 200)
        page.evaluate(_WATCH_SEED_JS)
        steps = []
        for i in range(steps_count + 1):   # "next" to the next seed's image decoded, through the queue
            page.evaluate("() => window.attnDemo.timers.seed.arm()")
            page.click("#next_btn")
            page.wait_for_function("() => window.attnDemo.timers.seed.done !== null", timeout=30000)
            if i >= 1:
                steps.append(page.evaluate("() => { const w = window.attnDemo.timers.seed; return w.done - w.t0; }"))
            time.sleep(0.5)                             # let the events that follow a render finish
        browser.close()
    return {"clicks": len(lat), "median_ms": statistics.median(lat), "p90_ms": sorted(lat)[int(0.9 * len(lat))],
            "min_ms": min(lat), "max_ms": max(lat),
            **({"page_clicks": len(drawn), "page_click_median_ms": statistics.median(drawn),
                "page_click_p90_ms": sorted(drawn)[int(0.9 * len(drawn))],
                "page_click_frame_median_ms": statistics.median(frames),
                "page_click_frame_p90_ms": sorted(frames)[int(0.9 * len(frames))]} if drawn else {}),
            "seed_steps": len(steps), "seed_step_median_ms": statistics.median(steps),
            **({"live_moves": len(moves), "live_median_ms": statistics.median(moves),
                "live_p90_ms": sorted(moves)[int(0.9 * len(moves))]} if moves else {})}


def _taps(page, g, rng, count: int, hold_s: float = 0.08) -> tuple[list[float], list[float]]:
    """Clicks as a person makes them: the pointer arrives with the press (no move over the image
    first, so no map under the pointer is drawn before it: a finger's tap), held `hold_s` (a click
    lasts 80-120 ms), released, then the server's answer waited for. The page's own timings
    (live.js): pointer-down's time stamp to the clicked map drawn, and to the start of the frame that
    shows it; the first two left out. (Playwright's mouse.click presses and releases within a
    millisecond, so Gradio's click work lands before that frame: the overlay row above.)"""
    if not page.evaluate("() => Array.isArray(window.attnDemo?.live?.clickFrames)"):
        return [], []                                       # an older page (scripts/browser_ab.py) draws none
    cdp = page.context.new_cdp_session(page)
    page.mouse.move(2, 2)                                   # off the image
    page.evaluate("() => { const l = window.attnDemo.live; l.clicks.length = 0; l.clickFrames.length = 0; }")
    for _ in range(count + 2):
        x, y = g[0] + 5 + rng.uniform(0, g[2] - 10), g[1] + 5 + rng.uniform(0, g[3] - 10)
        page.evaluate("() => window.attnDemo.timers.click.arm()")
        press = {"x": x, "y": y, "button": "left", "clickCount": 1}
        cdp.send("Input.dispatchMouseEvent", {"type": "mousePressed", **press})
        time.sleep(hold_s)
        cdp.send("Input.dispatchMouseEvent", {"type": "mouseReleased", **press})
        page.wait_for_function("() => window.attnDemo.timers.click.done !== null", timeout=30000)
        cdp.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 2, "y": 2})
        time.sleep(0.3)                                     # the events that follow a click finish
    page.wait_for_function(f"() => window.attnDemo.live.clickFrames.length >= {count + 2}", timeout=30000)
    return (page.evaluate("() => window.attnDemo.live.clicks.slice(2)"),
            page.evaluate("() => window.attnDemo.live.clickFrames.slice(2)"))


def _live_moves(page, g, rng, count: int) -> list[float]:
    """Live mode: the pointer moved to `count` random pixels of the image, one step each; the page's
    own timings (live.js: the move event's time stamp to its map drawn on the canvas), the first
    five (which decode the queries and keys and read the image) left out."""
    if not page.evaluate("() => Array.isArray(window.attnDemo?.live?.times)"):
        return []                                           # an older page (scripts/browser_ab.py): no live.js timings
    _wait_payload(page)
    page.evaluate("() => { window.attnDemo.live.times.length = 0; }")
    for _ in range(count + 5):
        page.mouse.move(g[0] + 5 + rng.uniform(0, g[2] - 10), g[1] + 5 + rng.uniform(0, g[3] - 10))
    page.wait_for_function(f"() => window.attnDemo.live.times.length >= {count + 5}", timeout=30000)
    return page.evaluate("() => window.attnDemo.live.times.slice(5)")


def _wait_payload(page) -> None:
    """Until the page holds the live payload (the render's queries and keys: studio/live.py)."""
    page.wait_for_function("() => { const t = document.querySelector('#view_data textarea'); "
                           "return t && t.value.includes('\"live\":{'); }", timeout=30000)


def _watch_js(name: str, trigger: str, target: str) -> str:
    """An in-page timer window.attnDemo.timers.<name> (the page's namespace, studio/web/): from the mousedown on `trigger` to a new image in `target` decoded."""
    return """() => {
  const ns = window.attnDemo = window.attnDemo || {};
  const w = (ns.timers = ns.timers || {}).NAME = {t0: null, done: null, old: null};
  w.arm = () => { w.t0 = null; w.done = null; w.old = document.querySelector('TARGET img').src; };
  document.querySelector('TRIGGER').addEventListener('mousedown', () => { w.t0 = performance.now(); }, true);
  new MutationObserver(() => {
    const img = document.querySelector('TARGET img');
    if (!img || w.t0 === null || w.done !== null || img.src === w.old) return;
    const finish = () => { if (w.done === null) w.done = performance.now(); };
    if (img.complete && img.naturalWidth) finish(); else img.addEventListener('load', finish, {once: true});
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}""".replace("NAME", name).replace("TRIGGER", trigger).replace("TARGET", target)


_WATCH_JS = _watch_js("click", "#gen_img", "#attn_img")          # a click to its overlay


_WATCH_SEED_JS = _watch_js("seed", "#next_btn", "#gen_img")     # "next" to the next seed's image


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
