#!/usr/bin/env bash
# Create .venv in the repo root and install the project (torch first: its CPU build is pinned).
# Usage: scripts/install.sh [extra]   e.g. scripts/install.sh dev
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
if [ -n "$extra" ]; then
  .venv/bin/python -m pip install -q -e ".[$extra]"
else
  .venv/bin/python -m pip install -q -e .
fi
