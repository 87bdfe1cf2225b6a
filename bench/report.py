"""docs/PERFORMANCE.md from the figures `python -m bench` measured."""
from __future__ import annotations

from pathlib import Path

# The reference's ops with 1/64 of its convolutions' multiply-adds: what its batch-1 latency
# costs apart from the arithmetic (op dispatch, small kernels, passes over the 64x64 maps).
OVERHEAD_NAME = "reference-64 at width 8"

# (what, how to read it from the results, comparison, target) -- the targets of the performance issue.
TARGETS = [
    ("reference G, batch 64 (CPU)", lambda r: _gen(r, "reference-64", "cpu")["batch64_images_per_s"], ">=", 300, "img/s"),
    ("reference G, batch 1 (CPU)", lambda r: _gen(r, "reference-64", "cpu")["batch1"]["median_ms"], "<=", 5, "ms"),
    ("click to overlay, 32x32 grid", lambda r: _click(r, 32)["click_to_overlay_ms"], "<=", 5, "ms"),
    ("click to overlay, 128x128 grid", lambda r: _click(r, 128)["click_to_overlay_ms"], "<=", 20, "ms"),
    ("probe memory / full map, 64x64", lambda r: 100 * _click(r, 64)["probe_fraction_of_naive"], "<=", 1, "%"),
    ("training, reference at 64x64", lambda r: _train(r, "reference-64")["images_per_s"], ">=", 35, "img/s"),
    ("the same with `--amp bf16` (a CPU with native bf16)",
     lambda r: _train(r, "reference-64", "bf16")["images_per_s"], ">=", 35, "img/s"),
    ("browser click (a tap, held 80 ms) to the frame showing its map, drawn in the page (median)",
     lambda r: r["browser"]["page_click_frame_median_ms"], "<=", 50, "ms"),
    ("browser click to the server's overlay (median)", lambda r: r["browser"]["median_ms"], "<=", 80, "ms"),
    ("live mode: pointer move to the map drawn (median)", lambda r: r["browser"]["live_median_ms"], "<=", 16, "ms"),
    ("cold start to first image", lambda r: r["cold_start"]["to_first_image_s"], "<=", 6, "s"),
    ("canvas model: a 1024² canvas", lambda r: _canvas(r, 1024)["render_ms"], "<=", 2000, "ms"),
    ("canvas model: a click on a 1024² canvas (map and picture)", lambda r: _canvas(r, 1024)["click_ms"], "<=", 20, "ms"),
    ("canvas model: the first looked-at-by on a 1024² canvas", lambda r: _canvas(r, 1024)["first_looked_at_by_ms"],
     "<=", 1000, "ms"),
    ("canvas model: peak RSS of the process after a 2048² canvas", lambda r: _canvas(r, 2048)["peak_rss_mb"],
     "<=", 2048, "MB"),
    ("inversion at the default settings (median)", lambda r: r["invert"]["median_s"], "<=", 15, "s"),
]


def _canvas(r, side):
    """The canvas row of that side: the shipped model's, else the planned one's with attention at 1/8."""
    return next(x for x in r["canvas"] if x["side"] == side and x["attention_at"] == "1/8")


def _gen(r, model, device):
    return next(x for x in r["generator"] if x["model"] == model and x["device"] == device)


def _click(r, grid):
    return next(x for x in r["click"] if x["grid"] == grid)


def _cpu_train_rows(r, model, variant="fp32"):   # fp32: training's defaults on the CPU (older runs have no variant)
    return [x for x in r["train"] if x["model"] == model and x["device"] == "cpu" and x.get("variant", "fp32") == variant]


def _train(r, model, variant="fp32"):
    return next(iter(_cpu_train_rows(r, model, variant)))


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"


def _ms(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def write_report(r: dict, path: Path) -> str:
    m = r["machine"]
    lines = ["# Performance", "",
             f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores, torch {m['torch']}, "
             f"{m['torch_threads']} threads" + (f", GPU {m['gpu']}" if m.get("gpu") else ", no GPU")
             + f"); load average {m.get('load_average') or 0:.2f} at the start, "
             f"{m.get('load_average_end') or 0:.2f} at the end"
             + (f"; CPU time stolen by the hypervisor during the run: {m['cpu_steal_percent']:.1f} %"
                if m.get("cpu_steal_percent") is not None else "") + ".", "",
             f"Command: `{r['command']}`" + (" (quick mode: few repeats, not for comparison)" if r.get("quick") else ""),
             "", "Medians after warm-up; p10/p90 in docs/performance.json."
             + (f" The generator tables give the median of {rounds} rounds, each of which measures every model "
                "(or variant) in turn: this machine's speed drifts within a minute."
                if (rounds := max((g.get("rounds", 1) for g in r.get("generator", [])), default=1)) > 1 else "")]
    measured = r.get("measured", {})
    if len(set(measured.values())) > 1:
        lines += ["", "Parts measured at different times: "
                  + ", ".join(f"{part} {date}" for part, date in measured.items()) + "."]
    if r.get("speed"):
        lines += ["", "This machine's fp32 matrix-multiply rate (2048³ products) measured just before each part: "
                  + ", ".join(f"{part} {v:.0f}" for part, v in r["speed"].items())
                  + " GFLOP/s. It drifts by up to a third within an hour (see the notes on noise); compare "
                  "figures taken at similar rates."]
    lines += ["", "## Targets", "",
             "| what | measured | target | |", "|---|---|---|---|"]
    for what, get, op, target, unit in TARGETS:
        try:
            v = get(r)
        except (KeyError, StopIteration, TypeError):
            lines.append(f"| {what} | not measured | {op} {target} {unit} | |")
            continue
        ok = v >= target if op == ">=" else v <= target
        lines.append(f"| {what} | {_fmt(v)} {unit} | {op} {target} {unit} | {'met' if ok else '**missed**'} |")
    if "generator" in r:
        lines += ["", "## Generator forward", "", "| model | device | parameters | batch 1 (ms) | batch 64 (img/s) |",
                  "|---|---|---|---|---|"]
        for g in r["generator"]:
            if "error" in g:
                lines.append(f"| {g['model']} | {g['device']} | failed: {g['error'].replace('|', '/')} | | |")
                continue
            lines.append(f"| {g['model']} | {g['device']} | {g['parameters']:,} | {g['batch1']['median_ms']:.2f} "
                         f"| {g['batch64_images_per_s']:.0f} |")
        compiled = [g for g in r["generator"] if "compile_s" in g]
        if compiled:
            lines += ["", "\"+ torch.compile\" rows: the served G compiled with CUDA graphs (mode \"reduce-overhead\"), "
                      "timed after compiling it for both batch sizes, which took "
                      + ", ".join(f"{g['compile_s']:.0f} s ({g['device']})" for g in compiled) + "."]
        if any(g["model"] == OVERHEAD_NAME for g in r["generator"]):
            lines += ["", f"\"{OVERHEAD_NAME}\" runs the reference's ops with its widths divided by 8 (1/64 of "
                      "the convolutions' multiply-adds): its batch-1 time is what those ops cost apart from "
                      "their arithmetic."]
    if "flops" in r:
        lines += ["", "## Achieved FLOP rate (batch 64, torch.utils.flop_counter)", ""]
        if any(f.get("gflop_per_image_as_trained") for f in r["flops"]):
            lines += ["GFLOP per image counts the convolutions and matrix products the served generator "
                      "executes (the counter does not see inside the fused attention kernel); in brackets, the "
                      "same model before its upsample-and-conv pairs are folded (`models/folding.py`).", ""]
        lines += ["| model | device | GFLOP per image (as trained) | achieved GFLOP/s | fp32 matmul peak (2048³) "
                  "| fraction |", "|---|---|---|---|---|---|"]
        for f in r["flops"]:
            trained = f.get("gflop_per_image_as_trained")
            lines.append(f"| {f['model']} | {f['device']} | {f['gflop_per_image']:.3f}"
                         + (f" ({trained:.3f})" if trained else "") + f" | {f['achieved_gflops']:.0f} "
                         f"| {f['matmul_peak_gflops']:.0f} | {100 * f['fraction_of_peak']:.0f}% |")
    if "ablation" in r:
        rounds = r["ablation"][0].get("rounds", 1)
        lines += ["", "## What each inference fix buys (reference G, CPU, one fix undone at a time)", "",
                  *([f"Medians over {rounds} rounds, each of which measures every variant in turn; the two "
                     "allocator rows run in fresh processes (its settings act on the heap a process has "
                     "built so far).", ""] if rounds > 1 else []),
                  "| variant | batch 1 (ms) | batch 64 (img/s) | |", "|---|---|---|---|"]
        for a in r["ablation"]:
            extra = (f"compile {a['compile_s']:.0f} s; max |difference| {a['max_abs_diff']:.1e}"
                     if "compile_s" in a else "")
            b1 = "" if a["batch1_ms"] is None else f"{a['batch1_ms']:.2f}"
            lines.append(f"| {a['variant']} | {b1} | {a['batch64_images_per_s']:.0f} | {extra} |")
    if "click" in r:
        lines += ["", f"## A click (display {r['click'][0]['display']} px, keys pooled 2x2, 64 channels)", "",
                  "| grid | N x Nk | map (ms) | click to overlay (ms) | PNG: PIL level 6 / PIL level 1 / ours (ms) "
                  "| served JPEG (ms) | probe memory | naive full softmax (ms) | naive memory | probe / naive |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for c in r["click"]:
            lines.append(
                f"| {c['grid']}² | {c['N']} x {c['Nk']} | {c['map_ms']:.3f} | {c['click_to_overlay_ms']:.2f} | "
                f"{c['png_level6_ms']:.1f} / {c['png_level1_ms']:.1f} / {_ms(c.get('png_served_ms'))} | "
                f"{_ms(c.get('jpeg_served_ms'))} | "
                f"{c['probe_bytes'] / 1024:.0f} KiB | "
                f"{c['naive_ms']:.2f} | {c['naive_bytes'] / 2**20:.1f} MiB | {100 * c['probe_fraction_of_naive']:.2f}% |")
        c = r["click"][-1]
        if "png_served_bytes" in c:
            text = (f"Our PNG writer (`draw.encode_png`, unfiltered rows at zlib level 1; it writes the "
                    f"generated image the page shows) gives {c['png_served_bytes'] / 1024:.0f} KiB for the {c['grid']}² overlay "
                    f"against {c['png_level1_bytes'] / 1024:.0f} KiB from PIL at level 1.")
            if "jpeg_served_bytes" in c:
                text += (f" The overlay a click shows is a JPEG (`draw.encode_jpeg`, quality 95, no "
                         f"colour subsampling): {c['jpeg_served_bytes'] / 1024:.0f} KiB; exports stay PNG. The image "
                         f"and a click's overlay travel inside the event's answer, as data: URLs. "
                         f"This table's image is random pixels, the worst case for both encoders")
                o = r.get("served_overlay")
                text += (f"; on {o['model']}'s overlays (median of {o['overlays']} clicks) the JPEG is "
                         f"{o['jpeg_bytes'] / 1024:.0f} KiB against {o['png_bytes'] / 1024:.0f} KiB as PNG." if o else ".")
            lines += ["", text]
        if r.get("click_kinds"):
            lines += ["", "The other attention kinds (models/attention.py), the same click:", "",
                      "| kind | grid | click to overlay (ms) | first \"looked at by\" on a layer (+ms) | naive (ms) |",
                      "|---|---|---|---|---|"]
            lines += [f"| {c['kind']} | {c['grid']}² | {c['click_to_overlay_ms']:.2f} | "
                      f"{c['first_looked_at_by_extra_ms']:.1f} | {c['naive_ms']:.2f} |" for c in r["click_kinds"]]
        lines += ["", "Probe memory is the queries and keys a \"looks at\" click needs. The first \"looked at by\" "
                  "click on a layer adds every query's softmax normaliser (N floats; probe / naive then "
                  + ", ".join(f"{c['grid']}²: {100 * c['probe_with_lse_fraction_of_naive']:.2f}%" for c in r["click"])
                  + "), computed once in O(N·Nk) time and cached: "
                  + ", ".join(f"{c['grid']}²: {c['first_looked_at_by_extra_ms']:.1f} ms" for c in r["click"]) + "."]
    if "train" in r:
        lines += ["", "## Training iteration (one D step + one G step, batch 64, channels_last)", "",
                  "| model | device | variant | resolution | G / D parameters | ms per step | img/s | GFLOP per image "
                  "(forward + backward, G and D) | achieved GFLOP/s |", "|---|---|---|---|---|---|---|---|---|"]
        for t in r["train"]:
            head = f"| {t['model']} | {t['device']} | {t.get('variant', 'fp32')} | {t['resolution']} | "
            if "error" in t:
                lines.append(head + f"failed: {t['error'].replace('|', '/')} | | | | |")
                continue
            lines.append(head + f"{t['g_parameters']:,} / {t['d_parameters']:,} | {t['step_ms']:.0f} | "
                         f"{t['images_per_s']:.1f} | "
                         + (f"{t['gflop_per_image']:.2f} | {t['achieved_gflops']:.0f} |" if "gflop_per_image" in t
                            else "– | – |"))
        compiled = [t for t in r["train"] if "compile_s" in t]
        if compiled:
            lines += ["", "torch.compile rows: G and D compiled (`--compile on`), timed after the compiling "
                      "(Inductor caches its work on disk: a second run compiles faster), step by step in turn "
                      "with the eager step on the same state; their GFLOP per image are the eager step's. "
                      + "; ".join(f"{t['model']} on {t['device']} ({t['variant']}): compiling {t['compile_s']:.0f} s, "
                                  f"eager {t['eager_step_ms']:.0f} ms against compiled {t['step_ms']:.0f} ms per "
                                  f"step in the same minutes, {t['speedup']:.2f}x" for t in compiled) + "."]
        ref = next((t for t in _cpu_train_rows(r, "reference-64") if "gflop_per_image" in t), None)
        peak = next((f["matmul_peak_gflops"] for f in r.get("flops", []) if f["device"] == "cpu"), None)
        if ref and peak:
            need = 35 * ref["gflop_per_image"]
            lines += ["", f"35 img/s for the reference would take {need:.0f} GFLOP/s, {100 * need / peak:.0f}% of "
                      f"the fp32 matrix-multiply peak measured above ({peak:.0f} GFLOP/s); the step achieves "
                      f"{ref['achieved_gflops']:.0f} ({100 * ref['achieved_gflops'] / peak:.0f}%)."]
    if "cold_start" in r:
        c = r["cold_start"]
        lines += ["", "## The app", "", f"- cold start, `python app.py` to the first page: {c['to_first_page_s']:.2f} s; "
                  f"to the first image from /generate: {c['to_first_image_s']:.2f} s (median of {c['runs']})"
                  + (f"; a bare `python -c 'import torch, gradio'` alone takes {c['import_torch_gradio_s']:.2f} s"
                     if "import_torch_gradio_s" in c else "")
                  + (f" ({c['import_torch_gradio_gc_off_s']:.2f} s with the garbage collector off)"
                     if "import_torch_gradio_gc_off_s" in c else "")
                  + (f"; imported as app.py does (the collector off, Gradio without its stub writer: "
                     f"attn_demo/studio/_gradio.py) {c['import_as_app_s']:.2f} s" if "import_as_app_s" in c else "") + "."]
    if "browser" in r:
        b = r["browser"]
        lines.append(f"- browser (Playwright, headless Chromium, localhost), mouse-down on the image to the new "
                     f"overlay decoded: median {b['median_ms']:.0f} ms, p90 {b['p90_ms']:.0f} ms, "
                     f"min {b['min_ms']:.0f}, max {b['max_ms']:.0f} ({b['clicks']} clicks).")
        if "page_click_median_ms" in b:
            frame = b.get("page_click_frame_median_ms")
            lines.append(f"- browser, {b['page_clicks']} clicks made as a person makes them (the pointer arrives with the "
                         f"press, held 80 ms: bench/app.py `_taps`), to the clicked map drawn in the page from the live "
                         f"payload (studio/live.js; from pointer-down's time stamp; the server's overlay follows and "
                         f"confirms it): median {b['page_click_median_ms']:.1f} ms, p90 {b['page_click_p90_ms']:.1f} ms"
                         + (f"; to the start of the frame that shows it, median {frame:.1f} ms"
                            f" (p90 {b.get('page_click_frame_p90_ms', float('nan')):.1f})" if frame else "") + ".")
        if "seed_step_median_ms" in b:
            lines.append(f"- browser, mouse-down on \"next\" to the next seed's image decoded (a render through "
                         f"the queue, no target): median {b['seed_step_median_ms']:.0f} ms ({b['seed_steps']} steps).")
        if "live_median_ms" in b:
            lines.append(f"- browser, live mode (studio/live.js): a pointer move over the image to its map drawn on the "
                         f"canvas, from the event's time stamp, computed in the page: median {b['live_median_ms']:.1f} ms, "
                         f"p90 {b['live_p90_ms']:.1f} ms ({b['live_moves']} moves).")
    if "canvas" in r:
        lines += ["", "## Canvas models", "",
                  "Through CanvasEngine, as the studio's Textures tab serves them (bench/canvas.py): the shipped "
                  "canvas model, or the planned texture generator at random weights (64-px crops, width 32, 16 local "
                  "latents per 16-px cell). Render: the generator and its attention captures. Click: the map and "
                  "its picture (over the canvas, shrunk by a whole factor to 640 px at most); map: the probe alone. Goals: 1024² in "
                  "<= 2 s, a click <= 20 ms, the first looked-at-by <= 1 s, 2048² in <= 2 GB, clicks not held up "
                  "by a render.", "",
                  "| model | attention at | canvas | grid / keys | render | click (map) | first looked-at-by "
                  "| click while painting | peak RSS |",
                  "|---|---|---:|---|---:|---:|---:|---:|---:|"]
        for c in r["canvas"]:
            busy = c.get("click_while_painting_ms")
            lines.append(f"| {c.get('model', 'planned')} | {c['attention_at']} | {c['side']}² | {c['grid'][0]}² / "
                         f"{c['keys'][0]}² | {c['render_ms']:.0f} ms | {c.get('click_ms', float('nan')):.1f} ms "
                         f"({c['looks_at_click_ms']:.2f} ms) | {c['first_looked_at_by_ms']:.0f} ms | "
                         f"{'–' if busy is None else f'{busy:.1f} ms'} | {c['peak_rss_mb']:.0f} MB |")
        lines.append("")
    if "invert" in r:
        v = r["invert"]
        lines += ["", "## Inversion", "",
                  f"serving/invert.py at its defaults ({v['steps']} steps × {v['restarts']} restarts, "
                  f"{'with' if v['feature_net'] else 'without'} the feature net) on {v['pictures']} of "
                  f"{v['model']}'s own renders, blurred a little: median {v['median_s']:.1f} s, max {v['max_s']:.1f} s "
                  f"per picture (median PSNR {v['median_psnr_db']:.1f} dB).", ""]
    text = "\n".join(lines) + "\n"
    notes = path.with_name("PERFORMANCE_NOTES.md")
    if notes.exists():
        text += "\n" + notes.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text
