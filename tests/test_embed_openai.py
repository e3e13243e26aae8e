"""``embed_backend = "openai"``: indexing and searching through a real OpenAI-compatible embeddings
server started here (``python -m llama_cpp.server --embedding true`` with the shipped SmolLM2 GGUF on
127.0.0.1), the server dying mid-build, a server that is down, and the pure logic of the client."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import openai
import pytest

from rag.corpus import load_corpus
from rag.embed_openai import OpenAIEmbedder, estimate_tokens, to_vectors
from rag.errors import EmbedderError, ModelMismatchError
from rag.pipeline import Pipeline

from .conftest import MANIFEST, ROOT, free_port
from .servers import LlamaServer, garbage_server
from .test_index import _small_manifest

MODEL = "smollm2-135m"


# -- pure logic ------------------------------------------------------------------------------
def _items(*vecs):
    return [SimpleNamespace(index=i, embedding=v) for i, v in enumerate(vecs)]


def test_vectors_are_put_in_input_order_and_normalized():
    data = list(reversed(_items([3.0, 4.0], [0.0, 2.0])))
    v = to_vectors(data, 2, "x")
    assert np.allclose(v, [[0.6, 0.8], [0.0, 1.0]])
    assert v.dtype == np.float32


def test_per_token_vectors_are_mean_pooled():
    v = to_vectors(_items([[1.0, 0.0], [0.0, 1.0]]), 1, "x")
    assert np.allclose(v, [[2 ** -0.5, 2 ** -0.5]])


@pytest.mark.parametrize("data,n", [
    (_items([1.0, 0.0]), 2),                      # fewer vectors than texts
    (_items([1.0, float("nan")]), 1),             # not finite
    (_items([]), 1),                              # empty
    (_items([1.0, 0.0], [1.0, 0.0, 0.0]), 2),     # ragged dimensions
    (_items([[1.0], [1.0, 2.0]]), 1),             # ragged per-token vectors
    (_items("not a vector"), 1),
])
def test_malformed_responses_are_an_embedder_error(data, n):
    with pytest.raises(EmbedderError, match="at http://srv"):
        to_vectors(data, n, "http://srv")


def test_token_estimate_never_undercounts_much_and_keeps_chunks_in_the_model_window():
    """Without the model's tokenizer, chunks are sized by an estimate: on every shipped abstract it
    is at least 95% of MiniLM's real count, so a 200-token chunk stays inside MiniLM's 256."""
    from tokenizers import Tokenizer

    from rag.embed import resolve_model_path

    tok = Tokenizer.from_file(resolve_model_path("all-MiniLM-L6-v2") + "/tokenizer.json")
    tok.no_truncation()
    ratios = [len(estimate_tokens(p.abstract)) / len(tok.encode(p.abstract, add_special_tokens=False).ids)
              for p in load_corpus(MANIFEST).papers if p.abstract]
    assert min(ratios) >= 0.95, min(ratios)
    assert np.median(ratios) < 1.5  # and not so high that chunks become needlessly small


@pytest.mark.parametrize("ctype,body,says", [
    ("text/html", b"<html><body>It works!</body></html>", "unreadable response"),
    ("application/json", b'{"object": "list", "data": []}', "unreadable response (ValueError: No embedding data"),
    ("application/json", b'{"object": "list", "data": [{"index": 0, "object": "embedding", "embedding": [0.1, null]}, '
                         b'{"index": 1, "object": "embedding", "embedding": [0.1, 0.2]}]}', "malformed vector"),
    ("application/json", b'{"object": "list", "data": [{"index": 0, "object": "embedding", "embedding": [0.1, 0.3]}]}',
     "returned 1 vectors for 2 texts"),
])
def test_a_server_answering_garbage_is_a_one_line_error(ctype, body, says):
    with garbage_server(body, ctype) as url, pytest.raises(EmbedderError) as err:
        OpenAIEmbedder("m", url, retries=0)
    assert says in str(err.value) and url in str(err.value) and "\n" not in str(err.value)


# -- a real server ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def emb_server(tmp_path_factory):
    srv = LlamaServer(tmp_path_factory.mktemp("llama-emb") / "server.log", "--embedding", "true")
    try:
        yield srv.wait()
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def shipped():
    return load_corpus(MANIFEST).papers


def _settings(settings_factory, tmp_path, url, manifest):
    return settings_factory(manifest=manifest, index_dir=tmp_path / "index", embed_backend="openai",
                            embed_base_url=url, embed_model=MODEL, embed_batch_size=8, embed_concurrency=2)


@pytest.mark.slow
def test_index_and_search_through_the_server(emb_server, tmp_path, settings_factory, shipped, embedder):
    papers = shipped[:24]
    settings = _settings(settings_factory, tmp_path, emb_server.url, _small_manifest(tmp_path, papers[:16], papers[16:]))
    pipe = Pipeline(settings)
    rep = pipe.index()
    assert (rep.added, rep.papers) == (24, 24)
    info = pipe.store().info()
    assert info["embed_model"] == f"openai:{MODEL}"
    assert pipe.embedder.dim == 576  # SmolLM2-135M's hidden size, learned from the server
    # llama-cpp-python's server gets batched embeddings wrong: detected at start, one text per request
    assert pipe.embedder.request_size == 1 and "one text per request" in pipe.embedder.notes[0]

    # the stored vectors are the server's vectors of the chunk texts
    got = pipe.store().chunks.get(limit=3, include=["documents", "embeddings", "metadatas"])
    client = openai.OpenAI(base_url=emb_server.url, api_key="none")
    for doc, vec, meta in zip(got["documents"], got["embeddings"], got["metadatas"], strict=True):
        raw = client.embeddings.create(model=MODEL, input=[f"title: {meta['title']}\n\n{doc}"]).data
        ref = to_vectors(raw, 1, emb_server.url)[0]
        assert float(np.dot(ref, np.asarray(vec, dtype=np.float32))) > 0.99

    # searching works end to end; an exact title is found (the keyword side sees it too)
    hits = pipe.retrieve(papers[5].title, k=3)
    assert hits[0].paper.id == papers[5].id
    dense = pipe.retrieve(papers[5].title, k=5, mode="dense")
    assert len(dense) == 5 and len({h.paper.id for h in dense}) == 5

    # a rerun embeds nothing; a local model is refused on this index until --full
    assert Pipeline(settings).index().chunks_embedded == 0
    with pytest.raises(ModelMismatchError, match=f"openai:{MODEL}"):
        Pipeline(settings, embedder=embedder).retrieve("anything")


@pytest.mark.slow
def test_server_dying_mid_build_loses_nothing(tmp_path, settings_factory, shipped):
    """Index 16 papers, then add 24 more and stop the server after the first embedded batch: a clear
    error, the 16 stay searchable; a restarted server (another port) finishes the job."""
    first = LlamaServer(tmp_path / "a.log", "--embedding", "true").wait()
    try:
        papers = shipped[30:70]
        settings = _settings(settings_factory, tmp_path, first.url, _small_manifest(tmp_path, papers[:8], papers[8:16]))
        assert Pipeline(settings).index().papers == 16
        _small_manifest(tmp_path, papers[:8], papers[8:])

        def progress(done, total, what):
            if what == "embedding" and done > 0:
                first.stop()

        with pytest.raises(EmbedderError, match="cannot be reached.*rerun"):
            Pipeline(settings).index(progress=progress)
    finally:
        first.stop()
    second = LlamaServer(tmp_path / "b.log", "--embedding", "true").wait()
    try:
        settings = settings.model_copy(update={"embed_base_url": second.url})
        pipe = Pipeline(settings)
        assert pipe.store().count() == 16
        assert pipe.retrieve(papers[3].title, k=1)[0].paper.id == papers[3].id
        rep = Pipeline(settings).index()
        assert (rep.added, rep.papers) == (24, 40)
    finally:
        second.stop()


@pytest.mark.slow
def test_cli_with_the_server_down_gives_one_line_error(tmp_path):
    env = {**os.environ, "RAG_INDEX_DIR": str(tmp_path / "index"), "RAG_EMBED_BACKEND": "openai",
           "RAG_EMBED_BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "RAG_EMBED_MODEL": MODEL}
    for args in (["search", "graph neural networks", "--json"], ["index"]):
        r = subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "Traceback" not in r.stderr
        assert "error: the embedding server at http://127.0.0.1:" in r.stderr and "cannot be reached" in r.stderr


def test_cli_without_base_url_is_a_config_error(tmp_path):
    env = {**os.environ, "RAG_INDEX_DIR": str(tmp_path / "index"), "RAG_EMBED_BACKEND": "openai"}
    env.pop("RAG_EMBED_BASE_URL", None)
    r = subprocess.run([sys.executable, "-m", "rag", "search", "x", "--json"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 1 and "RAG_EMBED_BASE_URL" in r.stderr and "Traceback" not in r.stderr
