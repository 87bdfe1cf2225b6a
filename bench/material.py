"""Material sets and GLB objects (serving/material_set.py, serving/glb.py), and the 3-D preview's first
paint in the browser (issue #36): `python -m bench --only material`.

Rows: a 1024² and a 2048² material set (every map; then the zip written, PNGs included), the GLB of
a 1024² tile on a sphere, and in headless Chromium (software WebGL) the Textures tab's "Show in 3-D"
from the click to the object drawn, with the page's own split (three.js loaded, GLB fetched and
parsed, first frame). The canvas is the shipped canvas model's when weights/ holds one (else the
planned model at random weights, as bench/canvas.py does): map times do not depend on the picture's
content, but PNG sizes and encoding times do a little.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from attn_demo.serving import glb, material_set

from .canvas import canvas_engine
from .common import timings


def bench_material(quick: bool, weights: Path | None = None) -> list[dict]:
    """One row per size (maps, zip) and one for the GLB."""
    engine = canvas_engine(8, weights)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for side in ((1024,) if quick else (1024, 2048)):
            image = engine.render(engine.field(0, side, side), 0, "both").image
            maps = timings(lambda: material_set.material_set(image, "both"), warmup=1, repeat=1 if quick else 3)
            mat = material_set.material_set(image, "both", meta={"model": engine.name, "seed": 0})
            target = Path(tmp) / f"set{side}.zip"
            write = timings(lambda: material_set.write_zip(mat, target), warmup=0, repeat=1 if quick else 3)
            rows.append({"what": f"material set {side}²", "side": side, "model": engine.name,
                         "maps_ms": maps["median_ms"], "zip_ms": write["median_ms"],
                         "total_ms": maps["median_ms"] + write["median_ms"],
                         "zip_mb": target.stat().st_size / 1e6})
            if side == 1024:
                out = Path(tmp) / "sphere.glb"
                g = timings(lambda: glb.write_glb(mat, out, "sphere", 2), warmup=0, repeat=1 if quick else 3)
                rows.append({"what": "GLB, 1024² tile on a sphere", "side": side, "model": engine.name,
                             "glb_ms": g["median_ms"], "glb_mb": out.stat().st_size / 1e6})
    return rows


def bench_view3d(weights: Path, side: int = 512, shows: int = 3) -> dict:
    """`python app.py` in headless Chromium: the Textures tab at side², "Show in 3-D" clicked, to the
    object drawn (attnDemo.view3dShown); the first show loads three.js, later ones only the GLB."""
    from playwright.sync_api import sync_playwright

    from .app import _app
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
    out = []
    with _app(weights) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=args)
        page = browser.new_page(viewport={"width": 1600, "height": 1400})
        page.goto(url)
        page.wait_for_function("() => window.attnDemo && window.attnDemo.ready", timeout=120000)
        page.get_by_role("tab", name="Textures").click()
        page.wait_for_selector("#tex_img img", timeout=60000)
        for box, value in (("#tex_w input", side), ("#tex_h input", side)):
            page.fill(box, str(value))
        page.click("#tex_paint")
        for i, shape in enumerate(["sphere", "cube", "sphere"][:shows]):
            page.evaluate("() => { window.attnDemo.view3dShown = null; }")
            t0 = time.perf_counter()
            if i == 0:
                page.click("#tex_show3d")
            else:
                page.get_by_label(shape, exact=True).check()
            page.wait_for_function("() => window.attnDemo.view3dShown", timeout=300000)
            shown = page.evaluate("() => window.attnDemo.view3dShown")
            out.append({"shape": shape, "click_to_drawn_s": time.perf_counter() - t0,
                        **{k: v for k, v in shown.items() if k.endswith("ms")}})
        browser.close()
    return {"side": side, "shows": out, "first_paint_s": out[0]["click_to_drawn_s"]}
