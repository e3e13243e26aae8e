#!/usr/bin/env bash
# Install, build the index if needed, and start the main job on the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/rag stats
.venv/bin/rag index
exec .venv/bin/rag "${@:-ui}"
