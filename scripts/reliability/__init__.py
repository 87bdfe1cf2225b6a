"""The reliability goals R1-R11 (../shared/notes/failure-cases-and-security.md, section 5), measured.

    python scripts/reliability r1                   # 16 clients x 10 min against the real app
    python scripts/reliability r5 --examples 60     # any goal, smaller
    python scripts/reliability all                  # every goal at its real size (about an hour)
    python scripts/reliability report               # docs/reliability/*.json -> docs/RELIABILITY.md

Each goal is a function run_rN(...) -> a result dict: its pass/fail criteria, the
measured figures and its parameters. The defaults are the real sizes; the CLI adds
the machine, the date and the command line and writes docs/reliability/<goal>.json.
tests/test_reliability.py calls the same functions with sizes of a few seconds.

Server goals (r1, r3, r4, r5, r7) start the real app (python app.py) as a
subprocess on the models of --weights (default weights/).
"""
import sys

from .common import REPO

if str(REPO) not in sys.path:           # attn_demo is imported from the repository, not installed
    sys.path.insert(0, str(REPO))

from .api_fuzz import run_r5, run_r7  # noqa: E402
from .ckpt_fuzz import run_r6  # noqa: E402
from .determinism import run_r11  # noqa: E402
from .load import run_r1, run_r3, run_r4  # noqa: E402
from .report import write_report  # noqa: E402
from .training import run_r8, run_r9, run_r10  # noqa: E402

GOALS = {"r1": run_r1, "r3": run_r3, "r4": run_r4, "r5": run_r5, "r6": run_r6, "r7": run_r7, "r8": run_r8,
         "r9": run_r9, "r10": run_r10, "r11": run_r11}
__all__ = ["GOALS", "write_report", *[f.__name__ for f in GOALS.values()]]
