"""The benchmark suite measures what it says, on tiny configurations (no timings asserted)."""
import json
import os
import subprocess
import sys

import pytest
import torch

import bench.__main__ as driver
from attn_demo.models.config import ModelConfig
from attn_demo.models.folding import FrozenNorm, FusedSelfAttention2d, plain_copy
from bench import app as bench_app
from bench import click, common, generator, training
from bench.report import write_report
from conftest import load_script

TINY = ModelConfig(resolution=32, z_dim=16, g_width=8, d_width=8, g_attn=(16,), d_attn=(16,), num_classes=2,
                   class_names=("a", "b"))


def test_naive_attention_used_by_the_ablation_equals_the_fused_kernel():
    q, k, v = torch.randn(2, 1, 64, 8), torch.randn(2, 1, 16, 8), torch.randn(2, 1, 16, 8)
    fused = torch.nn.functional.scaled_dot_product_attention(q, k, v, scale=0.5)
    assert torch.allclose(generator._naive_sdpa(q, k, v, scale=0.5), fused, atol=1e-5)


def test_ablation_undoes_one_fix_per_row(monkeypatch):
    calls = []
    naive = generator._naive_sdpa
    monkeypatch.setattr(generator, "_naive_sdpa", lambda *a, **kw: calls.append(1) or naive(*a, **kw))
    fresh = []
    monkeypatch.setattr(generator, "bench_fresh_process", lambda name, cfg, quick, keep_freed: fresh.append(keep_freed)
                        or {"batch1": {"median_ms": 1.0}, "batch64": {"median_ms": 1.0}})
    frozen = {}   # variant -> whether its blocks' norms, its attention and its stem's layout are folded
    real = generator.bench_generator

    def spy(name, g, *args, **kwargs):
        frozen[name.split()[0]] = (all(isinstance(getattr(b, "norm1", None), FrozenNorm) for b in g.blocks),
                                   all(isinstance(a, FusedSelfAttention2d) for a in g.attn.values()),
                                   g.stem.weight.t().is_contiguous())
        return real(name, g, *args, **kwargs)
    monkeypatch.setattr(generator, "bench_generator", spy)
    rows = generator.bench_ablation(TINY, quick=True, compile_=False)
    assert frozen["served:"] == (True, True, True)
    assert frozen["block"] == (False, True, True) and frozen["attention"] == (True, False, True)
    assert frozen["stem"] == (True, True, False)
    assert [r["variant"].split()[0] for r in rows] == ["served:", "NCHW", "spectral", "upsample", "block", "attention",
                                                          "transposed", "stem",
                                                          "N", "malloc:", "malloc:"]
    assert fresh == [True, False], "the allocator pair is not the app's setting beside glibc's defaults"
    assert all(r["batch1_ms"] > 0 and r["batch64_images_per_s"] > 0 for r in rows)
    assert calls, "the materialised-softmax row never ran the naive attention"


def test_fresh_process_rows_run_the_generator_with_and_without_the_allocator_setting():
    for keep in (True, False):
        r = generator.bench_fresh_process("tiny", TINY, quick=True, keep_freed=keep)
        assert r["model"] == "tiny" and r["resolution"] == 32
        assert r["batch1"]["median_ms"] > 0 and r["batch64_images_per_s"] > 0


def test_click_benchmark_counts_probe_and_naive_bytes():
    r = click.bench_click(16, quick=True, channels=16)
    assert (r["N"], r["Nk"]) == (256, 64)
    assert r["naive_bytes"] == 256 * 64 * 4
    assert r["probe_bytes"] == 256 * 2 * 4 + 64 * 2 * 4        # q and k at C/8 = 2 channels, float32
    assert 0 < r["probe_fraction_of_naive"] < 1
    assert r["click_to_overlay_ms"] > 0 and r["naive_ms"] > 0
    assert 0 < r["jpeg_served_bytes"] < r["png_served_bytes"] and r["jpeg_served_ms"] > 0


def test_served_overlay_sizes_are_measured_on_a_shipped_model(ui_weights):
    r = click.bench_served_overlay(ui_weights, count=3)
    assert r["model"] == "tiny32" and r["overlays"] == 3 and 0 < r["jpeg_bytes"] < r["png_bytes"]


def test_report_marks_met_missed_and_unmeasured_targets(tmp_path):
    results = {"machine": {"date": "d", "cpu": "cpu", "cores": 2, "torch": "t", "torch_threads": 2},
               "command": "python -m bench", "quick": False,
               "generator": [{"model": "reference-64", "device": "cpu", "parameters": 10,
                              "batch1": {"median_ms": 9.0}, "batch64_images_per_s": 400.0}],
               "ablation": [{"variant": "served", "batch1_ms": 1.0, "batch64_images_per_s": 5.0},
                            {"variant": "compiled", "batch1_ms": None, "batch64_images_per_s": 9.0,
                             "compile_s": 40.0, "max_abs_diff": 1e-6}]}
    text = write_report(results, tmp_path / "PERFORMANCE.md")
    assert "| reference G, batch 64 (CPU) | 400 img/s | >= 300 img/s | met |" in text
    assert "| reference G, batch 1 (CPU) | 9 ms | <= 5 ms | **missed** |" in text
    assert "| cold start to first image | not measured |" in text
    assert "compile 40 s" in text
    assert "at width 8" not in text                  # the overhead row's note comes with the row
    results["generator"].append({**results["generator"][0], "model": "reference-64 at width 8"})
    assert "its batch-1 time is what those ops cost" in write_report(results, tmp_path / "PERFORMANCE.md")
    results["speed"] = {"gen": 251.4}
    assert "measured just before each part: gen 251 GFLOP/s" in write_report(results, tmp_path / "PERFORMANCE.md")


def test_merge_keeps_the_parts_this_run_did_not_measure(tmp_path, monkeypatch):
    import argparse
    old = {"machine": {"date": "old"}, "command": "c", "measured": {"gen": "old", "cold": "old", "click": "old"},
           "generator": ["old figures"], "cold_start": {"to_first_image_s": 9.0},
           "click": ["old clicks"], "served_overlay": {"jpeg_bytes": 1},
           "speed": {"gen": 200.0, "cold": 150.0, "click": 210.0}}
    (tmp_path / "p.json").write_text(json.dumps(old))
    monkeypatch.setattr(driver, "run", lambda weights, only, quick: {
        "machine": {"date": "new"}, "command": "python -m bench --only cold",
        "cold_start": {"to_first_image_s": 5.0}, "speed": {"cold": 180.0}})
    args = argparse.Namespace(only="cold", weights=tmp_path, quick=False, json=tmp_path / "p.json", md="",
                              merge=True)
    driver.bench(args)
    merged = json.loads((tmp_path / "p.json").read_text())
    assert merged["generator"] == ["old figures"] and merged["cold_start"]["to_first_image_s"] == 5.0
    assert merged["click"] == ["old clicks"] and merged["served_overlay"] == {"jpeg_bytes": 1}   # both click keys
    assert merged["measured"] == {"gen": "old", "cold": "new", "click": "old"}
    assert merged["speed"] == {"gen": 200.0, "cold": 180.0, "click": 210.0}   # each part keeps its probe


def test_cold_start_fetches_the_first_image_over_plain_http(app_url, studio):
    import io

    import numpy as np
    from PIL import Image

    from attn_demo.serving.engine import RenderArgs
    served = bench_app.first_image(app_url, ["tiny32", 42, 1.0, "", ""])
    expected = studio.engine("tiny32").render(RenderArgs(42)).image
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(served))), expected)
    with pytest.raises(RuntimeError, match="gave no image"):
        bench_app.first_image(app_url, ["no such model", 42, 1.0, "", ""])


def test_steal_percent_from_two_readings():
    assert common.steal_percent((10, 1000), (60, 2000)) == 5.0
    assert common.steal_percent(None, (1, 2)) is None
    assert common.steal_percent((5, 100), (5, 100)) is None
    now = common.cpu_times()
    if now is not None:  # Linux
        assert 0 <= now[0] <= now[1]


def test_training_benchmark_counts_the_flops_of_a_step(tmp_path):
    from attn_demo.models.networks import Generator
    r = training.bench_train("tiny", TINY, quick=True, batch=8)
    assert r["images_per_s"] > 0 and r["step_ms"] > 0
    # a step runs G forward twice and backward once, and D forward and backward on 3 batches
    g_forward = generator.generator_flops(plain_copy(Generator(TINY)), batch=8) / 8
    assert r["gflop_per_image"] * 1e9 > 4 * g_forward
    assert abs(r["achieved_gflops"] - r["gflop_per_image"] * r["images_per_s"]) < 1e-6 * r["achieved_gflops"]
    results = {"machine": {"date": "d", "cpu": "cpu", "cores": 2, "torch": "t", "torch_threads": 2},
               "command": "c", "quick": True, "train": [{**r, "model": "reference-64"}],
               "flops": [{"model": "reference-64", "device": "cpu", "gflop_per_image": 0.3,
                          "achieved_gflops": 50.0, "matmul_peak_gflops": 100.0, "fraction_of_peak": 0.5}]}
    need = 35 * r["gflop_per_image"]
    assert f"35 img/s for the reference would take {need:.0f} GFLOP/s, {need:.0f}% of" \
        in write_report(results, tmp_path / "PERFORMANCE.md")


def test_ablation_takes_medians_over_interleaved_rounds(monkeypatch):
    order = []

    def fake(name, *args, **kwargs):
        order.append(name)
        ms = {1: 5.0, 2: 1.0, 3: 3.0}[order.count(name)]   # a noisy round per variant
        return {"batch1": {"median_ms": ms}, "batch64": {"median_ms": 10 * ms}}
    monkeypatch.setattr(generator, "bench_generator", fake)
    monkeypatch.setattr(generator, "bench_fresh_process", fake)
    rows = generator.bench_ablation(TINY, quick=False, compile_=False)
    names = [r["variant"] for r in rows]
    assert len(names) == 11 and order == names * 3    # every variant once per round, in turn
    assert all(r["rounds"] == 3 and r["batch1_ms"] == 3.0 and r["batch64_images_per_s"] == 64 / 0.030
               for r in rows)


def test_generator_row_from_rounds_keeps_each_round():
    runs = [{"model": "m", "batch1": {"median_ms": ms, "p90_ms": ms + 1}, "batch64": {"median_ms": 64 * ms}}
            for ms in (4.0, 2.0, 9.0)]
    row = common.median_row(runs)
    assert row["model"] == "m" and row["batch1"]["median_ms"] == 4.0 and row["batch64_images_per_s"] == 250.0
    assert [r["p90_ms"] for r in row["batch1"]["rounds"]] == [5.0, 3.0, 10.0]


@pytest.mark.browser
def test_browser_bench_times_clicks_and_seed_steps_against_the_app(ui_weights):
    if not os.path.exists("/usr/bin/chromium") and os.environ.get("ATTN_DEMO_REQUIRE_BROWSER") != "1":
        pytest.skip("apt-get install chromium to run the browser tests")
    # In a child process: Playwright's sync API cannot nest inside the browser tests' session.
    # The second run adds 40 ms to every request: a click (one request) cannot come back sooner.
    code = ("import json, sys; from pathlib import Path; from bench import app as bench_app; "
            "print(json.dumps([bench_app.bench_browser(Path(sys.argv[1]), clicks=2, steps_count=2), "
            "bench_app.bench_browser(Path(sys.argv[1]), clicks=2, steps_count=1, latency_ms=40)]))")
    out = subprocess.run([sys.executable, "-c", code, str(ui_weights)], capture_output=True, text=True,
                         cwd=common.ROOT, timeout=300)
    assert out.returncode == 0, f"the browser bench failed:\n{out.stderr[-3000:]}"
    r, far = json.loads(out.stdout.splitlines()[-1])
    assert r["clicks"] == 2 and r["seed_steps"] == 2
    assert 0 < r["min_ms"] <= r["median_ms"] <= r["max_ms"] and r["seed_step_median_ms"] > 0
    assert r["live_moves"] == 40 and 0 < r["live_median_ms"] <= r["live_p90_ms"]
    # taps (pressed where the pointer lands, held) drawn in the page at pointer-down (live.js), and their frame
    assert r["page_clicks"] == 2 and 0 < r["page_click_median_ms"] <= r["page_click_p90_ms"]
    assert r["page_click_median_ms"] <= r["page_click_frame_median_ms"] <= r["page_click_frame_p90_ms"]
    assert far["clicks"] == 2 and far["min_ms"] >= 40 and far["seed_step_median_ms"] >= 40


def test_browser_ab_script_alternates_two_checkouts_and_cleans_up(monkeypatch, tmp_path):
    """scripts/browser_ab.py serves each commit from its own worktree, alternates the order every
    round, and removes the worktrees; the browser part itself is bench_browser (tested above)."""
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("the script checks for chromium first")
    ab = load_script("browser_ab")
    calls = []

    def fake_browser(weights, clicks, steps, root, latency_ms):
        assert (root / "app.py").exists() and (root / "attn_demo").is_dir() and latency_ms == 25
        calls.append(root.name)
        t = 50.0 if root.name == "app0" else 40.0
        return {"median_ms": t, "seed_step_median_ms": 4 * t}
    monkeypatch.setattr(ab, "bench_browser", fake_browser)
    out = tmp_path / "ab.json"
    r = ab.main(["HEAD", "HEAD", "--rounds", "3", "--clicks", "2", "--steps", "1", "--latency-ms", "25",
                 "--out", str(out)])
    assert calls == ["app0", "app1", "app1", "app0", "app0", "app1"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=common.ROOT, capture_output=True, text=True).stdout.strip()
    assert [a["commit"] for a in r["apps"]] == [head, head]
    assert [a["click_ms"] for a in r["apps"]] == [50.0, 40.0] and r["second_clicked_faster_in_rounds"] == 3
    assert json.loads(out.read_text())["apps"][1]["seed_step_medians_ms"] == [160.0] * 3
    trees = subprocess.run(["git", "worktree", "list"], cwd=common.ROOT, capture_output=True, text=True).stdout
    assert "app0" not in trees and "app1" not in trees
    with pytest.raises(SystemExit):
        ab.main(["HEAD", "HEAD", "--rounds", "0"])


def test_training_table_measures_compile_and_records_a_failed_variant(monkeypatch, tmp_path):
    import attn_demo.training.trainer as tr
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(training, "cpu_has_native_bf16", lambda: False)
    assert [(n, v) for n, _, v in training.train_runs(cpu, {"m": TINY}, quick=False)] == [
        ("m", {}), ("reference-64", {}), ("reference-64", {"compile_": True})]
    assert [v for _, _, v in training.train_runs(cpu, {}, quick=True)] == [{}]
    assert [v for _, _, v in training.train_runs(cuda, {}, quick=True)] == [{}, {"amp": False}, {"compile_": True}]
    monkeypatch.setattr(training, "cpu_has_native_bf16", lambda: True)   # --amp bf16 beside the default fp32
    assert [v for _, _, v in training.train_runs(cpu, {}, quick=True)] == [{}, {"amp": True}]
    assert [v for _, _, v in training.train_runs(cuda, {}, quick=True)] == [{}, {"amp": False}, {"compile_": True}]
    compiled = []
    monkeypatch.setattr(tr.torch, "compile", lambda m: compiled.append(m) or m)   # the plumbing, not Inductor
    r = training.bench_train_variant("tiny", TINY, True, cpu, {"compile_": True})
    assert compiled and r["variant"] == "fp32 + torch.compile" and r["compile_s"] > 0 and r["images_per_s"] > 0
    assert r["speedup"] == pytest.approx(r["eager_step_ms"] / r["step_ms"])

    def broken(*args, **kwargs):
        raise RuntimeError("no compiler\nfor this GPU")
    monkeypatch.setattr(tr.torch, "compile", broken)
    failed = training.bench_train_variant("tiny", TINY, True, cpu, {"compile_": True})
    assert failed["error"] == "RuntimeError: no compiler" and failed["variant"] == "fp32 + torch.compile"
    monkeypatch.setattr(training, "bench_train", broken)
    with pytest.raises(RuntimeError):   # the default row is no variant: its failure is a bug, not a row
        training.bench_train_variant("tiny", TINY, True, cpu, {})
    default = {**r, "variant": "fp32", "images_per_s": 12.5, "model": "reference-64"}
    results = {"machine": {"date": "d", "cpu": "cpu", "cores": 2, "torch": "t", "torch_threads": 2},
               "command": "c", "quick": True, "train": [{**r, "model": "reference-64"}, default,
                                                        {**failed, "model": "reference-64"}]}
    md = write_report(results, tmp_path / "PERFORMANCE.md")
    assert "| training, reference at 64x64 | 12.5 img/s | >= 35 img/s | **missed** |" in md   # the eager row
    assert "| the same with `--amp bf16` (a CPU with native bf16) | not measured |" in md
    results["train"].append({**default, "variant": "bf16", "images_per_s": 40.0})
    md = write_report(results, tmp_path / "PERFORMANCE.md")
    assert "| the same with `--amp bf16` (a CPU with native bf16) | 40 img/s | >= 35 img/s | met |" in md
    assert "| reference-64 | cpu | fp32 + torch.compile | 32 | failed: RuntimeError: no compiler |" in md
    assert (f"reference-64 on cpu (fp32 + torch.compile): compiling {r['compile_s']:.0f} s, eager "
            f"{r['eager_step_ms']:.0f} ms against compiled {r['step_ms']:.0f} ms per step in the same minutes, "
            f"{r['speedup']:.2f}x") in md


def test_compiled_generator_rows_and_a_failed_one(monkeypatch, tmp_path):
    """The CUDA table's torch.compile rows, run on the CPU with compiling replaced (the plumbing)."""
    g = generator._inference_generator(TINY, torch.device("cpu"))
    modes = []
    monkeypatch.setattr(torch, "compile", lambda m, mode: modes.append(mode) or m)
    row = generator.bench_compiled_generator("tiny", g, torch.device("cpu"), True, autocast=False)
    assert modes == ["reduce-overhead"] and row["device"] == "cpu + torch.compile"
    assert row["compile_s"] > 0 and row["batch1"]["median_ms"] > 0 and row["batch64_images_per_s"] > 0

    def broken(m, mode):
        raise RuntimeError("Triton is missing\nmore")
    monkeypatch.setattr(torch, "compile", broken)
    failed = generator.bench_compiled_generator("tiny", g, torch.device("cpu"), True, autocast=True)
    assert failed == {"model": "tiny", "device": "cpu bf16 + torch.compile", "error": "RuntimeError: Triton is missing"}
    results = {"machine": {"date": "d", "cpu": "cpu", "cores": 2, "torch": "t", "torch_threads": 2},
               "command": "c", "quick": True, "generator": [row, failed]}
    md = write_report(results, tmp_path / "PERFORMANCE.md")
    assert "| tiny | cpu bf16 + torch.compile | failed: RuntimeError: Triton is missing | | |" in md
    assert f"which took {row['compile_s']:.0f} s (cpu + torch.compile)." in md


def test_runtimes_script_says_what_to_install():
    """scripts/runtimes.py needs packages that are not in requirements.txt: it says which, and stops."""
    import importlib.util
    if importlib.util.find_spec("onnxscript") and importlib.util.find_spec("onnxruntime"):
        pytest.skip("the export packages are installed here: the script would run the comparison")
    r = subprocess.run([sys.executable, "scripts/runtimes.py"], capture_output=True, text=True, timeout=120,
                       cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert r.returncode == 1 and "pip install onnx onnxscript onnxruntime openvino" in r.stderr


def test_the_bench_runs_with_the_apps_allocator_setting(monkeypatch, tmp_path):
    """python -m bench measures the generator as the app serves it: freed memory kept for reuse
    (without it, batch-64 throughput and the naive 256 MiB softmax read slower than the app's)."""
    calls = []
    monkeypatch.setattr(driver, "keep_freed_memory", lambda: calls.append("malloc") or True)
    monkeypatch.setattr(driver, "bench", lambda args: calls.append(("bench", args.only)))
    assert driver.main(["--only", "click", "--json", str(tmp_path / "p.json"), "--md", ""]) == 0
    assert calls == ["malloc", ("bench", "click")]


def test_click_benchmark_measures_every_attention_kind():
    for kind in ("scaled-dot", "additive"):
        r = click.bench_click(16, quick=True, channels=16, kind=kind)
        assert r["kind"] == kind and r["click_to_overlay_ms"] > 0 and r["naive_ms"] > 0
        assert r["probe_bytes"] < r["naive_bytes"] and r["first_looked_at_by_extra_ms"] > 0


def test_canvas_bench_rows_and_their_report(tmp_path):
    from bench.canvas import bench_canvas
    from bench.report import write_report
    rows = bench_canvas(quick=True, attn_at=(8,))
    assert [r["side"] for r in rows] == [512, 1024]
    assert rows[1]["grid"] == [128, 128] and rows[1]["keys"] == [64, 64]
    assert all(r["render_ms"] > 0 and r["looks_at_click_ms"] > 0 and r["click_ms"] > 0 for r in rows)
    assert all(r["click_while_painting_ms"] > 0 for r in rows)
    r = {"machine": {"cpu": "test", "cores": 2, "torch": "x", "torch_threads": 2, "date": "today"},
         "command": "python -m bench --only canvas", "canvas": rows}
    md = write_report(r, tmp_path / "PERFORMANCE.md")
    assert "## Canvas models" in md and "| canvas | 1/8 | 1024² | 128² / 64² |" in md


def test_the_inversion_bench_row_and_its_target(cond_model_dir, tmp_path):
    from bench.invert import bench_invert
    from bench.report import write_report
    r = bench_invert(cond_model_dir, tmp_path / "no_feature_net", pictures=2)
    assert r["pictures"] == 2 and r["median_s"] > 0 and r["feature_net"] is False
    results = {"machine": {"date": "d", "cpu": "cpu", "cores": 2, "torch": "t", "torch_threads": 2},
               "command": "python -m bench --only invert", "invert": r}
    text = write_report(results, tmp_path / "PERFORMANCE.md")
    assert "| inversion at the default settings (median) |" in text and "## Inversion" in text
