"""R2 with every model in the mix (issue #37): where the server's memory goes under mixed load.

    python scripts/reliability mixed-memory                       # 16 clients x 600 s, all models (quiet machine)
    python scripts/reliability mixed-memory --seconds 75 --clients 2   # a short look (what 2026-12-07 ran)

The real app (python app.py) runs with the memory probe (memprobe/sitecustomize.py): at the
reference moment (minute 2 of 10, or a fifth of a shorter run) and at the end it reports RSS,
Python's traced bytes by line (tracemalloc), glibc's arenas, Gradio's per-session stores and the
studio's render caches, so a growth can be put where it happens. The clients mix /generate,
/inspect and /grid over every image model with, every `canvas_every` requests, a /material of a
canvas model (a texture set: a render and its zip) of `canvas_side` px.

tracemalloc (from the first record on) slows the app; pass --frames 0 to measure latencies without it.
"""
from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

from .common import REPO, canvas_models, criterion, material_request, model_names, models_in, r, result
from .load import Sampler, latency_figures, realistic_request, run_clients
from .server import AppServer

PROBE = Path(__file__).resolve().parent / "memprobe"


def _dump(app: AppServer, path: Path, timeout: float = 60.0) -> dict | None:
    """Ask the probe for one record (SIGUSR1) and wait for it."""
    before = path.read_text().count("\n") if path.exists() else 0
    os.kill(app.pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) > before:
            return json.loads(lines[-1])
        time.sleep(0.2)
    return None


def growth(ref: dict | None, end: dict | None, top: int = 12) -> dict:
    """What grew between two probe records: RSS, traced Python bytes (by line), arenas, stores."""
    if not ref or not end:
        return {}
    out = {"rss_mb": r(end["rss_mb"] - ref["rss_mb"], 1)}
    if "traced_mb" in ref and "traced_mb" in end:
        out["traced_mb"] = r(end["traced_mb"] - ref["traced_mb"], 1)
        before = {x["where"]: x["mb"] for x in ref.get("top", [])}
        lines = [(x["where"], r(x["mb"] - before.get(x["where"], 0.0), 2)) for x in end.get("top", [])]
        out["traced_by_line_mb"] = dict(sorted(lines, key=lambda kv: -kv[1])[:top])
    m0, m1 = ref.get("malloc", {}), end.get("malloc", {})
    if "system_mb" in m0 and "system_mb" in m1:
        out["malloc_system_mb"] = r(m1["system_mb"] - m0["system_mb"], 1)
        out["malloc_free_mb"] = r(m1["free_mb"] - m0["free_mb"], 1)
        out["arenas"] = [m0.get("arenas"), m1.get("arenas")]
    out["stores"] = {k: [ref["stores"].get(k), v] for k, v in end.get("stores", {}).items()}
    return out


def mixed_memory(weights: Path = Path("weights"), seconds: float = 600, clients: int = 16, sample_every: float = 5.0,
                 canvas_every: int = 50, canvas_side: int = 256, mix=(0.80, 0.15, 0.05), rss_slack_mb: float = 50.0,
                 frames: int = 1, arena_max: int = 0, sessions: str = "per-call", log=print) -> dict:
    """R2 over every shipped model, canvas models included: RSS at the end vs at minute 2 (a fifth
    of a shorter run) within +rss_slack_mb, no failed request, and the growth put where it happens
    (memory probe). arena_max > 0 runs the app with MALLOC_ARENA_MAX set (an ablation)."""
    models = models_in(weights)
    canvases = canvas_models(weights)
    probe_out = Path(os.environ.get("TMPDIR", "/tmp")) / f"attn-memprobe-{os.getpid()}-{time.time_ns()}.jsonl"
    env = {"PYTHONPATH": os.pathsep.join([str(PROBE), str(REPO)]), "ATTN_DEMO_MEMPROBE": str(probe_out),
           "ATTN_DEMO_MEMPROBE_FRAMES": str(frames)}
    if arena_max:
        env["MALLOC_ARENA_MAX"] = str(arena_max)
    counter = {"n": 0}

    def make(rng: random.Random, last: dict):
        counter["n"] += 1
        if canvases and canvas_every and counter["n"] % canvas_every == 0:
            return material_request(canvases, rng, rng.randrange(2 ** 32), canvas_side)
        return realistic_request(models, rng, mix, last)

    with AppServer(weights, extra_env=env, ready_timeout=600) as app:
        log(f"mixed-memory: app up in {app.startup_s:.1f} s; {clients} clients x {seconds:.0f} s over "
            f"{model_names(models, canvases)}")
        start = _dump(app, probe_out)
        sampler = Sampler(app, sample_every)
        sampler.take()
        sampler.start()
        ref_t = min(120.0, 0.2 * seconds)
        t0 = time.monotonic()
        deadline = t0 + seconds
        marks: dict = {}

        def until() -> bool:
            now = time.monotonic()
            if "ref" not in marks and now - t0 >= ref_t:
                marks["ref"] = None                     # one client takes the reference record
                marks["ref"] = _dump(app, probe_out)
            return now >= deadline
        records = run_clients(app.url, clients, until, make, sessions=sessions, timeout=300)
        elapsed = time.monotonic() - t0
        end_sample = sampler.stop(settle=1.0)
        end = _dump(app, probe_out)
        alive = app.alive()
    try:
        probe_out.unlink()
    except OSError:
        pass
    lat = latency_figures(records)
    ref_sample = sampler.at(ref_t)
    rss_growth = end_sample["rss_mb"] - ref_sample["rss_mb"]
    failed = lat["requests"] - lat["ok"]
    crit = [criterion("R2", "failed requests (every model in the mix)", "0", failed, failed == 0 and alive),
            criterion("R2", f"RSS at the end vs at {ref_t:.0f} s (MB)", f"<= +{rss_slack_mb}", r(rss_growth, 1),
                      rss_growth <= rss_slack_mb)]
    figures = {**lat, "elapsed_s": r(elapsed, 1), "server_alive": alive,
               "rss_mb": {"start": start and start["rss_mb"], "reference": ref_sample["rss_mb"],
                          "reference_t_s": ref_sample["t"], "end": end_sample["rss_mb"],
                          "max": max(s["rss_mb"] for s in sampler.samples)},
               "growth_reference_to_end": growth(marks.get("ref"), end),
               "growth_start_to_end": growth(start, end),
               "probe_end": {k: (end or {}).get(k) for k in ("stores", "malloc", "traced_mb", "traced_peak_mb")},
               "samples": sampler.samples}
    params = {"weights": str(weights), "models": model_names(models, canvases),
              "seconds": seconds, "clients": clients, "canvas_every": canvas_every, "canvas_side": canvas_side,
              "mix_generate_inspect_grid": list(mix), "tracemalloc_frames": frames,
              "malloc_arena_max": arena_max or "glibc default", "sessions": sessions}
    notes = []
    if seconds < 600 or clients < 16:
        notes.append(f"A short run ({seconds:.0f} s, {clients} clients): the R2 figure of the goal needs "
                     "16 clients x 600 s on a quiet machine.")
    return result("r2-all", "Flat memory with every model in the mix (R2, issue #37)", crit, figures, params, notes)
