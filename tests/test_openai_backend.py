"""The ``openai`` backend against a real OpenAI-compatible server started here
(``python -m llama_cpp.server`` with the shipped SmolLM2 GGUF on 127.0.0.1), including the
server dying mid-answer, a server that is down, and a server that answers garbage."""

from __future__ import annotations

import importlib

import pytest

from rag.errors import GeneratorError
from rag.generate import OpenAIGenerator
from rag.support import parse_markers

from .conftest import free_port
from .servers import LlamaServer, garbage_server

pytestmark = pytest.mark.slow
A = importlib.import_module("rag.answering")
QUESTION = "Which pretrained model of programming languages uses data flow between variables instead of the syntax tree?"
GOLD = "GraphCodeBERT: Pre-training Code Representations with Data Flow"



@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LlamaServer(tmp_path_factory.mktemp("llama") / "server.log")
    try:
        yield srv.wait()
    finally:
        srv.stop()


def openai_pipeline(built_index, embedder, url: str, **kw):
    from rag.pipeline import Pipeline

    update = {"backend": "openai", "openai_base_url": url, "openai_model": "smollm2", "openai_timeout": 60.0,
              "llm_max_tokens": 72, **kw}
    return Pipeline(built_index.model_copy(update=update), embedder=embedder)


def check_answer(ans):
    retrieved = {h.paper.id for h in ans.retrieved}
    assert all(c.paper.id in retrieved for c in ans.citations)
    assert set(parse_markers(ans.text)) == {c.n for c in ans.citations}


def test_generator_streams_from_the_server(server, built_index):
    gen = OpenAIGenerator(built_index.model_copy(update={"openai_base_url": server.url, "openai_model": "smollm2"}).answer)
    pieces = list(gen.stream([{"role": "user", "content": "Say hello in one short sentence."}], max_tokens=16, temperature=0.0))
    assert len(pieces) >= 2 and "".join(pieces).strip()


def test_answer_through_the_openai_backend(server, built_index, embedder):
    pipe = openai_pipeline(built_index, embedder, server.url)
    ans = pipe.answer(QUESTION)
    assert ans.requested_backend == "openai" and not ans.refused
    check_answer(ans)
    assert GOLD in [c.paper.title for c in ans.citations]
    # the small model may write nothing its sources support; the server itself must not have failed
    if ans.fallback:
        assert ans.backend == "extractive" and ans.fallback.startswith("no sentence")
    else:
        assert ans.backend == "openai"


def test_server_killed_mid_answer_gives_extractive_answer(tmp_path, built_index, embedder):
    srv = LlamaServer(tmp_path / "server.log").wait()
    try:
        pipe = openai_pipeline(built_index, embedder, srv.url, llm_max_tokens=400)
        gen = pipe.generator("openai")
        real = gen.stream
        seen = []

        def dies_after_first_piece(messages, **kw):
            it = real(messages, **kw)
            first = next(it)
            srv.proc.kill()
            srv.proc.wait(10)
            seen.append(first)
            yield first
            yield from it

        gen.stream = dies_after_first_piece
        items = list(pipe.stream(QUESTION))
    finally:
        srv.stop()
    ans = items[-1]
    assert seen, "the server never started answering"
    assert isinstance(ans, A.Answer)
    assert ans.backend == "extractive" and ans.requested_backend == "openai"
    assert ans.fallback.startswith(f"model server at {srv.url} stopped mid-answer") and ans.fallback.endswith("; extractive answer")
    assert "\n" not in ans.fallback and "Traceback" not in ans.fallback
    assert ans.text and GOLD in [c.paper.title for c in ans.citations]
    check_answer(ans)


def test_server_down_gives_extractive_answer(built_index, embedder):
    pipe = openai_pipeline(built_index, embedder, f"http://127.0.0.1:{free_port()}/v1")
    ans = pipe.answer(QUESTION)
    assert ans.backend == "extractive"
    assert ans.fallback == f"model server at {pipe.settings.answer.openai_base_url} is unreachable; extractive answer"
    assert GOLD in [c.paper.title for c in ans.citations]
    check_answer(ans)


@pytest.mark.parametrize("ctype,body", [
    ("text/html", b"<html><body>It works!</body></html>"),
    ("text/event-stream", b"data: {this is not json\n\ndata: [DONE]\n\n"),
    ("text/event-stream", b'data: {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": []}\n\ndata: [DONE]\n\n'),
])
def test_garbage_from_the_server_is_one_line_error_and_fallback(built_index, embedder, ctype, body):
    with garbage_server(body, ctype) as url:
        gen = OpenAIGenerator(built_index.model_copy(update={"openai_base_url": url}).answer)
        with pytest.raises(GeneratorError) as err:
            list(gen.stream([{"role": "user", "content": "hi"}], max_tokens=8, temperature=0.0))
        assert "\n" not in str(err.value) and url in str(err.value)
        ans = openai_pipeline(built_index, embedder, url).answer(QUESTION)
        assert ans.backend == "extractive" and ans.fallback.endswith("; extractive answer")
        check_answer(ans)


def test_cli_ask_with_dead_server_prints_one_line_warning(built_index):
    from click.testing import CliRunner

    from rag.cli import main

    env = {"RAG_INDEX_DIR": str(built_index.index.index_dir), "RAG_MANIFEST": str(built_index.corpus.manifest),
           "RAG_OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "RAG_BACKEND": "openai"}
    res = CliRunner().invoke(main, ["ask", QUESTION], env=env)
    assert res.exit_code == 0, res.output
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "unreachable" in warnings[0]
    assert "Traceback" not in res.stderr
    assert "Sources:" in res.stdout and GOLD in res.stdout
    js = CliRunner().invoke(main, ["ask", QUESTION, "--json", "--backend", "extractive"], env=env)
    assert js.exit_code == 0
    import json

    d = json.loads(js.stdout)
    assert set(d) >= {"answer", "refused", "citations", "backend"} and d["backend"] == "extractive"
    assert set(d["citations"][0]) >= {"n", "id", "title", "authors", "venue", "year"}
