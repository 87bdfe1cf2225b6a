"""Benchmarks: python -m bench [--quick] [--only gen,flops,ablation,click,train,cold,browser,canvas,material,invert,surgery].

Every figure is a median over repeated runs after warm-up, measured in one
process on this machine, and written as JSON plus docs/PERFORMANCE.md (the
report lists the machine, the date and the command). Run it on an idle
machine: another job on 2 cores makes timings meaningless. Run from the
repository root (it imports attn_demo from there and starts app.py).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import torch

from attn_demo.machine import keep_freed_memory
from attn_demo.models.checkpoint import load_pretrained
from attn_demo.models.folding import plain_copy
from attn_demo.models.networks import Generator
from attn_demo.serving.loader import find_models

from .app import bench_browser, bench_cold_start
from .canvas import bench_canvas
from .material import bench_material, bench_view3d
from .invert import bench_invert
from .click import bench_click, bench_served_overlay
from .common import REFERENCE, ROUNDS, cpu_times, machine, matmul_peak, median_row, steal_percent
from .generator import (_inference_generator, bench_ablation, bench_compiled_generator, bench_generator,
                        generator_flops)
from .report import OVERHEAD_NAME, write_report
from .surgery import bench_surgery
from .training import bench_train_variant, train_runs


def run(weights: Path, only: set[str], quick: bool, log=print) -> dict:
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    times_start = cpu_times()
    results: dict = {"machine": machine(), "quick": quick, "command": " ".join(["python -m bench"] + sys.argv[1:])}
    shipped = {p.name: load_pretrained(p).state_dict() for p in find_models(weights)}
    shipped_cfg = {p.name: load_pretrained(p).cfg for p in find_models(weights)}
    # This VM's speed drifts by a third within the hour: each part records a matmul probe
    # taken just before it, so that figures from different parts (and runs) can be compared.
    results["speed"] = {}

    def probe(*parts, gflops=None):
        gflops = gflops or matmul_peak(torch.device("cpu"), quick=True)
        results["speed"].update({part: gflops for part in parts if part in only})
    if "gen" in only or "flops" in only:
        rows, flops = [], []
        for device in devices:
            peak = matmul_peak(device, quick)
            if device.type == "cpu":
                probe("gen", "flops", gflops=peak)   # the peak measured for the FLOP table is the probe
            models = [(name, cfg, _inference_generator(cfg, device, state))
                      for name, cfg, state in [*((n, shipped_cfg[n], s) for n, s in shipped.items()),
                                               ("reference-64", REFERENCE, None),
                                               ("reference-64, scaled-dot x4 heads",
                                                replace(REFERENCE, attn_kind="scaled-dot", heads=4), None),
                                               ("reference-64, additive", replace(REFERENCE, attn_kind="additive"),
                                                None),
                                               (OVERHEAD_NAME, replace(REFERENCE, g_width=8), None)]]
            runs = {name: [] for name, _, _ in models}
            for _ in range(1 if quick else ROUNDS):   # rounds over the models, as in the ablation
                for name, _, g in models:
                    runs[name].append(bench_generator(name, g, device, quick))
            for name, cfg, g in models:
                row = median_row(runs[name])
                rows.append(row)
                if device.type == "cuda":
                    rows.append(bench_generator(name, g, device, quick, autocast=True))
                    if name == "reference-64":
                        rows += [bench_compiled_generator(name, g, device, quick, amp) for amp in (False, True)]
                f = generator_flops(g)
                as_trained = plain_copy(Generator(cfg)).to(device, memory_format=torch.channels_last)
                f_trained = generator_flops(as_trained)
                achieved = f / (row["batch64"]["median_ms"] / 1e3) / 1e9
                flops.append({"model": name, "device": str(device), "gflop_per_image": f / 64 / 1e9,
                              "gflop_per_image_as_trained": f_trained / 64 / 1e9,
                              "achieved_gflops": achieved, "matmul_peak_gflops": peak,
                              "fraction_of_peak": achieved / peak})
                log(f"  generator {name} on {device}: batch-1 {row['batch1']['median_ms']:.2f} ms, "
                    f"batch-64 {row['batch64_images_per_s']:.0f} img/s, {achieved:.0f} GFLOP/s of {peak:.0f}")
        results["generator"], results["flops"] = rows, flops
    if "ablation" in only:
        probe("ablation")
        results["ablation"] = bench_ablation(REFERENCE, quick)
        for a in results["ablation"]:
            log(f"  reference G, {a['variant']}: batch-64 {a['batch64_images_per_s']:.0f} img/s")
    if "click" in only:
        probe("click")
        results["click"] = []
        for grid in (16, 32, 64, 128):
            r = bench_click(grid, quick)
            results["click"].append(r)
            log(f"  click at {grid}x{grid}: {r['click_to_overlay_ms']:.2f} ms (naive {r['naive_ms']:.2f} ms), "
                f"probe {r['probe_bytes'] / 1024:.0f} KiB vs {r['naive_bytes'] / 2**20:.1f} MiB")
        # the other attention kinds: a row or a column costs O(Nk d) for each (models/attention.py)
        results["click_kinds"] = [bench_click(grid, quick, kind=kind) for kind in ("scaled-dot", "additive")
                                  for grid in (32, 128)]
        for r in results["click_kinds"]:
            log(f"  click at {r['grid']}x{r['grid']}, {r['kind']}: {r['click_to_overlay_ms']:.2f} ms, first "
                f"looked-at-by +{r['first_looked_at_by_extra_ms']:.1f} ms (naive {r['naive_ms']:.2f} ms)")
        if shipped:
            results["served_overlay"] = bench_served_overlay(weights)
    if "train" in only:
        probe("train")
        results["train"] = []
        for device in devices:
            for name, cfg, variant in train_runs(device, shipped_cfg, quick):
                r = bench_train_variant(name, cfg, quick, device, variant)
                results["train"].append(r)
                log(f"  training {name} on {device}, {r['variant']}: " + (f"failed: {r['error']}" if "error" in r else
                    f"{r['images_per_s']:.1f} img/s ({r['step_ms']:.0f} ms per D+G step)"))
    if "cold" in only and shipped:
        probe("cold")
        results["cold_start"] = bench_cold_start(weights, runs=1 if quick else 5)
        log(f"  cold start: page {results['cold_start']['to_first_page_s']:.2f} s, "
            f"first image {results['cold_start']['to_first_image_s']:.2f} s")
    if "browser" in only and shipped and Path("/usr/bin/chromium").exists():
        probe("browser")
        results["browser"] = bench_browser(weights, clicks=5 if quick else 20, steps_count=3 if quick else 10)
        log(f"  browser click to overlay: median {results['browser']['median_ms']:.0f} ms; "
            f"next seed to its image: median {results['browser']['seed_step_median_ms']:.0f} ms; "
            f"live map under the pointer: median {results['browser']['live_median_ms']:.1f} ms")
    if "canvas" in only:
        probe("canvas")
        canvases = find_models(weights, kind="canvas")
        results["canvas"] = bench_canvas(quick, weights=canvases[0] if canvases else None)
        for r in results["canvas"]:
            log(f"  canvas {r['model']} {r['side']}² (attention at {r['attention_at']}): render {r['render_ms']:.0f} ms, "
                f"click {r['click_ms']:.1f} ms (map {r['looks_at_click_ms']:.2f} ms), first looked-at-by "
                f"{r['first_looked_at_by_ms']:.0f} ms, peak RSS {r['peak_rss_mb']:.0f} MB")
    if "material" in only:
        probe("material")
        canvases = find_models(weights, kind="canvas")
        results["material"] = {"sets": bench_material(quick, weights=canvases[0] if canvases else None),
                               "view3d": bench_view3d(weights, shows=1 if quick else 3)
                               if canvases and Path("/usr/bin/chromium").exists() else None}
        for r in results["material"]["sets"]:
            log(f"  {r['what']}: " + ", ".join(f"{k} {v:.0f}" for k, v in r.items() if k.endswith("_ms")))
        if results["material"]["view3d"]:
            log(f"  3-D preview: first paint {results['material']['view3d']['first_paint_s']:.2f} s from the click")
    if "invert" in only and shipped:
        probe("invert")
        results["invert"] = bench_invert(find_models(weights)[0], weights / "feature_net", pictures=2 if quick else 5)
        r = results["invert"]
        log(f"  inversion ({r['model']}, {r['steps']} steps x {r['restarts']} restarts): median {r['median_s']:.1f} s, "
            f"max {r['max_s']:.1f} s")
    if "surgery" in only and shipped:
        probe("surgery")
        results["surgery"] = [bench_surgery(p, quick) for p in find_models(weights)]
        for r in results["surgery"]:
            log(f"  surgery {r['model']} {r['layer']}: full render {r['full_render']['median_ms']:.1f} ms, switch-off "
                f"{r['switch_off']['median_ms']:.1f} ms, faithfulness {r['faithfulness']['median_ms']:.1f} ms")
    results["machine"]["load_average_end"] = os.getloadavg()[0]
    results["machine"]["cpu_steal_percent"] = steal_percent(times_start, cpu_times())
    return results


PARTS = ("gen", "flops", "ablation", "click", "train", "cold", "browser", "canvas", "material", "invert", "surgery")


def _keys(part: str) -> tuple[str, ...]:
    """The results keys a part of the benchmark writes (the first one always)."""
    return {"gen": ("generator",), "cold": ("cold_start",),
            "click": ("click", "click_kinds", "served_overlay")}.get(part, (part,))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                description="Measure generation, clicks, training and the app; write JSON "
                                            "and a report.")
    p.add_argument("--weights", type=Path, default=Path("weights"), help="folder of shipped models")
    p.add_argument("--only", default=",".join(PARTS),
                   help="comma-separated subset of gen,flops,ablation,click,train,cold,browser,canvas,material,invert,surgery")
    p.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run, not for reporting)")
    p.add_argument("--json", type=Path, default=Path("docs/performance.json"), help="where the figures go")
    p.add_argument("--md", default="docs/PERFORMANCE.md", help="the report (rewritten); '' for none")
    p.add_argument("--merge", action="store_true",
                   help="keep the figures of --json that this run does not measure (their dates are kept)")
    args = p.parse_args(argv)
    keep_freed_memory()   # as the app and the CLI run: freed activation memory is reused (attn_demo/machine.py)
    bench(args)
    return 0


def bench(args) -> None:
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    results = run(args.weights, only, args.quick)
    results["measured"] = {part: results["machine"]["date"] for part in PARTS if _keys(part)[0] in results}
    if args.merge and args.json.exists():
        old = json.loads(args.json.read_text())
        kept = {part: date for part, date in old.get("measured", {}).items() if part not in only}
        for part in kept:
            for key in _keys(part):
                if key in old:
                    results.setdefault(key, old[key])
        results["measured"] = {**kept, **results["measured"]}
        results["speed"] = {**{p: v for p, v in old.get("speed", {}).items() if p in kept},
                            **results.get("speed", {})}
        results["command"] += f" (merged into the figures of {args.json})"
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.md:
        write_report(results, Path(args.md))
    print(f"wrote {args.json}" + (f" and {args.md}" if args.md else ""))


if __name__ == "__main__":
    sys.exit(main())
