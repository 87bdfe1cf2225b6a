"""The reliability goals R1-R11 (docs/RELIABILITY.md lists them with their targets), measured.

    python scripts/reliability sustained-load       # R1: 16 clients x 10 min against the real app
    python scripts/reliability api-fuzz --examples 60   # any goal, smaller
    python scripts/reliability all                  # every goal at its real size (about an hour)
    python scripts/reliability report               # docs/reliability/*.json -> docs/RELIABILITY.md

Each goal is a function named for what it tests (sustained_load, overload, api_fuzz,
checkpoint_fuzz, crash_and_resume, ...) -> a result dict: its pass/fail criteria, the
measured figures and its parameters. The defaults are the real sizes; the CLI adds
the machine, the date and the command line and writes docs/reliability/<goal>.json.
tests/scripts/test_reliability.py calls the same functions with sizes of a few seconds.

Server goals (sustained-load, long-run, overload, api-fuzz, path-probes) start the real app (python app.py) as a
subprocess on the models of --weights (default weights/).
"""
from .api_fuzz import api_fuzz, path_probes
from .ckpt_fuzz import checkpoint_fuzz
from .determinism import determinism
from .load import sustained_load, long_run, overload
from .report import write_report
from .training import crash_and_resume, bad_data_folders, nan_injection

GOALS = {"sustained-load": sustained_load, "long-run": long_run, "overload": overload, "api-fuzz": api_fuzz,
         "checkpoint-fuzz": checkpoint_fuzz, "path-probes": path_probes, "crash-and-resume": crash_and_resume,
         "bad-data-folders": bad_data_folders, "nan-injection": nan_injection, "determinism": determinism}
__all__ = ["GOALS", "write_report", *[f.__name__ for f in GOALS.values()]]
