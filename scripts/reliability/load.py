"""R1+R2 sustained load, R3 long run, R4 overload: many raw-HTTP clients against the real app."""
from __future__ import annotations

import itertools
import queue
import random
import statistics
import threading
import time
from pathlib import Path

import httpx

from .common import canvas_models, criterion, material_request, model_names, models_in, percentile, r, result
from .server import AppServer, Outcome, call

MB = 2 ** 20


class Sampler(threading.Thread):
    """Every `every` seconds: the server's RSS, open fds and (optionally) its cache on disk."""

    def __init__(self, app: AppServer, every: float, disk: bool = False, counter=None):
        super().__init__(daemon=True)
        self.app, self.every, self.disk, self.counter = app, every, disk, counter
        self.samples: list[dict] = []
        self._halt = threading.Event()
        self.t0 = time.monotonic()

    def take(self) -> dict:
        s = {"t": r(time.monotonic() - self.t0, 1), "rss_mb": r(self.app.rss_mb(), 1), "fds": self.app.fds()}
        if self.counter is not None:
            s["done"] = self.counter()
        if self.disk:
            s.update(self.app.disk_usage())
        self.samples.append(s)
        return s

    def run(self) -> None:
        while not self._halt.wait(self.every):
            if self.app.alive():
                self.take()

    def stop(self, settle: float = 0.0) -> dict:
        """Stop sampling; the last sample is taken `settle` seconds later."""
        self._halt.set()
        self.join()
        time.sleep(settle)
        return self.take()

    def at(self, t: float) -> dict:
        """The first sample taken at or after t seconds (the last one if none)."""
        return next((s for s in self.samples if s["t"] >= t), self.samples[-1])


def realistic_request(models, rng: random.Random, mix, last: dict) -> tuple[str, list]:
    """Mostly /generate with a random seed; /inspect clicks a random pixel of this client's
    last picture (as a user does, so the render is usually cached); a few /grid of 4."""
    u = rng.random()
    if u < mix[0] + mix[1] and (u < mix[0] or "args" not in last):
        m = rng.choice(models)
        args = [m.name, rng.randrange(2 ** 32), round(rng.uniform(0.5, 1.0), 2), m.label(rng), m.sliders(rng)]
        last["args"], last["model"] = args, m
        return "generate", args
    if u < mix[0] + mix[1]:
        m = last["model"]
        return "inspect", [*last["args"], rng.randrange(512), rng.randrange(512), 512, rng.choice(("",) + m.layers),
                           rng.choice(["mean"] + [str(h) for h in range(m.heads)]),
                           rng.choice(["looks-at", "looked-at-by"])]
    m = rng.choice(models)
    return "grid", [m.name, rng.randrange(2 ** 32 - 4), 4, round(rng.uniform(0.5, 1.0), 2), m.label(rng), ""]


SESSIONS = ("per-call", "per-client")


def run_clients(url: str, clients: int, until, make, backoff: float = 0.0, timeout: float = 120.0,
                records: list | None = None, sessions: str = "per-call") -> list[Outcome]:
    """`clients` threads, each calling make(rng, last) -> (endpoint, data) until until() is True.
    Outcomes go to `records` (a list others may watch grow) and are returned. sessions:
    "per-call" (a new Gradio session each call, as curl) or "per-client" (as gradio_client)."""
    if sessions not in SESSIONS:
        raise ValueError(f"sessions must be one of {SESSIONS}, got {sessions!r}")
    records = [] if records is None else records

    def loop(i: int) -> None:
        rng, last = random.Random(1000 + i), {}
        session = f"reliability-{i}-{random.getrandbits(32):08x}" if sessions == "per-client" else None
        with httpx.Client(timeout=timeout) as http:
            while not until():
                endpoint, data = make(rng, last)
                out = call(http, url, endpoint, data, timeout=timeout, session=session)
                records.append(out)
                if backoff and out.kind == "queue_full":
                    time.sleep(backoff)
    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return records


def run_clients_in_processes(processes: int, url: str, clients: int, until, make, max_wait: float = 600.0,
                             **kwargs) -> list[Outcome]:
    """run_clients spread over `processes` forked processes (clients split evenly), so that the
    load generator's own GIL does not add to the latencies it measures; outcomes come back at the end.
    No other thread of this process may be building an httpx.Client meanwhile: a fork copies
    OpenSSL's locks as they are, and a child whose lock was held at the fork hangs for good."""
    if processes <= 1:
        return run_clients(url, clients, until, make, **kwargs)
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]

    def child(i: int, n: int) -> None:
        random.seed(1000 * (i + 1))
        results.put((i, run_clients(url, n, until, make, **kwargs)))
    procs = [ctx.Process(target=child, args=(i, n), daemon=True) for i, n in enumerate(shares) if n]
    for proc in procs:
        proc.start()
    try:                                              # before join: a full pipe would block the child
        out = dict(results.get(timeout=max_wait) for _ in procs)
    except queue.Empty:
        for proc in procs:
            proc.kill()
        raise RuntimeError(f"a client process sent nothing back in {max_wait:.0f} s: it hung") from None
    for proc in procs:
        proc.join()
    return [o for i in sorted(out) for o in out[i]]


def latency_figures(records: list[Outcome]) -> dict:
    ok = [o.seconds for o in records if o.ok]
    by_kind: dict[str, int] = {}
    for o in records:
        by_kind[o.kind] = by_kind.get(o.kind, 0) + 1
    by_endpoint: dict[str, dict] = {}
    for ep in sorted({o.endpoint for o in records}):
        lat = [o.seconds for o in records if o.ok and o.endpoint == ep]
        by_endpoint[ep] = {"ok": len(lat), "p50_s": r(percentile(lat, 50)), "p99_s": r(percentile(lat, 99))}
    return {"requests": len(records), "ok": len(ok), "outcomes": by_kind, "p50_s": r(percentile(ok, 50)),
            "p90_s": r(percentile(ok, 90)), "p99_s": r(percentile(ok, 99)), "max_s": r(max(ok, default=None)),
            "by_endpoint": by_endpoint}


def failures(records: list[Outcome], limit: int = 5) -> list[dict]:
    return [{"endpoint": o.endpoint, "kind": o.kind, "status": o.status, "text": o.text[:300]}
            for o in records if not o.ok][:limit]


# ------------------------------------------------------------------ R1 + R2
def sustained_load(weights: Path = Path("weights"), seconds: float = 600, clients: int = 16, sample_every: float = 5.0,
                   mix=(0.80, 0.15, 0.05), p99_max: float = 3.0, min_rps: float = 8.0, rss_slack_mb: float = 50.0,
                   fd_slack: int = 10, warmup: int = 50, canvas_every: int = 50, canvas_side: int = 256,
                   sessions: str = "per-call", log=print) -> dict:
    """R1 sustained load (16 clients x 10 min) and R2 flat memory during it, over every model: the
    image models in `mix`, and one call in `canvas_every` (on average) a material set of a canvas model
    (`canvas_side` px). `warmup` requests go first, unmeasured (the note's minute-2 reference plays
    that role in a 10-minute run)."""
    models, canvases = models_in(weights), canvas_models(weights)

    def make(rng, last):
        if canvases and canvas_every and rng.randrange(canvas_every) == 0:
            return material_request(canvases, rng, rng.randrange(2 ** 32), canvas_side)
        return realistic_request(models, rng, mix, last)

    with AppServer(weights) as app:
        log(f"r1: app up in {app.startup_s:.1f} s; {warmup} warm-up requests, then {clients} clients for "
            f"{seconds:.0f} s over {model_names(models, canvases)}")
        done: list[Outcome] = []
        run_clients(app.url, clients, lambda: len(done) >= warmup, make, records=done, sessions=sessions)
        time.sleep(1.0)                       # let the warm-up's connections close: idle fds before
        sampler = Sampler(app, sample_every)
        first = sampler.take()
        sampler.start()
        t0 = time.monotonic()
        deadline = t0 + seconds
        records = run_clients(app.url, clients, lambda: time.monotonic() >= deadline, make, sessions=sessions)
        elapsed = time.monotonic() - t0
        end = sampler.stop(settle=1.0)        # the clients have closed their connections: idle fds after
        alive = app.alive()
    lat = latency_figures(records)
    rps = lat["ok"] / elapsed
    ref_t = min(120.0, 0.2 * seconds)          # "minute 2" of a 10-minute run
    ref = sampler.at(ref_t)
    rss = [s["rss_mb"] for s in sampler.samples]
    fds = [s["fds"] for s in sampler.samples]
    failed = lat["requests"] - lat["ok"]
    after_ref = sum(1 for o in records if o.started - sampler.t0 >= ref["t"])
    per_request_kb = (end["rss_mb"] - ref["rss_mb"]) * 1024 / max(after_ref, 1)
    crit = [
        criterion("R1", "failed requests", "0", failed, failed == 0 and alive),
        criterion("R1", "p99 latency (s)", f"<= {p99_max}", lat["p99_s"],
                  lat["p99_s"] is not None and lat["p99_s"] <= p99_max),
        criterion("R1", "throughput (req/s)", f">= {min_rps}", r(rps, 2), rps >= min_rps),
        criterion("R2", f"RSS at the end vs at {ref_t:.0f} s (MB)", f"<= +{rss_slack_mb}",
                  r(end["rss_mb"] - ref["rss_mb"], 1), end["rss_mb"] <= ref["rss_mb"] + rss_slack_mb),
        criterion("R2", "open fds, idle after the load vs idle before it", f"within +-{fd_slack}",
                  end["fds"] - first["fds"], abs(end["fds"] - first["fds"]) <= fd_slack),
    ]
    notes = []
    if per_request_kb > 20:
        notes.append(f"RSS grew by {per_request_kb:.0f} KB per request after the reference sample.")
        if sessions == "per-call":
            notes[-1] += (" A likely cause (measured with gradio 6.31): each call without a session_hash opens a "
                          "new session, and Gradio keeps a SessionState per session (a copy of every component's "
                          "config, ~180 KB for this app) until launch(state_session_capacity=...) sessions exist "
                          "(default 10,000, so ~1.8 GB). Compare with --sessions per-client.")
    figures = {**lat, "throughput_rps": r(rps, 2), "elapsed_s": r(elapsed, 1), "server_alive": alive,
               "rss_mb": {"start": first["rss_mb"], "reference": ref["rss_mb"], "reference_t_s": ref["t"],
                          "end": end["rss_mb"], "min": min(rss), "max": max(rss)},
               "rss_growth_kb_per_request_after_reference": r(per_request_kb, 1),
               "fds": {"idle_before": first["fds"], "reference": ref["fds"], "idle_after": end["fds"],
                       "min": min(fds), "max": max(fds)},
               "samples": sampler.samples, "failures": failures(records)}
    params = {"weights": str(weights), "models": model_names(models, canvases),
              "seconds": seconds, "clients": clients, "sample_every": sample_every,
              "mix_generate_inspect_grid": list(mix), "canvas_every": canvas_every, "canvas_side": canvas_side,
              "warmup_requests": warmup, "sessions": sessions}
    return result("r1", "Sustained load (R1) and flat memory (R2)", crit, figures, params, notes)


# ------------------------------------------------------------------ R3
def delete_cache_setting() -> tuple[int, int] | None:
    """The (frequency, age) that ui.build_demo passes to gr.Blocks(delete_cache=...)."""
    from attn_demo.studio import ui
    return tuple(ui.CACHE) if getattr(ui, "CACHE", None) else None


def long_run(weights: Path = Path("weights"), count: int = 10_000, clients: int = 2, sample_every: float = 5.0,
             ref_seconds: float = 600.0, rss_slack: float = 0.10, cache_max_mb: float = 100.0,
             canvas_every: int = 50, canvas_side: int = 256, sessions: str = "per-call", log=print) -> dict:
    """R3: `count` generations with distinct seeds over every model (each image model in turn, and
    every `canvas_every`-th a texture set of a canvas model); RSS and the cache folders over time."""
    models = models_in(weights)
    canvases = canvas_models(weights)
    issued = itertools.count()
    state = {"issued": 0}
    records: list[Outcome] = []

    def make(rng, last):
        i = state["issued"] = next(issued)
        # Distinct seeds (a multiplicative hash of i), so every output is a new file in the cache.
        seed = (i * 2654435761 + 12345) % 2 ** 32
        if canvases and canvas_every and i % canvas_every == canvas_every - 1:
            return material_request(canvases, rng, seed, canvas_side)
        m = models[i % len(models)]
        return "generate", [m.name, seed, round(rng.uniform(0.5, 1.0), 2), m.label(rng), m.sliders(rng)]

    with AppServer(weights) as app:
        log(f"r3: app up in {app.startup_s:.1f} s; {count} generations with {clients} clients over "
            f"{model_names(models, canvases)}")
        sampler = Sampler(app, sample_every, disk=True, counter=lambda: len(records))
        first = sampler.take()
        sampler.start()
        t0 = time.monotonic()
        run_clients(app.url, clients, lambda: state["issued"] >= count - 1, make, records=records, sessions=sessions)
        elapsed = time.monotonic() - t0
        end = sampler.stop()
        alive = app.alive()
    lat = latency_figures(records)
    samples = sampler.samples
    if elapsed >= ref_seconds * 1.2:
        ref, ref_label = sampler.at(ref_seconds), f"at {ref_seconds:.0f} s"
    else:                                       # a short run: the middle of it stands in for "10 minutes"
        ref = sampler.at(elapsed / 2)
        ref_label = f"at mid-run ({elapsed / 2:.0f} s; the run is shorter than {ref_seconds:.0f} s)"
    peak_cache = max(s["total_bytes"] for s in samples)
    per_gen = end["total_bytes"] / max(lat["ok"], 1)
    rate = lat["ok"] / elapsed
    setting = delete_cache_setting()
    lifetime = sum(setting) if setting else None           # a file can live up to age + frequency seconds
    # Gradio's cache keeps a file for delete_cache's age; the studio's export folder (inside that cache)
    # keeps its folders EXPORT_LIFETIME at most and prunes the oldest beyond EXPORT_BUDGET, never one
    # younger than EXPORT_MIN_AGE (studio/files.py): bytes written per second, times how long each stays.
    from attn_demo.studio.files import EXPORT_BUDGET, EXPORT_LIFETIME, EXPORT_MIN_AGE
    # bytes written per second: the steepest average from the start (before a deletion it is the rate itself;
    # the export folder's budget starts pruning within a minute or two, delete_cache after 10)
    inflow = {k: max((s[k] / s["t"] for s in samples if s["t"] > 0), default=0.0)
              for k in ("gradio_temp_bytes", "export_bytes")}
    export_worst = min(inflow["export_bytes"] * EXPORT_LIFETIME,
                       max(EXPORT_BUDGET, inflow["export_bytes"] * EXPORT_MIN_AGE))
    projected = inflow["gradio_temp_bytes"] * lifetime + export_worst if lifetime else None
    failed = lat["requests"] - lat["ok"]
    crit = [
        criterion("R3", "failed requests", "0", failed, failed == 0 and alive),
        criterion("R3", f"RSS at the end vs {ref_label} (MB)", f"<= +{100 * rss_slack:.0f}%",
                  f"{end['rss_mb']} vs {ref['rss_mb']}", end["rss_mb"] <= ref["rss_mb"] * (1 + rss_slack)),
        criterion("R3", "cache + export folders, peak during the run (MB)", f"<= {cache_max_mb}",
                  r(peak_cache / MB, 1), peak_cache <= cache_max_mb * MB),
        criterion("R3", f"projected worst-case cache under delete_cache={setting} at this rate (MB)",
                  f"<= {cache_max_mb}", r(projected / MB, 1) if projected is not None else "no delete_cache",
                  projected is not None and projected <= cache_max_mb * MB),
    ]
    notes = []
    if projected is not None and projected > cache_max_mb * MB:
        notes.append(f"Gradio keeps every distinct output ({inflow['gradio_temp_bytes'] / 1024:.0f} KB/s here) "
                     f"until delete_cache removes files older than {setting[1]} s, checked every {setting[0]} s, "
                     f"and the export folder holds up to {export_worst / MB:.0f} MB: at {rate:.1f} generations/s "
                     f"that is up to {projected / MB:.0f} MB, over the {cache_max_mb:.0f} MB bound.")
    if elapsed < (setting[1] if setting else 0):
        notes.append(f"The run lasted {elapsed:.0f} s, less than delete_cache's age of {setting[1]} s: "
                     "no file was old enough to be deleted, so the peak is the cache's growth, not its bound.")
    figures = {**lat, "elapsed_s": r(elapsed, 1), "generations_per_s": r(rate, 2), "server_alive": alive,
               "rss_mb": {"start": first["rss_mb"], "reference": ref["rss_mb"], "reference_when": ref_label,
                          "end": end["rss_mb"], "max": max(s["rss_mb"] for s in samples)},
               "cache_mb": {"peak": r(peak_cache / MB, 2), "end": r(end["total_bytes"] / MB, 2),
                            "end_files": end["gradio_temp_files"] + end["export_files"],
                            "bytes_per_generation": r(per_gen, 0),
                            "written_kb_per_s": {k: r(v / 1024, 1) for k, v in inflow.items()},
                            "export_worst_case": r(export_worst / MB, 1),
                            "projected_worst_case": r(projected / MB, 1) if projected else None},
               "delete_cache": setting, "samples": samples, "failures": failures(records)}
    params = {"weights": str(weights), "models": model_names(models, canvases), "count": count,
              "clients": clients, "canvas_every": canvas_every, "canvas_side": canvas_side,
              "sample_every": sample_every, "sessions": sessions}
    return result("r3", "Long run: memory and cache growth (R3)", crit, figures, params, notes)


# ------------------------------------------------------------------ R4
def overload(weights: Path = Path("weights"), seconds: float = 60, clients: int = 80, queue_size: int | None = None,
             baseline_n: int = 30, recovery_s: float = 30.0, reject_max_s: float = 1.0, info_every: float = 0.5,
             backoff: float = 0.5, recovery_factor: float = 2.0, processes: int = 8, canvas_every: int = 50,
             log=print) -> dict:
    """R4: `clients` threads for `seconds` against a queue of max_size 32 (or queue_size), the
    threads spread over `processes` client processes (1: all in this one, GIL-bound), over every model."""
    models, canvases = models_in(weights), canvas_models(weights)
    m = models[0]

    def generate(rng, last=None):
        """The baseline's and the recovery's request: one model, one kind, so their latencies compare."""
        return "generate", [m.name, rng.randrange(2 ** 32), 0.8, m.label(rng), ""]

    def burst_request(rng, last=None):
        """The burst: every model, each image model as often, and one call in `canvas_every` a 256² set."""
        if canvases and rng.randrange(canvas_every) == 0:
            return material_request(canvases, rng, rng.randrange(2 ** 32), 256)
        x = rng.choice(models)
        return "generate", [x.name, rng.randrange(2 ** 32), 0.8, x.label(rng), ""]

    with AppServer(weights, queue_size=queue_size) as app, httpx.Client(timeout=60) as http:
        log(f"r4: app up in {app.startup_s:.1f} s; baseline, then {clients} clients for {seconds:.0f} s over "
            f"{model_names(models, canvases)}")
        rng = random.Random(7)
        for _ in range(3):                                  # warm-up
            call(http, app.url, *generate(rng))
        base = [call(http, app.url, *generate(rng)) for _ in range(baseline_n)]
        base_p50 = percentile([o.seconds for o in base if o.ok], 50)

        info: list[tuple[float, int | None, float]] = []
        stop_info = threading.Event()

        # The poller's client is built here, not in its thread: building one takes OpenSSL's locks, and a
        # fork (the burst's client processes) while another thread holds them deadlocks the children.
        info_http = httpx.Client(timeout=5)

        def poll_info():
            with info_http as h:
                while not stop_info.wait(info_every):
                    t = time.perf_counter()
                    try:
                        status = h.get(f"{app.url}gradio_api/info").status_code
                    except httpx.HTTPError:
                        status = None
                    info.append((time.monotonic(), status, time.perf_counter() - t))
        poller = threading.Thread(target=poll_info, daemon=True)
        poller.start()

        stop_at = time.monotonic() + seconds
        burst: list[Outcome] = []
        errors: list[Exception] = []

        def run_burst():
            try:
                burst.extend(run_clients_in_processes(
                    processes, app.url, clients, lambda: time.monotonic() >= stop_at, burst_request,
                    max_wait=seconds + 120, backoff=backoff))
            except Exception as e:                          # raised again below, in the caller's thread
                errors.append(e)
        burst_thread = threading.Thread(target=run_burst)
        burst_thread.start()
        while time.monotonic() < stop_at:
            time.sleep(0.05)
        # The load stops: measure how fast a single client is served again.
        recovery: list[tuple[float, Outcome]] = []
        rrng = random.Random(8)
        while time.monotonic() < stop_at + recovery_s:
            o = call(http, app.url, *generate(rrng))
            recovery.append((o.started - stop_at, o))
        burst_thread.join()
        stop_info.set()
        poller.join()
        if errors:
            raise errors[0]
        alive = app.alive()

    rejected = [o for o in burst if o.kind == "queue_full"]
    accepted = [o for o in burst if o.ok]
    http500 = [o for o in burst + [o for _, o in recovery] if o.status is not None and o.status >= 500
               and o.kind != "queue_full"]
    other = [o for o in burst if o.kind not in ("complete", "queue_full")]
    slow_rejections = [o for o in rejected if o.seconds > reject_max_s]
    info_bad = [(t, s) for t, s, _ in info if s != 200]
    limit = recovery_factor * base_p50
    rec_lat = [(t, o.seconds) for t, o in recovery if o.ok]
    recovered_after = None
    for i in range(len(rec_lat)):
        window = [s for _, s in rec_lat[i:i + 5]]
        if len(window) == 5 and statistics.median(window) <= limit:
            recovered_after = max(0.0, rec_lat[i][0])
            break
    tail = [s for t, s in rec_lat if t >= recovery_s * 2 / 3]
    crit = [
        criterion("R4", "rejections that are not a queue-full 503", "0",
                  sum(1 for o in burst if o.status == 503 and o.kind != "queue_full"),
                  all(o.kind == "queue_full" for o in burst if o.status == 503)),
        criterion("R4", f"rejections slower than {reject_max_s} s", "0",
                  f"{len(slow_rejections)} of {len(rejected)} (max {r(max((o.seconds for o in rejected), default=0))} s)",
                  not slow_rejections),
        criterion("R4", "HTTP 500s", "0", len(http500), not http500),
        criterion("R4", "other failures (timeouts, error events, other statuses)", "0", len(other), not other),
        criterion("R4", "/gradio_api/info not 200 during the burst", "0", f"{len(info_bad)} of {len(info)} polls",
                  not info_bad and len(info) > 0 and alive),
        criterion("R4", f"p50 back to <= {recovery_factor}x baseline ({r(limit)} s) after the load stops (s)",
                  f"<= {recovery_s}", r(recovered_after, 1) if recovered_after is not None else "not recovered",
                  recovered_after is not None and recovered_after <= recovery_s),
    ]
    figures = {"baseline_p50_s": r(base_p50, 4), "burst_requests": len(burst), "accepted": len(accepted),
               "rejected_queue_full": len(rejected), "other_failures": len(other),
               "rejection_latency_s": {"p50": r(percentile([o.seconds for o in rejected], 50)),
                                       "p99": r(percentile([o.seconds for o in rejected], 99)),
                                       "max": r(max((o.seconds for o in rejected), default=None))},
               "accepted_latency_s": {"p50": r(percentile([o.seconds for o in accepted], 50)),
                                      "p99": r(percentile([o.seconds for o in accepted], 99)),
                                      "max": r(max((o.seconds for o in accepted), default=None))},
               "info_polls": len(info), "info_max_s": r(max((d for *_, d in info), default=None)),
               "recovery": {"requests": len(recovery), "recovered_after_s": r(recovered_after, 2),
                            "p50_first_5_s": r(percentile([s for _, s in rec_lat[:5]], 50), 4),
                            "p50_last_third_s": r(percentile(tail, 50), 4)},
               "server_alive": alive, "failures": failures([o for o in burst if o.kind != "queue_full"])}
    by_endpoint = {ep: sum(o.endpoint == ep for o in accepted) for ep in sorted({o.endpoint for o in burst})}
    figures["accepted_by_endpoint"] = by_endpoint
    params = {"weights": str(weights), "models": model_names(models, canvases),
              "baseline_model": m.name, "canvas_every": canvas_every, "seconds": seconds, "clients": clients,
              "queue_size": queue_size or 32, "backoff_s": backoff, "baseline_n": baseline_n,
              "recovery_s": recovery_s, "client_processes": processes}
    return result("r4", "Overload (R4)", crit, figures, params)
