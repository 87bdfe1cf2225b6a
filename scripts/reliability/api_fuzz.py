"""R5 malformed API calls (hypothesis) and R7 path probes, against the real app."""
from __future__ import annotations

import http.client
import json
import os
import random
import re
import uuid
from pathlib import Path
from urllib.parse import quote, urlparse

import httpx

from .common import REPO, canvas_models, criterion, model_names, models_in, percentile, r, result
from .server import AppServer, Outcome, call, fetch_output_file, has_traceback

ENDPOINTS = ("generate", "inspect", "interpolate", "grid")
CANVAS_ENDPOINTS = ("material", "material_glb")        # canvas models (fuzzed when weights/ has one)
INTERNAL = "internal error"          # what ui._guard answers for an exception that is not ours to expect


# ------------------------------------------------------------------ R5: strategies
def strategies(models, canvases=()):
    """(endpoint, raw JSON body) cases: each argument valid or hostile, the arity varied,
    plus whole bodies that are not a call at all. `canvases`: (name, classes) of canvas models,
    whose /material and /material_glb join the image endpoints."""
    from hypothesis import strategies as st
    names = [m.name for m in models]
    layers = sorted({layer for m in models for layer in m.layers})
    classes = sorted({str(i) for m in models for i in range(m.num_classes)})
    server_paths = ["/etc/passwd", "app.py", "../../etc/passwd", "/proc/self/environ",
                    "http://169.254.169.254/latest/meta-data/", f"weights/{names[0]}/model.safetensors"]
    filedata = st.builds(lambda p, t: {"path": p, "url": p, "meta": {"_type": t}},
                         st.sampled_from(server_paths), st.sampled_from(["gradio.FileData", "x"]))
    hostile = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),                                               # unbounded: 10**30 and beyond
        st.sampled_from([-1, 2 ** 32, 2 ** 64 - 1, 2 ** 64, -2 ** 63, 10 ** 400, 1e308, -1e308, 1.5, 5e-324]),
        st.text(max_size=30),
        st.sampled_from(["", "NaN", "Infinity", "-1", "1e999", "0x10", "../../etc/passwd", "/etc/passwd",
                         "null", "\x00", "\U0001F600", "a" * 10000, "1, 2", "[1, 2]"]),
        st.none(), st.booleans(),
        st.lists(st.one_of(st.integers(), st.floats(allow_nan=True), st.text(max_size=5)), max_size=4),
        st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=8)), max_size=3),
        filedata,
    )
    floats = st.floats(-5, 5, allow_nan=False)
    slot = {
        "model": st.sampled_from(names + ["nope", "", f"../weights/{names[0]}", f"/abs/{names[0]}",
                                          names[0].upper(), names[0] + "/", f"{REPO}/weights/{names[0]}"]),
        "seed": st.one_of(st.integers(0, 2 ** 32 - 1), st.sampled_from([0, 2 ** 32 - 1, 42.0])),
        "psi": st.floats(0, 1),
        "label": st.sampled_from(["", "0", "1", "2", "99", "-1", " 1 ", "horse", "1.0"] + classes),
        "sliders": st.one_of(st.just(""), st.lists(floats, max_size=9).map(lambda v: ", ".join(map(str, v))),
                             st.sampled_from(["a,b", "1e308", "nan", "inf", ",,,", "1;2", "5.0001", "-5.1"])),
        "xy": st.one_of(st.integers(0, 600), st.sampled_from([-5, 511, 512, 8191, 8192, 99999])),
        "size": st.sampled_from([0, 1, 32, 64, 512, 8192, 8193, -1]),
        "layer": st.sampled_from(["", "G99", "../G16", "g16", "D16", "G0"] + layers),
        "head": st.sampled_from(["mean", "0", "1", "7", "-1", "x", "", "1.5", " 0"]),
        "mode": st.sampled_from(["looks-at", "looked-at-by", "sideways", "", "LOOKS-AT"]),
        "seeds": st.one_of(st.sampled_from(["1, 7", "3, 8, 12", "1", "1, x", "", "1," * 20, "-1, 2",
                                            "4294967296, 1", "1.5, 2", "1;2"]),
                           st.lists(st.integers(0, 2 ** 32 - 1), min_size=2, max_size=4).map(
                               lambda v: ", ".join(map(str, v)))),
        "frames": st.integers(2, 6),                # valid sizes stay small: a valid GIF is not the point
        "count": st.integers(1, 8),
        # canvas models: a valid side stays small (a 2048² set is slow by design, not a malformed call)
        "canvas": st.sampled_from([c for c, _ in canvases] + ["nope", "", names[0]] +
                                  [f"../weights/{c}" for c, _ in canvases[:1]]),
        "side": st.sampled_from([64, 128, 128, 0, 1, 63, 65, -64, 4104, 8192, 10 ** 9]),
        "tiling": st.sampled_from(["both", "x", "none", "", "y", "BOTH", "diagonal"]),
        "canvas_label": st.sampled_from(["", "nope", "0", "-1"] + sorted({k for _, ks in canvases for k in ks})),
        "strength": st.one_of(st.floats(0, 1), st.sampled_from([-1.0, 64.0, 64.5, 1e308, 0.0])),
        "shape": st.sampled_from(["sphere", "cube", "plane", "surround", "", "torus", "../sphere", "SPHERE"]),
        "repeat": st.sampled_from([1, 2, 16, 17, 0, -1, 1.5, 10 ** 6]),
    }
    signature = {"generate": ["model", "seed", "psi", "label", "sliders"],
                 "inspect": ["model", "seed", "psi", "label", "sliders", "xy", "xy", "size", "layer", "head", "mode"],
                 "interpolate": ["model", "seeds", "psi", "label", "frames"],
                 "grid": ["model", "seed", "count", "psi", "label", "sliders"],
                 "material": ["canvas", "seed", "side", "side", "tiling", "psi", "canvas_label"] + ["strength"] * 4}
    signature["material_glb"] = signature["material"] + ["shape", "repeat"]
    endpoints = ENDPOINTS + (CANVAS_ENDPOINTS if canvases else ())

    def endpoint_case(ep):
        keys = signature[ep]
        arity = st.sampled_from([0, 0, 0, 0, 0, -1, -2, 1, 3])      # mostly the right number of arguments

        def body(args, bad, values, k, extra):
            for i, v in zip(sorted(bad), values):
                args[i] = v
            args = args[:len(args) + k] if k < 0 else args + extra[:k]
            return ep, json.dumps({"data": args}, allow_nan=True)
        # One or two hostile arguments among valid ones reach the deeper checks; all-hostile calls
        # mostly stop at the first.
        few = st.builds(body, st.tuples(*[slot[k] for k in keys]).map(list),
                        st.sets(st.integers(0, len(keys) - 1), min_size=1, max_size=2),
                        st.lists(hostile, min_size=2, max_size=2), arity, st.lists(hostile, min_size=3, max_size=3))
        every = st.builds(body, st.tuples(*[hostile for _ in keys]).map(list), st.just(set()), st.just([]),
                          arity, st.lists(hostile, min_size=3, max_size=3))
        return st.one_of(few, few, few, every)

    garbage = st.builds(
        lambda ep, body: (ep, body), st.sampled_from(endpoints + ("nope",)),
        st.one_of(st.text(max_size=200),
                  hostile.map(lambda v: json.dumps({"data": v}, allow_nan=True)),
                  hostile.map(lambda v: json.dumps(v, allow_nan=True)),
                  st.sampled_from(['{"data": [', '{"data": [1, 2', "[" * 5000 + "]" * 5000, '{"data": ' * 200,
                                   '{"data": ["x", NaN, Infinity, -Infinity]}', '{"data": []}', "{}", "null"])))
    return st.one_of(*[endpoint_case(ep) for ep in endpoints], garbage)


def fixed_cases(models, canvases=()) -> list[tuple[str, str]]:
    """Items 1-11 of the note as hand-written bodies (the hypothesis cases come on top), and the same
    kinds of hostile value for a canvas model's /material and /material_glb."""
    m = models[0]
    lbl = json.dumps(m.label(random.Random(0)))
    g = lambda *a: json.dumps({"data": list(a)}, allow_nan=True)       # noqa: E731
    canvas = []
    for c, classes in canvases[:1]:
        k = classes[0] if classes else ""
        canvas = [
            ("material", f'{{"data": ["{c}", 1, 64, 64, "both", NaN, "{k}", 4, 2, 0.8, 0.3]}}'),
            ("material", f'{{"data": ["{c}", 1, 64, 64, "both", 1.0, "{k}", Infinity, 2, 0.8, 0.3]}}'),
            ("material", g(c, 1, 10 ** 9, 64, "both", 1.0, k, 4, 2, 0.8, 0.3)),
            ("material", g(c, 1, 4096, 4096, "both", 1.0, k, 4, 2, 0.8, 0.3)),     # past the 2048² of a set
            ("material", g(c, 1, 63, 64, "both", 1.0, k, 4, 2, 0.8, 0.3)),          # not whole cells
            ("material", g("../weights/" + c, 1, 64, 64, "both", 1.0, k, 4, 2, 0.8, 0.3)),
            ("material", g(c, 1, 64, 64, "../x", 1.0, "nope", -4, 99, 2, -1)),
            ("material_glb", g(c, 1, 64, 64, "both", 1.0, k, 4, 2, 0.8, 0.3, "torus", 1)),
            ("material_glb", g(c, 1, 64, 64, "both", 1.0, k, 4, 2, 0.8, 0.3, "sphere", 10 ** 6)),
            ("material_glb", g(c, 1, 4096, 2048, "both", 1.0, k, 4, 2, 0.8, 0.3, "sphere", 1)),  # too big a GLB
            ("material_glb", '{"data": ["' + c + '"]}'),
        ]
    return canvas + [
        ("generate", g(m.name, -1, 1.0, "", "")), ("generate", g(m.name, 2 ** 32, 1.0, "", "")),     # 1, 3
        ("generate", f'{{"data": ["{m.name}", 1, NaN, {lbl}, ""]}}'),                              # 2
        ("generate", f'{{"data": ["{m.name}", 1, Infinity, {lbl}, ""]}}'),
        ("generate", f'{{"data": ["{m.name}", 1.5, 1.0, {lbl}, ""]}}'),                            # 3
        ("generate", f'{{"data": ["{m.name}", "7", 1.0, {lbl}, ""]}}'),
        ("generate", f'{{"data": ["{m.name}", 18446744073709551615, 1.0, {lbl}, ""]}}'),
        ("generate", f'{{"data": ["{m.name}", null, 1.0, {lbl}, ""]}}'), ("generate", '{"data": []}'),  # 4
        ("inspect", f'{{"data": ["{m.name}", 1, 1.0, {lbl}, "", -5, 99999, 512, "", "mean", "looks-at"]}}'),  # 5
        ("inspect", f'{{"data": ["{m.name}", 1, 1.0, {lbl}, "", NaN, 1e308, 512, "", "mean", "looks-at"]}}'),
        ("inspect", f'{{"data": ["{m.name}", 1, 1.0, {lbl}, "", "abc", null, 512, "", "mean", "looks-at"]}}'),
        ("inspect", f'{{"data": ["{m.name}", 1, 1.0, {lbl}, "", 511, 511, 512, "", "mean", "looks-at"]}}'),  # 6
        ("generate", g("../weights/" + m.name, 1, 1.0, "", "")), ("generate", g("/etc/passwd", 1, 1.0, "", "")),  # 7
        ("inspect", f'{{"data": ["{m.name}", 1, 1.0, {lbl}, "", 1, 1, 32, "", "mean", '
                    '{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}]}'),          # 8
        ("generate", "{broken json"), ("generate", '{"data": "not a list"}'), ("generate", '{"nodata": 1}'),  # 10
    ]


# ------------------------------------------------------------------ R5
def api_fuzz(weights: Path = Path("weights"), examples: int = 500, min_calls: int = 500, answer_max_s: float = 5.0,
             log=print) -> dict:
    """R5: >= min_calls malformed calls; the app stays up, leaks no traceback, answers each in
    answer_max_s, and seed 42 gives the same PNG bytes before and after."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    models, canvases = models_in(weights), canvas_models(weights)
    m = models[0]
    reference = [m.name, 42, 0.8, "0" if m.num_classes else "", ""]
    outcomes: list[Outcome] = []
    cases = fixed_cases(models, canvases)
    with AppServer(weights) as app, httpx.Client(timeout=60) as http:
        log(f"r5: app up in {app.startup_s:.1f} s; {len(cases)} fixed cases + {examples} hypothesis cases")
        before = call(http, app.url, "generate", reference)
        if not before.ok:
            raise RuntimeError(f"the reference call failed: {before.text[:500]}")
        png_before = fetch_output_file(http, before)

        class ServerDied(Exception):
            pass

        def send(endpoint: str, body: str) -> None:
            o = call(http, app.url, endpoint, None, timeout=max(10.0, 2 * answer_max_s), raw=body)
            o.extra["body"] = body[:200]
            outcomes.append(o)
            if not app.alive():
                raise ServerDied(body[:200])

        crashed = None
        try:
            for case in cases:
                send(*case)

            @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                      phases=[Phase.generate], suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet)
            @given(strategies(models, canvases))
            def fuzz(case):
                send(*case)
            fuzz()
        except ServerDied as e:
            crashed = str(e)
        alive = app.alive()
        after = call(http, app.url, "generate", reference) if alive else None
        png_after = fetch_output_file(http, after) if after is not None and after.ok else b""
        server_log = app.log_text()

    n = len(outcomes)
    tracebacks = [o for o in outcomes if has_traceback(o.text)]
    slow = [o for o in outcomes if o.kind == "exception" or o.seconds > answer_max_s]
    http5xx = [o for o in outcomes if o.status is not None and o.status >= 500]
    internal = [o for o in outcomes if INTERNAL in o.text]
    logged = len(re.findall(r"handler \w+ failed", server_log))
    kinds: dict[str, int] = {}
    for o in outcomes:
        key = f"{o.kind}:{o.status}"
        kinds[key] = kinds.get(key, 0) + 1
    crit = [
        criterion("R5", "malformed calls sent", f">= {min_calls}", n, n >= min_calls),
        criterion("R5", "server crashes", "0", 0 if alive and crashed is None else 1, alive and crashed is None),
        criterion("R5", "responses with a traceback", "0", len(tracebacks), not tracebacks),
        criterion("R5", "internal errors (exceptions of our code that are not AttnDemoError)", "0",
                  f"{len(internal)} answered, {logged} in the server log", not internal and not logged),
        criterion("R5", "HTTP 5xx", "0", len(http5xx), not http5xx),
        criterion("R5", f"calls not answered within {answer_max_s} s", "0", len(slow), not slow),
        criterion("R5", "seed 42 PNG byte-identical before and after", "identical",
                  "identical" if png_after == png_before else "differs", png_after == png_before),
    ]
    figures = {"calls": n, "outcomes": kinds, "completed": sum(o.ok for o in outcomes),
               "answer_s": {"p50": r(percentile([o.seconds for o in outcomes], 50)),
                            "p99": r(percentile([o.seconds for o in outcomes], 99)),
                            "max": r(max((o.seconds for o in outcomes), default=None))},
               "by_endpoint": {ep: sum(o.endpoint == ep for o in outcomes)
                               for ep in ENDPOINTS + CANVAS_ENDPOINTS + ("nope",)},
               "png_bytes": len(png_before), "crashed_on": crashed,
               "examples_of_problems": [{"body": o.extra.get("body"), "kind": o.kind, "status": o.status,
                                         "seconds": r(o.seconds), "text": o.text[:300]}
                                        for o in (tracebacks + internal + http5xx + slow)[:10]]}
    params = {"weights": str(weights), "models": model_names(models, canvases),
              "reference_model": m.name, "hypothesis_examples": examples, "derandomize": True,
              "fixed_cases": len(cases)}
    return result("r5", "Malformed API calls (R5)", crit, figures, params)


# ------------------------------------------------------------------ R7
def raw_get(url: str, path: str, timeout: float = 10.0) -> tuple[int | None, bytes]:
    """GET a path exactly as written: no ../ normalisation, no re-encoding (httpx would do both)."""
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read(1 << 20)
    except (OSError, http.client.HTTPException):
        return None, b""
    finally:
        conn.close()


def _variants(absolute: str, relative: str | None) -> list[str]:
    out = [absolute, "//" + absolute.lstrip("/"), "../../../../../../../.." + absolute,
           "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e" + absolute, quote(absolute, safe=""),
           quote(quote(absolute, safe=""), safe=""), absolute.replace("/", "%2F")]
    if relative:
        out += [relative, "./" + relative, quote(relative, safe=""), "%2e/" + relative]
    return out


def _probe_paths(app: AppServer, cached_file: str | None) -> list[tuple[str, str, bytes | None]]:
    """(what, path after the route, bytes that must never come back)."""
    targets = [("/etc/passwd", b"root:")]
    for p in (REPO / "app.py", REPO / "attn_demo" / "serving" / "engine.py"):
        targets.append((str(p), p.read_bytes()[:48]))
    for p in sorted(app.weights.rglob("*")):
        if p.is_file():
            targets.append((str(p), p.read_bytes()[8:56] if p.suffix == ".safetensors" else p.read_bytes()[:48]))
    targets += [("/proc/self/environ", b"ATTN_DEMO_WEIGHTS="), ("/proc/self/cmdline", b"app.py"),
                (str(app.log_path), None)]
    probes = []
    for absolute, marker in targets:
        rel = os.path.relpath(absolute, REPO) if absolute.startswith("/") and not absolute.startswith("/proc") else None
        for v in _variants(absolute, rel):
            probes.append((absolute, v, marker))
    url = "http://169.254.169.254/latest/meta-data/"
    for v in (url, quote(url, safe=""), "http:/169.254.169.254/latest/meta-data/"):
        probes.append((url, v, None))
    if cached_file:                       # start inside the cache, then climb out of it
        probes.append(("/etc/passwd", cached_file + "/../../../../../../../../etc/passwd", b"root:"))
        probes.append(("/etc/passwd", quote(cached_file + "/../../../../../../../../etc/passwd", safe=""), b"root:"))
    return probes


def _import_event(url: str) -> tuple[int, int] | None:
    """(fn_index, component id) of the UI's private 'load a state .json' upload event."""
    cfg = httpx.get(f"{url}config", timeout=10).json()
    comp = next((c["id"] for c in cfg["components"] if c.get("props", {}).get("elem_id") == "import_file"), None)
    for i, dep in enumerate(cfg["dependencies"]):
        if comp is not None and comp in dep["inputs"]:
            return dep.get("id", i), comp
    return None


def queue_call(url: str, fn_index: int, trigger: int, data: list, timeout: float = 20.0) -> dict:
    """A call through the browser's protocol (queue/join + queue/data): private events too."""
    session = uuid.uuid4().hex[:12]
    r = httpx.post(f"{url}gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session,
                                                        "event_data": None, "trigger_id": trigger}, timeout=timeout)
    if r.status_code != 200:
        return {"status": r.status_code, "text": r.text}
    with httpx.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session}, timeout=timeout) as s:
        text = ""
        for line in s.iter_lines():
            text += line + "\n"
            if '"process_completed"' in line:
                msg = json.loads(line[5:])
                return {"status": 200, "success": msg.get("success"), "output": msg.get("output"), "text": text}
    return {"status": 200, "success": None, "text": text}


def path_probes(weights: Path = Path("weights"), log=print) -> dict:
    """R7: /gradio_api/file= (and the older /file/) refuse every server path; FileData inputs
    pointing at server paths are refused; an upload over max_file_size (20 MB) gets 413."""
    models = models_in(weights)
    m = models[0]
    rows = []
    with AppServer(weights) as app, httpx.Client(timeout=30) as http:
        log(f"r7: app up in {app.startup_s:.1f} s")
        out = call(http, app.url, "generate", [m.name, 1, 1.0, "0" if m.num_classes else "", ""])
        cached = out.data[0]["path"] if out.ok else None
        control_status, _ = raw_get(app.url, urlparse(out.data[0]["url"]).path) if out.ok else (None, b"")
        for target, variant, marker in _probe_paths(app, cached):
            for route in ("/gradio_api/file=", "/gradio_api/file/", "/file="):
                status, body = raw_get(app.url, route + variant)
                leaked = bool(marker) and marker in body
                rows.append({"target": target, "path": route + variant, "status": status, "leaked": leaked,
                             "refused": status in (403, 404) and not leaked})
        for extra in ("/gradio_api/proxy=http://169.254.169.254/latest/meta-data/", "/gradio_api/vibe-code"):
            status, body = raw_get(app.url, extra)
            rows.append({"target": extra, "path": extra, "status": status, "leaked": False,
                         "refused": status is not None and 400 <= status < 500})

        # FileData inputs: in a named endpoint's text slot, and in the UI's (private) file upload event.
        filedata_rows = []
        for p in ("/etc/passwd", "app.py", str(REPO / "app.py"), "../../etc/passwd", "/proc/self/environ",
                  "http://169.254.169.254/latest/meta-data/"):
            fd = {"path": p, "url": p, "orig_name": "state.json", "meta": {"_type": "gradio.FileData"}}
            o = call(http, app.url, "inspect", [m.name, 1, 1.0, "0" if m.num_classes else "", "", 1, 1, 32, "", "mean", fd])
            leak = "root:" in o.text or "import " in o.text or "ATTN_DEMO" in o.text
            filedata_rows.append({"via": "/inspect text slot", "path": p, "kind": o.kind, "refused": not o.ok and not leak})
        event = _import_event(app.url)
        control = None
        if event is not None:
            for p in ("/etc/passwd", "app.py", str(REPO / "app.py"), "../../etc/passwd", "/proc/self/environ",
                      str(next(app.weights.rglob("config.json"))), "http://169.254.169.254/latest/meta-data/"):
                fd = {"path": p, "orig_name": "state.json", "meta": {"_type": "gradio.FileData"}}
                res = queue_call(app.url, event[0], event[1], [fd])
                leak = any(s in res.get("text", "") for s in ("root:", "import ", "ATTN_DEMO", "resolution"))
                filedata_rows.append({"via": "private import event (queue/join)", "path": p,
                                      "success": res.get("success"), "refused": res.get("success") is False and not leak})
            # Control: a file that was uploaded is accepted and reaches our handler (which refuses its content).
            up = http.post(f"{app.url}gradio_api/upload", files={"files": ("state.json", b"not json")})
            fd = {"path": up.json()[0], "orig_name": "state.json", "meta": {"_type": "gradio.FileData"}}
            res = queue_call(app.url, event[0], event[1], [fd])
            control = {"upload_status": up.status_code, "success": res.get("success"),
                       "reached_handler": "not a valid state file" in res.get("text", "")}
        big = http.post(f"{app.url}gradio_api/upload", files={"files": ("big.json", b"{" + b" " * (21 << 20) + b"}")})
        small = http.post(f"{app.url}gradio_api/upload", files={"files": ("small.json", b"{}")})
        alive = app.alive()

    bad = [x for x in rows if not x["refused"]]
    statuses: dict[str, int] = {}
    for x in rows:
        statuses[str(x["status"])] = statuses.get(str(x["status"]), 0) + 1
    fd_bad = [x for x in filedata_rows if not x["refused"]]
    crit = [
        criterion("R7", "file-route probes served (not 403/404) or leaking content", "0",
                  f"{len(bad)} of {len(rows)}", not bad),
        criterion("R7", "control: a real cached output is served", "200", control_status, control_status == 200),
        criterion("R7", "FileData inputs at server paths accepted", "0", f"{len(fd_bad)} of {len(filedata_rows)}",
                  not fd_bad and event is not None),
        criterion("R7", "control: an uploaded file reaches the handler", "yes", control,
                  bool(control and control["reached_handler"])),
        criterion("R7", "upload over max_file_size (21 MB > 20 MB)", "413", big.status_code, big.status_code == 413),
        criterion("R7", "control: a small upload", "200", small.status_code, small.status_code == 200),
        criterion("R7", "server alive", "yes", alive, alive),
    ]
    figures = {"probes": len(rows), "statuses": statuses, "not_refused": bad[:20], "filedata": filedata_rows,
               "import_event_fn_index": event[0] if event else None, "upload_control": control,
               "examples": rows[:: max(1, len(rows) // 25)]}
    return result("r7", "Path probes (R7)", crit, figures, {"weights": str(weights)})
