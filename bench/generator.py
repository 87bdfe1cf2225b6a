"""The generator's speed: the served models at batch 1 and 64, their FLOPs, and the ablation
(the served reference G beside versions with one inference fold undone)."""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from contextlib import nullcontext
from unittest import mock

import torch

from attn_demo.machine import keep_freed_memory
from attn_demo.models.config import ModelConfig
from attn_demo.models.folding import fold_for_inference, plain_copy
from attn_demo.models.networks import Generator, generator_parameters
from attn_demo.serving.engine import prepare_generator

from .common import ROOT, ROUNDS, _error_text, median_row, timings


def _inference_generator(cfg: ModelConfig, device: torch.device, state: dict | None = None) -> Generator:
    g = Generator(cfg)
    if state is not None:
        g.load_state_dict(state)
    return prepare_generator(g, device)


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
    device = torch.device("cpu")
    trained = Generator(cfg).eval()
    served = _inference_generator(cfg, device)
    contiguous = _inference_generator(cfg, device).to(memory_format=torch.contiguous_format)
    unfolded = Generator(cfg).eval().requires_grad_(False).to(memory_format=torch.channels_last)
    upsampled = plain_copy(trained).requires_grad_(False).to(memory_format=torch.channels_last)

    def served_without(fold: str):   # the served G with one fold left out (models/folding.py)
        g = fold_for_inference(trained, skip=(fold,)).requires_grad_(False)
        return g.to(device, memory_format=torch.channels_last)
    naive = lambda: mock.patch.object(torch.nn.functional, "scaled_dot_product_attention", _naive_sdpa)  # noqa: E731
    variants = [("served: folded spectral norm, upsampling (per-phase products on small maps), norms "
                 "and attention projections, input-major stem weight, "
                 "channels_last, fused attention, "
                 "malloc keeps freed memory", served, nullcontext),
                ("NCHW (contiguous) memory", contiguous, nullcontext),
                ("spectral norm not folded (W / sigma every call)", unfolded, nullcontext),
                ("upsample + 3x3 conv (not folded into a transposed conv)", upsampled, nullcontext),
                ("block norms not folded (a BatchNorm call each, bn2 a pass of its own)",
                 served_without("norms"), nullcontext),
                ("attention projections not folded (three 1x1 convs, padding, gamma a multiply)",
                 served_without("attention"), nullcontext),
                ("transposed conv on the small maps too (no per-phase matrix product)", served_without("phases"),
                 nullcontext),
                ("stem weight as nn.Linear keeps it, (out, in) in memory", served_without("stem"), nullcontext),
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
    out = subprocess.run([sys.executable, "-c", "from bench.generator import _fresh_process_main; "
                          "_fresh_process_main()", args], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    return json.loads(out.stdout.splitlines()[-1])


def _fresh_process_main() -> None:
    args = json.loads(sys.argv[1])
    if args["keep_freed"] and not keep_freed_memory():
        raise RuntimeError("keep_freed_memory does not apply here (not glibc)")
    g = _inference_generator(ModelConfig.from_dict(args["cfg"]), torch.device("cpu"))
    print(json.dumps(bench_generator(args["name"], g, torch.device("cpu"), args["quick"])))
