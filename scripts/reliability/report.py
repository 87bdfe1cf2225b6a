"""docs/reliability/*.json -> docs/RELIABILITY.md, plus the map from section 4's failure cases
to the tests that cover them (each test name is checked against tests/ when the report is built)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from .common import REPO, RESULTS_DIR

ORDER = ["sustained-load", "long-run", "overload", "api-fuzz", "checkpoint-fuzz", "path-probes", "crash-and-resume",
         "bad-data-folders", "nan-injection", "determinism",
         "mixed-memory", "uploads", "exports", "textures", "links", "interventions"]      # issue #37
FA, API, CK, DA, TR, ST, EN, PR, LA, BR, RE = ("test_failure_cases.py", "test_api.py", "test_checkpoint.py",
                                                "test_data.py", "test_train.py", "test_studio.py", "test_engine.py",
                                                "test_probe.py", "test_latents.py", "test_browser.py",
                                                "test_reliability.py")

# (item, case, tests "file::function", coverage, remark)
ITEMS = [
    (1, "Slider or seed outside its range via the API", [f"{API}::test_bad_inputs_give_clear_errors",
     f"{FA}::test_item3_float_and_string_seeds_rejected_not_rounded"], "covered",
     "seed -1 / 2**40, truncation 2.0, grid count 0/65, frames 1000 are refused by the components' bounds"),
    (2, "NaN or ±Inf for a latent or truncation value", [f"{API}::test_bad_inputs_give_clear_errors",
     f"{API}::test_raw_http_garbage_never_gives_a_500_or_traceback", f"{LA}::test_truncation",
     f"{EN}::test_render_rejects_bad_input", f"{RE}::test_malformed_api"], "covered", ""),
    (3, "Seed < 0, > 2**32-1, 1.5 or a string", [f"{LA}::test_bad_seeds_rejected",
     f"{LA}::test_integral_float_seed_accepted", f"{FA}::test_item3_float_and_string_seeds_rejected_not_rounded"],
     "covered", "-1 and 2**64-1 are both refused, so they cannot alias"),
    (4, "Missing or null inputs; surplus arguments", [f"{API}::test_raw_http_garbage_never_gives_a_500_or_traceback",
     f"{FA}::test_item4_surplus_arguments_are_ignored", f"{RE}::test_malformed_api"], "covered", ""),
    (5, "Forged click index", [f"{FA}::test_item5_forged_click_index_in_the_ui_handler",
     f"{API}::test_raw_http_forged_click_coordinates", f"{PR}::test_forged_clicks_rejected",
     f"{EN}::test_inspect_rejects_bad_input"], "covered",
     "'no image yet' cannot happen: a view always has settings and the image is rendered on demand"),
    (6, "Display-scale click vs the attention grid; corner pixels", [f"{PR}::test_pixel_to_cell_corners_and_centre",
     f"{PR}::test_pixel_to_cell_non_square_display", f"{EN}::test_inspect_display_coordinates",
     f"{ST}::test_click_runs_no_generator_pass", f"{BR}::test_clicks_reach_handler_and_overlay_matches_engine"],
     "covered", "the browser test needs Chromium"),
    (7, "Checkpoint name outside the choices, ../, absolute path, symlink", [f"{API}::test_bad_inputs_give_clear_errors",
     f"{FA}::test_item7_symlinked_and_outside_models_not_offered", f"{ST}::test_bad_state_files",
     f"{RE}::test_malformed_api"], "covered",
     "names are keys of the models loaded at start-up, never paths; absolute-path names only in the r5 fuzz"),
    (8, "FileData pointing at a server path", [f"{FA}::test_item8_filedata_pointing_at_server_files_is_refused",
     f"{RE}::test_path_probes"], "covered", "r7 also sends them to the private import event via queue/join"),
    (9, "Upload over max_file_size", [f"{FA}::test_item9_oversized_upload_gets_413", f"{RE}::test_path_probes"],
     "covered", "uploads never call a handler; nothing checks that separately"),
    (10, "Malformed JSON or wrong types; no traceback", [f"{API}::test_raw_http_garbage_never_gives_a_500_or_traceback",
     f"{API}::test_bad_inputs_give_clear_errors", f"{RE}::test_malformed_api"], "covered", ""),
    (11, "Generate during a checkpoint swap", [f"{FA}::test_item11_generate_during_swap_is_old_or_new_never_half"],
     "covered", "the app itself never swaps models at run time; Engine.load is tested"),
    (12, "Malicious pickle; the canary never fires", [f"{FA}::test_item12_pickle_payload_never_runs",
     f"{CK}::test_bad_weight_files", f"{RE}::test_checkpoint_fuzz"], "covered", ""),
    (13, "Legacy .pt with numpy arrays or classes", [f"{FA}::test_item13_legacy_pt_converts_or_says_why"],
     "covered", ""),
    (14, "Truncated, empty or random .pt / .safetensors", [f"{CK}::test_bad_weight_files",
     f"{FA}::test_item14_broken_pt_files", f"{RE}::test_checkpoint_fuzz"], "covered", ""),
    (15, "Wrong architecture; keep the old model", [f"{CK}::test_other_architecture_names_mismatches",
     f"{CK}::test_engine_keeps_model_after_failed_load", f"{FA}::test_item18_extra_tensor_refused_from_the_header",
     f"{RE}::test_checkpoint_fuzz", f"{RE}::test_config_bombs_are_clean_errors"], "covered",
     "the reference model is built on the meta device and compared with the header before any allocation"),
    (16, "NaN/Inf weights", [f"{CK}::test_nan_weights_rejected",
     f"{FA}::test_item16_finite_weights_that_blow_up_are_refused"], "covered",
     "both the isfinite check and the smoke forward pass (finite weights, NaN images)"),
    (17, "fp16/bf16/int tensors, tensors saved on a GPU", [f"{CK}::test_half_precision_weights_are_cast",
     f"{CK}::test_int_tensor_where_float_expected_rejected",
     f"{FA}::test_item17_tensors_saved_in_half_precision_on_any_device_load_as_fp32",
     f"{FA}::test_item17_checkpoint_saved_on_a_gpu_converts_on_a_cpu_only_machine"], "covered",
     "the GPU-saved fixture is a CPU save whose storages are relabelled cuda:0 (no GPU here)"),
    (18, "Huge file or huge declared tensor", [f"{FA}::test_item18_size_cap_before_reading",
     f"{FA}::test_item18_extra_tensor_refused_from_the_header", f"{RE}::test_checkpoint_fuzz",
     f"{RE}::test_config_bombs_are_clean_errors"], "covered",
     "size cap, header check, config bounds and a parameter cap checked on the meta device"),
    (19, "Missing/empty folder or no decodable image", [f"{DA}::test_unusable_folder_exits_fast_and_writes_nothing",
     f"{DA}::test_load_folder_errors", f"{RE}::test_bad_folders"], "covered", ""),
    (20, "Non-image, hidden, zero-byte, unreadable files", [f"{DA}::test_mixed_folder_skips_exactly_the_bad_files",
     f"{FA}::test_item20_unreadable_file_skipped_with_reason", f"{RE}::test_bad_folders"], "covered",
     "unreadable files are simulated (the tests run as root, which reads anything)"),
    (21, "Truncated JPEG or PNG", [f"{DA}::test_mixed_folder_skips_exactly_the_bad_files", f"{RE}::test_bad_folders"],
     "covered", "that LOAD_TRUNCATED_IMAGES is never set is not checked by a test"),
    (22, "Decompression bomb; exotic formats", [f"{DA}::test_mixed_folder_skips_exactly_the_bad_files",
     f"{RE}::test_bad_folders"], "covered", "r9 adds bombs declared by PNG/BMP headers and a PPM file"),
    (23, "CMYK, P, LA, RGBA, 1, I;16, F -> the same RGB", [f"{DA}::test_modes_become_the_same_rgb"], "covered", ""),
    (24, "EXIF orientation", [f"{DA}::test_exif_orientation_applied"], "covered", ""),
    (25, "1x1, extreme aspect, animated GIF, symlinks out of the root",
     [f"{DA}::test_mixed_folder_skips_exactly_the_bad_files", f"{DA}::test_animated_gif_first_frame",
      f"{RE}::test_bad_folders"], "covered", "the link out of the root is in r9 (test_data's link points inside)"),
    (26, "kill -9 in the middle of a save", [f"{TR}::test_kill_9_during_saves_leaves_a_loadable_checkpoint",
     f"{CK}::test_atomic_write_keeps_old_file_when_interrupted", f"{RE}::test_crash_and_resume"], "covered", ""),
    (27, "Orphaned *.tmp files", [f"{CK}::test_stale_temp_files_are_removed",
     f"{TR}::test_kill_9_during_saves_leaves_a_loadable_checkpoint", f"{RE}::test_crash_and_resume"], "covered", ""),
    (28, "Disk full during a save", [f"{TR}::test_disk_full_during_save_stops_cleanly_and_keeps_checkpoint",
     f"{CK}::test_atomic_write_keeps_old_file_when_interrupted"], "covered", "simulated with ENOSPC"),
    (29, "NaN/Inf loss or grads: skip, roll back, stop after K", [f"{TR}::test_injected_nan_is_caught_and_rolled_back",
     f"{TR}::test_repeated_nan_stops_and_keeps_last_good_checkpoint", f"{RE}::test_nan_injection"], "covered", ""),
    (30, "Resume restores G, D, optimisers, step, EMA, RNG", [f"{TR}::test_resume_continues_with_identical_state",
     f"{RE}::test_determinism"], "covered", ""),
    (31, "Resume with a different config or data", [f"{TR}::test_resume_refuses_changed_config_unless_forced",
     f"{TR}::test_resume_refuses_other_data_unless_forced"], "covered", ""),
    (32, "SIGINT or SIGTERM: save once, exit", [f"{TR}::test_signal_saves_once_and_exits"], "covered",
     "parametrised over SIGTERM and SIGINT"),
    (33, "Burst over max_size: fast 503, no 500, recovery", [f"{FA}::test_item33_burst_over_queue_size_is_refused_fast",
     f"{RE}::test_overload"], "covered", ""),
    (34, "Client disconnecting mid-request", [f"{FA}::test_item34_client_disconnect_frees_the_slot"], "covered", ""),
    (35, "Cache or temp growth", [f"{ST}::test_space_settings", f"{FA}::test_item35_cache_files_are_deleted",
     f"{RE}::test_long_run"], "covered",
     "delete_cache=ui.CACHE (every 2 min, files older than 10 min) is asserted; a test sees a deletion with (1, 1)"),
    (36, "CPU oversubscription", [f"{FA}::test_item36_threads_per_handler"], "covered", ""),
]


def defined_tests() -> set[str]:
    found = set()
    for f in (REPO / "tests").rglob("test_*.py"):        # tests/ is laid out like the package
        for name in re.findall(r"^def (test_\w+)", f.read_text(), flags=re.M):
            found.add(f"{f.name}::{name}")
    return found


def _cell(v) -> str:
    text = v if isinstance(v, str) else json.dumps(v)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 120 else text[:117] + "..."


def _figures(fig: dict) -> list[str]:
    """Scalar figures, and dicts of scalars one level down; lists (samples, events) stay in the JSON."""
    lines = []
    for k, v in fig.items():
        if isinstance(v, (int, float, str, bool)) or v is None:
            lines.append(f"- {k}: {_cell(v)}")
        elif isinstance(v, dict) and all(isinstance(x, (int, float, str, bool)) or x is None for x in v.values()):
            lines.append(f"- {k}: " + ", ".join(f"{a} {_cell(b)}" for a, b in v.items()))
    return lines


def write_report(results_dir: Path = RESULTS_DIR, out: Path = REPO / "docs" / "RELIABILITY.md") -> Path:
    results = {}
    for goal in ORDER:
        f = Path(results_dir) / f"{goal}.json"
        if f.exists():
            results[goal] = json.loads(f.read_text())
    md = ["# Reliability", "",
          "The reliability goals R1-R11 of the project's failure-case list, measured by `scripts/reliability` "
          "(each goal named for what it tests), and the 36 failure cases of the same list mapped to the tests "
          "that cover them. Rerun one goal with the command shown under it "
          "(each writes `docs/reliability/<goal>.json`), or all of them, then rebuild this page:", "",
          "    python scripts/reliability all        # every goal at its real size, then this report",
          "    python scripts/reliability report     # only this page, from docs/reliability/*.json", "",
          "Short versions of every goal run in `tests/scripts/test_reliability.py` (seconds each). Timings depend on the "
          "machine and on what else runs on it: compare them only with runs on the same machine.", "",
          "| goal | what | result | date | commit | machine |", "|---|---|---|---|---|---|"]
    for goal in ORDER:
        res = results.get(goal)
        if res is None:
            md.append(f"| {goal} | | not run yet: `python scripts/reliability {goal}` | | | |")
            continue
        m = res.get("machine", {})
        cores = f"{m.get('cores_usable', '?')}/{m.get('cores', '?')} cores"
        md.append(f"| [{goal}](#{goal}) | {res['title']} | {'PASS' if res['pass'] else '**FAIL**'} | "
                  f"{res.get('date', '')[:10]} | {res.get('commit') or 'not recorded'} | {m.get('cpu', '?')}, {cores} |")
    if (Path(results_dir) / "NOTES.md").exists():
        md += ["", "A date above is when that goal last ran (UTC), on the code of the commit beside it (\"+changes\": "
               "with uncommitted edits, named in the notes). How each figure moved since 2026-11-21, and why: the "
               "notes of issue #37 at the end of this page, newest first."]
    for goal in ORDER:
        res = results.get(goal)
        if res is None:
            continue
        m = res.get("machine", {})
        md += ["", f"## {goal}", "", f"**{res['title']}: {'PASS' if res['pass'] else 'FAIL'}**", "",
               f"Command: `{res.get('command', '')}`  ", f"Date: {res.get('date', '')}  ",
               f"Commit: {res.get('commit') or 'not recorded'}  ",
               f"Machine: {m.get('cpu')}, {m.get('cores_usable')} of {m.get('cores')} cores usable, "
               f"{m.get('memory_gib')} GiB, load average {m.get('load_average')} at the end; torch {m.get('torch')}, "
               f"gradio {m.get('gradio')}", "",
               "| goal | criterion | target | measured | pass |", "|---|---|---|---|---|"]
        for c in res["criteria"]:
            md.append(f"| {c['goal']} | {_cell(c['criterion'])} | {_cell(c['target'])} | {_cell(c['measured'])} | "
                      f"{'yes' if c['pass'] else '**no**'} |")
        md += ["", "Parameters: " + ", ".join(f"{k}={_cell(v)}" for k, v in res["parameters"].items()), ""]
        md += _figures(res["figures"])
        for n in res.get("notes", []):
            md += ["", f"> {n}"]
    notes = Path(results_dir) / "NOTES.md"          # hand-written: what the figures mean, what remains (issue #37)
    if notes.exists():
        md += ["", notes.read_text().rstrip()]
    defined = defined_tests()
    md += ["", "## Failure cases (section 4) and their tests", "",
           "Every name below was checked against `tests/` when this page was built; *missing* marks one that "
           "does not exist.", "", "| # | case | tests | coverage | remark |", "|---|---|---|---|---|"]
    gaps = []
    for n, case, tests, coverage, remark in ITEMS:
        names = [t if t in defined else f"{t} (*missing*)" for t in tests]
        if coverage != "covered" or any("missing" in x for x in names):
            gaps.append(n)
        md.append(f"| {n} | {case} | {'<br>'.join(f'`{x}`' for x in names)} | {coverage} | {remark} |")
    md += ["", f"Items with a gap: {', '.join(map(str, gaps)) or 'none'}.", ""]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(md))
    return out
