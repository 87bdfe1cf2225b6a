"""R6 checkpoint fuzz: mutated model directories and pickled payloads, loaded in-process.

Each mutant is a copy of a valid model directory with one thing broken (mutants.py: bit
flips, truncations, zero-filled chunks or JSON edits of the safetensors header, an edited
config.json, a damaged directions file, or a pickle whose __reduce__ would create a file,
the canary, written as model.safetensors or fed to `attn_demo.models.convert` as a .pt).
One Engine holding the valid model loads them all (Engine.load). Outcomes: a clean
AttnDemoError, an accepted load (a flip in the data can leave a valid, finite model:
then it must render, and the valid model is loaded back), or anything else (a bug,
kept with a reproducer). The loop runs in a child process with an address-space limit
(--mem-limit-gb) so that a config declaring a huge model cannot exhaust the machine.
"""
from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from .common import criterion, r, result
from .mutants import CATEGORIES, MUTATORS

# ------------------------------------------------------------------ the loop (in the child process)
def fuzz_checkpoints(model_dir: Path, count: int, seed: int, categories: list[str], workdir: Path,
                     repro_dir: Path | None) -> dict:
    import torch
    from attn_demo.models.checkpoint import load_pretrained
    from attn_demo.models.convert import convert
    from attn_demo.serving.engine import Engine, RenderArgs
    from attn_demo.errors import AttnDemoError
    torch.set_num_threads(1)
    valid = workdir / "valid"
    valid.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "directions.safetensors"):
        if (Path(model_dir) / name).exists():
            shutil.copy(Path(model_dir) / name, valid / name)
    engine = Engine.from_pretrained(valid, device="cpu")
    args = RenderArgs(seed=1234, psi=0.9, label=0 if engine.cfg.num_classes else None)
    baseline = engine.render(args).image.tobytes()
    valid_pt = workdir / "valid.pt"
    torch.save(load_pretrained(valid).state_dict(), valid_pt)
    canaries = workdir / "canaries"
    canaries.mkdir()
    serial = iter(range(10 ** 9))
    ctx = {"z_dim": engine.cfg.z_dim, "valid_pt": valid_pt, "canary": lambda: str(canaries / f"fired-{next(serial)}")}
    rng = random.Random(seed)
    weights = [CATEGORIES[c] for c in categories]
    tally = {c: {"mutants": 0, "clean_error": 0, "accepted_valid": 0, "other_exception": 0, "canary": 0,
                 "model_changed": 0} for c in categories}
    others, accepted_examples = [], []
    t0 = time.perf_counter()
    for i in range(count):
        cat = rng.choices(categories, weights)[0]
        target = workdir / "mutant"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(valid, target)
        mutation = MUTATORS[cat](target, rng, ctx)
        via_convert = isinstance(mutation, tuple)
        desc = mutation[0] if via_convert else mutation
        t = tally[cat]
        t["mutants"] += 1
        outcome = None
        try:
            if via_convert:
                out = workdir / "converted"
                shutil.rmtree(out, ignore_errors=True)
                old = os.environ.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
                if mutation[2]:
                    os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
                try:
                    convert(mutation[1], valid / "config.json", out)
                finally:
                    os.environ.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
                    if old is not None:
                        os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = old
                engine.load(out)
            else:
                engine.load(target)
            image = engine.render(args).image               # accepted: it must still render
            outcome = "accepted_valid"
            if len(accepted_examples) < 10:
                accepted_examples.append({"index": i, "category": cat, "mutation": desc,
                                          "same_image": image.tobytes() == baseline})
            engine.load(valid)
        except AttnDemoError:
            outcome = "clean_error"
        except Exception as e:  # noqa: BLE001 - anything else is what we are looking for
            outcome = "other_exception"
            entry = {"index": i, "category": cat, "mutation": desc, "error": f"{type(e).__name__}: {str(e)[:300]}",
                     "where": traceback.format_exc().strip().splitlines()[-3:-1]}
            if repro_dir is not None:
                keep = Path(repro_dir) / f"{i:05d}-{cat}"
                shutil.rmtree(keep, ignore_errors=True)
                shutil.copytree(target, keep)
                entry["reproducer"] = str(keep)
            others.append(entry)
            try:
                engine.load(valid)
            except Exception:  # noqa: BLE001
                pass
        t[outcome] += 1
        fired = list(canaries.iterdir())
        if fired:
            t["canary"] += len(fired)
            for f in fired:
                f.unlink()
        if engine.render(args).image.tobytes() != baseline or engine.path != valid:
            t["model_changed"] += 1
            engine.load(valid)
    final_same = engine.render(args).image.tobytes() == baseline
    return {"tally": tally, "others": others, "accepted_examples": accepted_examples, "final_same": final_same,
            "seconds": time.perf_counter() - t0, "model": str(model_dir)}


def worker(params_path: str, out_path: str) -> None:
    """The child process: read parameters, fuzz, write the raw figures."""
    p = json.loads(Path(params_path).read_text())
    if p["mem_limit_gb"]:
        limit = int(p["mem_limit_gb"] * 2 ** 30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with tempfile.TemporaryDirectory(prefix="attn-r6-") as tmp:
        raw = fuzz_checkpoints(Path(p["model_dir"]), p["count"], p["seed"], p["categories"], Path(tmp),
                               Path(p["repro_dir"]) if p["repro_dir"] else None)
    Path(out_path).write_text(json.dumps(raw, indent=1))


# ------------------------------------------------------------------ R6
def pick_model(weights: Path) -> Path:
    """The model to mutate: the first one in weights/, preferring one with slider directions."""
    from attn_demo.serving.loader import find_models
    found = find_models(Path(weights))
    if not found:
        raise SystemExit(f"no model directory in {weights}")
    return next((p for p in found if (p / "directions.safetensors").exists()), found[0])


def checkpoint_fuzz(weights: Path = Path("weights"), count: int = 1000, seed: int = 0, categories=None,
                    mem_limit_gb: float = 4.0, repro_dir: Path | None = Path(tempfile.gettempdir()) / "attn-r6-reproducers",
                    log=print) -> dict:
    """R6: `count` mutants; 0 canary executions, only clean errors or valid loads, model unchanged."""
    categories = list(categories or CATEGORIES)
    model_dir = pick_model(weights)
    log(f"r6: {count} mutants of {model_dir} ({', '.join(categories)}), memory limit {mem_limit_gb} GB")
    with tempfile.TemporaryDirectory(prefix="attn-r6-run-") as tmp:
        params, out = Path(tmp) / "params.json", Path(tmp) / "out.json"
        params.write_text(json.dumps({"model_dir": str(model_dir), "count": count, "seed": seed,
                                      "categories": categories, "mem_limit_gb": mem_limit_gb,
                                      "repro_dir": str(repro_dir) if repro_dir else None}))
        main = Path(__file__).resolve().parent / "__main__.py"
        proc = subprocess.run([sys.executable, str(main), "_r6-worker", str(params), str(out)],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"the r6 worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        raw = json.loads(out.read_text())
    tally = raw["tally"]
    total = {k: sum(t[k] for t in tally.values()) for k in next(iter(tally.values()))}
    crit = [
        criterion("R6", "mutants loaded", f">= {count}", total["mutants"], total["mutants"] >= count),
        criterion("R6", "canary executions", "0", total["canary"], total["canary"] == 0),
        criterion("R6", "outcomes other than a clean AttnDemoError or a valid load", "0", total["other_exception"],
                  total["other_exception"] == 0),
        criterion("R6", "engine output changed after a refused load", "0", total["model_changed"],
                  total["model_changed"] == 0),
        criterion("R6", "engine output for a fixed seed after everything", "byte-identical",
                  "identical" if raw["final_same"] else "differs", raw["final_same"]),
    ]
    notes = []
    if raw["others"]:
        kinds = sorted({o["error"].split(":")[0] + " in " + o["category"] for o in raw["others"]})
        notes.append("exceptions that are not AttnDemoError: " + "; ".join(kinds)
                     + (f". Reproducers in {repro_dir}" if repro_dir else ""))
    figures = {"totals": total, "by_category": tally, "seconds": r(raw["seconds"], 1),
               "other_exceptions": raw["others"][:30], "accepted_examples": raw["accepted_examples"],
               "model": raw["model"]}
    params = {"weights": str(weights), "count": count, "seed": seed, "categories": categories,
              "mem_limit_gb": mem_limit_gb}
    return result("r6", "Checkpoint fuzz (R6)", crit, figures, params, notes)
