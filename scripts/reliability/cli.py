"""Command line: one sub-command per goal, plus `all` and `report`. Defaults are the real sizes."""
from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

from .common import RESULTS_DIR, summary_lines, write_result

EXAMPLES = """examples:
  python scripts/reliability sustained-load            # 16 clients x 600 s (R1, R2)
  python scripts/reliability sustained-load --seconds 30 --clients 4 --out /tmp/sustained-load.json
  python scripts/reliability r6 --count 1000 --mem-limit-gb 4
  python scripts/reliability all --weights weights     # every goal, then docs/RELIABILITY.md
  python scripts/reliability report
"""

# goal: (title, [(flag, parameter, type, help)])
GOALS = {
    "sustained-load": ("R1+R2 sustained load and flat memory", [
        ("--seconds", "seconds", float, "how long the clients run"),
        ("--clients", "clients", int, "concurrent client threads"),
        ("--sample-every", "sample_every", float, "seconds between RSS/fd samples"),
        ("--p99-max", "p99_max", float, "R1 target for the p99 latency (s)"),
        ("--min-rps", "min_rps", float, "R1 target for the throughput (req/s)"),
        ("--canvas-every", "canvas_every", int, "one call in n (on average) is a material set of a canvas model (0: none)"),
        ("--canvas-side", "canvas_side", int, "side of those canvases (px)"),
        ("--sessions", "sessions", str, "per-call: a new Gradio session each call (curl); per-client: one per "
                                        "client thread (gradio_client)")]),
    "long-run": ("R3 long run: RSS and cache growth", [
        ("--count", "count", int, "generations"), ("--clients", "clients", int, "client threads"),
        ("--sample-every", "sample_every", float, "seconds between samples"),
        ("--cache-max-mb", "cache_max_mb", float, "bound on GRADIO_TEMP_DIR + export folder"),
        ("--canvas-every", "canvas_every", int, "every n-th generation is a /material of a canvas model (0: none)"),
        ("--canvas-side", "canvas_side", int, "side of those canvases (px)"),
        ("--sessions", "sessions", str, "per-call or per-client (see sustained-load)")]),
    "overload": ("R4 overload", [
        ("--seconds", "seconds", float, "length of the burst"), ("--clients", "clients", int, "client threads"),
        ("--queue-size", "queue_size", int, "ATTN_DEMO_QUEUE_SIZE for the app (default: the app's 32)"),
        ("--backoff", "backoff", float, "seconds a rejected client waits before retrying (0: hostile clients)"),
        ("--recovery-s", "recovery_s", float, "window after the burst in which p50 must recover"),
        ("--processes", "processes", int, "client processes the threads are spread over (1: one GIL-bound process)"),
        ("--canvas-every", "canvas_every", int, "one burst call in n (on average) is a 256² material set")]),
    "api-fuzz": ("R5 malformed API calls (hypothesis)", [
        ("--examples", "examples", int, "hypothesis examples (on top of the fixed cases)"),
        ("--min-calls", "min_calls", int, "calls required to pass")]),
    "checkpoint-fuzz": ("R6 checkpoint fuzz", [
        ("--count", "count", int, "mutants"), ("--seed", "seed", int, "mutation seed"),
        ("--categories", "categories", lambda s: s.split(","), "comma-separated subset of the mutation kinds"),
        ("--mem-limit-gb", "mem_limit_gb", float, "address-space limit of the fuzzing process (0: none)"),
        ("--repro-dir", "repro_dir", Path, "where mutants that raise a non-AttnDemoError are kept")]),
    "path-probes": ("R7 path probes", []),
    "crash-and-resume": ("R8 kill -9 and resume", [
        ("--steps", "steps", int, "training steps"), ("--ckpt-every", "ckpt_every", int, "checkpoint interval"),
        ("--kills", "kills", int, "kill -9 count"), ("--seed", "seed", int, "seed of the kill moments"),
        ("--mid-save-every", "mid_save_every", int, "every n-th kill waits for a checkpoint save to start"),
        ("--no-compare", "compare", None, "skip the comparison with an uninterrupted run (done by default)")]),
    "bad-data-folders": ("R9 bad data folders", [
        ("--good", "good", int, "good images beside the 20 bad files"),
        ("--steps", "steps", int, "steps of the training run on that folder")]),
    "nan-injection": ("R10 NaN injection", [
        ("--steps", "steps", int, "training steps"), ("--ckpt-every", "ckpt_every", int, "checkpoint interval"),
        ("--at", "at", lambda s: tuple(int(v) for v in s.split(",")), "steps to inject a NaN at, comma-separated")]),
    "determinism": ("R11 determinism", [
        ("--pairs", "pairs", int, "(seed, sliders) pairs"), ("--steps", "steps", int, "steps of the training check")]),
    # issue #37: every model in the mix, and the surfaces built since 2026-11-21 (surfaces.py, memory.py)
    "mixed-memory": ("R2 flat memory with every model in the mix, with the memory probe", [
        ("--seconds", "seconds", float, "how long the clients run"), ("--clients", "clients", int, "client threads"),
        ("--sample-every", "sample_every", float, "seconds between RSS samples"),
        ("--canvas-every", "canvas_every", int, "every n-th request is a /material of a canvas model"),
        ("--canvas-side", "canvas_side", int, "side of those canvases (px)"),
        ("--frames", "frames", int, "tracemalloc frames (0: off)"),
        ("--arena-max", "arena_max", int, "MALLOC_ARENA_MAX for the app (0: glibc's default)"),
        ("--sessions", "sessions", str, "per-call or per-client (see sustained-load)")]),
    "uploads": ("Uploads and inversion: hostile files, phone-size photos, cancel under load", [
        ("--model", "model", str, "image model (default: the first)"),
        ("--load-threads", "load_threads", int, "render threads running during the inversions")]),
    "exports": ("Data-set exports: full disk half-way, a second export into one folder, interrupted zips", [
        ("--model", "model", str, "image model (default: the first)"),
        ("--per-class", "per_class", int, "images per class of the data sets"),
        ("--disk-kb", "disk_kb", int, "size of the tmpfs that fills up")]),
    "textures": ("Texture and material exports on a full disk; large canvases at once", [
        ("--side", "side", int, "canvas side of the exports (default: 4 cells)"),
        ("--clients", "clients", int, "users asking for a large canvas at once"),
        ("--large-side", "large_side", int, "side of their canvases (default: 4x the gate's threshold)")]),
    "links": ("Share links, kept views and canvas states, forged", [
        ("--queries", "queries", int, "forged queries"), ("--states", "states", int, "forged canvas states"),
        ("--seed", "seed", int, "fuzzing seed")]),
    "interventions": ("Interventions forged, several users at once, D's view without D", [
        ("--model", "model", str, "image model (default: the first)"),
        ("--links", "links", int, "forged iv=/vs= links"), ("--states", "states", int, "forged states"),
        ("--api-calls", "api_calls", int, "forged /intervene calls"),
        ("--users", "users", int, "users intervening at once"), ("--rounds", "rounds", int, "rounds per user"),
        ("--render-threads", "render_threads", int, "threads rendering meanwhile"),
        ("--seed", "seed", int, "fuzzing seed")]),
}
USES_WEIGHTS = {"sustained-load", "long-run", "overload", "api-fuzz", "checkpoint-fuzz", "path-probes", "determinism",
                "mixed-memory", "uploads", "exports", "textures", "links", "interventions"}


def _default(fn, name):
    return inspect.signature(fn).parameters[name].default


def all_goals() -> dict:
    """The package's goals (R1-R11) and issue #37's: mixed-memory and the surfaces (surfaces.py,
    interventions.py). Here, not in surfaces.py: interventions.py builds on surfaces.py's helpers."""
    from . import GOALS
    from .interventions import interventions
    from .memory import mixed_memory
    from .surfaces import exports, links, textures, uploads
    return {**GOALS, "mixed-memory": mixed_memory, "uploads": uploads, "exports": exports, "textures": textures,
            "links": links, "interventions": interventions}


def build_parser() -> argparse.ArgumentParser:
    FUNCS = all_goals()
    p = argparse.ArgumentParser(prog="python scripts/reliability", description=__doc__, epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="goal", required=True)
    for goal, (title, flags) in GOALS.items():
        fn = FUNCS[goal]
        g = sub.add_parser(goal, help=title, description=f"{title}. {inspect.getdoc(fn)}",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        if goal in USES_WEIGHTS:
            g.add_argument("--weights", type=Path, default=Path("weights"), help="folder of model directories")
        for flag, name, typ, text in flags:
            if typ is None:
                g.add_argument(flag, dest=name, action="store_false", help=text)
            else:
                g.add_argument(flag, dest=name, type=typ, default=_default(fn, name), help=text)
        g.add_argument("--out", type=Path, default=RESULTS_DIR / f"{goal}.json", help="where the JSON goes")
    a = sub.add_parser("all", help="every goal at its real size, then the report")
    a.add_argument("--weights", type=Path, default=Path("weights"))
    a.add_argument("--only", default=",".join(GOALS), help="comma-separated goals")
    rp = sub.add_parser("report", help="collect docs/reliability/*.json into docs/RELIABILITY.md")
    rp.add_argument("--results", type=Path, default=RESULTS_DIR)
    rp.add_argument("--out", type=Path, default=RESULTS_DIR.parent / "RELIABILITY.md")
    return p


def _run_goal(goal: str, kwargs: dict, out: Path, argv) -> bool:
    res = all_goals()[goal](**kwargs)
    path = write_result(res, out, argv)
    print("\n".join(summary_lines(res)))
    print(f"  -> {path}")
    return res["pass"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    if len(argv) > 1 and argv[1] == "_r6-worker":          # internal: the fuzzing child process
        from .ckpt_fuzz import worker
        worker(argv[2], argv[3])
        return 0
    if len(argv) > 1 and argv[1] == "_r11-hashes":         # internal: one process of the R11 check
        from .determinism import hashes_worker
        hashes_worker(argv[2], argv[3])
        return 0
    args = build_parser().parse_args(argv[1:])
    if args.goal == "report":
        from .report import write_report
        print(f"wrote {write_report(args.results, args.out)}")
        return 0
    if args.goal == "all":
        ok = True
        for goal in args.only.split(","):
            kwargs = {"weights": args.weights} if goal in USES_WEIGHTS else {}
            ok &= _run_goal(goal, kwargs, RESULTS_DIR / f"{goal}.json",
                            ["", goal] + ([f"--weights={args.weights}"] if goal in USES_WEIGHTS else []))
        from .report import write_report
        print(f"wrote {write_report()}")
        return 0 if ok else 1
    kwargs = {k: v for k, v in vars(args).items() if k not in ("goal", "out")}
    return 0 if _run_goal(args.goal, kwargs, args.out, argv) else 1
