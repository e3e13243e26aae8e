"""``rag doctor`` on the small fixture index, a dead Chroma server, a missing index, a broken and
a crashing local model, and (slow) the real local model."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from rag import doctor
from rag.cli import main
from rag.pipeline import Pipeline

from .conftest import HashEmbedder, free_port


def _by_name(checks):
    return {c.name: c for c in checks}


def test_healthy_small_index_passes_every_check(small_pipeline):
    got = _by_name(doctor.run_checks(small_pipeline, local_model=False))
    assert list(got) == ["embedding model", "chroma store", "index", "browser for UI tests"]
    assert got["embedding model"].status == "ok" and "all-MiniLM-L6-v2" in got["embedding model"].detail
    assert got["chroma store"].status == "ok"
    assert got["index"].status == "ok" and got["index"].detail.startswith("30 papers") and "model hash-bow" in got["index"].detail
    browser = got["browser for UI tests"]
    assert browser.status in ("ok", "fail", "skip") and (browser.status != "fail" or "chromium" in browser.remedy)


def test_index_behind_its_sources_is_a_warning_with_the_remedy(small_index, small_papers, tmp_path):
    from .conftest import write_jsonl_manifest

    settings = small_index.model_copy(update={"manifest": write_jsonl_manifest(tmp_path, small_papers[:20])})
    c = doctor.check_index(Pipeline(settings, embedder=HashEmbedder()))
    assert c.status == "warn" and "sources: 20 papers" in c.detail and "rag index" in c.remedy


def test_missing_index_and_unknown_model_fail_with_remedies(settings_factory, tmp_path):
    settings = settings_factory(index_dir=tmp_path / "index", embed_model="no-such-model")
    assert doctor.check_embedding_model(settings.embed).status == "fail"
    c = doctor.check_index(Pipeline(settings, embedder=HashEmbedder()))
    assert c.status == "fail" and "rag index" in c.remedy


def test_dead_chroma_server_fails_and_the_index_is_not_checked(settings_factory, tmp_path):
    settings = settings_factory(index_dir=tmp_path / "index", chroma_url=f"http://127.0.0.1:{free_port()}")
    got = _by_name(doctor.run_checks(Pipeline(settings, embedder=HashEmbedder()), local_model=False))
    assert got["chroma store"].status == "fail" and "not reachable" in got["chroma store"].detail
    assert "RAG_CHROMA_URL" in got["chroma store"].remedy
    assert got["index"].status == "skip"


def test_broken_model_file_and_a_native_crash_are_failed_checks(settings_factory, tmp_path, monkeypatch):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    c = doctor.check_local_model(settings_factory(llm_model_path=bad).answer)
    assert c.status == "fail" and "broken.gguf" in c.detail and "RAG_LLM_MODEL_PATH" in c.remedy
    monkeypatch.setattr(doctor, "PROBE", "import os; os.abort()")
    c = doctor.check_local_model(settings_factory().answer)
    assert c.status == "fail" and "crashed (SIGABRT)" in c.detail and "llama-cpp-python" in c.remedy


def test_cli_prints_one_line_per_check_and_exit_code(small_pipeline, settings_factory, tmp_path):
    r = CliRunner().invoke(main, ["doctor", "--no-llm"], obj={"pipeline": small_pipeline})
    lines = r.output.strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("OK    embedding model:"), r.output
    assert r.exit_code == (1 if any(line.startswith("FAIL") for line in lines) else 0)
    dead = Pipeline(settings_factory(index_dir=tmp_path / "i", chroma_url=f"http://127.0.0.1:{free_port()}"), embedder=HashEmbedder())
    r = CliRunner().invoke(main, ["doctor", "--no-llm", "--json"], obj={"pipeline": dead})
    assert r.exit_code == 1
    assert {c["name"]: c["status"] for c in json.loads(r.output)}["chroma store"] == "fail"


@pytest.mark.slow
def test_real_local_model_generates_a_token(settings_factory):
    c = doctor.check_local_model(settings_factory().answer)
    assert c.status == "ok" and "SmolLM2" in c.detail, c
