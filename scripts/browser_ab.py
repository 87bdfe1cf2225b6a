"""The browser click and the next seed, for two commits of the app, in interleaved rounds.

    python scripts/browser_ab.py 9231cd3 HEAD                     # 4 rounds on localhost
    python scripts/browser_ab.py 9231cd3 HEAD --latency-ms 50     # as from a Space far away
    python scripts/browser_ab.py 9231cd3 HEAD --out docs/browser_ab.json

Each commit is checked out in a temporary git worktree and served by its own
`python app.py` (on the shipped weights of the current checkout); every round
times both, in alternating order, with the bench's browser part
(`bench.app.bench_browser`: Playwright and Debian's Chromium, mouse-down
to the new overlay decoded, "next" to the next seed's image decoded). This
shared 2-core VM's speed drifts from minute to minute, so a change to the
page's path is judged by rounds that see the same minutes, not by two
separate bench runs.
"""
from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # attn_demo, run from anywhere
from bench.app import bench_browser  # noqa: E402
from bench.common import ROOT, machine  # noqa: E402


def worktree(rev: str, path: Path) -> str:
    """`rev` checked out (detached) at `path`; returns its full hash."""
    full = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(path), full], cwd=ROOT, check=True,
                   capture_output=True)
    return full


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("revs", nargs=2, help="two commits (hashes, tags, HEAD~1, ...)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--clicks", type=int, default=20, help="clicks per app and round")
    ap.add_argument("--steps", type=int, default=10, help="seed steps per app and round")
    ap.add_argument("--latency-ms", type=float, default=0.0,
                    help="added by Chromium to every request, with a 10 / 5 Mbit/s link (default: none)")
    ap.add_argument("--weights", type=Path, default=ROOT / "weights")
    ap.add_argument("--out", type=Path, help="also write the figures here as JSON")
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.clicks < 1 or args.steps < 1 or args.latency_ms < 0:
        ap.error("rounds, clicks and steps must be at least 1, and the latency not negative")
    if not Path("/usr/bin/chromium").exists():
        sys.exit("needs Debian's chromium at /usr/bin/chromium (apt install chromium)")

    apps = [{"rev": rev, "runs": []} for rev in args.revs]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for i, app in enumerate(apps):
                app["path"] = Path(tmp) / f"app{i}"
                app["commit"] = worktree(app["rev"], app["path"])
            for r in range(args.rounds):
                for app in (apps if r % 2 == 0 else apps[::-1]):
                    b = bench_browser(args.weights, args.clicks, args.steps, root=app["path"],
                                      latency_ms=args.latency_ms)
                    app["runs"].append(b)
                    print(f"round {r + 1} {app['rev']}: click {b['median_ms']:.1f} ms, "
                          f"next seed {b['seed_step_median_ms']:.1f} ms", flush=True)
        finally:
            for app in apps:
                if "commit" in app:
                    subprocess.run(["git", "worktree", "remove", "--force", str(app["path"])], cwd=ROOT,
                                   capture_output=True)

    result = {"machine": machine(), "command": "python scripts/browser_ab.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "latency_ms": args.latency_ms, "rounds": args.rounds, "clicks": args.clicks, "steps": args.steps,
              "apps": []}
    for app in apps:
        clicks = [b["median_ms"] for b in app["runs"]]
        steps = [b["seed_step_median_ms"] for b in app["runs"]]
        result["apps"].append({"rev": app["rev"], "commit": app["commit"], "click_medians_ms": clicks,
                               "seed_step_medians_ms": steps, "click_ms": statistics.median(clicks),
                               "seed_step_ms": statistics.median(steps)})
        print(f"{app['rev']} ({app['commit'][:9]}): click {statistics.median(clicks):.1f} ms, next seed "
              f"{statistics.median(steps):.1f} ms (medians of {args.rounds} rounds' medians)")
    a, b = (app["runs"] for app in apps)
    result["second_clicked_faster_in_rounds"] = sum(y["median_ms"] < x["median_ms"] for x, y in zip(a, b))
    print(f"{args.revs[1]} clicked faster than {args.revs[0]} in {result['second_clicked_faster_in_rounds']} "
          f"of {args.rounds} rounds")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    # A killed run still stops its apps and removes its worktrees (the finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
