#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs them.
#   bash scripts/test.sh            # all tests
#   bash scripts/test.sh -k probe   # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

# Browser tests drive Debian's Chromium through Playwright (no browser download).
if [ ! -x /usr/bin/chromium ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
# the package itself, editable (pyproject.toml): importable from anywhere, no sys.path edits. No
# dependencies here (requirements.txt has them, torch pinned) and no build download: the venv's setuptools.
.venv/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .

export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1
# Chromium was installed above: browser tests must run, never skip.
export ATTN_DEMO_REQUIRE_BROWSER=1
exec .venv/bin/python -m pytest "$@"
