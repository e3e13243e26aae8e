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


def test_positive_top_is_the_positive_part_of_top_indices():
    """positive_top (the keyword top-n from a sampled threshold on a large score array) selects exactly
    what top_indices does among the positive scores: ties, mostly-zero arrays, n past the positives."""
    from rag.retrieval import positive_top, top_indices

    rng = np.random.default_rng(0)
    for t in range(400):
        size, n = int(rng.integers(1, 20_000)), int(rng.integers(0, 60))
        kind = t % 4
        if kind == 0:
            s = rng.random(size)
        elif kind == 1:  # mostly zero, a few tied positives
            s = np.where(rng.random(size) < 0.9, 0, rng.integers(1, 4, size))
        elif kind == 2:
            s = rng.integers(0, 3, size)
        else:
            s = np.where(rng.random(size) < 0.5, 0, rng.random(size))
        s = s.astype(np.float32)
        assert positive_top(s, n) == [int(i) for i in top_indices(s, n) if s[i] > 0], (size, n, kind)


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
    r.feedback_dense = lambda *a, **kw: None  # the feedback pass searches Chroma again, as before
    after = {q: [(h.paper.id, h.score, h.passages, h.dense) for h in r.search(q, 3)] for q in queries}
    # the same papers, passages and scores; the feedback papers' mean vectors now come from the chunk
    # vectors in memory instead of the papers collection (Chroma's own normalization: equal to ~1e-7)
    assert {q: [h[0] for h in v] for q, v in after.items()} == {q: [h[0] for h in v] for q, v in before.items()}
    assert {q: [h[2] for h in v] for q, v in after.items()} == {q: [h[2] for h in v] for q, v in before.items()}
    for q in queries:
        assert np.allclose([h[1] for h in after[q]], [h[1] for h in before[q]], atol=1e-5)
        assert np.allclose([h[3] for h in after[q]], [h[3] for h in before[q]], atol=1e-5)
    assert calls  # fuse asked for the keyword selection ...
    assert r._kw_memo is not None  # ... and it is kept for the feedback pass of the same search


def test_feedback_pass_in_memory_equals_a_second_chroma_search(small_index, small_papers):
    """With every chunk in memory, the feedback pass scores the chunks of the first Chroma search's
    papers and of the keyword candidates in memory instead of searching Chroma again: one Chroma
    query per search instead of two, and the same papers, passages and (to float precision) scores
    as the second search; with a first-pass chunk that is not in memory, it searches Chroma again."""
    from rag.pipeline import Pipeline
    from rag.retrieval import ChunkMatrix
    from tests.conftest import HashEmbedder

    r = Pipeline(small_index, embedder=HashEmbedder()).retriever
    r.candidates = 5  # few dense candidates: the first search returns a part of the store
    r._load_reference(max_papers=4)
    r.chunk_matrix = ChunkMatrix.load(r.store, r.papers, r.paper_chunks)
    queries = [" ".join(p.abstract.split()[5:17]) for p in small_papers[:12]] + ["neural network training", "graph learning benchmark"]
    searches = []
    real_query = r.store.query_chunks
    r.store.query_chunks = lambda *a, **kw: searches.append(1) or real_query(*a, **kw)

    def run(**fl):
        return {q: [(h.paper.id, h.score, h.passages[:1]) for h in r.search(q, 3, **fl)] for q in queries}

    in_memory = [run(), run(year=2022)]
    assert len(searches) == 2 * len(queries)
    real_feedback = r.feedback_dense
    r.feedback_dense = lambda *a, **kw: None
    searches.clear()
    chroma = [run(), run(year=2022)]
    assert len(searches) == 2 * 2 * len(queries)
    for new, old in zip(in_memory, chroma, strict=True):
        for q in queries:
            assert [h[0] for h in new[q]] == [h[0] for h in old[q]], q
            assert [h[2] for h in new[q]] == [h[2] for h in old[q]], q
            assert np.allclose([h[1] for h in new[q]], [h[1] for h in old[q]], atol=1e-4), q
    r.prf_weight = 0.0  # the feedback pass does change results (else this comparison would prove nothing)
    assert any([h[0] for h in v] != [h[0] for h in chroma[0][q]] for q, v in run().items())

    r.prf_weight = 0.6
    q = r.embed_query(queries[0])
    d = r.dense(q, r.filters(), None, 5)
    assert d.pool and real_feedback(q, d, None, None, 5) is not None
    pid = d.pool[0].partition(":")[0]
    d.pool[0] = f"{pid}:stale:0"  # a chunk of another version of the paper: not in memory
    assert real_feedback(q, d, None, None, 5) is None
    r.chunk_matrix = None
    d = r.dense(q, r.filters(), None, 5)
    assert real_feedback(q, d, None, None, 5) is None
