"""Seconds-long versions of the goals for the surfaces built since 2026-11-21 (issue #37;
scripts/reliability/surfaces.py runs them at their real size on the shipped weights).

What tests elsewhere cover already is not repeated: load_upload's broken files and a cancel with
nothing else running (test_invert.py), a data set's full disk half-way and a kill -9 (test_dataset.py),
a material zip's failed write (test_material_set.py), a kept view's forged queries (test_studio.py).
Here: the same surfaces through the studio, under load, at once, on a real full disk where one
can be mounted, and fuzzed."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from reliability import surfaces  # noqa: E402
from reliability.interventions import interventions  # noqa: E402

quiet = {"log": lambda *a: None}


def failed(res: dict) -> list[dict]:
    return [c for c in res["criteria"] if not c["pass"]]


def test_uploads_hostile_phone_size_and_cancel_under_load(ui_weights):
    res = surfaces.uploads(ui_weights, model="tiny32", **quiet)
    assert not failed(res), (failed(res), res["figures"]["cases"])


def test_exports_full_disk_second_export_and_interrupted_zip(ui_weights):
    res = surfaces.exports(ui_weights, model="tinycond", per_class=25, **quiet)
    assert not failed(res), (failed(res), res["figures"])


def test_texture_and_material_exports_and_large_canvases_at_once(ui_weights, monkeypatch):
    from attn_demo.serving import gate
    monkeypatch.setattr(gate.LARGE, "large", 64 * 64)      # "large" at the tiny canvas's scale
    res = surfaces.textures(ui_weights, side=32, clients=4, large_side=128, **quiet)
    assert not failed(res), (failed(res), res["figures"])
    assert res["figures"]["large_at_once"]["outcomes"].count("clean") >= 1   # the gate really refused one


def test_forged_links_kept_views_and_canvas_states(ui_weights):
    # max_s loosened as test_reliability.py loosens its timings: the suite's machine is busy (one
    # unexplained failure in a combined run on 2026-12-07 under load average ~14; not reproduced)
    res = surfaces.links(ui_weights, queries=150, states=80, max_s=10.0, **quiet)
    assert not failed(res), (failed(res), res["figures"]["others"])


def test_interventions_forged_at_once_and_d_view_without_d(ui_weights):
    # tinycond: two layers, two heads, classes; no model of ui_weights ships a discriminator
    res = interventions(ui_weights, model="tinycond", links=120, states=60, api_calls=60,
                        users=3, rounds=1, render_threads=1, max_s=10.0, **quiet)
    assert not failed(res), (failed(res), res["figures"]["I1"]["others"], res["figures"]["I1"]["cases"])
    assert res["figures"]["I1"]["runs"]["ran"] > 0                 # forged views really ran, not only refusals
