"""Benchmarks: python -m attn_demo bench [--quick] [--only gen,flops,ablation,click,train,cold,browser].

Every figure is a median over repeated runs after warm-up, measured in one
process on this machine, and written as JSON plus docs/PERFORMANCE.md (the
report lists the machine, the date and the command). Run it on an idle
machine: another job on 2 cores makes timings meaningless.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from . import render
from .attention import SelfAttention2d
from .bench_report import OVERHEAD_NAME
from .config import ModelConfig, TrainConfig
from .engine import prepare_generator
from .layers import UpBlock, fold_spectral_norm
from .malloc import keep_freed_memory
from .model import Generator, count_parameters, generator_parameters
from .probe import AttentionRecorder
from .train import Batches, Runtime, build_state, cpu_has_native_bf16, step_modules, train_step

ROUNDS = 3   # the generator tables: medians over rounds, each measuring every variant in turn
ROOT = Path(__file__).resolve().parent.parent   # the repository: app.py, and attn_demo importable
REFERENCE = ModelConfig(resolution=64, z_dim=128, g_width=64, d_width=64, g_attn=(32,), d_attn=(32,))
DISPLAY = 512


def timings(fn, warmup: int = 3, repeat: int = 20, sync=None) -> dict:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        if sync:
            sync()
        t = time.perf_counter()
        fn()
        if sync:
            sync()
        out.append(time.perf_counter() - t)
    ms = sorted(1e3 * v for v in out)
    return {"median_ms": statistics.median(ms), "p10_ms": ms[len(ms) // 10],
            "p90_ms": ms[min(len(ms) - 1, (9 * len(ms)) // 10)], "n": repeat}


def cpu_times() -> tuple[int, int] | None:
    """(steal, total) CPU jiffies since boot from /proc/stat, or None off Linux.

    Steal is time the hypervisor gave this VM's virtual CPUs to someone else:
    on a shared cloud VM it is what makes one run slower than the next.
    """
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


def steal_percent(start: tuple[int, int] | None, end: tuple[int, int] | None) -> float | None:
    if start is None or end is None or end[1] <= start[1]:
        return None
    return 100.0 * (end[0] - start[0]) / (end[1] - start[1])


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _inference_generator(cfg: ModelConfig, device: torch.device, state: dict | None = None) -> Generator:
    g = Generator(cfg)
    if state is not None:
        g.load_state_dict(state)
    return prepare_generator(g, device)


# ------------------------------------------------------------------ generator
@torch.inference_mode()
def bench_generator(name: str, g: Generator, device: torch.device, quick: bool, autocast: bool = False,
                    variant: str = "") -> dict:
    cfg = g.cfg
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    ctx = (lambda: torch.autocast("cuda", torch.bfloat16)) if autocast else None

    def run(z, y):
        if ctx:
            with ctx():
                return g(z, y)
        return g(z, y)
    row = {"model": name, "device": _generator_label(device, autocast, variant),
           "resolution": cfg.resolution, "parameters": generator_parameters(cfg)}  # as trained, not as folded
    for batch, repeat in ((1, 15 if quick else 50), (64, 3 if quick else 10)):
        z = torch.randn(batch, cfg.z_dim, device=device)
        y = torch.zeros(batch, dtype=torch.long, device=device) if cfg.num_classes else None
        t = timings(lambda: run(z, y), warmup=2, repeat=repeat, sync=sync)
        row[f"batch{batch}"] = t
        row[f"batch{batch}_images_per_s"] = batch / (t["median_ms"] / 1e3)
    return row


def bench_compiled_generator(name: str, g: Generator, device: torch.device, quick: bool, autocast: bool) -> dict:
    """The served G under torch.compile with CUDA graphs ("reduce-overhead": batch 1 on a GPU is
    bound by kernel launches, which a graph replays at once). Compiling (each batch size once)
    is timed apart; a failure becomes a row that says so, as a GPU run's time is short."""
    label = " + torch.compile"
    try:
        compiled = torch.compile(g, mode="reduce-overhead")
        t = time.perf_counter()
        with torch.inference_mode(), (torch.autocast(device.type, torch.bfloat16) if autocast
                                      else contextlib.nullcontext()):
            for batch in (1, 64):
                y = torch.zeros(batch, dtype=torch.long, device=device) if g.cfg.num_classes else None
                compiled(torch.randn(batch, g.cfg.z_dim, device=device), y)
        compile_s = time.perf_counter() - t
        return {**bench_generator(name, compiled, device, quick, autocast, variant=label), "compile_s": compile_s}
    except Exception as e:   # noqa: BLE001 -- recorded, the run goes on
        return {"model": name, "device": _generator_label(device, autocast, label),
                "error": _error_text(e)}


def _generator_label(device: torch.device, autocast: bool, variant: str = "") -> str:
    """The generator table's device column: "cuda bf16 + torch.compile", say."""
    return str(device) + (" bf16" if autocast else "") + variant


def _error_text(e: Exception) -> str:
    return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]


def median_row(runs: list[dict]) -> dict:
    """One row from rounds of bench_generator: the median of the rounds' medians (each
    round's timings are kept under "rounds")."""
    row = {**runs[0], "rounds": len(runs)}
    for batch in (1, 64):
        ms = statistics.median(r[f"batch{batch}"]["median_ms"] for r in runs)
        row[f"batch{batch}"] = {"median_ms": ms, "rounds": [r[f"batch{batch}"] for r in runs]}
        row[f"batch{batch}_images_per_s"] = batch / (ms / 1e3)
    return row


def matmul_peak(device: torch.device, quick: bool) -> float:
    """Measured fp32 matrix-multiply GFLOP/s (2048^3 torch.mm)."""
    n = 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    t = timings(lambda: torch.mm(a, b), warmup=2, repeat=3 if quick else 7, sync=sync)
    return 2 * n ** 3 / (t["median_ms"] / 1e3) / 1e9


@torch.inference_mode()
def generator_flops(g: Generator, batch: int = 64) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    z = torch.randn(batch, g.cfg.z_dim, device=next(g.parameters()).device)
    y = torch.zeros(batch, dtype=torch.long, device=z.device) if g.cfg.num_classes else None
    with FlopCounterMode(display=False) as counter:
        g(z, y)
    return counter.get_total_flops()


def _naive_sdpa(q, k, v, scale=None, **_):
    """Attention that builds the N x Nk softmax, as the public SAGAN code does."""
    return torch.softmax(q @ k.transpose(-1, -2) * scale, dim=-1) @ v


@torch.inference_mode()
def bench_ablation(cfg: ModelConfig, quick: bool, compile_: bool = True) -> list[dict]:
    """What each inference fix buys: the served generator beside versions with one fix undone
    (CPU, random weights of `cfg`), and torch.compile on top of it."""
    from contextlib import nullcontext
    from unittest import mock
    device = torch.device("cpu")
    served = _inference_generator(cfg, device)
    contiguous = _inference_generator(cfg, device).to(memory_format=torch.contiguous_format)
    unfolded = Generator(cfg).eval().requires_grad_(False).to(memory_format=torch.channels_last)
    upsampled = fold_spectral_norm(Generator(cfg).eval()).requires_grad_(False)
    upsampled = upsampled.to(memory_format=torch.channels_last)

    def served_without(cls, fold: str) -> Generator:   # the served G with one fold method skipped
        with mock.patch.object(cls, fold, lambda self: None):
            return _inference_generator(cfg, device)
    transposed = _inference_generator(cfg, device)
    for block in transposed.blocks:
        block.up_phases = None                      # the transposed conv on every map size
    naive = lambda: mock.patch.object(torch.nn.functional, "scaled_dot_product_attention", _naive_sdpa)  # noqa: E731
    variants = [("served: folded spectral norm, upsampling (per-phase products on small maps), norms "
                 "and attention projections, input-major stem weight, "
                 "channels_last, fused attention, "
                 "malloc keeps freed memory", served, nullcontext),
                ("NCHW (contiguous) memory", contiguous, nullcontext),
                ("spectral norm not folded (W / sigma every call)", unfolded, nullcontext),
                ("upsample + 3x3 conv (not folded into a transposed conv)", upsampled, nullcontext),
                ("block norms not folded (a BatchNorm call each, bn2 a pass of its own)",
                 served_without(UpBlock, "fold_norms"), nullcontext),
                ("attention projections not folded (three 1x1 convs, padding, gamma a multiply)",
                 served_without(SelfAttention2d, "fold"), nullcontext),
                ("transposed conv on the small maps too (no per-phase matrix product)", transposed, nullcontext),
                ("stem weight as nn.Linear keeps it, (out, in) in memory",
                 served_without(Generator, "transpose_stem"), nullcontext),
                ("N x Nk softmax materialised", served, naive)]
    # The allocator's settings act on the heap that a process has built so far: that pair is
    # measured in fresh processes, the served setting beside glibc's defaults.
    fresh = [("malloc: a fresh process that keeps freed memory, as the app", True),
             ("malloc: a fresh process with glibc's defaults (every tensor over 128 KiB freshly mmapped)", False)]
    # Rounds over all the variants, medians over the rounds: this machine's speed drifts
    # within a minute, and one pass would hand the drift to whichever variant ran then.
    measured = {what: [] for what in [v[0] for v in variants] + [f[0] for f in fresh]}
    for _ in range(1 if quick else ROUNDS):
        for what, g, patch in variants:   # patch: makes the context a variant runs in
            with patch():
                measured[what].append(bench_generator(what, g, device, quick))
        for what, keep in fresh:
            measured[what].append(bench_fresh_process(what, cfg, quick, keep_freed=keep))
    rows = [{"variant": what, "batch1_ms": row["batch1"]["median_ms"],
             "batch64_images_per_s": row["batch64_images_per_s"], "rounds": len(runs)}
            for what, runs in measured.items() for row in [median_row(runs)]]
    if compile_:
        t = time.perf_counter()
        compiled = torch.compile(served)
        z = torch.randn(64, cfg.z_dim)
        y = torch.zeros(64, dtype=torch.long) if cfg.num_classes else None
        compiled(z, y)
        compile_s = time.perf_counter() - t
        b64 = timings(lambda: compiled(z, y), warmup=2, repeat=3 if quick else 10)
        reference = served(z, y)
        rows.append({"variant": "torch.compile of the served G (batch 64 only)", "batch1_ms": None,
                     "batch64_images_per_s": 64 / (b64["median_ms"] / 1e3), "compile_s": compile_s,
                     "max_abs_diff": float((compiled(z, y) - reference).abs().max())})
    return rows


def bench_fresh_process(name: str, cfg: ModelConfig, quick: bool, keep_freed: bool) -> dict:
    """bench_generator on the served G of `cfg` in a new interpreter, with or without
    `keep_freed_memory` (random weights; CPU)."""
    args = json.dumps({"name": name, "cfg": cfg.to_dict(), "quick": quick, "keep_freed": keep_freed})
    out = subprocess.run([sys.executable, "-c", "from attn_demo.bench import _fresh_process_main; "
                          "_fresh_process_main()", args], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    return json.loads(out.stdout.splitlines()[-1])


def _fresh_process_main() -> None:
    args = json.loads(sys.argv[1])
    if args["keep_freed"] and not keep_freed_memory():
        raise RuntimeError("keep_freed_memory does not apply here (not glibc)")
    g = _inference_generator(ModelConfig.from_dict(args["cfg"]), torch.device("cpu"))
    print(json.dumps(bench_generator(args["name"], g, torch.device("cpu"), args["quick"])))


# ------------------------------------------------------------------ a click
@torch.inference_mode()
def bench_click(grid: int, quick: bool, channels: int = 64) -> dict:
    """From (x, y) to the overlay array at DISPLAY px, for an attention grid of grid x grid
    (keys pooled 2x2, as in the models), beside the naive full-softmax approach."""
    torch.manual_seed(0)
    attn = SelfAttention2d(channels).eval()
    fold_spectral_norm(attn)
    image_size = 2 * grid                               # attention sits at half the output size
    x = torch.randn(1, channels, grid, grid)
    with AttentionRecorder(attn, image_size=image_size) as rec:
        attn(x)
    cap = rec.captures["attn"]
    image = np.random.default_rng(0).integers(0, 255, (image_size, image_size, 3), dtype=np.uint8)
    scale = max(1, DISPLAY // image_size)
    rng = np.random.default_rng(1)
    points = [tuple(int(v) for v in rng.integers(0, DISPLAY, 2)) for _ in range(64)]
    state = {"i": 0}

    def click():
        px, py = points[state["i"] % len(points)]
        state["i"] += 1
        heat = cap.looks_at(px, py, size=(DISPLAY, DISPLAY)).numpy()
        return render.overlay_picture(image, heat, scale, 0.6, "inferno",
                                      ((px + 0.5) * image_size * scale / DISPLAY,
                                       (py + 0.5) * image_size * scale / DISPLAY, (0, 255, 255), 10))
    repeat = 10 if quick else 40
    map_only = timings(lambda: cap.looks_at(*points[0], size=(DISPLAY, DISPLAY)), repeat=repeat)
    full = timings(click, repeat=repeat)
    overlay = click()
    png6 = timings(lambda: render.encode_png_pil(overlay, 6), repeat=repeat // 2)
    png1 = timings(lambda: render.encode_png_pil(overlay, 1), repeat=repeat // 2)
    png_served = timings(lambda: render.encode_png(overlay), repeat=repeat // 2)
    jpeg_served = timings(lambda: render.encode_jpeg(overlay), repeat=repeat // 2)
    q, k = cap.q, cap.k
    n, nk = q.shape[2], k.shape[2]
    probe_bytes = cap.nbytes                         # q and k: all a "looks at" click needs

    def naive():
        full_map = torch.softmax(q[0] @ k[0].transpose(-1, -2) * cap.scale, dim=-1)   # (heads, N, Nk)
        return full_map[:, n // 2].mean(0)
    naive_t = timings(naive, warmup=1, repeat=3 if quick or grid >= 128 else 10)
    lse = timings(lambda: _fresh_lse(cap), warmup=1, repeat=3)
    return {"grid": grid, "N": n, "Nk": nk, "display": DISPLAY,
            "map_ms": map_only["median_ms"], "click_to_overlay_ms": full["median_ms"],
            "click_p90_ms": full["p90_ms"], "png_level6_ms": png6["median_ms"], "png_level1_ms": png1["median_ms"],
            "png_served_ms": png_served["median_ms"], "png_served_bytes": len(render.encode_png(overlay)),
            "png_level1_bytes": len(render.encode_png_pil(overlay, 1)),
            "jpeg_served_ms": jpeg_served["median_ms"], "jpeg_served_bytes": len(render.encode_jpeg(overlay)),
            "probe_bytes": probe_bytes, "lse_bytes": n * 4, "first_looked_at_by_extra_ms": lse["median_ms"],
            "naive_ms": naive_t["median_ms"], "naive_bytes": n * nk * 4, "unpooled_full_map_bytes": n * n * 4,
            "probe_fraction_of_naive": probe_bytes / (n * nk * 4),
            "probe_with_lse_fraction_of_naive": (probe_bytes + n * 4) / (n * nk * 4)}


def bench_served_overlay(weights: Path, count: int = 8) -> dict:
    """The bytes of the overlay a click serves, on the first shipped model (median of `count`
    seeds and points): JPEG, as served, against our PNG writer."""
    from .engine import RenderArgs
    from .studio import Studio, View, find_models
    studio = Studio(find_models(weights)[:1], device="cpu")
    name = studio.models[0]
    engine = studio.engine(name)
    label = engine.class_names[0] if engine.cfg.num_classes else None
    rng = np.random.default_rng(0)
    png, jpeg = [], []
    for seed in range(count):
        x, y = (int(v) for v in rng.integers(0, DISPLAY, 2))
        overlay = studio.inspect(View(name, RenderArgs(seed, 0.8, label)), x, y).overlay
        png.append(len(render.encode_png(overlay)))
        jpeg.append(len(render.encode_jpeg(overlay)))
    return {"model": name, "overlays": count, "png_bytes": statistics.median(png),
            "jpeg_bytes": statistics.median(jpeg)}


def _fresh_lse(cap):
    cap._lse = None
    return cap.lse


# ------------------------------------------------------------------ training
def bench_train(name: str, cfg: ModelConfig, quick: bool, batch: int = 64, device: torch.device | None = None,
                amp: bool | None = None, compile_: bool = False) -> dict:
    """One D + G step of `train_step` at `batch`, channels_last, on random images. amp defaults to
    what training's "auto" does (bf16 on CUDA, fp32 on the CPU); compile_ times the step with
    G and D compiled (--compile on), its compiling apart."""
    from .data import ImageSet
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp = device.type == "cuda" if amp is None else amp
    tcfg = TrainConfig(batch_size=batch, channels_last="on", amp="bf16" if amp else "off",
                       compile="on" if compile_ else "off")
    rt = Runtime(device, amp=amp, channels_last=True, compile=compile_)
    k = cfg.num_classes
    data = ImageSet(torch.randint(0, 255, (256, 3, cfg.resolution, cfg.resolution), dtype=torch.uint8),
                    torch.arange(256) % k if k else None, tuple(str(i) for i in range(k)), "random")
    st = build_state(cfg, tcfg, rt)
    G, D = step_modules(st, rt)
    batches = Batches(data, tcfg, rt, st.data_gen)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    step = lambda: train_step(st, G, D, batches, tcfg, rt)  # noqa: E731
    row = {"model": name, "device": str(device), "variant": _train_label(amp, compile_),
           "resolution": cfg.resolution, "batch": batch}
    repeat = 2 if quick else 5
    if compile_:
        t = time.perf_counter()
        step()   # compiles (D's graph without gradients at its G step)
        row["compile_s"] = time.perf_counter() - t
        # The eager step on the same state, interleaved step by step: this VM's speed drifts
        # within minutes, so only a comparison taken in the same minutes says what compiling gains.
        eager = lambda: train_step(st, st.G, st.D, batches, tcfg, rt)  # noqa: E731
        step(), eager()   # warm-up
        pairs = [(timings(eager, 0, 1, sync)["median_ms"], timings(step, 0, 1, sync)["median_ms"])
                 for _ in range(repeat + 1)]
        t = {"median_ms": statistics.median(c for _, c in pairs)}
        row["eager_step_ms"] = statistics.median(e for e, _ in pairs)
        row["speedup"] = row["eager_step_ms"] / t["median_ms"]
    else:
        t = timings(step, warmup=2, repeat=repeat, sync=sync)
    row.update({"step_ms": t["median_ms"], "images_per_s": batch / (t["median_ms"] / 1e3),
                "g_parameters": count_parameters(st.G), "d_parameters": count_parameters(st.D)})
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:   # one more step, eager (the same maths), counted, not timed
        train_step(st, st.G, st.D, batches, tcfg, rt)
    flops = counter.get_total_flops()
    return {**row, "gflop_per_image": flops / batch / 1e9, "achieved_gflops": flops / (t["median_ms"] / 1e3) / 1e9}


def _train_label(amp: bool, compile_: bool) -> str:
    return ("bf16" if amp else "fp32") + (" + torch.compile" if compile_ else "")


def train_runs(device: torch.device, shipped_cfg: dict, quick: bool) -> list[tuple[str, ModelConfig, dict]]:
    """What the training table measures on `device`: every model as training's defaults run it,
    then the reference's variants: torch.compile (not in a quick run: minutes of compiling on
    a CPU), on CUDA fp32 beside the default bf16, and on a CPU with native bf16 `--amp bf16`
    beside the default fp32."""
    runs = [(name, cfg, {}) for name, cfg in [*shipped_cfg.items(), ("reference-64", REFERENCE)]]
    if device.type == "cuda":
        runs += [("reference-64", REFERENCE, {"amp": False}), ("reference-64", REFERENCE, {"compile_": True})]
        return runs
    if cpu_has_native_bf16():
        runs.append(("reference-64", REFERENCE, {"amp": True}))
    if not quick:
        runs.append(("reference-64", REFERENCE, {"compile_": True}))
    return runs


def bench_train_variant(name: str, cfg: ModelConfig, quick: bool, device: torch.device, variant: dict) -> dict:
    """bench_train; a variant that fails (a compiler error on a new GPU, say) becomes a row that
    says so, instead of ending a run whose device time is short."""
    if not variant:
        return bench_train(name, cfg, quick, device=device)
    try:
        return bench_train(name, cfg, quick, device=device, **variant)
    except Exception as e:   # noqa: BLE001 -- recorded, the run goes on
        return {"model": name, "device": str(device), "resolution": cfg.resolution,
                "variant": _train_label(variant.get("amp", device.type == "cuda"), variant.get("compile_", False)),
                "error": _error_text(e)}


# ------------------------------------------------------------------ the app
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
    from .checkpoint import load_config
    from .studio import find_models
    model_dir = find_models(weights)[0]
    model, label = model_dir.name, ("0" if load_config(model_dir).num_classes else "")
    pages, images, imports, imports_gc_off, imports_app = [], [], [], [], []

    def bare(code):   # the floor: an interpreter importing torch and gradio and nothing else
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
        return time.perf_counter() - t0
    for _ in range(runs):   # interleaved, so that the machine's drift hits all four alike
        with _app(weights) as (url, page_s):
            t = time.perf_counter()
            first_image(url, [model, 42, 0.8, label, ""])
            pages.append(page_s)
            images.append(page_s + time.perf_counter() - t)
        imports.append(bare("import torch, gradio"))
        imports_gc_off.append(bare("import gc; gc.disable(); import torch, gradio"))
        # as app.py imports them: the collector off, Gradio without its stub writer (attn_demo/_gradio.py)
        imports_app.append(bare("import gc; gc.disable(); import torch; from attn_demo._gradio import gr"))
    return {"runs": runs, "to_first_page_s": statistics.median(pages), "to_first_image_s": statistics.median(images),
            "all_first_image_s": images, "import_torch_gradio_s": statistics.median(imports),
            "import_torch_gradio_gc_off_s": statistics.median(imports_gc_off),
            "import_as_app_s": statistics.median(imports_app)}


def bench_browser(weights: Path, clicks: int = 20, steps_count: int = 10, root: Path = ROOT,
                  latency_ms: float = 0) -> dict:
    """Playwright on localhost: mouse click on the image to the new overlay loaded, timed in the
    page, against `python app.py` as a user starts it; then the "next" seed button to the new
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
        for i in range(clicks + 2):
            x, y = g[0] + 5 + rng.uniform(0, g[2] - 10), g[1] + 5 + rng.uniform(0, g[3] - 10)
            page.evaluate("() => window.__attn.arm()")
            page.mouse.click(x, y)
            page.wait_for_function("() => window.__attn.done !== null", timeout=30000)
            if i >= 2:                                  # the first two warm the path up
                lat.append(page.evaluate("() => window.__attn.done - window.__attn.t0"))
        page.evaluate(_WATCH_SEED_JS)
        steps = []
        for i in range(steps_count + 1):   # "next" to the next seed's image decoded, through the queue
            page.evaluate("() => window.__seed.arm()")
            page.click("#next_btn")
            page.wait_for_function("() => window.__seed.done !== null", timeout=30000)
            if i >= 1:
                steps.append(page.evaluate("() => window.__seed.done - window.__seed.t0"))
            time.sleep(0.5)                             # let the events that follow a render finish
        browser.close()
    return {"clicks": len(lat), "median_ms": statistics.median(lat), "p90_ms": sorted(lat)[int(0.9 * len(lat))],
            "min_ms": min(lat), "max_ms": max(lat),
            "seed_steps": len(steps), "seed_step_median_ms": statistics.median(steps)}


def _watch_js(name: str, trigger: str, target: str) -> str:
    """An in-page timer window.<name>: from the mousedown on `trigger` to a new image in `target` decoded."""
    return """() => {
  const w = window.NAME = {t0: null, done: null, old: null};
  w.arm = () => { w.t0 = null; w.done = null; w.old = document.querySelector('TARGET img').src; };
  document.querySelector('TRIGGER').addEventListener('mousedown', () => { w.t0 = performance.now(); }, true);
  new MutationObserver(() => {
    const img = document.querySelector('TARGET img');
    if (!img || w.t0 === null || w.done !== null || img.src === w.old) return;
    const finish = () => { if (w.done === null) w.done = performance.now(); };
    if (img.complete && img.naturalWidth) finish(); else img.addEventListener('load', finish, {once: true});
  }).observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}""".replace("NAME", name).replace("TRIGGER", trigger).replace("TARGET", target)


_WATCH_JS = _watch_js("__attn", "#gen_img", "#attn_img")          # a click to its overlay
_WATCH_SEED_JS = _watch_js("__seed", "#next_btn", "#gen_img")     # "next" to the next seed's image


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ driver
def run(weights: Path, only: set[str], quick: bool, log=print) -> dict:
    from .checkpoint import load_pretrained
    from .studio import find_models
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    times_start = cpu_times()
    results: dict = {"machine": machine(), "quick": quick, "command": " ".join(["python -m attn_demo"] + sys.argv[1:])}
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
                as_trained = fold_spectral_norm(Generator(cfg).eval()).to(device, memory_format=torch.channels_last)
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
            f"next seed to its image: median {results['browser']['seed_step_median_ms']:.0f} ms")
    results["machine"]["load_average_end"] = os.getloadavg()[0]
    results["machine"]["cpu_steal_percent"] = steal_percent(times_start, cpu_times())
    return results


PARTS = ("gen", "flops", "ablation", "click", "train", "cold", "browser")


def _keys(part: str) -> tuple[str, ...]:
    """The results keys a part of the benchmark writes (the first one always)."""
    return {"gen": ("generator",), "cold": ("cold_start",), "click": ("click", "served_overlay")}.get(part, (part,))


def register(command) -> None:
    p = command("bench", "Measure generation, clicks, training and the app; write JSON and a report.")
    p.add_argument("--weights", type=Path, default=Path("weights"), help="folder of shipped models")
    p.add_argument("--only", default=",".join(PARTS),
                   help="comma-separated subset of gen,flops,ablation,click,train,cold,browser")
    p.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run, not for reporting)")
    p.add_argument("--json", type=Path, default=Path("docs/performance.json"), help="where the figures go")
    p.add_argument("--md", default="docs/PERFORMANCE.md", help="the report (rewritten); '' for none")
    p.add_argument("--merge", action="store_true",
                   help="keep the figures of --json that this run does not measure (their dates are kept)")
    p.set_defaults(run=cmd_bench)


def cmd_bench(args) -> None:
    from .bench_report import write_report
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
