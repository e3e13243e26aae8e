"""Questions embedded by onnxruntime (query_backend=auto) give the torch model's vectors and rankings."""

from __future__ import annotations

import numpy as np
import pytest

QUESTIONS = ["papers on oversmoothing in graph neural networks", "learned priors for compressed sensing",
             "Who moderated the Deep Learning session?"]


@pytest.mark.slow
def test_onnx_query_vectors_and_rankings_match_torch(built_index, embedder):
    from rag.embed_onnx import OnnxEmbedder
    from rag.pipeline import Pipeline

    fast = Pipeline(built_index.model_copy(update={"query_backend": "auto"}), embedder=embedder)
    plain = Pipeline(built_index.model_copy(update={"query_backend": "index"}), embedder=embedder)
    assert isinstance(fast.query_embedder, OnnxEmbedder) and plain.query_embedder is embedder
    a, b = fast.query_embedder.embed_batch(QUESTIONS), embedder.embed_batch(QUESTIONS)
    assert np.min(np.sum(a * b, axis=1)) > 0.9999
    for q in QUESTIONS:
        assert [h.paper.id for h in fast.retrieve(q, 10)] == [h.paper.id for h in plain.retrieve(q, 10)]


def test_a_fake_embedder_is_used_for_queries_as_given(settings_factory, tmp_path):
    from rag.pipeline import Pipeline

    class Fake:
        name, dim = "fake", 8

        def embed_batch(self, texts):
            return np.asarray([[len(t) % 7 + 1.0] * 8 for t in texts], dtype=np.float32)

        def count_tokens(self, text):
            return len(text.split())

    fake = Fake()
    assert Pipeline(settings_factory(index_dir=tmp_path), embedder=fake).query_embedder is fake


@pytest.mark.slow
def test_in_memory_dense_search_equals_chroma(pipeline):
    """On a corpus whose chunk vectors are all in memory the dense side skips Chroma: exact search, so
    the same best papers as Chroma's approximate (HNSW) search, with the same scores; far down the list
    HNSW may miss a paper exact search finds, so the tail is compared as a set."""
    r = pipeline.retriever
    assert r.ref_full and len(r.ref_chunk_ids) == r.n_chunks
    for q in QUESTIONS:
        v = r.embed_query(q)
        for fl in ({}, {"type": "Oral"}, {"author": "Bengio"}, {"venue": "ICML", "year": 2022}):
            f = r.filters(**fl)
            allowed = r.allowed(f)
            fast = r.dense(v, f, allowed, 50)
            r.ref_full = False
            try:
                slow = r.dense(v, f, allowed, 50)
            finally:
                r.ref_full = True
            assert fast.scores and list(fast.scores)[:10] == list(slow.scores)[:10]
            common = set(fast.scores) & set(slow.scores)
            assert len(common) >= 0.9 * len(slow.scores)
            assert all(abs(fast.scores[p] - slow.scores[p]) < 1e-5 for p in common)
            assert all(fast.chunks[p][0][0] == slow.chunks[p][0][0] for p in common)
