"""The project as a user installs it: a wheel built from this checkout, installed into a fresh venv
(no editable install, no PYTHONPATH; the heavy dependencies are reused from the running venv's
site-packages through a .pth line), run from another directory: the shipped corpus and prompts
come from the package, the index goes to the user data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .conftest import ROOT, write_jsonl_manifest

pytestmark = pytest.mark.slow  # builds a wheel and a venv, loads the embedding model


CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") and k != "PYTHONPATH"}  # not this checkout


def _run(args, ok=True, **kw):
    kw.setdefault("env", CLEAN_ENV)
    r = subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)
    assert r.returncode == 0 or not ok, f"{args}: {r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv holding only the wheel; returns its bin directory."""
    tmp = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(ROOT), "-w", str(tmp / "dist")])
    wheel = next((tmp / "dist").glob("paper_rag-*.whl"))
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    site = Path(_run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps", str(wheel)])
    # then torch, chromadb, … of this venv (added after the install: pip would see this checkout's own install there)
    (site / "shared_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def test_wheel_runs_stats_index_and_ask_from_another_directory(installed, tmp_path, small_papers):
    home = tmp_path / "home"
    env = {**CLEAN_ENV, "HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "HF_HUB_OFFLINE": "1"}
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()

    def rag(*args, ok=True, **extra):
        return _run([str(installed / "rag"), *args], ok=ok, cwd=cwd, env={**env, **extra})

    where = _run([str(installed / "python"), "-c", "import rag, rag.prompts as p, rag.settings as s; "
                  "print(rag.__file__); print(p.PROMPT_DIR); print(s.Settings().corpus.manifest); print(s.Settings().index.index_dir)"],
                 cwd=cwd, env=env).stdout.split()
    assert all(str(installed.parent) in w for w in where[:3]), where  # the package's own copies, not the checkout
    assert where[3] == str(home / "data" / "paper-rag" / "index")

    stats = json.loads(rag("stats", "--json").stdout)  # the shipped corpus, from the package
    assert (stats["entries"], stats["papers"]) == (954, 953)
    assert " ui " in rag("--help").stdout  # the ui command's entry point is in the wheel's metadata

    manifest = write_jsonl_manifest(tmp_path, small_papers)  # a small corpus keeps the build short
    rep = json.loads(rag("index", "--json", RAG_MANIFEST=str(manifest)).stdout)
    assert rep["papers"] == len(small_papers)
    assert (home / "data" / "paper-rag" / "index" / "chroma").is_dir()

    paper = small_papers[3]
    a = json.loads(rag("ask", f"Which paper is titled {paper.title}?", "--backend", "extractive", "--json",
                       RAG_MANIFEST=str(manifest)).stdout)
    assert not a["refused"] and paper.title in [c["title"] for c in a["citations"]], a
    out = rag("doctor", "--no-llm", ok=False, RAG_MANIFEST=str(manifest)).stdout  # the browser check depends on the machine
    assert "OK    embedding model:" in out and "OK    chroma store:" in out and "OK    index: 30 papers" in out, out
