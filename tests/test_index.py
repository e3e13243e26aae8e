"""The index: real Chroma in temp dirs, the real embedding model, real subprocesses for crashes
and concurrent writers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rag.corpus import load_corpus
from rag.errors import IndexBusyError, ModelMismatchError
from rag.index import write_lock
from rag.pipeline import Pipeline

from .conftest import MANIFEST, ROOT, HashEmbedder, write_jsonl


def _small_manifest(tmp: Path, a, b) -> Path:
    """A manifest of two JSONL sources built from real papers."""
    write_jsonl(tmp / "a.jsonl", a)
    write_jsonl(tmp / "b.jsonl", b)
    m = tmp / "sources.toml"
    m.write_text('[[source]]\nlabel = "a"\npath = "a.jsonl"\nformat = "jsonl"\n\n'
                 '[[source]]\nlabel = "b"\npath = "b.jsonl"\nformat = "jsonl"\n')
    return m


@pytest.fixture(scope="module")
def shipped():
    return load_corpus(MANIFEST).papers


def test_full_build_holds_953_papers_and_rerun_changes_nothing(built_index, embedder):
    pipe = Pipeline(built_index, embedder=embedder)
    store = pipe.store()
    assert store.count() == 953
    assert store.health()["stale_chunks"] == 0 and store.health()["papers_without_chunks"] == 0
    rep = pipe.index()
    assert (rep.added, rep.updated, rep.removed, rep.unchanged, rep.papers) == (0, 0, 0, 953, 953)
    assert rep.chunks_embedded == 0


def test_long_abstracts_become_several_chunks_within_the_model_window(built_index, embedder):
    store = Pipeline(built_index, embedder=embedder).store()
    got = store.papers.get(include=["metadatas"])
    counts = [m["chunks"] for m in got["metadatas"]]
    assert max(counts) >= 2 and sum(counts) == store.chunks.count()
    from llama_index.core.schema import MetadataMode

    from rag.index import Chunker

    chunker = Chunker(embedder, built_index.index.chunk_size, built_index.index.chunk_overlap)
    longest = max(load_corpus(MANIFEST).papers, key=lambda p: len(p.abstract))
    nodes = chunker.chunks(longest)
    assert len(nodes) >= 2
    for n in nodes:
        text = n.get_content(metadata_mode=MetadataMode.EMBED)
        assert text.startswith("title: " + longest.title)
        assert embedder.count_tokens(text) + 2 <= embedder.max_tokens
    # no abstract text is lost: every sentence of the abstract is in some chunk
    joined = " ".join(n.get_content() for n in nodes)
    for sent in longest.abstract.replace("\n\n", " ").split(". "):
        assert sent.strip()[:60] in joined


@pytest.mark.slow
def test_incremental_add_update_remove(tmp_path, settings_factory, embedder, shipped):
    a, b = shipped[100:110], shipped[200:205]
    m = _small_manifest(tmp_path, a, b)
    settings = settings_factory(manifest=m, index_dir=tmp_path / "index")
    pipe = Pipeline(settings, embedder=embedder)
    rep = pipe.index()
    assert (rep.added, rep.papers) == (15, 15)

    # three new papers in a new JSONL source
    new = tmp_path / "new.jsonl"
    new.write_text("".join(json.dumps(d) + "\n" for d in [
        {"title": "Quantum Annealing for Sparse Gradient Compression", "abstract": "We compress gradients with a quantum annealer before all-reduce."},
        {"title": "Lichen Growth Models as Neural Priors", "abstract": "Diffusion-limited aggregation of lichens inspires a prior for image inpainting."},
        {"title": "Tidal Attention", "abstract": "Attention weights that ebb and flow with a sinusoidal schedule improve long-context recall."},
    ]))
    pipe.add_sources([new])
    rep = pipe.index()
    assert (rep.added, rep.updated, rep.removed, rep.unchanged, rep.papers) == (3, 0, 0, 15, 18)
    hits = pipe.retrieve("lichen aggregation prior for inpainting", k=3)
    assert hits[0].paper.title == "Lichen Growth Models as Neural Priors"

    # edit one abstract
    edited = list(a)
    from dataclasses import replace

    edited[0] = replace(a[0], abstract="A completely rewritten abstract about zebra stripe detectors in savanna drones.")
    write_jsonl(tmp_path / "a.jsonl", edited)
    rep = pipe.index()
    assert (rep.added, rep.updated, rep.removed, rep.papers) == (0, 1, 0, 18)
    store = pipe.store()
    docs = store.chunks.get(where={"paper_id": a[0].id}, include=["documents"])["documents"]
    assert docs and all("zebra" in d for d in docs)
    assert not any(a[0].abstract[:80] in d for d in docs)
    assert pipe.retrieve("zebra stripe detectors on drones", k=1)[0].paper.id == a[0].id

    # remove a source
    m.write_text('[[source]]\nlabel = "a"\npath = "a.jsonl"\nformat = "jsonl"\n\n'
                 f'[[source]]\nlabel = "new"\npath = "{new}"\nformat = "jsonl"\n')
    rep = pipe.index()
    assert (rep.removed, rep.papers) == (5, 13)
    assert store.health() == {"papers": 13, "chunks": store.chunks.count(), "stale_chunks": 0, "papers_without_chunks": 0}
    assert not store.chunks.get(where={"paper_id": {"$in": [p.id for p in b]}})["ids"]
    # and again: idempotent
    rep = pipe.index()
    assert (rep.added, rep.updated, rep.removed, rep.chunks_embedded) == (0, 0, 0, 0)


def test_same_paper_in_two_sources_is_stored_once(tmp_path, settings_factory, embedder, shipped):
    m = _small_manifest(tmp_path, shipped[:3], shipped[2:4])
    pipe = Pipeline(settings_factory(manifest=m, index_dir=tmp_path / "index"), embedder=embedder)
    assert pipe.index().papers == 4
    rec = [p for p in pipe.store().paper_records()[0] if p.id == shipped[2].id][0]
    assert [s.label for s in rec.sources] == ["a", "b"]


@pytest.mark.slow
def test_second_writer_gets_clear_error(tmp_path, settings_factory, embedder, shipped):
    m = _small_manifest(tmp_path, shipped[:2], shipped[2:3])
    settings = settings_factory(manifest=m, index_dir=tmp_path / "index")
    pipe = Pipeline(settings, embedder=embedder)
    with write_lock(settings.index.index_dir):
        with pytest.raises(IndexBusyError, match="being updated"):
            pipe.index()
        r = subprocess.run([sys.executable, "-m", "rag", "index"], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "RAG_MANIFEST": str(m), "RAG_INDEX_DIR": str(settings.index.index_dir)})
        assert r.returncode == 1 and "being updated by another process" in r.stderr and "Traceback" not in r.stderr
    assert pipe.index().papers == 3


def test_model_mismatch_is_refused_and_full_rebuild_switches(tmp_path, settings_factory, embedder, shipped):
    m = _small_manifest(tmp_path, shipped[:3], shipped[3:4])
    settings = settings_factory(manifest=m, index_dir=tmp_path / "index")
    assert Pipeline(settings, embedder=HashEmbedder("fake-hash-64", 64)).index().papers == 4
    real = Pipeline(settings, embedder=embedder)
    with pytest.raises(ModelMismatchError, match="fake-hash-64.*all-MiniLM-L6-v2.*--full"):
        real.index()
    with pytest.raises(ModelMismatchError):
        real.retrieve("anything")
    rep = Pipeline(settings, embedder=embedder).index(full=True)
    assert (rep.added, rep.papers) == (4, 4)
    assert real.store().info()["embed_model"] == "all-MiniLM-L6-v2"


CRASHER = textwrap.dedent("""
    import os, sys
    from rag.pipeline import Pipeline
    from rag.settings import Settings
    def progress(done, total, what):
        if what == "writing":
            print("BATCH", done, total, flush=True)
    Pipeline(Settings()).index(progress=progress)
""")


def _run(args, env, timeout=300):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@pytest.mark.slow
def test_kill_9_mid_build_leaves_previous_index_usable(tmp_path, shipped):
    """Build v1, start a big update in a subprocess, SIGKILL it after its first written batch;
    the index still answers, and a rerun finishes the job with nothing stale."""
    m = _small_manifest(tmp_path, shipped[:40], shipped[40:60])
    env = {**os.environ, "RAG_MANIFEST": str(m), "RAG_INDEX_DIR": str(tmp_path / "index")}
    r = _run(["-m", "rag", "index", "--json"], env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["papers"] == 60

    # v2: 300 more papers and all of source a's abstracts edited
    from dataclasses import replace

    write_jsonl(tmp_path / "a.jsonl", [replace(p, abstract=p.abstract + " Revised.") for p in shipped[:40]] + shipped[300:600])
    proc = subprocess.Popen([sys.executable, "-c", CRASHER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT)
    deadline = time.time() + 240
    line = ""
    while time.time() < deadline and "BATCH" not in line:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
    assert "BATCH" in line, proc.stderr.read()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    r = _run(["-m", "rag", "search", shipped[45].title, "--k", "3", "--json"], env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["title"] == shipped[45].title
    r = _run(["-m", "rag", "stats", "--index", "--json"], env)
    idx = json.loads(r.stdout)["index"]
    assert 60 <= idx["papers"] <= 360 and idx["papers_without_chunks"] == 0

    r = _run(["-m", "rag", "index", "--json"], env)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["papers"] == 360 and rep["removed"] == 0
    r = _run(["-m", "rag", "stats", "--index", "--json"], env)
    idx = json.loads(r.stdout)["index"]
    assert (idx["papers"], idx["stale_chunks"], idx["papers_without_chunks"]) == (360, 0, 0)
    r = _run(["-m", "rag", "index", "--json"], env)
    assert json.loads(r.stdout)["unchanged"] == 360
