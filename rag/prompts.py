"""Prompt templates: files in ``prompts/`` rendered strictly.

Templates use ``string.Template`` placeholders (``$name`` or ``${name}``). Rendering is strict both
ways: a variable the template needs but is not given, a variable given but not used, and a
malformed placeholder are all :class:`~rag.errors.ConfigError`. Values are inserted verbatim and
never re-parsed, so a ``$`` inside an abstract is harmless.

Retrieved text is data: :func:`evidence_block` wraps each paper in ``<paper id=N> … </paper>`` and
removes anything inside it that could close or open such a tag.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path

from .errors import ConfigError
from .resources import shipped

PROMPT_DIR = shipped("prompts")

_TAG = re.compile(r"<\s*/?\s*paper\b[^>]*>?", re.IGNORECASE)


@lru_cache(maxsize=32)
def _load(name: str, directory: str) -> string.Template:
    path = Path(directory) / f"{name}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"prompt template {path} cannot be read: {e}") from e
    tpl = string.Template(text)
    if not tpl.is_valid():
        raise ConfigError(f"prompt template {path} has a malformed placeholder (use $name or ${{name}}; $$ for a dollar)")
    return tpl


def template_names(directory: Path = PROMPT_DIR) -> list[str]:
    """Every template in ``directory`` (file stem of each ``*.txt``)."""
    return sorted(p.stem for p in Path(directory).glob("*.txt"))


def variables(name: str, directory: Path = PROMPT_DIR) -> set[str]:
    """The variables template ``name`` needs."""
    return set(_load(name, str(directory)).get_identifiers())


def all_variables(directory: Path = PROMPT_DIR) -> dict[str, set[str]]:
    """Template name → the variables it needs, for every template."""
    return {n: variables(n, directory) for n in template_names(directory)}


def render(name: str, directory: Path = PROMPT_DIR, /, **values: object) -> str:
    """Template ``name`` with exactly its variables filled in; anything missing or extra is an error."""
    need = variables(name, directory)
    missing, extra = need - set(values), set(values) - need
    if missing:
        raise ConfigError(f"prompt {name!r}: missing variable(s) {', '.join(sorted(missing))}")
    if extra:
        raise ConfigError(f"prompt {name!r}: unknown variable(s) {', '.join(sorted(extra))} (it uses {', '.join(sorted(need)) or 'none'})")
    return _load(name, str(directory)).substitute({k: str(v) for k, v in values.items()})


def as_data(text: str) -> str:
    """Text safe to place inside a ``<paper>`` block: no tag that could close or open one."""
    return _TAG.sub(" ", text or "").strip()


def evidence_block(n: int, title: str, details: str, text: str, directory: Path = PROMPT_DIR) -> str:
    """One numbered source in its delimiters."""
    return render("evidence", directory, n=n, title=as_data(title), details=as_data(details), text=as_data(text))


def answer_messages(question: str, blocks: list[str], source_ids: list[int], *, max_sentences: int,
                    directory: Path = PROMPT_DIR) -> list[dict]:
    """The chat messages asking for an answer from numbered sources."""
    ids = ", ".join(f"[{i}]" for i in source_ids)
    system = render("answer_system", directory, max_sentences=max_sentences, source_ids=ids)
    user = render("answer_user", directory, sources="\n\n".join(blocks), question=as_data(question), max_sentences=max_sentences)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
