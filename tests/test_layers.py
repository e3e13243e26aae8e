"""The import graph, read from the source with ``ast`` (nothing is imported): layers point down
(``rag`` never imports ``ui``), Chroma is reached only through ``rag/store.py`` and llama.cpp only
through ``rag/generate*.py``."""

from __future__ import annotations

import ast
from fnmatch import fnmatch
from pathlib import Path

import pytest

from .conftest import ROOT


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (also inside functions), as absolute dotted names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                out.add(".".join([*base, node.module] if node.module else base))
            else:
                out.add(node.module or "")
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module" \
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            out.add(node.args[0].value)  # importlib.import_module("x") counts too
    return out


def _files(*dirs: str) -> list[Path]:
    return sorted(p for d in dirs for p in (ROOT / d).rglob("*.py"))


def _importers(top: str, *dirs: str) -> dict[str, set[str]]:
    """file → the modules under ``top`` it imports, for every file of ``dirs`` that does."""
    out = {}
    for f in _files(*dirs):
        hits = {m for m in imported_modules(f) if m == top or m.startswith(top + ".")}
        if hits:
            out[str(f.relative_to(ROOT))] = hits
    return out


def test_the_parser_sees_every_form_of_import(tmp_path, monkeypatch):
    pkg = tmp_path / "rag"
    pkg.mkdir()
    f = pkg / "x.py"
    f.write_text("import ui.app\nfrom chromadb.errors import E\ndef f():\n    from .store import S\n    from . import models\n"
                 "    import importlib\n    importlib.import_module('llama_cpp')\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert imported_modules(f) == {"ui.app", "chromadb.errors", "rag.store", "rag", "importlib", "llama_cpp"}


def test_rag_never_imports_ui():
    assert _importers("ui", "rag") == {}


@pytest.mark.parametrize("top,allowed", [("chromadb", "rag/store.py"), ("llama_cpp", "rag/generate*.py")])
def test_native_libraries_are_reached_through_one_module(top, allowed):
    outside = {f: m for f, m in _importers(top, "rag", "ui").items() if not fnmatch(f, allowed)}
    assert outside == {}, f"{top} imported outside {allowed}"


# What the UI may reach of a pipeline: its public methods (answer, stream, similar, compare, topics,
# catalog, corpus, index, refresh, settings), never its parts.
PIPELINE_INTERNALS = {"retriever", "store", "store_errors", "client", "embedder", "query_embedder", "answer_parts", "generator"}


def internal_reads(path: Path) -> list[str]:
    """``line: .name`` for every attribute read of a pipeline part (``pipeline.retriever``,
    ``self.pipeline.store(...)``, ``getattr(p, "retriever")``) in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PIPELINE_INTERNALS:
            out.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "getattr" and len(node.args) >= 2 \
                and isinstance(node.args[1], ast.Constant) and node.args[1].value in PIPELINE_INTERNALS:
            out.append(f"{node.lineno}: .{node.args[1].value}")
    return sorted(out, key=lambda s: int(s.split(":")[0]))


def test_the_internals_check_sees_every_form(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("def f(pipeline, self):\n    a = pipeline.retriever.papers\n    b = self.pipeline.store(create=False).info()\n"
                 "    c = getattr(pipeline, 'retriever')\n    return pipeline.catalog().papers, pipeline.answer('q')\n")
    assert internal_reads(f) == ["2: .retriever", "3: .store", "4: .retriever"]


def test_ui_uses_the_pipeline_through_its_public_api():
    """The UI reads papers, venues, sources and index information from ``pipeline.catalog()``."""
    found = {str(f.relative_to(ROOT)): r for f in _files("ui") if (r := internal_reads(f))}
    assert found == {}, "ui/ reaches into the pipeline's parts; use pipeline.catalog() or another public method"
