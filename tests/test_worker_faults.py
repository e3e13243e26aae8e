"""The local model's worker process really dying (a segmentation fault mid-answer, SIGKILL, a
hang past the timeout) while the Python API and the chat UI (a real Gradio server in this
process) keep answering: the answer falls back to extractive with a warning, this process lives
on, and the next question starts a new worker and gets a model answer again."""

from __future__ import annotations

import os

import pytest

from .conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword")]

QUESTION = "Which model learns to keep only a small task-specific subset of input elements, trained end to end?"


@pytest.fixture
def fault(tmp_path, monkeypatch):
    """Write a fault for the next request of a worker started after this point."""
    path = tmp_path / "fault"
    monkeypatch.setenv("RAG_LLM_FAULT_FILE", str(path))

    def arm(what: str) -> None:
        path.write_text(what)

    return arm


@pytest.fixture
def local_pipeline(built_index, embedder):
    from rag.pipeline import Pipeline

    pipe = Pipeline(built_index.model_copy(update={"backend": "local", "llm_timeout": 20.0}), embedder=embedder)
    yield pipe
    pipe.generator("local").close()


@pytest.mark.parametrize("what, says", [("segv", "SIGSEGV"), ("kill", "SIGKILL"), ("hang", "did not answer within")])
def test_api_survives_a_dying_worker_and_recovers(local_pipeline, fault, what, says):
    gen = local_pipeline.generator("local")
    fault(what)
    bad = local_pipeline.answer(QUESTION)
    assert bad.backend == "extractive" and bad.backend_failed and says in bad.fallback
    assert bad.citations and "\n" not in bad.fallback  # still a full, cited extractive answer
    assert gen.pid is None  # the dead or hung worker is gone
    good = local_pipeline.answer(QUESTION)
    assert not good.backend_failed and gen.pid is not None and gen.starts == 2
    assert good.citations


def test_ui_survives_a_segfaulting_and_a_hanging_worker(local_pipeline, fault):
    from gradio_client import Client

    from ui.app import create_app, launch

    app = create_app(local_pipeline)
    port = free_port()
    launch(app, local_pipeline.settings.ui, "127.0.0.1", port, block=False, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)

        def ask() -> str:
            out = client.predict(QUESTION, [], "local", 5, [], "Any", [], api_name="/chat")
            history = out[0]
            return str([m for m in history if m["role"] == "assistant"][-1]["content"])

        for what in ("segv", "hang"):
            fault(what)
            text = ask()
            assert "extractive answer" in text and ("SIGSEGV" in text or "did not answer" in text)
            assert "[1]" in text
        gen = local_pipeline.generator("local")
        text = ask()
        assert "warning" not in text.lower() and "[1]" in text and gen.pid is not None
        assert os.getpid() and gen.starts >= 2  # this process (the UI's) is alive and a new worker answered
    finally:
        app.close()
