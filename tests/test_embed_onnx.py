"""The onnxruntime embed backends (fp32, int8) against the sentence-transformers (torch) model, on
real texts of the shipped corpus; the export cache. Exports once per test module (~10 s each)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from rag.corpus import load_corpus
from rag.embed import make_embedder
from rag.embed_onnx import BACKENDS

pytestmark = pytest.mark.slow  # exports the model to ONNX

MIN_COSINE = {"onnx": 0.99, "onnx-int8": 0.95}


@pytest.fixture(scope="module")
def texts(settings_factory) -> list[str]:
    """Index-like texts (title + abstract) of 24 papers spread over abstract lengths, the longest
    beyond the model's 256 tokens (truncation), plus short queries."""
    papers = sorted(load_corpus(Path(settings_factory().corpus.manifest)).papers, key=lambda p: len(p.abstract))
    step = len(papers) / 24
    docs = [f"title: {p.title}\n\n{p.abstract}" for p in (papers[int(i * step)] for i in range(24))]
    docs.append(f"title: {papers[-1].title}\n\n{papers[-1].abstract}")
    return docs + ["graph neural networks for molecules", "What does LoRA freeze?", "attention"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx-index")


@pytest.fixture(scope="module")
def onnx_embedders(settings_factory, cache_dir) -> dict:
    out = {}
    for b in BACKENDS:
        t = time.perf_counter()
        out[b] = make_embedder(settings_factory(embed_backend=b).embed, cache_dir)
        out[b].export_seconds = time.perf_counter() - t
    return out


@pytest.fixture(scope="module")
def torch_vectors(embedder, texts) -> np.ndarray:
    return embedder.embed_batch(texts)


@pytest.mark.parametrize("backend", BACKENDS)
def test_vectors_agree_with_torch(backend, onnx_embedders, texts, torch_vectors, embedder):
    emb = onnx_embedders[backend]
    v = emb.embed_batch(texts)
    assert v.dtype == np.float32 and v.shape == (len(texts), embedder.dim) == (len(texts), emb.dim)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    cos = (v * torch_vectors).sum(axis=1)
    assert cos.min() >= MIN_COSINE[backend], (backend, float(cos.min()))
    if backend == "onnx":
        assert cos.mean() >= 0.9999


@pytest.mark.parametrize("backend", BACKENDS)
def test_vectors_depend_on_the_text_not_the_batch(backend, onnx_embedders, texts):
    emb = onnx_embedders[backend]
    v = emb.embed_batch(texts)
    sims = v @ v.T
    assert (sims[~np.eye(len(texts), dtype=bool)] < 0.99).all()  # distinct texts, distinct vectors
    # the input order does not change a text's vector (length sorting is undone)
    np.testing.assert_allclose(emb.embed_batch(texts[::-1])[::-1], v, atol=1e-5)
    # nor, in fp32, the batch it is in; int8 quantizes activations with one scale per batch, so a
    # text embedded alone (a query) differs slightly from the same text in an indexing batch
    alone = np.concatenate([emb.embed_batch([t]) for t in texts[-6:]])
    if backend == "onnx":
        np.testing.assert_allclose(alone, v[-6:], atol=1e-4)
    else:
        assert ((alone * v[-6:]).sum(axis=1) >= 0.98).all()
    assert emb.embed_batch([]).shape == (0, emb.dim)


def test_names_keep_identical_models_together(onnx_embedders, embedder):
    assert onnx_embedders["onnx"].name == embedder.name  # same vectors: may serve a torch-built index
    assert onnx_embedders["onnx-int8"].name == f"{embedder.name}:onnx-int8"  # not quite: an index of its own


def test_tokenization_matches_the_model_tokenizer(onnx_embedders, embedder, texts):
    emb = onnx_embedders["onnx"]
    assert emb.max_tokens == embedder.max_tokens == 256
    for t in texts:
        assert emb.tokenize(t) == embedder.tokenize(t)
        assert emb.count_tokens(t) == embedder.count_tokens(t)


def test_export_is_cached_and_reused(onnx_embedders, settings_factory, cache_dir):
    models = cache_dir / "models"
    assert sorted(p.name for p in models.iterdir()) == ["all-MiniLM-L6-v2-onnx", "all-MiniLM-L6-v2-onnx-int8"]  # no temp dirs
    for b in BACKENDS:
        assert not onnx_embedders[b].reused
        folder = models / f"all-MiniLM-L6-v2-{b}"
        mtime = (folder / "model.onnx").stat().st_mtime_ns
        t = time.perf_counter()
        again = make_embedder(settings_factory(embed_backend=b).embed, cache_dir)
        assert again.reused and time.perf_counter() - t < onnx_embedders[b].export_seconds
        assert (folder / "model.onnx").stat().st_mtime_ns == mtime
        assert json.loads((folder / "export.json").read_text())["backend"] == b
    assert (models / "all-MiniLM-L6-v2-onnx-int8" / "model.onnx").stat().st_size < \
        (models / "all-MiniLM-L6-v2-onnx" / "model.onnx").stat().st_size / 3


def test_stale_export_is_replaced(onnx_embedders, settings_factory, cache_dir, tmp_path, monkeypatch):
    """An export by another recipe (or of other weights) is redone, atomically, in place."""
    import shutil

    import rag.embed_onnx as eo

    s = settings_factory(index_dir=tmp_path, embed_backend="onnx")
    folder = eo.cache_dir_for(tmp_path, s.embed.embed_model, "onnx")
    shutil.copytree(cache_dir / "models" / folder.name, folder)
    assert make_embedder(s.embed, tmp_path).reused
    meta = json.loads((folder / "export.json").read_text())
    (folder / "export.json").write_text(json.dumps({**meta, "recipe": -1}))  # an export by an older recipe
    calls = []
    real_model = cache_dir / "models" / folder.name / "model.onnx"

    def fake_export(model_dir, backend, out_dir):  # the real export is covered above; this one is quick
        calls.append(backend)
        shutil.copy(real_model, out_dir / "model.onnx")
        return {**meta, "recipe": eo.RECIPE}

    monkeypatch.setattr(eo, "export", fake_export)
    emb = make_embedder(s.embed, tmp_path)
    assert calls == ["onnx"] and not emb.reused
    assert json.loads((folder / "export.json").read_text())["recipe"] == eo.RECIPE
    assert [p.name for p in (tmp_path / "models").iterdir()] == [folder.name]  # no temp or old folders left
    assert make_embedder(s.embed, tmp_path).reused and calls == ["onnx"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_word_vectors_agree_with_torch(backend, onnx_embedders, texts, embedder):
    """The decline model's word alignment (rag.relevance.alignment) reads the same words and vectors from either runtime."""
    picked = [texts[0], texts[-3], texts[-2]]  # an abstract and two queries
    for (w_onnx, v_onnx), (w_torch, v_torch) in zip(onnx_embedders[backend].word_vectors(picked), embedder.word_vectors(picked), strict=True):
        assert w_onnx == w_torch and len(w_onnx) > 2
        cos = (v_onnx * v_torch).sum(axis=1)
        assert cos.min() >= (0.999 if backend == "onnx" else 0.8), (backend, float(cos.min()))
    # sentence vectors from the pass that gives the word vectors are embed_batch's
    np.testing.assert_allclose(onnx_embedders[backend].embed_words(picked), onnx_embedders[backend].embed_batch(picked), atol=1e-5)
