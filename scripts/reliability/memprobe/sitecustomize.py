"""Memory probe for the app under test, loaded as `sitecustomize` (scripts/reliability/memory.py puts
this folder on PYTHONPATH of `python app.py`). Does nothing unless ATTN_DEMO_MEMPROBE names a file.

With it: tracemalloc runs from the first SIGUSR1 on (ATTN_DEMO_MEMPROBE_FRAMES frames, default 1;
0 leaves tracemalloc off and reports the rest), and each SIGUSR1 appends one JSON line to the file:
RSS, Python's traced bytes and their top lines, glibc's arenas (malloc_info) and the sizes of
Gradio's per-session stores and the studio's render caches. Measurement only: never in production.
"""
import os

_OUT = os.environ.get("ATTN_DEMO_MEMPROBE")
if _OUT:
    import ctypes
    import json
    import re
    import signal
    import sys
    import tempfile
    import time
    import tracemalloc

    # Tracing from the interpreter's start made app.py's start-up take minutes on a busy machine:
    # tracemalloc starts at the first SIGUSR1 instead, so the records trace what was allocated
    # after it (and is still alive), which is what a growth under load is made of.
    _FRAMES = int(os.environ.get("ATTN_DEMO_MEMPROBE_FRAMES", "1"))

    def _rss_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

    def _arenas():
        """glibc malloc_info: per arena (heap) the bytes it holds from the system and the free bytes in it."""
        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.fdopen.restype, libc.fdopen.argtypes = ctypes.c_void_p, [ctypes.c_int, ctypes.c_char_p]
            libc.malloc_info.argtypes, libc.fclose.argtypes = [ctypes.c_int, ctypes.c_void_p], [ctypes.c_void_p]
            fd, path = tempfile.mkstemp(suffix=".xml")
            fp = libc.fdopen(os.dup(fd), b"w")
            libc.malloc_info(0, fp)
            libc.fclose(fp)
            os.close(fd)
            xml = open(path).read()
            os.unlink(path)
        except Exception as e:  # noqa: BLE001 - a probe never breaks the app
            return {"error": repr(e)}
        heaps = []
        for block in re.findall(r'<heap nr="\d+">(.*?)</heap>', xml, flags=re.S):
            cur = re.search(r'<system type="current" size="(\d+)"', block)
            free = sum(int(x) for x in re.findall(r'<total type="(?:fast|rest)" count="\d+" size="(\d+)"', block))
            heaps.append({"system_mb": round(int(cur.group(1)) / 2**20, 1) if cur else None,
                          "free_mb": round(free / 2**20, 1)})
        return {"arenas": len(heaps), "heaps": heaps,
                "system_mb": round(sum(h["system_mb"] or 0 for h in heaps), 1),
                "free_mb": round(sum(h["free_mb"] for h in heaps), 1)}

    def _stores():
        out = {}
        main = sys.modules.get("__main__")
        demo, studio = getattr(main, "demo", None), getattr(main, "studio", None)
        try:
            holder = getattr(demo, "state_holder", None)
            if holder is not None:
                out["gradio_sessions"] = len(holder.session_data)
                out["gradio_session_capacity"] = holder.capacity
            q = getattr(demo, "_queue", None)
            if q is not None:
                out["queue_event_analytics"] = len(getattr(q, "event_analytics", {}))
                out["queue_pending_sessions"] = len(getattr(q, "pending_event_ids_session", {}))
                out["queue_events"] = len(getattr(q, "event_ids_to_events", {}))
            app = getattr(demo, "server_app", None) or getattr(demo, "app", None)
            if app is not None:
                out["app_iterators"] = len(getattr(app, "iterators", {}))
            out["pending_streams"] = len(getattr(demo, "pending_streams", {}))
        except Exception as e:  # noqa: BLE001
            out["error"] = repr(e)
        for name, cache in (("studio", getattr(studio, "_renders", None)),
                            ("canvas", getattr(getattr(studio, "canvas", None), "_renders", None))):
            if cache is not None:
                out[f"{name}_renders"] = len(cache)
                out[f"{name}_render_bytes"] = getattr(cache, "nbytes", None)
        return out

    def _dump(signum, frame):
        if _FRAMES and not tracemalloc.is_tracing():
            tracemalloc.start(_FRAMES)
        rec = {"t": time.time(), "rss_mb": round(_rss_mb(), 1), "stores": _stores(), "malloc": _arenas()}
        if tracemalloc.is_tracing():
            cur, peak = tracemalloc.get_traced_memory()
            snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
            top = snap.statistics("lineno")[:25]
            rec["traced_mb"], rec["traced_peak_mb"] = round(cur / 2**20, 1), round(peak / 2**20, 1)
            rec["top"] = [{"where": f"{s.traceback[0].filename}:{s.traceback[0].lineno}",
                           "mb": round(s.size / 2**20, 2), "count": s.count} for s in top]
        with open(_OUT, "a") as f:
            f.write(json.dumps(rec) + "\n")

    signal.signal(signal.SIGUSR1, _dump)
