#!/usr/bin/env bash
# Install everything the tests need, lint (ruff) and type-check (mypy, on rag/ and ui/), then run the whole suite
# (pytest). Extra args go to pytest, e.g. -m "not slow" for the fast tier.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium for the browser tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; the browser tests will fail" >&2
fi
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False ANONYMIZED_TELEMETRY=False
echo "ruff and mypy" >&2
.venv/bin/ruff check rag ui tests bench
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
