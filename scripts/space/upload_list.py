"""What goes to a Hugging Face Space: the one list of patterns, the files it selects, the command.

    python scripts/space/upload_list.py                    # the files, their sizes, the command
    python scripts/space/upload_list.py --repo you/attn-demo --command   # the command alone

The README's "Run it as a Space" command is `command()`; the rehearsal (rehearse.py) copies
`upload_list()` alone into an empty folder and runs the app there; tests/scripts/test_space.py checks
that the README's command is this one and that `hf upload` itself selects these files.

The files are selected exactly as `huggingface_hub`'s upload_folder selects them (`hf upload`
calls it): every file under the folder, relative paths matched with fnmatch (`*` crosses `/`)
against the allow patterns, then against the ignore patterns plus the Hub client's own
(.git, .cache/huggingface). Untracked files that match are sent too: `untracked()` names them.
"""
from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from huggingface_hub.utils import filter_repo_objects
from huggingface_hub.utils._paths import DEFAULT_IGNORE_PATTERNS

ROOT = Path(__file__).resolve().parents[2]

# What the Space runs: the entry point, the package, the shipped models (with their cards: the
# CC BY-SA texture model's card carries its attribution), the requirements and the Space card.
ALLOW = ["README.md", "app.py", "requirements.txt", "attn_demo/*", "weights/*"]
# Left out from those: bytecode, the stubs Gradio may write beside a module, and the 64-px and
# texture feature nets (FID for `eval`; the studio loads weights/feature_net only).
IGNORE = ["*/__pycache__/*", "*.pyc", "*.pyi", "weights/feature_net64/*", "weights/feature_net_textures/*"]
# Everything else stays home: tests/, bench/, scripts/, docs/, assets/ (the README's pictures),
# data/ (training sets, git-ignored), runs/, .venv/ and caches.


def upload_list(root: Path | str = ROOT, allow=None, ignore=None) -> list[str]:
    """The repository-relative paths (sorted, '/'-separated) an upload of `root` with these
    patterns sends: upload_folder's own selection, reproduced with its own filter."""
    root = Path(root).resolve()
    allow = list(ALLOW if allow is None else allow)
    ignore = list(IGNORE if ignore is None else ignore) + DEFAULT_IGNORE_PATTERNS
    every = sorted(p.relative_to(root).as_posix() for top in _tops(root, allow) for p in _files(top))
    return list(filter_repo_objects(every, allow_patterns=allow, ignore_patterns=ignore))


def _tops(root: Path, allow: list[str]) -> list[Path]:
    """The top-level entries of `root` an allow pattern can match under: where every pattern names
    its first folder literally (no wildcard before its first '/'), the rest (.venv, data, ...) need
    not be walked, which gives the same selection in a fraction of the time."""
    if any(set(p.split("/")[0]) & set("*?[") for p in allow):
        return [root]
    names = {p.split("/")[0] for p in allow}
    return [root / n for n in sorted(names) if (root / n).exists()]


def _files(top: Path):
    if top.is_file():
        yield top
    else:
        yield from (p for p in top.glob("**/*") if p.is_file())


def untracked(files: list[str], root: Path | str = ROOT) -> list[str]:
    """Those of `files` that git does not track (an upload from a working tree sends them too)."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    tracked = set(out.decode().split("\0"))
    return [f for f in files if f not in tracked]


def command(repo: str = "YOUR_NAME/attn-demo") -> str:
    """The one command that uploads the studio to the Space `repo` (created as a Gradio Space if
    it does not exist): huggingface_hub's CLI, run in the repository's root."""
    args = ["hf", "upload", repo, ".", ".", "--repo-type", "space"]
    args += [a for p in ALLOW for a in ("--include", p)]
    args += [a for p in IGNORE for a in ("--exclude", p)]
    return shlex.join(args)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=ROOT, help="the folder to upload (default: this repository)")
    ap.add_argument("--repo", default="YOUR_NAME/attn-demo", help="the Space, owner/name")
    ap.add_argument("--command", action="store_true", help="print the upload command only")
    a = ap.parse_args(argv)
    if a.command:
        print(command(a.repo))
        return 0
    files = upload_list(a.root)
    total = 0
    for f in files:
        size = (a.root / f).stat().st_size
        total += size
        print(f"{size:>10,}  {f}")
    print(f"{len(files)} files, {total / 2 ** 20:.1f} MiB")
    extra = untracked(files, a.root)
    if extra:
        print(f"NOT IN GIT, would be sent too: {', '.join(extra)}", file=sys.stderr)
    print(command(a.repo))
    return 0


if __name__ == "__main__":
    sys.exit(main())
