"""Large-store shortcuts of the retriever give the same results as the plain computation: the
top-n selection of keyword scores, and fusion that fetches a keyword candidate's chunk vectors only
when it could reach the top."""

from __future__ import annotations

import numpy as np


def test_top_indices_is_the_stable_argsort_prefix():
    from rag.retrieval import top_indices

    rng = np.random.default_rng(0)
    for size, n in ((1, 1), (10, 3), (1000, 50), (1000, 1000), (50, 80)):
        s = rng.integers(0, 6, size).astype(np.float32)  # many ties
        assert top_indices(s, n).tolist() == np.argsort(-s, kind="stable")[:n].tolist()
    assert top_indices(np.zeros(5, dtype=np.float32), 0).tolist() == []


def test_pruned_fusion_gives_the_same_top_as_full_fusion(small_index, small_papers):
    """On a store whose dense reference sample holds a few papers (as on a large store), search
    with the pruned fusion returns the same papers and scores as fusion over every candidate, and
    fetches fewer chunk vectors."""
    from rag.pipeline import Pipeline
    from tests.conftest import HashEmbedder

    pipe = Pipeline(small_index, embedder=HashEmbedder())
    r = pipe.retriever
    r.candidates = 5  # few dense candidates, so that keyword candidates fall outside them
    r._load_reference(max_papers=4)  # most papers outside the sample: their vectors come from the store
    assert not r.ref_full
    fetched = []
    real_fetch = r._fetch_chunk_vectors

    def counting_fetch(ids, *a, **kw):
        fetched.append(len(ids))
        return real_fetch(ids, *a, **kw)

    r._fetch_chunk_vectors = counting_fetch
    queries = [p.title for p in small_papers[:8]] + ["neural network training", "graph learning benchmark"]
    pruned = {q: [(h.paper.id, round(h.score, 9)) for h in r.search(q, 3)] for q in queries}
    n_pruned = sum(fetched)
    real_fuse = r.fuse
    r.fuse = lambda *a, **kw: real_fuse(*a[:8], need=None)  # every candidate scored exactly
    fetched.clear()
    full = {q: [(h.paper.id, round(h.score, 9)) for h in r.search(q, 3)] for q in queries}
    assert pruned == full
    assert n_pruned < sum(fetched)


def test_chunk_vectors_and_texts_in_memory_match_the_store(small_index, small_papers):
    """With every chunk read into memory (as on a store larger than the reference sample), a
    paper's chunk vectors come in the same rows and order as Chroma's, chunk texts are the stored
    ones, and search gives the same papers, scores and passages as with store round trips; the
    feedback pass reuses the keyword selection of the first pass."""
    from rag.pipeline import Pipeline
    from rag.retrieval import ChunkMatrix
    from tests.conftest import HashEmbedder

    pipe = Pipeline(small_index, embedder=HashEmbedder())
    r = pipe.retriever
    r.candidates = 5
    r._load_reference(max_papers=4)
    assert r.chunk_matrix is None and r.wait_ready()
    queries = [p.title for p in small_papers[:6]] + ["neural network training", "graph learning benchmark"]
    before = {q: [(h.paper.id, round(h.score, 9), h.passages, h.dense) for h in r.search(q, 3)] for q in queries}
    ids = [p.id for p in r.papers]
    from_store = r._fetch_chunk_vectors(ids)
    cids = [cid for p in r.papers for cid in (f"{p.id}:{p.content_hash}:{n}" for n in range(r.paper_chunks.get(p.id) or 1))]
    texts = r.store.chunk_texts(cids)

    r.chunk_matrix = ChunkMatrix.load(r.store, r.papers, r.paper_chunks, page=7)  # several pages
    assert r.chunk_matrix is not None and len(r.chunk_matrix.order) == r.n_chunks
    from_memory = r._fetch_chunk_vectors(ids)
    for row in sorted(set(from_store[1].tolist())):  # per paper: the same vectors in the same order
        assert np.array_equal(from_store[0][from_store[1] == row], from_memory[0][from_memory[1] == row])
    assert set(from_store[1].tolist()) == set(from_memory[1].tolist())
    r.store.chunk_texts = lambda ask: (_ for _ in ()).throw(AssertionError(f"texts asked of the store: {ask}"))
    assert r._chunk_texts(cids) == texts
    calls = []
    real_top = r._keyword_top
    r._keyword_top = lambda kw, n: calls.append(id(kw)) or real_top(kw, n)
    after = {q: [(h.paper.id, round(h.score, 9), h.passages, h.dense) for h in r.search(q, 3)] for q in queries}
    assert after == before
    assert calls  # fuse asked for the keyword selection ...
    assert r._kw_memo is not None  # ... and it is kept for the feedback pass of the same search
