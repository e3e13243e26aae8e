"""Shared fixtures: the real embedding model and a real Chroma index of the shipped corpus, each
built once per test session."""

from __future__ import annotations

import os
import socket
from pathlib import Path

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
