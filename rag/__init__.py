"""Question answering over machine-learning papers, with checked citations.

    from rag import retrieve, answer, similar
    hits = retrieve("pruning fails on hard tasks", k=5, venue="ICLR")
    hits[0].paper.title
    a = answer("which papers show that pruning fails on hard tasks?")
    print(a.text); [c.paper.title for c in a.citations]

The module-level functions share one :class:`~rag.pipeline.Pipeline` built on first use from
``Settings()`` (``RAG_*`` environment variables); pass ``pipeline=`` to use your own.
"""

from __future__ import annotations

import threading

from .catalog import Catalog
from .models import Hit, Paper
from .pipeline import Pipeline
from .settings import Settings

__all__ = ["Catalog", "Hit", "Paper", "Pipeline", "Settings", "answer", "compare", "default_pipeline", "retrieve", "similar", "stream"]
__version__ = "0.1.0"

_default: Pipeline | None = None
_default_lock = threading.Lock()


def default_pipeline() -> Pipeline:
    """The shared pipeline of the module-level functions, created on first call."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Pipeline(Settings())
        return _default


def retrieve(question: str, k: int = 5, *, pipeline: Pipeline | None = None, **filters) -> list[Hit]:
    """The ``k`` best papers for ``question``, one hit per paper; filters: venue, year, type, author, source, topic."""
    return (pipeline or default_pipeline()).retrieve(question, k, **filters)


def similar(paper_id: str, k: int = 5, *, pipeline: Pipeline | None = None) -> list[Hit]:
    """The ``k`` papers nearest to ``paper_id``."""
    return (pipeline or default_pipeline()).similar(paper_id, k)


def answer(question: str, *, backend: str | None = None, k: int | None = None,
           pipeline: Pipeline | None = None, **filters):
    """An :class:`~rag.answering.Answer` with checked citations."""
    return (pipeline or default_pipeline()).answer(question, backend=backend, k=k, **filters)


def stream(question: str, *, backend: str | None = None, k: int | None = None,
           pipeline: Pipeline | None = None, **filters):
    """Yields text pieces as they are generated, then the final :class:`~rag.answering.Answer`."""
    return (pipeline or default_pipeline()).stream(question, backend=backend, k=k, **filters)


def compare(papers_or_question, *, columns=None, backend: str | None = None, pipeline: Pipeline | None = None):
    """A :class:`~rag.comparison.Table` of papers side by side (problem, method, data, result, venue,
    year, type, or ``columns``), from paper ids or a question (its relevant retrieved papers)."""
    return (pipeline or default_pipeline()).compare(papers_or_question, columns=columns, backend=backend)
