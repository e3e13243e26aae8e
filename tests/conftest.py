"""Shared fixtures and fakes.

Fast tier (``pytest -m "not slow"``): :class:`HashEmbedder` (a text-dependent fake embedder) and
``small_index`` / ``small_pipeline``, a real Chroma index of 30 shipped papers embedded with it.
Slow tier: the real embedding model and a real Chroma index of the whole shipped corpus
(``built_index`` / ``pipeline``), each built once per test session; every test that uses them is
marked ``slow`` here (:func:`pytest_collection_modifyitems`), so the fast tier never builds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "data" / "sources.toml"
DEV_QUESTIONS = ROOT / "eval" / "dev_questions.jsonl"
USER_QUESTIONS = ROOT / "eval" / "user_questions.jsonl"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# fixtures that build or load the full-corpus index: a test using any of them is slow
FULL_INDEX_FIXTURES = {"built_index", "pipeline"}


def pytest_collection_modifyitems(config, items):
    """Mark ``slow`` every test that needs the full-corpus index (directly or through a fixture)."""
    for item in items:
        if FULL_INDEX_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


class HashEmbedder:
    """A text-dependent fake embedder (hashed bag of words, stable across processes): texts sharing
    words get similar vectors, unrelated texts do not. ``name``/``dim`` make it another "model"."""

    max_tokens = 512
    batch_size = 64

    def __init__(self, name: str = "hash-bow", dim: int = 512):
        self.name, self.dim = name, dim
        self.notes: list[str] = []

    def embed_batch(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z0-9]+", t.lower()):
                if len(w) > 2:
                    out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
            n = np.linalg.norm(out[i])
            if n:
                out[i] /= n
        return out

    def count_tokens(self, text):
        return len(text.split())

    def tokenize(self, text):
        return text.split()


SMALL_PAPERS = 30


def write_jsonl(path: Path, papers) -> None:
    """``papers`` as a JSONL source file (real records, written as a user would)."""
    path.write_text("".join(json.dumps({"title": p.title, "abstract": p.abstract, "authors": list(p.authors),
                                        "venue": p.venue, "year": p.year, "type": p.type}) + "\n" for p in papers))


def write_jsonl_manifest(tmp: Path, papers, label: str = "small") -> Path:
    """A manifest of one JSONL source holding ``papers``."""
    write_jsonl(tmp / f"{label}.jsonl", papers)
    m = tmp / "sources.toml"
    m.write_text(f'[[source]]\nlabel = "{label}"\npath = "{label}.jsonl"\nformat = "jsonl"\n')
    return m


@pytest.fixture
def rules_scorer(monkeypatch):
    """Comparison cells chosen by the hand-written rules alone (``rag.comparison.SCORER = "rules"``): for tests
    that pin what the rules choose; the default adds the learned roles (tests/test_comparison_roles.py)."""
    from rag import comparison

    monkeypatch.setattr(comparison, "SCORER", "rules")


@pytest.fixture(scope="session")
def small_papers():
    """30 papers of the shipped corpus, spread over its sources (every 31st record)."""
    from rag.corpus import load_corpus

    papers = load_corpus(MANIFEST).papers
    return papers[::len(papers) // SMALL_PAPERS][:SMALL_PAPERS]


@pytest.fixture(scope="session")
def small_index(tmp_path_factory, settings_factory, small_papers):
    """Settings of a real Chroma index of ``small_papers`` embedded with :class:`HashEmbedder`
    (built once per session in a temp dir, a second or two)."""
    from rag.pipeline import Pipeline

    tmp = tmp_path_factory.mktemp("small-index")
    settings = settings_factory(manifest=write_jsonl_manifest(tmp, small_papers), index_dir=tmp / "index", backend="extractive")
    assert Pipeline(settings, embedder=HashEmbedder()).index().papers == SMALL_PAPERS
    return settings


@pytest.fixture(scope="session")
def small_pipeline(small_index):
    """A pipeline over ``small_index`` (read-only use)."""
    from rag.pipeline import Pipeline

    return Pipeline(small_index, embedder=HashEmbedder())


def pytest_addoption(parser):
    parser.addoption("--reuse-index", default=None, metavar="DIR",
                     help="Use (and update) this index dir of the shipped corpus instead of building one in a temp dir.")


@pytest.fixture(scope="session")
def settings_factory():
    """Settings with explicit values, never the developer's environment."""
    from rag.settings import Settings

    def make(**kw):
        kw.setdefault("manifest", MANIFEST)
        return Settings(_env_file=None, **kw)

    return make


@pytest.fixture(scope="session")
def embedder():
    from rag.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def built_index(request, tmp_path_factory, settings_factory, embedder):
    """Settings of a Chroma index of the whole shipped corpus, built once in a temp dir
    (or brought up to date in ``--reuse-index DIR``)."""
    from rag.pipeline import Pipeline

    reuse = request.config.getoption("--reuse-index")
    settings = settings_factory(index_dir=Path(reuse) if reuse else tmp_path_factory.mktemp("index"))
    report = Pipeline(settings, embedder=embedder).index()
    assert report.papers == 953
    return settings


@pytest.fixture(scope="session")
def pipeline(built_index, embedder):
    """A pipeline over the shared index (read-only use: tests must not change its sources)."""
    from rag.pipeline import Pipeline

    return Pipeline(built_index, embedder=embedder)
