"""What one new Gradio session costs the server: CPU and memory, Gradio's eager copy against ours.

    python scripts/session_cost.py                 # the app on weights/, 200 sessions each way
    python scripts/session_cost.py --weights DIR --sessions 50

Every API call without a session hash is a new session (`SessionState`). Gradio 6.31 builds every
block's config in its __init__; attn_demo/studio/_gradio.py `lazy_session_configs` builds one when
something reads it. Both are timed here on the app's own page (app.py's build, the opening view
left out), then a session as a /generate call leaves it: its inputs and outputs put in the
session and their values written into its configs. Time while nothing else runs.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", type=Path, default=ROOT / "weights")
    p.add_argument("--sessions", type=int, default=200)
    a = p.parse_args()

    from gradio.state_holder import SessionState

    from attn_demo.machine import cpu_name
    from attn_demo.serving.loader import find_models
    from attn_demo.studio.core import Studio
    from attn_demo.studio.ui import build_demo

    demo = build_demo(Studio(find_models(a.weights, kind=None), device="cpu"))
    lazy_init = SessionState.__init__
    eager_init = lazy_init.eager
    fn = next(f for f in demo.fns.values() if f.api_name == "generate")
    touched = [b._id for b in fn.inputs + fn.outputs]

    def one(init) -> SessionState:
        state = SessionState.__new__(SessionState)
        init(state, demo)
        for key in touched:               # what blocks.py does as the call runs
            state[key] = state.blocks_config.blocks[key]
            state._update_value_in_config(key, None)
        return state

    out = {"machine": cpu_name(), "cores": os.cpu_count(), "blocks": len(demo.blocks), "sessions": a.sessions,
           "touched_per_call": len(touched)}
    for name, init in (("eager", eager_init), ("lazy", lazy_init)):
        one(init)                         # warm caches (inspect, hashes)
        gc.collect()
        times = []
        for _ in range(a.sessions):
            t0 = time.process_time()
            one(init)
            times.append(time.process_time() - t0)
        gc.collect()
        tracemalloc.start()
        kept = [one(init) for _ in range(20)]
        size, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del kept
        out[name] = {"cpu_ms_median": round(1e3 * statistics.median(times), 3),
                     "cpu_ms_mean": round(1e3 * statistics.fmean(times), 3),
                     "kb_per_session": round(size / 20 / 1024, 1)}
        print(f"{name}: {out[name]}")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
