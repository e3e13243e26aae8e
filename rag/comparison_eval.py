"""Scoring comparison tables against labels written from the abstracts alone
(``eval/compare_labels.jsonl``: one paper a line, ``{"id", "title", "problem": {"text", "key_terms"},
"method": …, "data": …, "result": …}``).

- **cell accuracy**: over labelled cells (non-empty label text), the share whose cell text contains
  every labelled key term (case-insensitive, whitespace and dashes normalized);
- **cell accuracy, loose** (``cell_accuracy_loose``): the same, but a hyphen matches a space and a
  plural its singular ("layerwise sparsity" is in "the layerwise sparsities", "over-squashing" in
  "over squashing"): spelling variants, not a different meaning. Reported beside the strict figure;
- **sentence accuracy** (diagnostic): the same test on the cell's source sentence;
- **empty-cell precision**: of the cells left empty, the share whose label is empty too;
- with a model: how many cells the model wrote, and how many of those shown are not supported by
  the abstract (re-checked here; zero by construction).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .comparison import DEFAULT_COLUMNS
from .errors import ConfigError
from .evaluate import read_records
from .models import normalize_title


def is_label_file(path: Path) -> bool:
    """Whether ``path`` holds comparison labels (rather than questions)."""
    try:
        with Path(path).open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    d = json.loads(line)
                    return isinstance(d, dict) and "question" not in d and any(c in d for c in DEFAULT_COLUMNS)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return False


def _label(d: dict, n: int) -> dict:
    cells = {c: {"text": str((d.get(c) or {}).get("text") or ""), "key_terms": [str(t) for t in (d.get(c) or {}).get("key_terms") or []]}
             for c in DEFAULT_COLUMNS}
    return {"id": d.get("id"), "title": str(d.get("title") or ""), "cells": cells}


def load_labels(path: Path) -> list[dict]:
    return read_records(path, "label", _label)


def _norm(text: str) -> str:
    text = re.sub(r"[‐-―−]", "-", text or "").lower()
    return " ".join(text.split())


def contains_terms(text: str, terms: list[str]) -> bool:
    t = _norm(text)
    return all(_norm(k) in t for k in terms)


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _loose(text: str) -> str:
    return " " + " ".join(_singular(w) for w in re.split(r"[\s-]+", _norm(text)) if w) + " "


def contains_terms_loose(text: str, terms: list[str]) -> bool:
    """:func:`contains_terms` up to hyphenation and plurals (a key term may still end inside a word)."""
    t = _loose(text)
    return all(_loose(k).rstrip() in t for k in terms)


def labelled_papers(papers, labels: list[dict]) -> list:
    """The paper of each label among ``papers``, by id or else by title; a label whose paper is missing is an error."""
    by_id = {p.id: p for p in papers}
    by_title = {normalize_title(p.title): p for p in papers}
    out = []
    for lab in labels:
        p = by_id.get(lab["id"]) if lab["id"] else None
        p = p or by_title.get(normalize_title(lab["title"]))
        if p is None:
            raise ConfigError(f"labelled paper {lab['id'] or lab['title']!r} is not in the index")
        out.append(p)
    return out


def eval_compare(pipeline, labels: list[dict], backend: str = "extractive") -> dict:
    """Scores of the tables ``backend`` makes for the labelled papers (5 papers a table), with every miss."""
    from .comparison import paper_texts
    from .support import check_support

    papers = labelled_papers(pipeline.retriever.papers, labels)
    per_col = {c: [0, 0] for c in DEFAULT_COLUMNS}
    loose = {c: 0 for c in DEFAULT_COLUMNS}
    sent_ok = labelled = empty = empty_ok = model_cells = unsupported = 0
    misses = []
    for at in range(0, len(papers), 5):
        table = pipeline.compare([p.id for p in papers[at:at + 5]], backend=backend)
        for row, lab in zip(table.rows, labels[at:at + 5], strict=True):
            texts = paper_texts(pipeline).get_many([row.paper])
            for c in DEFAULT_COLUMNS:
                cell, want = row.cells[c], lab["cells"][c]
                if cell.by == "model":
                    model_cells += 1
                    vec = paper_texts(pipeline).embed(texts, [cell.text])[0]
                    unsupported += not check_support(cell.text, vec, texts).supported
                if not cell.text:
                    empty += 1
                    empty_ok += not want["text"]
                if not want["text"]:
                    continue
                labelled += 1
                ok = contains_terms(cell.text, want["key_terms"])
                loose[c] += ok or contains_terms_loose(cell.text, want["key_terms"])
                per_col[c][0] += ok
                per_col[c][1] += 1
                sent_ok += contains_terms(cell.sentence, want["key_terms"])
                if not ok:
                    misses.append({"id": row.id, "column": c, "key_terms": want["key_terms"], "cell": cell.text, "by": cell.by})
    correct = sum(v[0] for v in per_col.values())
    return {"backend": backend, "papers": len(papers), "labelled_cells": labelled,
            "cell_accuracy": round(correct / labelled, 3) if labelled else 0.0,
            "per_column": {c: round(v[0] / v[1], 3) if v[1] else None for c, v in per_col.items()},
            "cell_accuracy_loose": round(sum(loose.values()) / labelled, 3) if labelled else 0.0,
            "per_column_loose": {c: round(loose[c] / v[1], 3) if v[1] else None for c, v in per_col.items()},
            "sentence_accuracy": round(sent_ok / labelled, 3) if labelled else 0.0,
            "empty_cells": empty, "empty_cell_precision": round(empty_ok / empty, 3) if empty else None,
            "model_cells": model_cells, "model_cells_unsupported": unsupported, "misses": misses}


def format_compare(results: dict[str, dict]) -> str:
    head = f"{'backend':<11} {'cell acc':>8} {'loose':>6} {'problem':>8} {'method':>8} {'data':>8} {'result':>8} {'sent acc':>8} {'empty':>6} {'empty P':>8} {'model':>6} {'unsup':>6}"
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        pc = r["per_column"]
        f = lambda x: "–" if x is None else f"{x:.3f}"  # noqa: E731
        lines.append(f"{name:<11} {r['cell_accuracy']:>8.3f} {r['cell_accuracy_loose']:>6.3f} {f(pc['problem']):>8} {f(pc['method']):>8} {f(pc['data']):>8} "
                     f"{f(pc['result']):>8} {r['sentence_accuracy']:>8.3f} {r['empty_cells']:>6} {f(r['empty_cell_precision']):>8} "
                     f"{r['model_cells']:>6} {r['model_cells_unsupported']:>6}")
    return "\n".join(lines)
