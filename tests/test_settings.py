"""The settings tree: flat ``RAG_*`` names and flat keywords reach their section, ``.env`` is read,
every field is described, and the backend lists come from the registries."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from rag.embed import EMBEDDERS
from rag.generate import GENERATORS
from rag.settings import FIELD_SECTION, SECTIONS, RetrievalSettings, Settings


def test_flat_variables_and_dotenv_reach_their_sections(monkeypatch, tmp_path):
    for var in [v for v in os.environ if v.upper().startswith("RAG_")]:
        monkeypatch.delenv(var)
    env = tmp_path / ".env"
    env.write_text("RAG_COLLECTION=from-dotenv\nRAG_K=9\n")
    monkeypatch.setenv("RAG_K", "7")
    monkeypatch.setenv("rag_backend", "extractive")  # case does not matter, as before
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "idx"))
    s = Settings(_env_file=env)
    assert (s.retrieval.k, s.answer.backend, s.index.index_dir, s.index.collection) == (7, "extractive", tmp_path / "idx", "from-dotenv")
    assert Settings(_env_file=env, k=3).retrieval.k == 3  # a keyword beats the environment
    monkeypatch.delenv("RAG_K")
    assert Settings(_env_file=env).retrieval.k == 9
    assert Settings(_env_file=None).retrieval.k == RetrievalSettings().k == 5
    monkeypatch.setenv("RAG_K", "many")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_flat_keywords_and_copies_route_to_their_section():
    s = Settings(_env_file=None, k=3, backend="extractive", prf_weight=0.0, ui_port=8000)
    assert (s.retrieval.k, s.answer.backend, s.retrieval.prf_weight, s.ui.ui_port) == (3, "extractive", 0.0, 8000)
    both = Settings(_env_file=None, retrieval=RetrievalSettings(k=4), prf_weight=0.1)
    assert (both.retrieval.k, both.retrieval.prf_weight) == (4, 0.1)
    c = s.model_copy(update={"k": 8, "backend": "local"})
    assert (c.retrieval.k, c.answer.backend, c.retrieval.prf_weight) == (8, "local", 0.0)
    assert (s.retrieval.k, s.answer.backend) == (3, "extractive")  # the original is unchanged
    with pytest.raises(ValidationError):
        s.retrieval.k = 2  # sections are immutable: change a copy


def test_every_field_is_described_and_in_exactly_one_section():
    assert set(SECTIONS) == {"corpus", "index", "embed", "retrieval", "answer", "ui"}
    assert all(f.description for f in Settings.model_fields.values())
    names = [n for model in SECTIONS.values() for n in model.model_fields]
    assert len(names) == len(set(names)) == len(FIELD_SECTION)
    for sec, model in SECTIONS.items():
        for name, f in model.model_fields.items():
            assert f.description, f"{sec}.{name} has no description"
            assert FIELD_SECTION[name] == sec


def test_backend_choices_are_the_registries():
    from rag.cli import main

    assert Settings(_env_file=None, embed_backend="onnx-int8").embed.embed_backend == "onnx-int8"
    with pytest.raises(ValidationError, match="'torch', 'onnx', 'onnx-int8' or 'openai'"):
        Settings(_env_file=None, embed_backend="tensorflow")
    with pytest.raises(ValidationError):
        Settings(_env_file=None, backend="gpt")
    assert list(EMBEDDERS) == ["torch", "onnx", "onnx-int8", "openai"]
    ask = next(p for p in main.commands["ask"].params if p.name == "backend")
    assert list(ask.type.choices) == list(GENERATORS) == ["local", "openai", "extractive"]
