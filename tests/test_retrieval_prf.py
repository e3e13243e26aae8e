"""The feedback pass of hybrid search on a store searched through Chroma: it ranks the chunks (and
their vectors) that the first pass's single Chroma query returned, instead of searching Chroma a
second time, and gives the same hits as the second search."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DEV_QUESTIONS, USER_QUESTIONS


def _chroma_retriever(r, monkeypatch, sample: int):
    """``r`` with a reference sample of ``sample`` papers (as on a large store: the dense side is
    searched through Chroma), its Chroma searches counted."""
    r._load_reference(max_papers=sample)
    assert not r.ref_full
    calls = {"query_chunks": 0, "query_chunk_vectors": 0}
    for name in calls:
        real = getattr(r.store, name)

        def counted(*a, _real=real, _name=name, **kw):
            calls[_name] += 1
            return _real(*a, **kw)

        monkeypatch.setattr(r.store, name, counted)
    return calls


def _both_paths(r, monkeypatch, queries, filters=({},), k=5):
    """Hits (id, score, best passage) of each query with the rescored feedback pass and with a
    second Chroma search. (A paper's further passages are its other chunks among the best 3n: one
    the pool lacks can be missing, on a store as small as the fake one.)"""
    import rag.retrieval as R

    out, pools = [], (R.FEEDBACK_POOL, 0)
    for pool in pools:
        monkeypatch.setattr(R, "FEEDBACK_POOL", pool)
        out.append({(q, json.dumps(fl)): [(h.paper.id, round(h.score, 3), h.passages[0]) for h in r.search(q, k, **fl)]
                    for q in queries for fl in filters})
    monkeypatch.setattr(R, "FEEDBACK_POOL", pools[0])
    return out[0], out[1]


def test_rescored_feedback_pass_equals_a_second_chroma_search(small_index, small_papers, monkeypatch):
    """Real Chroma, the text-dependent fake embedder: one Chroma query per search instead of two,
    the same papers, scores and best passages; and the feedback pass does change results (else this
    comparison would prove nothing)."""
    import rag.retrieval as R
    from rag.pipeline import Pipeline
    from tests.conftest import HashEmbedder

    assert R.FEEDBACK_POOL > 0
    r = Pipeline(small_index, embedder=HashEmbedder()).retriever
    r.candidates = 5  # few dense candidates: the pool is a small part of the store
    calls = _chroma_retriever(r, monkeypatch, sample=4)
    queries = [" ".join(p.abstract.split()[5:17]) for p in small_papers[:15]] + ["neural network training", "graph learning benchmark"]
    new, old = _both_paths(r, monkeypatch, queries, ({}, {"year": 2022}))
    assert new == old
    assert calls["query_chunk_vectors"] == len(queries) * 2  # one search per query and filter (new path)
    assert calls["query_chunks"] == len(queries) * 2 * 2  # two per query and filter (old path)
    r.prf_weight = 0.0
    _, no_feedback = _both_paths(r, monkeypatch, queries, ({}, {"year": 2022}))
    assert any([x[:2] for x in no_feedback[key]] != [x[:2] for x in old[key]] for key in old)


def test_rescored_feedback_pass_on_the_real_store(pipeline, monkeypatch):
    """The shipped corpus with MiniLM, searched through Chroma (a reference sample of 200 of its 953
    papers): the top 5 of every dev and user question, with and without filters, are those of the
    two-search path, with the same scores."""
    from rag.retrieval import Retriever

    base = pipeline.retriever
    r = Retriever(base.store, base.embedder, query_embedder=base.query_embedder)
    _chroma_retriever(r, monkeypatch, sample=200)
    queries = [json.loads(line)["question"] for path in (DEV_QUESTIONS, USER_QUESTIONS)
               for line in path.read_text().splitlines() if line.strip()]
    new, old = _both_paths(r, monkeypatch, queries, ({}, {"type": "Oral"}))
    assert new == old


def test_pool_vectors_are_those_of_complete_papers_only(small_index, monkeypatch):
    """A paper's chunk vectors go from the pool into the search's cache only when all its chunks are
    there (a partial set would give a wrong best-chunk score and feedback vector), and they are the
    vectors the store holds."""
    from collections import Counter

    import numpy as np

    from rag.pipeline import Pipeline
    from rag.store import paper_of_chunk
    from tests.conftest import HashEmbedder

    r = Pipeline(small_index, embedder=HashEmbedder()).retriever
    _chroma_retriever(r, monkeypatch, sample=4)
    q = r.embed_query("neural network training")
    d = r.dense(q, r.filters(), None, 5, pool=2)
    ids, vecs = d.pool
    assert len(ids) == len(vecs) == min(2 * 3 * 5, r.n_chunks)
    cache: dict = {}
    r.pool_vectors(d, cache)
    counts = Counter(paper_of_chunk(c) for c in ids)
    outside = [p for p in counts if r.ref_pos[r.row[p]] < 0]
    complete = {p for p in outside if counts[p] == r.paper_chunks[p]}
    assert complete and complete != set(outside)  # both kinds occur, so the test can tell them apart
    assert set(cache) == complete
    for pid in complete:
        stored, _ = r._fetch_chunk_vectors([pid])
        assert np.allclose(np.sort(cache[pid], axis=0), np.sort(stored, axis=0), atol=1e-6)
    assert r.dense(q, r.filters(), None, 5).pool is None  # no pool unless asked for
