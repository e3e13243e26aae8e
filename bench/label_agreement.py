"""How well two blind label writers agree on the same papers, on the measure ``rag eval`` applies to comparison cells.

    python bench/label_agreement.py eval/compare_labels_holdout11.jsonl eval/compare_labels_holdout11b.jsonl

A cell of writer A is "right" for writer B when the abstract sentence holding A's key terms also holds B's key
terms (:func:`rag.comparison_eval.contains_terms`): what the extractive table would score if it chose the sentence
writer A chose. Printed both ways, per column; a cell B labels and A leaves empty counts as a miss. This is the
ceiling a one-sentence cell can be expected to reach on such labels (README "Evaluation", eleventh round).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.comparison import DEFAULT_COLUMNS  # noqa: E402
from rag.comparison_eval import contains_terms, labelled_papers, load_labels  # noqa: E402
from rag.corpus import load_corpus  # noqa: E402
from rag.text import split_sentences  # noqa: E402


def sentence_with(abstract: str, terms: list[str]) -> str | None:
    """The first sentence of ``abstract`` holding every one of ``terms``."""
    return next((s for s in split_sentences(abstract) if contains_terms(s, terms)), None)


def agreement(a: list[dict], b: list[dict], abstracts: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Per column (and ``"all"``): (cells of ``b`` that ``a``'s sentence holds, cells ``b`` labels)."""
    by_b = {lab["id"]: lab for lab in b}
    out = {c: (0, 0) for c in (*DEFAULT_COLUMNS, "all")}
    for lab in a:
        other = by_b.get(lab["id"])
        if other is None:
            continue
        for c in DEFAULT_COLUMNS:
            mine, want = lab["cells"][c], other["cells"][c]
            if not want["text"]:
                continue
            s = sentence_with(abstracts[lab["id"]], mine["key_terms"]) if mine["text"] else None
            ok = s is not None and contains_terms(s, want["key_terms"])
            for k in (c, "all"):
                out[k] = (out[k][0] + ok, out[k][1] + 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    args = ap.parse_args()
    a, b = load_labels(args.a), load_labels(args.b)
    papers = load_corpus(ROOT / "data" / "sources.toml").papers
    abstracts = {lab["id"]: p.abstract for lab, p in zip((*a, *b), labelled_papers(papers, [*a, *b]), strict=True)}
    print("| A's sentence scored on B's terms | " + " | ".join((*DEFAULT_COLUMNS, "all")) + " |")
    print("|---|" + "---:|" * (len(DEFAULT_COLUMNS) + 1))
    for name, x, y in ((f"{args.a.name} on {args.b.name}", a, b), (f"{args.b.name} on {args.a.name}", b, a)):
        r = agreement(x, y, abstracts)
        print(f"| {name} | " + " | ".join(f"{k / n:.3f} ({k}/{n})" if n else "–" for k, n in r.values()) + " |")


if __name__ == "__main__":
    main()
