"""Where the shipped files and the default index are.

From a checkout (``pyproject.toml`` beside ``rag/``): ``prompts/`` and ``data/`` of the checkout, and
``index/`` in it. From an installed wheel: the copies the wheel carries inside the package
(``rag/_prompts``, ``rag/_data``, see ``[tool.setuptools]`` in pyproject.toml), found with
:mod:`importlib.resources`, and the index in the user's data directory (``RAG_INDEX_DIR`` overrides it).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "paper-rag"


def in_checkout() -> bool:
    """True when running from a source checkout (or an editable install of one)."""
    return (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "rag" / "resources.py").is_file()


def shipped(name: str) -> Path:
    """The directory of shipped files ``name`` (``prompts`` or ``data``)."""
    if in_checkout() and (PROJECT_ROOT / name).is_dir():
        return PROJECT_ROOT / name
    return Path(str(files("rag") / f"_{name}"))


def default_index_dir() -> Path:
    """``index/`` of a checkout, else ``<user data dir>/paper-rag/index``."""
    if in_checkout():
        return PROJECT_ROOT / "index"
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME)) / "index"
