"""The command line's edges: commands registered by other packages (``rag ui`` from ``ui``) and
unknown ``RAG_*`` variables reported with the closest valid name."""

from __future__ import annotations

from click.testing import CliRunner

from rag.cli import main
from rag.settings import unknown_env_vars

from .conftest import MANIFEST


def test_ui_command_comes_from_the_ui_package():
    import ui.cli

    ctx = main.make_context("rag", ["stats"])
    assert main.get_command(ctx, "ui") is ui.cli.ui_cmd
    assert "ui" in main.list_commands(ctx) and "stats" in main.list_commands(ctx)
    r = CliRunner().invoke(main, ["ui", "--help"])
    assert r.exit_code == 0 and "--port" in r.output and "chat UI" in r.output
    r = CliRunner().invoke(main, ["--help"])
    assert r.exit_code == 0 and " ui " in r.output


def test_unknown_command_is_still_a_usage_error():
    r = CliRunner().invoke(main, ["uii"])
    assert r.exit_code == 2 and "No such command" in r.output


def test_unknown_rag_variables_get_the_closest_valid_name():
    msgs = unknown_env_vars({"RAG_BACKNED": "openai", "RAG_INDEX_DIR": "x", "rag_k": "3", "RAG_ZZZ_QQQ": "1", "HOME": "/"})
    assert msgs == ["unknown setting RAG_BACKNED is ignored; did you mean RAG_BACKEND?",
                    "unknown setting RAG_ZZZ_QQQ is ignored; see rag/settings.py for the valid names"]
    assert unknown_env_vars({"RAG_EMBED_BACKNED": "onnx"}) == ["unknown setting RAG_EMBED_BACKNED is ignored; did you mean RAG_EMBED_BACKEND?"]
    # read by rag.model_parts and the model worker, not settings: no false warning
    assert unknown_env_vars({"RAG_MODEL_CACHE": "/tmp/m", "RAG_LLM_FAULT_FILE": "/tmp/f"}) == []


def test_cli_warns_about_a_typo_and_still_runs():
    r = CliRunner().invoke(main, ["stats", "--json"], env={"RAG_MANIFEST": str(MANIFEST), "RAG_BACKNED": "openai"})
    assert r.exit_code == 0
    assert "warning: unknown setting RAG_BACKNED is ignored; did you mean RAG_BACKEND?" in r.output
