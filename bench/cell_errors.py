"""Where comparison cells go wrong, per column: the extractive table of every labelled paper (5 papers a table,
as ``rag eval`` builds them), each labelled cell sorted into one outcome.

    python bench/cell_errors.py [LABELS.jsonl ...] [--misses]     # default: the two tuning files in eval/

Outcomes of a labelled cell (a label with text): ``ok`` (the cell holds every key term, as ``rag eval`` tests it);
``wrong sentence`` (another sentence of the abstract holds them, the chosen one does not); ``span cut`` (the chosen
sentence holds them, the cell's span lost some); ``empty`` (the cell was left empty); ``no sentence`` (no single
sentence holds them all, so no extractive cell can be right). ``oracle`` is the share of labelled cells some
sentence could fill right (the ceiling of sentence choice). Empty cells whose label is empty too are counted for
empty-cell precision. Reads the corpus records (``data/sources.toml``), not the index; never a ``*holdout*`` file.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag import comparison as C  # noqa: E402
from rag.comparison_eval import contains_terms, load_labels  # noqa: E402
from rag.corpus import load_corpus  # noqa: E402
from rag.models import normalize_title  # noqa: E402
from rag.support import paper_text  # noqa: E402

DEFAULT_FILES = [ROOT / "eval" / "compare_labels.jsonl", ROOT / "eval" / "compare_labels_tune2.jsonl"]
OUTCOMES = ("ok", "wrong sentence", "span cut", "empty", "no sentence")


def outcomes(path: Path, papers_by_id: dict, papers_by_title: dict) -> tuple[list[dict], Counter]:
    """One record per labelled cell of ``path`` (column, outcome, key terms, cell, sentence) and the empty-cell counts."""
    labels = load_labels(path)
    papers = [papers_by_id.get(lab["id"]) or papers_by_title[normalize_title(lab["title"])] for lab in labels]
    out, empty = [], Counter()
    for at in range(0, len(papers), 5):
        part, labs = papers[at:at + 5], labels[at:at + 5]
        texts = [paper_text(p) for p in part]
        table = C.extract_table(part, list(C.DEFAULT_COLUMNS), texts=texts)
        for row, lab, text in zip(table.rows, labs, texts, strict=True):
            sents = C.sentences_of(text).sents
            for c in C.DEFAULT_COLUMNS:
                cell, want = row.cells[c], lab["cells"][c]
                if not cell.text:
                    empty["empty"] += 1
                    empty["right"] += not want["text"]
                if not want["text"]:
                    continue
                terms = want["key_terms"]
                if contains_terms(cell.text, terms):
                    kind = "ok"
                elif not cell.text:
                    kind = "empty"
                elif contains_terms(cell.sentence, terms):
                    kind = "span cut"
                elif any(contains_terms(s, terms) for s in sents):
                    kind = "wrong sentence"
                else:
                    kind = "no sentence"
                out.append({"id": row.id, "column": c, "outcome": kind, "key_terms": terms, "cell": cell.text, "sentence": cell.sentence})
    return out, empty


def report(name: str, recs: list[dict], empty: Counter) -> str:
    lines = [f"### {name}: {len(recs)} labelled cells", "", "| column | cells | " + " | ".join(OUTCOMES) + " | oracle |",
             "|---|---:|" + "---:|" * (len(OUTCOMES) + 1)]
    for c in (*C.DEFAULT_COLUMNS, "all"):
        rs = [r for r in recs if c in ("all", r["column"])]
        n = Counter(r["outcome"] for r in rs)
        oracle = sum(r["outcome"] != "no sentence" for r in rs)
        lines.append(f"| {c} | {len(rs)} | " + " | ".join(str(n[o]) for o in OUTCOMES) + f" | {oracle / max(1, len(rs)):.3f} |")
    ok = sum(r["outcome"] == "ok" for r in recs)
    prec = f"{empty['right'] / empty['empty']:.3f}" if empty["empty"] else "–"
    lines += ["", f"cell accuracy {ok / max(1, len(recs)):.3f}; empty cells {empty['empty']}, empty-cell precision {prec}"]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path, help="comparison label files (default: the two tuning files)")
    ap.add_argument("--misses", action="store_true", help="also list every cell that is not ok")
    args = ap.parse_args()
    files = args.files or DEFAULT_FILES
    if any("holdout" in f.name for f in files):
        sys.exit("held-out label files are not read by this script")
    corpus = load_corpus(ROOT / "data" / "sources.toml").papers
    by_id, by_title = {p.id: p for p in corpus}, {normalize_title(p.title): p for p in corpus}
    for f in files:
        recs, empty = outcomes(f, by_id, by_title)
        print(report(f.name, recs, empty) + "\n")
        if args.misses:
            for r in recs:
                if r["outcome"] != "ok":
                    print(f"- {r['id']} {r['column']} [{r['outcome']}] {r['key_terms']}: {r['cell'][:160]!r}")
            print()


if __name__ == "__main__":
    main()
