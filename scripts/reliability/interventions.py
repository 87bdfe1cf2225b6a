"""Interventions on attention (issue #35's "What attention does" tab; issue #37's goal for them):

    python scripts/reliability interventions      # I1 forged interventions, I2 users at once, I3 D's view

- I1  forged interventions through the studio's own parsing: `iv=` and `vs=` link values opened as a
      kept view is (events.Handlers.on_open -> view.view_from_query), state dicts with a forged
      "intervention" / "versions" (Studio.parse_state), and /intervene's raw inputs: painted masks of
      the wrong size or with bits past their grid, empty and all-covering brushes, k beyond the key
      grid, NaN, Infinity, huge numbers, unknown layers, heads and actions. Every view that opens is
      also run the way the tab runs it (SurgeryHandlers.run; the timeline and A/B for `vs=`).
      Outcomes: a view (with finite numbers) or our clear error (AttnDemoError), nothing else.
- I2  several users intervening at once (the tab's handlers and /intervene) while renders go on:
      no other error, memory bounded, every result byte-identical to the same intervention run alone.
- I3  a model without D's weights asked for D's view (the tab, /d_attention), and one whose
      discriminator.safetensors is junk: a clear message.

Built like surfaces.py's goals: the studio of app.py on --weights, in-process.
tests/scripts/test_reliability_surfaces.py runs it in seconds on the tiny test models.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import shutil
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import numpy as np

from .common import criterion, r, result
from .surfaces import HOSTILE_VALUES, _classify, _rss_mb, _studio

MB = 2 ** 20


def _raw(fn):
    """A guarded handler's own function (guard and gpu wrap it with functools.wraps)."""
    while hasattr(fn, "__wrapped__"):
        fn = fn.__wrapped__
    return fn


def _masks(rng: random.Random, side: int) -> list[str]:
    """Painted masks: good ones, empty, all-covering, the wrong size, bits past the grid, junk."""
    from attn_demo.serving.regions import mask_to_text
    n = rng.choice([1, 2, side, side, 2 * side, 128])
    some = np.zeros((n, n), bool)
    some[rng.randrange(n), rng.randrange(n)] = True
    full = mask_to_text(np.ones((n, n), bool))
    good = mask_to_text(some)
    prefix, _, bits = good.rpartition(":")
    past = f"mask:3:{'_' * 2}"                                   # 9 cells, 16 bits: 7 set past the grid
    return [good, full, mask_to_text(np.zeros((n, n), bool)), f"mask:{n + 1}:{bits}", f"mask:{n}:{bits}AA",
            past, f"mask:0:", f"mask:129:{bits}", "mask:4:!!!", f"mask:{n}:{bits}=", "mask::", f"mask:-{n}:{bits}",
            "mask:" + "9" * 40 + ":A", good.upper(), " " + good + " "]


def _region(rng: random.Random, size: int, side: int):
    s = size
    x0, y0 = rng.randrange(s), rng.randrange(s)
    return rng.choice([
        [x0, y0, min(s, x0 + 1 + rng.randrange(s)), min(s, y0 + 1 + rng.randrange(s))],   # a good box
        [0, 0, s, s], [0, 0, s + 1, s], [5, 5, 5, 9], [9, 9, 3, 3], [-1, 0, 4, 4], [0, 0, 2 ** 70, 4],
        [0, 0, float("nan"), 4], [0, 0, float("inf"), 4], [1.5, 0, 4, 4], [0, 0, 4], [0, 0, 4, 4, 4], [], "1,2,3,4",
        "0,0,4,4", "x", None, None, None, {"a": 1}, [[0, 0]], rng.choice(_masks(rng, side)),
        rng.choice(_masks(rng, side)), rng.choice(_masks(rng, side))])


def valid_spec(rng: random.Random, layers: list[str], size: int, res: int, side: int) -> dict:
    """An intervention the page could send: each action with what it needs, in the picture's pixels."""
    from attn_demo.serving.regions import mask_to_text
    s = size or res
    layer = rng.choice(layers)
    x0, y0 = rng.randrange(s), rng.randrange(s)
    box = [x0, y0, rng.randrange(x0 + 1, s + 1), rng.randrange(y0 + 1, s + 1)]
    cells = np.zeros((side, side), bool)
    cells[rng.randrange(side), rng.randrange(side)] = True
    if rng.random() < 0.3:
        cells |= np.random.default_rng(rng.randrange(2 ** 32)).random((side, side)) < 0.3
    region = rng.choice([box, box, mask_to_text(cells)])
    click = {"x": rng.randrange(s), "y": rng.randrange(s)}
    action = rng.choice(["off", "hide", "redirect", "faithfulness"])
    d = {"action": action, "layer": layer, "size": size}
    if action == "off":
        d.update(rng.choice([click, {"brush": region}, {}]))
    elif action == "hide":
        d["brush"] = region
    elif action == "redirect":
        d.update({"target": region, **rng.choice([click, {"brush": box}, {}])})
    else:
        d.update({**click, "k": rng.randrange(1, 4), "draws": rng.randrange(1, 6), "head": rng.choice([None, 0])})
    return d


def forged_spec(rng: random.Random, layers: list[str], size: int, res: int, side: int, nk: int) -> dict:
    """An intervention dict as a state or an `iv=` link carries it: half of them valid with one field
    forged (or none), half forged throughout."""
    if rng.random() < 0.5:
        d = valid_spec(rng, layers, size, res, side)
        if rng.random() < 0.6:
            key = rng.choice(list(Intervention_FIELDS))
            wild = wild_spec(rng, layers, size, res, side, nk)
            if key in wild:
                d[key] = wild[key]
            else:
                d.pop(key, None)
        return d
    return wild_spec(rng, layers, size, res, side, nk)


Intervention_FIELDS = ("action", "layer", "x", "y", "brush", "target", "k", "draws", "head", "size", "curve")


def wild_spec(rng: random.Random, layers: list[str], size: int, res: int, side: int, nk: int) -> dict:
    from attn_demo.serving.surgery import ACTIONS
    size = size or res
    big = [float("nan"), float("inf"), -float("inf"), 2 ** 64, 10 ** 30, -1, 1.5, "3", None, True, [], {}]
    d = {"action": rng.choice(list(ACTIONS) * 3 + ["", "OFF", "explode", None, 5, "faithfulness "]),
         "layer": rng.choice(layers * 3 + ["", None, "G999", "D16", "../G16", 16, "g16"])}
    if rng.random() < 0.6:
        d["x"], d["y"] = (rng.choice([rng.randrange(size)] * 4 + [0, size - 1, size, 8191, 8192] + big[:6])
                          for _ in range(2))
        if rng.random() < 0.1:
            d.pop(rng.choice(["x", "y"]))
    for key in ("brush", "target"):
        if rng.random() < 0.6:
            d[key] = _region(rng, size, side)
    if rng.random() < 0.6:
        d["k"] = rng.choice([1, 2, 5, nk - 1, nk, nk + 1, 10 ** 6, 0, -3] + big)
    if rng.random() < 0.4:
        d["draws"] = rng.choice([1, 4, 64, 65, 0] + big)
    if rng.random() < 0.4:
        d["head"] = rng.choice([None, 0, 1, 99, -1, "mean", "x", 1.5, float("nan")])
    if rng.random() < 0.7:
        d["size"] = rng.choice([0, size, size, 8192, 8193, -1, 7] + big)
    if rng.random() < 0.15:
        d["curve"] = rng.choice([False, 0, 2, "yes", 0.5, float("nan")] + [True] * 2)
    if rng.random() < 0.05:
        d[rng.choice(["extra", "__proto__", "x" * 200])] = 1
    return d


def forged_versions(rng: random.Random, models: list[str]) -> str:
    m = rng.choice(models)
    return rng.choice(["", ",", "0", "2000", "-1", "1e3", "99999999999999", f",{m}", f"2000,{m}", f",{m}@0",
                       f",{m}@x", ",nonexistent", ",../../etc/passwd", f"1,{m}", " 5 , ", "５", ",@", f",{m}@",
                       ",".join(["1"] * 300), rng.choice(HOSTILE_VALUES)])


def _json_text(d, rng: random.Random) -> str:
    text = json.dumps(d, separators=(",", ":"))          # NaN, Infinity: what Python's json reads back
    return rng.choice([text] * 24 + [text[:len(text) // 2], text + "}", "[" + text + "]", "null", "1e999",
                       '"' + text + '"', text.replace('"', "'")])


def _digest(out) -> str:
    return hashlib.sha256(np.ascontiguousarray(out.after).tobytes() + np.ascontiguousarray(out.delta).tobytes()
                          ).hexdigest()[:16]


def _finite(out, faith) -> bool:
    ok = bool(np.isfinite(np.asarray(out.delta, float)).all())
    if faith is not None:
        ratio = faith.ratio
        ok &= ratio is None or math.isfinite(ratio)
    return ok


def interventions(weights: Path = Path("weights"), model: str | None = None, links: int = 2000, states: int = 1000,
                  api_calls: int = 1000, users: int = 4, rounds: int = 10, render_threads: int = 2,
                  max_s: float = 10.0, max_mb: float = 300.0, seed: int = 0, log=print) -> dict:
    """I1 forged `iv=`/`vs=` links, states and /intervene inputs: a view (run as the tab runs it, finite
    numbers) or our clear error, within max_s each; I2 `users` users intervening at once (`rounds` each)
    while `render_threads` threads render: no other error, peak memory <= max_mb over the start, results
    identical to the same interventions run alone; I3 D's view of a model without D: a clear message."""
    from attn_demo.serving.engine import RenderArgs
    from attn_demo.studio.desk import DISPLAY
    from attn_demo.studio.events import Handlers
    from attn_demo.studio.intervene import Intervention
    from attn_demo.studio.surgery.api import d_attention_endpoint, intervene_endpoint
    from attn_demo.studio.surgery import SurgeryHandlers
    from attn_demo.studio.surgery.versions import VersionsHandlers
    from attn_demo.studio.view import View, query_of
    tmp = Path(tempfile.mkdtemp(prefix="attn-rel-interventions-"))
    figures: dict = {}
    others: list[dict] = []
    try:
        studio = _studio(weights, tmp / "export")
        model = model or studio.models[0]
        engine = studio.engine(model)
        label = engine.class_names[0] if engine.cfg.num_classes else None
        default = View(model, RenderArgs(seed=42, psi=0.8, label=label), click=(10, 10))
        handlers, surgery, versions = Handlers(studio, default), SurgeryHandlers(studio), VersionsHandlers(studio)
        api = _raw(intervene_endpoint(studio))
        res0 = studio.render(model, default.args)
        layers = list(engine.layers)
        caps = {name: engine.capture(res0, name) for name in layers}
        side = max(c.grid[0] for c in caps.values())
        nk = max(c.key_grid[0] * c.key_grid[1] for c in caps.values())
        res = engine.cfg.resolution
        rng = random.Random(seed)
        counts = {w: {"ok": 0, "clean": 0, "disk": 0, "other": 0} for w in ("links", "states", "api")}
        runs = {"ran": 0, "clean": 0, "other": 0, "not_finite": 0}
        slowest = {"s": 0.0, "what": ""}

        reasons: Counter = Counter()

        def note(what, kind, msg, s, case):
            counts[what][kind] += 1
            if kind == "clean":
                reasons[re.sub(r"[-+]?\d[\d.e+]*|'[^']*'|\"[^\"]*\"", "#", msg)[:70]] += 1
            if s > slowest["s"]:
                slowest.update(s=s, what=f"{what}: {str(case)[:120]}")
            if kind == "other" and len(others) < 20:
                others.append({"where": what, "case": str(case)[:300], "error": msg})

        def run_view(v, case):
            """What the tab does with an opened view: the intervention, the timeline and A/B."""
            if v.intervention is None and v.versions.step is None and v.versions.b is None:
                return
            out = {}

            def go():
                if v.intervention is not None:
                    out["res"] = surgery.run(v, v.intervention)
                versions.timeline(v)
                versions.ab(v)
            kind, msg, s = _classify(go)
            if kind == "ok":
                runs["ran"] += 1
                if "res" in out and not _finite(*out["res"]):
                    runs["not_finite"] += 1
                    if len(others) < 20:
                        others.append({"where": "run", "case": str(case)[:300], "error": "non-finite numbers"})
            else:
                runs["clean" if kind == "clean" else "other"] += 1
                if kind != "clean" and len(others) < 20:
                    others.append({"where": "run", "case": str(case)[:300], "error": msg})
            if s > slowest["s"]:
                slowest.update(s=s, what=f"run: {str(case)[:120]}")

        # links: ?model=...&seed=...&iv=...&vs=...
        base_q = query_of(default).lstrip("?")
        for i in range(links):
            parts = [base_q]
            if rng.random() < 0.85:
                parts.append("iv=" + quote(_json_text(forged_spec(rng, layers, rng.choice([0, DISPLAY]), res, side, nk),
                                                      rng)))
            if rng.random() < 0.15 or len(parts) == 1:
                parts.append("vs=" + quote(forged_versions(rng, studio.models)))
            q = "?" + "&".join(parts)
            opened = []
            kind, msg, s = _classify(lambda: opened.append(handlers.on_open(q)[-1]))
            note("links", kind, msg, s, q)
            if kind == "ok":
                run_view(opened[0], q)
        log(f"interventions: {links} forged links: {counts['links']}; runs {runs}")
        # states: a good state with its "intervention" and "versions" forged
        good = studio.state_dict(default)
        for i in range(states):
            st = json.loads(json.dumps(good))
            if rng.random() < 0.85:
                forged = forged_spec(rng, layers, rng.choice([0, DISPLAY]), res, side, nk)
                st["intervention"] = rng.choice([forged] * 20 +
                                                [None, [], "off", 5, {"action": "off", "zz": 1}])
            if rng.random() < 0.35:
                m = rng.choice(studio.models)
                st["versions"] = rng.choice([{"step": None, "b": m}, {"step": rng.choice([0, -1, 2000, 2 ** 70, 1.5,
                                                                                          "5", None]), "b": None},
                                             {"b": rng.choice([m, "", "x@", f"{m}@5", 5, None])}, {"zz": 1}, [], "1,x",
                                             None])
            opened = []
            kind, msg, s = _classify(lambda: opened.append(studio.parse_state(st)[0]))
            note("states", kind, msg, s, json.dumps(st.get("intervention"), default=str))
            if kind == "ok":
                run_view(opened[0], st.get("intervention"))
        log(f"interventions: {states} forged states: {counts['states']}; runs {runs}")
        # /intervene's raw inputs (what gradio_client or curl sends)
        for i in range(api_calls):
            d = forged_spec(rng, layers, rng.choice([0, DISPLAY]), res, side, nk)

            def text(v):
                """What a Textbox hands the function: str(payload), or None."""
                if isinstance(v, list) and len(v) == 4 and rng.random() < 0.8:
                    return ",".join(str(c) for c in v)
                if v is None:
                    return rng.choice(["", None])
                if isinstance(v, str) and rng.random() < 0.9:
                    return v
                return rng.choice([str(v), json.dumps(v, default=str)])
            render = [42, 1.0, ""]                                  # seed, truncation, sliders
            if rng.random() < 0.25:                                  # one of them forged
                i = rng.randrange(3)
                render[i] = rng.choice([[0, -1, 2 ** 32, float("nan"), "7"], [0.5, float("nan"), 2.0, None],
                                        ["1,2", "nan", "x", ",".join(["1"] * 500)]][i])
            args = (model, render[0], render[1], label or "", render[2],
                    text(d["action"]) if rng.random() < 0.9 else "", text(d["layer"]), d.get("x", -1),
                    d.get("y", -1), d.get("size", 0), text(d.get("brush")), text(d.get("target")), d.get("k", 5),
                    d.get("draws", 8), text(d.get("head", "mean")), d.get("curve", 0) if rng.random() < 0.5 else 0)
            kind, msg, s = _classify(lambda: api(*args))
            note("api", kind, msg, s, args)
        log(f"interventions: {api_calls} forged /intervene calls: {counts['api']}")
        # the named cases of the brief, each on its own (the layer of the largest key grid)
        layer = max(layers, key=lambda n: caps[n].key_grid[0] * caps[n].key_grid[1])
        g = caps[layer].grid[0]
        from attn_demo.serving.regions import mask_to_text
        full_mask, one = mask_to_text(np.ones((g, g), bool)), np.zeros((g, g), bool)
        one[0, 0] = True
        named = {
            "mask of another grid's size (N+1 with N's bits)": {
                "action": "hide", "layer": layer, "brush": f"mask:{g + 1}:" + mask_to_text(one).split(":")[2]},
            "mask with bits set past its grid": {"action": "hide", "layer": layer, "brush": "mask:3:__8"},
            "empty painted brush": {"action": "hide", "layer": layer, "brush": mask_to_text(np.zeros((g, g), bool))},
            "empty box": {"action": "hide", "layer": layer, "brush": [4, 4, 4, 8]},
            "all-covering painted brush (hide)": {"action": "hide", "layer": layer, "brush": full_mask},
            "all-covering box (hide)": {"action": "hide", "layer": layer, "brush": [0, 0, res, res]},
            "all-covering target (redirect)": {"action": "redirect", "layer": layer, "target": full_mask},
            "all-covering brush (off)": {"action": "off", "layer": layer, "brush": [0, 0, res, res]},
            "box past the picture": {"action": "hide", "layer": layer, "brush": [0, 0, res + 1, res]},
            "k = the key grid": {"action": "faithfulness", "layer": layer, "x": 3, "y": 3, "k": nk},
            "k past the key grid": {"action": "faithfulness", "layer": layer, "x": 3, "y": 3, "k": 10 * nk},
            "k NaN": {"action": "faithfulness", "layer": layer, "x": 3, "y": 3, "k": float("nan")},
            "x Infinity": {"action": "off", "layer": layer, "x": float("inf"), "y": 3},
            "x 2**64": {"action": "off", "layer": layer, "x": 2 ** 64, "y": 3},
            "click past the picture": {"action": "off", "layer": layer, "x": res, "y": 0},
            "size 10**30": {"action": "off", "layer": layer, "size": 10 ** 30},
            "unknown layer": {"action": "off", "layer": "G999"},
            "unknown action": {"action": "explode", "layer": layer},
            "head 99": {"action": "faithfulness", "layer": layer, "x": 3, "y": 3, "head": 99},
        }
        cases = {}
        for name, d in named.items():
            q = "?" + base_q + "&iv=" + quote(json.dumps(d, separators=(",", ":")))
            out = {}

            def go():
                v = handlers.on_open(q)[-1]
                out["res"] = surgery.run(v, v.intervention)
            kind, msg, s = _classify(go)
            if kind == "ok" and not _finite(*out["res"]):
                kind, msg = "not finite", "non-finite numbers"
            cases[name] = {"outcome": kind, "message": msg[:160], "s": r(s, 3)}
            log(f"interventions: {name}: {kind}: {msg[:100]}")
        figures["I1"] = {"counts": counts, "runs": runs, "cases": cases, "slowest_s": r(slowest["s"], 3),
                         "slowest": slowest["what"], "others": others,
                         "refusals": dict(reasons.most_common(12))}

        # ------------------------------------------------------------ I2: users at once, renders meanwhile
        specs = [
            Intervention("off", layer, 3 * res // 8, res // 4),
            Intervention("hide", layer, brush=mask_to_text(one | np.eye(g, dtype=bool))),
            Intervention("redirect", layer, res // 2, res // 2, target=(0, 0, max(1, res // 4), max(1, res // 4))),
            Intervention("faithfulness", layer, res // 3, res // 2, k=min(3, nk - 1), draws=4),
            Intervention("off", layer, brush=(0, 0, res // 2, res)),
        ]
        views = [View(model, RenderArgs(seed=100 + u, psi=0.8, label=label), click=(10, 10)) for u in range(users)]

        def one_run(v, spec, how):
            if how == "api":
                b = spec.brush if isinstance(spec.brush, str) or spec.brush is None else ",".join(map(str, spec.brush))
                t = spec.target if isinstance(spec.target, str) or spec.target is None else \
                    ",".join(map(str, spec.target))
                _, info, files = api(v.model, v.args.seed, v.args.psi, label or "", "", spec.action, spec.layer,
                                     -1 if spec.x is None else spec.x, -1 if spec.y is None else spec.y, spec.size,
                                     b or "", t or "", spec.k, spec.draws, "mean", 0)
                delta = np.load(next(f for f in files if f.endswith(".npy")))
                return hashlib.sha256(delta.tobytes()).hexdigest()[:16] + json.dumps(info.get("ratio"))
            out, faith = surgery.run(v, spec)
            return hashlib.sha256(np.ascontiguousarray(out.delta).tobytes()).hexdigest()[:16] + \
                json.dumps(None if faith is None else faith.ratio)

        alone = {}
        for u, v in enumerate(views):
            for j, spec in enumerate(specs):
                for how in ("tab", "api"):
                    alone[(u, j, how)] = one_run(v, spec, how)
        base = _rss_mb()
        peak = {"mb": base}
        stop = threading.Event()
        renders = {"n": 0, "errors": []}

        def sample():
            while not stop.wait(0.05):
                peak["mb"] = max(peak["mb"], _rss_mb())

        def load(t):
            i = 0
            while not stop.is_set():
                i += 1
                kind, msg, _ = _classify(lambda: studio.render(model, RenderArgs(seed=5000 + 1000 * t + i, psi=0.8,
                                                                                 label=label)))
                renders["n"] += 1
                if kind != "ok":
                    renders["errors"].append(msg)
        outcomes = {"runs": 0, "errors": [], "mismatches": []}
        barrier = threading.Barrier(users)

        def user(u):
            order = random.Random(seed + u)
            barrier.wait()
            for _ in range(rounds):
                todo = [(j, how) for j in range(len(specs)) for how in ("tab", "api")]
                order.shuffle(todo)
                for j, how in todo:
                    got = []
                    kind, msg, _ = _classify(lambda: got.append(one_run(views[u], specs[j], how)))
                    outcomes["runs"] += 1
                    if kind != "ok":
                        outcomes["errors"].append(f"user {u} {specs[j].action} {how}: {kind}: {msg}")
                    elif got[0] != alone[(u, j, how)]:
                        outcomes["mismatches"].append(f"user {u} {specs[j].action} {how}")
        sampler = threading.Thread(target=sample, daemon=True)
        loaders = [threading.Thread(target=load, args=(t,), daemon=True) for t in range(render_threads)]
        threads = [threading.Thread(target=user, args=(u,)) for u in range(users)]
        t0 = time.perf_counter()
        for th in [sampler, *loaders, *threads]:
            th.start()
        for th in threads:
            th.join(1800)
        stop.set()
        for th in [*loaders, sampler]:
            th.join(60)
        wall = time.perf_counter() - t0
        after = studio.render(model, default.args).image.tobytes() == res0.image.tobytes()
        figures["I2"] = {"users": users, "rounds": rounds, "interventions": outcomes["runs"], "wall_s": r(wall, 1),
                         "renders_meanwhile": renders["n"], "render_errors": renders["errors"][:5],
                         "errors": outcomes["errors"][:10], "mismatches": outcomes["mismatches"][:10],
                         "rss_start_mb": r(base, 1), "rss_peak_mb": r(peak["mb"], 1), "rss_end_mb": r(_rss_mb(), 1),
                         "same_render_after": after}
        log(f"interventions: I2: {figures['I2']}")

        # ------------------------------------------------------------ I3: D's view without D's weights
        d_api = _raw(d_attention_endpoint(studio))
        no_d = [m for m in studio.models if studio.engine(m).path is None
                or not (Path(studio.engine(m).path) / "discriminator.safetensors").is_file()]
        d_cases = {}
        for m in no_d:
            v = View(m, RenderArgs(seed=1, psi=0.8, label=studio.engine(m).class_names[0]
                                   if studio.engine(m).cfg.num_classes else None), click=(10, 10))
            shown = []
            kind, msg, _ = _classify(lambda: shown.append(surgery.on_d(v)))
            tab_msg = shown[0][1] if shown else msg
            img = studio.render(m, v.args).image
            akind, amsg, _ = _classify(lambda: d_api(m, img, 1, 1, "", "mean"))
            d_cases[m] = {"tab": [kind, tab_msg[:200]], "api": [akind, amsg[:200]]}
        # a junk discriminator.safetensors beside a model's own files
        junk = tmp / "junk-d" / model
        junk.mkdir(parents=True)
        for f in Path(engine.path).iterdir():
            if f.is_file():
                os.symlink(f.resolve(), junk / f.name)
        (junk / "discriminator.safetensors").write_bytes(b"\x00" * 64 + os.urandom(512))
        jstudio = _studio(junk.parent, tmp / "export-junk")
        jv = View(model, default.args, click=(10, 10))
        shown = []
        kind, msg, _ = _classify(lambda: shown.append(SurgeryHandlers(jstudio).on_d(jv)))
        jimg = jstudio.render(model, jv.args).image
        akind, amsg, _ = _classify(lambda: _raw(d_attention_endpoint(jstudio))(model, jimg, 1, 1, label or "", "mean"))
        d_cases[f"{model} with a junk discriminator.safetensors"] = {
            "tab": [kind, (shown[0][1] if shown else msg)[:200]], "api": [akind, amsg[:200]]}
        figures["I3"] = d_cases
        log(f"interventions: I3: {d_cases}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    i1, i2, i3 = figures["I1"], figures["I2"], figures["I3"]
    total = {k: sum(c[k] for c in i1["counts"].values()) for k in ("ok", "clean", "other")}
    bad_cases = {k: v["outcome"] for k, v in i1["cases"].items() if v["outcome"] not in ("ok", "clean")}
    must_refuse = [k for k in i1["cases"] if not k.startswith(("all-covering", "k = "))]
    not_refused = [k for k in must_refuse if i1["cases"][k]["outcome"] != "clean"]
    grown = i2["rss_peak_mb"] - i2["rss_start_mb"]
    d_ok = all(c["tab"][0] in ("ok", "clean") and "discriminator" in c["tab"][1] and c["api"][0] == "clean"
               and "discriminator" in c["api"][1] for c in i3.values())
    crit = [
        criterion("I1", f"forged iv=/vs= links, states and /intervene calls ({sum(total.values())}): outcomes "
                  "other than a view or our clear error", "0", total["other"], total["other"] == 0),
        criterion("I1", f"views opened and run as the tab runs them ({i1['runs']['ran'] + i1['runs']['clean']}"
                  f" + {i1['runs']['other']}): other errors or non-finite numbers", "0",
                  i1["runs"]["other"] + i1["runs"]["not_finite"], i1["runs"]["other"] + i1["runs"]["not_finite"] == 0),
        criterion("I1", f"the named hostile cases ({len(i1['cases'])}): wrong-size masks, bits past the grid, empty "
                  "brushes, k past the key grid, NaN, Infinity, 2**64, unknown layer/action refused; all-covering "
                  "brushes a view or refused", "refused with a reason", bad_cases or not_refused or "as expected",
                  not bad_cases and not not_refused),
        criterion("I1", "slowest answer (s)", f"<= {max_s}", i1["slowest_s"], i1["slowest_s"] <= max_s),
        criterion("I2", f"{users} users x {rounds} rounds of {len(specs)} interventions (tab and /intervene) while "
                  f"{render_threads} threads render: errors", "0",
                  len(i2["errors"]) + len(i2["render_errors"]), not i2["errors"] and not i2["render_errors"]
                  and i2["interventions"] == users * rounds * len(specs) * 2),
        criterion("I2", "results differing from the same intervention run alone", "0 (byte-identical)",
                  len(i2["mismatches"]), not i2["mismatches"]),
        criterion("I2", "peak memory added while they ran (MB)", f"<= {max_mb}", r(grown, 1), grown <= max_mb),
        criterion("I2", "the studio renders the same picture afterwards", "identical", i2["same_render_after"],
                  i2["same_render_after"]),
        criterion("I3", f"D's view of models without D ({len(i3) - 1}) and of one with a junk D file: the tab says "
                  "why, /d_attention refuses with the reason", "a message naming the discriminator",
                  {k: [v["tab"][0], v["api"][0]] for k, v in i3.items()}, d_ok and len(i3) >= 2),
    ]
    notes = ["Links are opened as the page opens a kept view (events.Handlers.on_open), states as an import is "
             "(Studio.parse_state); an opened view's intervention is then run as the tab runs it "
             "(SurgeryHandlers.run), with the timeline and A/B for its versions. /intervene and /d_attention are "
             "called as their functions inside guard (which turns an AttnDemoError into the gr.Error the user reads)."]
    return result("interventions", "Interventions: forged, at once, D's view (issue #37)", crit, figures,
                  {"weights": str(weights), "model": model, "links": links, "states": states, "api_calls": api_calls,
                   "users": users, "rounds": rounds, "render_threads": render_threads, "max_s": max_s,
                   "max_mb": max_mb, "seed": seed}, notes)
