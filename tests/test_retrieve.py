"""Hybrid retrieval on the real index of the shipped corpus (real embedder), plus pure-logic tests
of the query helpers and the fusion with a small text-dependent fake."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rag.errors import ConfigError
from rag.evaluate import eval_retrieval, load_questions
from rag.retrieval import KeywordIndex, keyword_weight_for, strip_boilerplate

ROOT = Path(__file__).resolve().parent.parent
DEV_QUESTIONS = ROOT / "eval" / "dev_questions.jsonl"
USER_QUESTIONS = ROOT / "eval" / "user_questions.jsonl"
BRECQ = "BRECQ: Pushing the Limit of Post-Training Quantization by Block Reconstruction"


@pytest.fixture(scope="module")
def retriever(pipeline):
    return pipeline.retriever


# ---------------------------------------------------------------------------------------------- pure logic

@pytest.mark.parametrize("query,expected", [
    ("Which papers propose new ways to train dense retrievers?", "propose new ways to train dense retrievers?"),
    ("is there a method that prunes networks at initialization", "prunes networks at initialization"),
    ("find me papers on diffusion models", "diffusion models"),
    ("papers about graph neural networks", "graph neural networks"),
    ("Which pretrained model for code injects data flow?", "Which pretrained model for code injects data flow?"),
    ("which papers study grokking?", "study grokking?"),
    ("learned priors for recovering signals from few measurements", "learned priors for recovering signals from few measurements"),
    ("which papers?", "which papers?"),
])
def test_strip_boilerplate(query, expected):
    assert strip_boilerplate(query) == expected


def test_keyword_weight_grows_only_for_verbose_queries():
    assert keyword_weight_for(3, 0.7, 6) == 0.7
    assert keyword_weight_for(6, 0.7, 6) == 0.7
    assert keyword_weight_for(24, 0.7, 6) == pytest.approx(2.8)
    assert keyword_weight_for(24, 0.7, 0) == 0.7


def test_keyword_index_matches_titles_authors_and_stems():
    from rag.models import Paper

    papers = [Paper(id="a", title="Pruning at Initialization", abstract="We prune weights before training.", authors=("Ann Lee",)),
              Paper(id="b", title="Diffusion Samplers", abstract="Denoising models generate images.", authors=("Bo Chen",)),
              Paper(id="c", title="Graph Attention", abstract="Attention over neighbours of nodes.", authors=("Ann Smith",))]
    kw = KeywordIndex(papers)
    assert int(np.argmax(kw.scores("pruned networks"))) == 0  # stemmed: pruned ~ prune/pruning
    assert int(np.argmax(kw.scores("denoising sampler"))) == 1
    assert int(np.argmax(kw.scores("papers by Bo Chen"))) == 1  # authors are searchable
    assert kw.scores("the of and").sum() == 0  # stop words only: no evidence
    assert kw.terms("Pruning pruned PRUNE zzzunknown") == ["prune", "prune", "prune"]


# ---------------------------------------------------------------------------------------------- real index

def test_hits_are_papers_best_first(retriever):
    hits = retriever.search("sharpness of the loss landscape and generalization", 10)
    assert len(hits) == 10
    assert [h.rank for h in hits] == list(range(1, 11))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({h.paper.id for h in hits}) == 10
    assert all(h.passages and h.dense is not None for h in hits)


def test_chunks_of_one_paper_are_merged(retriever):
    counts = Counter(m["paper_id"] for m in retriever.store.chunks.get(include=["metadatas"])["metadatas"])
    pid = next(p for p, n in counts.most_common() if n >= 3)
    paper = retriever.by_id[pid]
    # the abstract itself matches every one of its chunks
    for mode in ("hybrid", "dense"):
        hits = retriever.search(paper.abstract[:2000], 10, mode=mode)
        ids = [h.paper.id for h in hits]
        assert ids.count(pid) == 1 and len(ids) == len(set(ids)), mode
        assert hits[0].paper.id == pid
        assert len(hits[0].passages) >= 2  # its matching chunks are kept as passages of the one hit


def test_title_query_puts_the_paper_first(retriever):
    hits = retriever.search("who wrote the paper that proposed BRECQ?", 5)
    assert hits[0].paper.title == BRECQ
    assert hits[0].paper.authors


def test_title_words_find_the_paper(retriever):
    title = "Rethinking Attention with Performers"
    assert retriever.search(title, 3)[0].paper.title == title


def test_author_query_finds_the_authors_papers(retriever):
    theirs = {p.id for p in retriever.papers if "Yoshua Bengio" in p.authors}
    assert len(theirs) >= 5
    hits = retriever.search("papers by Yoshua Bengio", 10)
    top = [h.paper.id for h in hits]
    assert set(top[:5]) <= theirs
    assert len(set(top) & theirs) >= min(len(theirs), 8)


def test_similar_papers(retriever):
    pid = next(p.id for p in retriever.papers if p.title == BRECQ)
    hits = retriever.similar(pid, 5)
    assert len(hits) == 5 and pid not in {h.paper.id for h in hits}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert any("quantiz" in (h.paper.title + h.paper.abstract).lower() for h in hits[:3])
    with pytest.raises(ConfigError, match="no paper with id"):
        retriever.similar("pnosuchpaper00", 5)


def test_similar_through_the_package_api(pipeline):
    import rag

    pid = pipeline.retriever.papers[0].id
    hits = rag.similar(pid, 3, pipeline=pipeline)
    assert len(hits) == 3 and all(h.paper.id != pid for h in hits)


def test_bad_arguments(retriever):
    with pytest.raises(ConfigError, match="unknown retrieval mode"):
        retriever.search("x", 5, mode="fuzzy")
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        retriever.search("x", 0)
    assert retriever.search("   ", 5) == []


def test_modes_agree_on_an_easy_query(retriever):
    for mode in ("hybrid", "dense", "keyword"):
        assert retriever.search("Vision Transformer: an image is worth 16x16 words", 3, mode=mode)[0].paper.title.startswith(
            "An Image is Worth 16x16 Words"), mode


def test_llama_index_adapter(retriever):
    nodes = retriever.as_llama_retriever(k=3).retrieve("who wrote the paper that proposed BRECQ?")
    assert len(nodes) == 3 and nodes[0].node.metadata["title"] == BRECQ


def test_cli_search_json(built_index):
    from click.testing import CliRunner

    from rag.cli import main

    env = {"RAG_INDEX_DIR": str(built_index.index.index_dir), "RAG_MANIFEST": str(built_index.corpus.manifest)}
    res = CliRunner().invoke(main, ["search", "who wrote the paper that proposed BRECQ?", "--k", "3", "--json"], env=env)
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == 3 and rows[0]["title"] == BRECQ and rows[0]["authors"]
    res = CliRunner().invoke(main, ["search", "attention", "--venue", "ICLR", "--year", "2021", "--type", "Oral", "--json"], env=env)
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert rows and all((r["venue"], r["year"], r["type"]) == ("ICLR", 2021, "Oral") for r in rows)
    res = CliRunner().invoke(main, ["search", "attention", "--venue", "NeurIPS", "--json"], env=env)
    assert res.exit_code == 1 and "error: unknown venue 'NeurIPS'" in res.stderr


# ---------------------------------------------------------------------------------------------- quality

@pytest.fixture(scope="module")
def dev_scores(retriever):
    return eval_retrieval(retriever, load_questions(DEV_QUESTIONS))


@pytest.fixture(scope="module")
def user_scores(retriever):
    return eval_retrieval(retriever, load_questions(USER_QUESTIONS))


def test_dev_set_thresholds(dev_scores):
    h = dev_scores["hybrid"]
    assert h["recall@5"] >= 0.97 and h["mrr@10"] >= 0.95
    for metric in ("recall@5", "mrr@10"):
        best_single = max(dev_scores["dense"][metric], dev_scores["keyword"][metric])
        assert h[metric] >= best_single - 0.01 - 1e-9, (metric, h[metric], best_single)


def test_user_set_hybrid_beats_both_single_retrievers(user_scores):
    h = user_scores["hybrid"]
    for metric in ("recall@5", "mrr@10"):
        assert h[metric] > user_scores["dense"][metric], metric
        assert h[metric] > user_scores["keyword"][metric], metric


# ---------------------------------------------------------------------------------------------- feedback

def test_feedback_query_moves_toward_the_top_papers(retriever):
    q = retriever.embed_query("optimizer seeking weights whose entire neighborhood has low loss")
    top = [h.paper.id for h in retriever.search("optimizer seeking weights whose entire neighborhood has low loss", 2)]
    centroid = retriever.paper_vectors(top).mean(axis=0)
    q2 = retriever.feedback_query(q, top)
    assert q2 is not None and abs(float(np.linalg.norm(q2)) - 1.0) < 1e-5
    assert float(q2 @ centroid) > float(q @ centroid)
    # a paper's vector is its normalized mean chunk vector, the same as the papers collection holds
    stored = np.asarray(retriever.store.papers.get(ids=top[:1], include=["embeddings"])["embeddings"][0], dtype=np.float32)
    assert float(stored @ retriever.paper_vectors(top[:1])[0]) > 0.999
    assert retriever.feedback_query(q, []) is None


def test_feedback_off_gives_the_first_pass(pipeline, built_index, embedder):
    from rag.retrieval import Retriever

    query = "convolution-free vision classifier operating directly on patch sequences"
    plain = Retriever(pipeline.retriever.store, embedder, settings=built_index.retrieval, prf_weight=0.0)
    fused_once = plain.search(query, 10)
    with_prf = pipeline.retriever.search(query, 10)
    assert pipeline.retriever.prf_weight > 0
    assert [h.paper.id for h in fused_once] != [h.paper.id for h in with_prf] or \
        [round(h.score, 6) for h in fused_once] != [round(h.score, 6) for h in with_prf]
    # without feedback the dense score of a hit is the cosine with the query itself
    q = plain.embed_query(query)
    top = fused_once[0]
    assert top.dense == pytest.approx(max(plain.dense_scores_for(q, [top.paper.id]).values()), abs=1e-5)


def test_papers_outside_the_reference_sample_are_scored_exactly_and_fetched_once(pipeline, built_index, embedder, monkeypatch):
    from rag.retrieval import Retriever

    full = pipeline.retriever
    part = Retriever(full.store, embedder, settings=built_index.retrieval)
    part._load_reference(max_papers=100)  # a large corpus: most papers are outside the sample
    assert not part.ref_full
    q = part.embed_query("optimizer seeking weights whose entire neighborhood has low loss")
    outside = [p.id for p in part.papers if part.ref_pos[part.row[p.id]] < 0][:20]
    calls = []
    fetch = part._fetch_chunk_vectors
    monkeypatch.setattr(part, "_fetch_chunk_vectors", lambda ids: calls.append(list(ids)) or fetch(ids))
    cache: dict = {}
    got = part.dense_scores_for(q, outside, cache=cache)
    exact = full.dense_scores_for(q, outside)
    assert set(got) == set(outside) and all(abs(got[p] - exact[p]) < 1e-5 for p in outside)
    assert len(calls) == 1 and set(cache) == set(outside)
    q2 = part.feedback_query(q, outside[:2], cache)  # the same vectors serve the feedback pass
    assert part.dense_scores_for(q2, outside, cache=cache) and len(calls) == 1
    assert float(part.paper_vectors(outside[:2], cache)[0] @ full.paper_vectors(outside[:1])[0]) > 0.999
    hits = part.search("optimizer seeking weights whose entire neighborhood has low loss", 5)
    assert len(hits) == 5 and hits[0].paper.title.startswith("Sharpness-aware Minimization")
