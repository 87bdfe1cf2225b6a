"""Seconds-long versions of the reliability goals (scripts/reliability; the real sizes run there).

Each test calls the goal's function with small sizes and checks its pass criteria. Timing
targets (p99, throughput) are loosened here: the machine running the tests is busy with
the test suite, and the real figures come from the full runs (docs/RELIABILITY.md).
test_r2_... and test_r6_config_bombs_... pinned two product bugs these goals found (memory per
API session, config bombs); both are fixed and now guard against regressions.
"""
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import reliability  # noqa: E402
from reliability.server import AppServer, call  # noqa: E402

quiet = {"log": lambda *a: None}


def failed(res: dict, skip: tuple[str, ...] = ()) -> list[dict]:
    """The criteria that did not pass, except those whose text starts with one of `skip`."""
    return [c for c in res["criteria"] if not c["pass"] and not c["criterion"].startswith(skip)]


def criterion(res: dict, prefix: str) -> dict:
    return next(c for c in res["criteria"] if c["criterion"].startswith(prefix))


# ------------------------------------------------------------------ server goals
@pytest.mark.slow
def test_sustained_load(ui_weights):
    # At ~35 requests/s these 5 s open ~170 new API sessions, each kept (with every tab's state) up to
    # the 200-session cap, so RSS still climbs here by design: 48 MB with one model, 64 MB with a canvas
    # model beside it (2026-12-06). The flat-memory goal itself is checked after the cap, by the long run
    # (scripts/reliability, docs/RELIABILITY.md) and test_memory_stays_flat_after_many_api_calls below.
    res = reliability.sustained_load(ui_weights, seconds=5, clients=4, sample_every=1, warmup=30, p99_max=10.0,
                             min_rps=2.0, rss_slack_mb=90.0, canvas_every=5, canvas_side=64, **quiet)
    assert not failed(res), res["criteria"]
    # every model in the mix: the image endpoints, and the canvas model's material sets
    assert res["figures"]["ok"] > 20
    assert set(res["figures"]["by_endpoint"]) == {"generate", "inspect", "grid", "material"}
    assert "tinytex" in res["parameters"]["models"]


@pytest.mark.slow
def test_memory_stays_flat_after_many_api_calls(ui_weights):
    """400 API calls, then 200 more: the second batch must not grow the server's RSS by 10 MB
    (it grows ~36 MB now). Any session cap up to 400 keeps the second batch flat."""
    with AppServer(ui_weights) as app, httpx.Client() as http:
        def batch(n, first):
            for i in range(n):
                call(http, app.url, "generate", ["tiny32", first + i, float("nan"), "", ""])   # refused quickly
        batch(400, 0)
        before = app.rss_mb()
        batch(200, 400)
        grown = app.rss_mb() - before
    assert grown < 10, f"RSS grew {grown:.0f} MB over 200 calls"


@pytest.mark.slow
def test_long_run(ui_weights):
    res = reliability.long_run(ui_weights, count=50, clients=2, sample_every=1, canvas_every=10, canvas_side=64,
                               **quiet)
    # The projection of the cache under delete_cache depends on the real model's PNG size and the
    # real request rate: the full run reports it (see the r3 notes); here it must only be computed.
    assert not failed(res, skip=("projected",)), res["criteria"]
    assert isinstance(criterion(res, "projected")["measured"], float)
    assert res["figures"]["requests"] >= 50 and res["figures"]["cache_mb"]["end_files"] > 0
    # every model in the mix (issue #37): the image models in turn, every 10th a canvas model's set
    assert "tinytex" in res["parameters"]["models"]
    assert res["figures"]["by_endpoint"]["material"]["ok"] == 5
    assert {"tinycond", "tiny32"} <= set(res["parameters"]["models"])


@pytest.mark.slow
def test_overload(ui_weights):
    res = reliability.overload(ui_weights, seconds=5, clients=20, queue_size=4, baseline_n=10, recovery_s=5,
                               canvas_every=5, **quiet)
    assert not failed(res), res["criteria"]
    f = res["figures"]
    assert f["rejected_queue_full"] > 0 and f["accepted"] > 0       # the queue really overflowed
    assert "material" in f["accepted_by_endpoint"] and "tinytex" in res["parameters"]["models"]


@pytest.mark.slow
def test_malformed_api(ui_weights):
    res = reliability.api_fuzz(ui_weights, examples=60, min_calls=60, **quiet)
    assert not failed(res), res["criteria"]
    # the canvas model's endpoints are fuzzed too (the fixed cases alone send 11)
    assert res["figures"]["by_endpoint"]["material"] + res["figures"]["by_endpoint"]["material_glb"] >= 11
    assert "tinytex" in res["parameters"]["models"]


@pytest.mark.slow
def test_path_probes(ui_weights):
    res = reliability.path_probes(ui_weights, **quiet)
    assert not failed(res), res["criteria"]
    assert res["figures"]["probes"] > 100


# ------------------------------------------------------------------ checkpoints
@pytest.mark.slow
def test_checkpoint_fuzz(ui_weights, tmp_path):
    kinds = [c for c in reliability.mutants.CATEGORIES if c != "config-bomb"]
    res = reliability.checkpoint_fuzz(ui_weights, count=60, categories=kinds, repro_dir=tmp_path, **quiet)
    assert not failed(res), (res["criteria"], res["figures"]["other_exceptions"])
    totals = res["figures"]["totals"]
    assert totals["clean_error"] > 20 and totals["canary"] == 0


@pytest.mark.slow
def test_config_bombs_are_clean_errors(ui_weights, tmp_path):
    res = reliability.checkpoint_fuzz(ui_weights, count=20, categories=["config-bomb"], repro_dir=tmp_path, **quiet)
    assert not failed(res), res["figures"]["other_exceptions"]


# ------------------------------------------------------------------ training
@pytest.mark.slow
def test_crash_and_resume():
    res = reliability.crash_and_resume(steps=30, ckpt_every=10, kills=3, mid_save_every=2, compare=False, **quiet)
    assert not failed(res), (res["criteria"], res["figures"]["events"])


@pytest.mark.slow
def test_bad_folders():
    res = reliability.bad_data_folders(good=100, steps=3, **quiet)
    assert not failed(res), res["criteria"]
    assert len(res["figures"]["skipped"]) == 20


@pytest.mark.slow
def test_nan_injection():
    res = reliability.nan_injection(steps=12, ckpt_every=5, at=(0, 5, 7, 11), **quiet)
    assert not failed(res), res["criteria"]


@pytest.mark.slow
def test_determinism(ui_weights):
    res = reliability.determinism(ui_weights, pairs=10, steps=10, ckpt_every=5, **quiet)
    assert not failed(res), res["criteria"]
    per_model = res["figures"]["per_model"]
    assert set(per_model) == {"tiny32", "tinycond", "tinytex", "tinyslots"}       # every model, the canvas too
    assert per_model["tinytex"]["kind"] == "canvas" and per_model["tinytex"]["across"] == 10
    assert per_model["tinycond"]["sliders_moved"] == 3          # the sliders really moved


# ------------------------------------------------------------------ output
def test_result_json_and_report(tmp_path):
    from reliability.common import criterion as crit, result, write_result
    res = result("r9", "Bad data folders (R9)", [crit("R9", "files skipped", "20", 20, True)], {"n": 1}, {"good": 1})
    path = write_result(res, tmp_path / "bad-data-folders.json", ["reliability", "bad-data-folders", "--good", "1"])
    saved = json.loads(path.read_text())
    assert saved["command"] == "python scripts/reliability bad-data-folders --good 1" and saved["pass"]
    assert saved["machine"]["cores"] >= 1 and saved["date"]
    md = reliability.write_report(tmp_path, tmp_path / "RELIABILITY.md").read_text()
    assert "| bad-data-folders |" not in md and "[bad-data-folders](#bad-data-folders)" in md
    assert "not run yet: `python scripts/reliability sustained-load`" in md
    # Every failure case of the note's section 4 is listed, and every test named there exists.
    items = [line for line in md.splitlines() if line.startswith("| ") and line.split("|")[1].strip().isdigit()]
    assert [int(x.split("|")[1]) for x in items] == list(range(1, 37))
    assert "(*missing*)" not in md


def test_cli_help():
    r = subprocess.run([sys.executable, "scripts/reliability", "overload", "--help"], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert r.returncode == 0 and "--queue-size" in r.stdout and "default: 80" in r.stdout


def test_a_hung_client_process_is_an_error_not_a_hang():
    """A client process that never reports back (here: its clients never stop) fails the goal
    after max_wait instead of blocking the run for good; the process is killed."""
    import time

    from conftest import free_port
    from reliability.load import run_clients_in_processes

    def slow(rng, last):
        time.sleep(0.1)
        return "generate", []
    t = time.monotonic()
    with pytest.raises(RuntimeError, match="hung"):
        run_clients_in_processes(2, f"http://127.0.0.1:{free_port()}/", 2, lambda: False, slow, max_wait=2)
    assert time.monotonic() - t < 30
