"""bench/surgery.py's rows (the benchmark of issue #35) on a tiny model: every row there, in milliseconds."""
from bench.surgery import bench_surgery


def test_surgery_rows(model_dir):
    r = bench_surgery(model_dir, quick=True)
    for key in ("full_render", "keep_layer_input", "switch_off", "hide", "faithfulness", "faithfulness_curve",
                "d_maps_one_click"):
        assert r[key]["median_ms"] > 0, key
    assert r["layer"] == "G16" and r["switch_off_vs_full_render"] > 0
