"""The public Python API: ``import rag`` then ``rag.answer``, ``rag.retrieve``, ``rag.similar``
called repeatedly and in any order keep working (no submodule import may replace a function on the
package), over a real index."""

from __future__ import annotations

import importlib
import itertools

import pytest


@pytest.fixture
def fresh_rag(built_index, monkeypatch):
    monkeypatch.setenv("RAG_INDEX_DIR", str(built_index.index.index_dir))
    monkeypatch.setenv("RAG_MANIFEST", str(built_index.corpus.manifest))
    monkeypatch.setenv("RAG_BACKEND", "extractive")
    import rag

    monkeypatch.setattr(rag, "_default", None)
    return rag


@pytest.mark.slow
def test_public_functions_survive_repeated_calls_in_any_order(fresh_rag):
    rag = fresh_rag
    q = "which papers study pruning neural networks at initialization?"
    calls = {
        "answer": lambda: rag.answer(q),
        "retrieve": lambda: rag.retrieve(q, k=3),
        "similar": lambda: rag.similar(rag.retrieve(q, k=1)[0].paper.id, k=3),
        "stream": lambda: list(rag.stream(q)),
    }
    for order in itertools.permutations(calls, 4):
        for name in order * 2:
            out = calls[name]()
            assert out, name
    for name in ("answer", "retrieve", "similar", "stream", "compare"):
        if hasattr(rag, name):
            assert callable(getattr(rag, name)) and not isinstance(getattr(rag, name), type(rag)), name
    from rag import answer, retrieve, similar  # a later import still gets the functions

    assert callable(answer) and callable(retrieve) and callable(similar)
    ans = rag.answer(q)
    assert ans.citations and all(c.paper.link.startswith("https://") for c in ans.citations)


def test_no_submodule_is_named_like_a_public_function():
    import pkgutil

    import rag

    public = {n for n in rag.__all__ if callable(getattr(rag, n)) and n[0].islower()}
    modules = {m.name for m in pkgutil.iter_modules(rag.__path__)}
    assert not public & modules, f"a module named like a public function shadows it: {public & modules}"
    for m in modules - {"__main__"}:
        importlib.import_module(f"rag.{m}")
    assert all(callable(getattr(rag, n)) for n in public)
