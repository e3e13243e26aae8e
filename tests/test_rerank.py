"""The rerank model (rag.rerank): paper vectors stored at index time, incremental, and the top
hybrid candidates reordered by them; an index without them searches as before."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import HashEmbedder, write_jsonl_manifest


def _reranker(texts: dict[str, str], candidates: int, weight: float):
    from rag.rerank import Reranker

    emb = HashEmbedder("hash-rerank", 256)
    ids = list(texts)
    return Reranker(emb, emb.embed_batch([texts[i] for i in ids]), ids, candidates=candidates, weight=weight)


TEXTS = {"a": "graph neural networks oversmoothing", "b": "diffusion models image synthesis",
         "c": "reinforcement learning exploration bonus", "d": "spiking neural networks energy efficiency",
         "e": "protein structure prediction", "f": "federated learning privacy"}
SCORES = {"a": 5.0, "b": 4.0, "c": 3.0, "d": 2.0, "e": 1.0, "f": 0.5}
ORDER = list(SCORES)


def _ranked(scores):
    return sorted(scores, key=lambda p: -scores[p])


def test_rerank_moves_the_matching_candidate_up_and_leaves_the_rest():
    r = _reranker(TEXTS, candidates=4, weight=5.0)
    out = r.rerank("spiking networks energy", ORDER, SCORES)
    ranked = _ranked(out)
    assert ranked[0] == "d"  # the rerank model's match, 4th by the fused score
    assert ranked[4:] == ["e", "f"]  # below the candidates: unchanged places
    assert out["e"] == SCORES["e"] and out["f"] == SCORES["f"]
    # a paper outside the candidates is never promoted, however well it matches
    assert _ranked(r.rerank("protein structure prediction", ORDER, SCORES))[4] == "e"


def test_rerank_weight_zero_or_too_few_candidates_is_the_identity():
    assert _reranker(TEXTS, candidates=4, weight=0.0).rerank("spiking networks energy", ORDER, SCORES) == SCORES
    assert _reranker(TEXTS, candidates=1, weight=5.0).rerank("spiking networks energy", ORDER, SCORES) == SCORES


def test_rerank_paper_without_vector_keeps_its_fused_score_offset():
    r = _reranker({k: v for k, v in TEXTS.items() if k != "a"}, candidates=3, weight=1.0)
    out = r.rerank("diffusion image synthesis", ORDER, SCORES)
    assert _ranked(out)[0] == "b"  # b's match beats a, which has no rerank vector (z = 0)


def _small(tmp_path, settings_factory, papers, **kw):
    from rag.pipeline import Pipeline

    settings = settings_factory(manifest=write_jsonl_manifest(tmp_path, papers), index_dir=tmp_path / "index",
                                backend="extractive", **kw)
    return settings, Pipeline(settings, embedder=HashEmbedder(), rerank_embedder=HashEmbedder("hash-rerank", 256))


def test_index_stores_rerank_vectors_incrementally(tmp_path, settings_factory, small_papers):
    from rag.rerank import collection_name

    papers = small_papers[:12]
    settings, pipe = _small(tmp_path, settings_factory, papers, rerank_model="hash-rerank")
    assert pipe.index().rerank_embedded == 12
    col = pipe.client.get_collection(collection_name(settings.index.collection))
    assert col.count() == 12
    got = col.get(ids=[papers[0].id], include=["embeddings"])
    from rag.rerank import paper_text

    want = HashEmbedder("hash-rerank", 256).embed_batch([paper_text(papers[0])])[0]
    assert np.allclose(got["embeddings"][0], want, atol=1e-6)
    assert pipe.index().rerank_embedded == 0  # nothing changed: nothing embedded again
    # a paper removed from the sources loses its rerank vector too
    settings2, pipe2 = _small(tmp_path, settings_factory, papers[:10], rerank_model="hash-rerank")
    assert pipe2.index().rerank_embedded == 0
    assert pipe2.client.get_collection(collection_name(settings2.index.collection)).count() == 10
    assert pipe2.retriever.reranker is not None and len(pipe2.retriever.reranker.row) == 10


def test_search_is_reranked_and_an_index_without_vectors_still_works(tmp_path, settings_factory, small_papers, capsys):
    papers = small_papers[:20]
    settings, plain = _small(tmp_path, settings_factory, papers)  # built without rerank vectors
    plain.index()
    q = papers[3].title
    before = [h.paper.id for h in plain.retrieve(q, 10)]

    from rag.pipeline import Pipeline

    on = Pipeline(settings.model_copy(update={"rerank_model": "hash-rerank", "rerank_weight": 3.0, "rerank_candidates": 10}),
                  embedder=HashEmbedder(), rerank_embedder=HashEmbedder("hash-rerank", 256))
    assert on.retriever.reranker is None  # no vectors yet: a note, and the same search
    assert "no paper vectors of rerank model" in capsys.readouterr().err
    assert [h.paper.id for h in on.retrieve(q, 10)] == before
    on.index()
    assert on.retriever.reranker is not None
    after = [h.paper.id for h in on.retrieve(q, 10)]
    assert set(after) == set(before)  # reordered within the candidates, nothing new
    assert after[0] == papers[3].id


@pytest.mark.slow
def test_real_rerank_model_vectors_match_the_model(tmp_path, settings_factory, small_papers):
    """The rerank model for real (MiniLM on onnxruntime, exported into the index folder): the stored
    vector of a paper is the model's embedding of its text, and a paraphrase finds its paper."""
    from rag.embed import SentenceTransformerEmbedder
    from rag.pipeline import Pipeline
    from rag.rerank import collection_name, paper_text

    papers = small_papers[:8]
    settings = settings_factory(manifest=write_jsonl_manifest(tmp_path, papers), index_dir=tmp_path / "index",
                                backend="extractive", rerank_model="all-MiniLM-L6-v2")
    pipe = Pipeline(settings, embedder=HashEmbedder())
    assert pipe.index().rerank_embedded == 8
    assert type(pipe.rerank_embedder).__name__ == "OnnxEmbedder"
    got = pipe.client.get_collection(collection_name(settings.index.collection)).get(ids=[papers[2].id], include=["embeddings"])
    want = SentenceTransformerEmbedder("all-MiniLM-L6-v2").embed_batch([paper_text(papers[2])])[0]
    assert float(np.dot(got["embeddings"][0], want)) > 0.999
    r = pipe.retriever.reranker
    order = [p.id for p in papers]
    out = r.rerank(papers[5].abstract[:300], order, {pid: float(-i) * 0.01 for i, pid in enumerate(order)})
    assert max(out, key=out.get) == papers[5].id


@pytest.mark.slow
def test_install_step_assembles_the_rerank_model(tmp_path):
    """scripts/install_model.sh (run by scripts/install.sh) installs a split rerank model chosen by
    RAG_RERANK_MODEL alone, as it does for RAG_EMBED_MODEL."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k != "RAG_EMBED_MODEL"}
    env.update({"RAG_RERANK_MODEL": "all-mpnet-base-v2", "RAG_MODEL_CACHE": str(tmp_path / "models"), "PYTHONPATH": str(ROOT)})
    run = subprocess.run(["bash", str(ROOT / "scripts" / "install_model.sh"), sys.executable], env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    assert "RAG_RERANK_MODEL" in run.stderr
    assert (tmp_path / "models" / "all-mpnet-base-v2" / "model.safetensors").stat().st_size > 400_000_000
