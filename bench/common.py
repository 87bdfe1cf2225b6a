"""What every part of the benchmark shares: timing, the machine, the reference model.

Every figure is a median over repeated runs after warm-up. This VM's speed drifts
within minutes, so the parts also record a matrix-multiply probe taken just
before them (`matmul_peak`), and compare variants in interleaved rounds.
"""
from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from attn_demo.machine import cpu_name
from attn_demo.models.config import ModelConfig


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
    info = {"cpu": cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


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
