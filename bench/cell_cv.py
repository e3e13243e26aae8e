"""Leave-one-file-out cross-validation of the comparison cells' sentence-choice rules over the tuning label files.

    python bench/cell_cv.py                       # the three tuning files: fold per file, shipped rules beside
    python bench/cell_cv.py --pool old            # refit only the rules that existed before this round
    python bench/cell_cv.py --also FILE.jsonl     # also score FILE (an unseen check: it is never fitted on)

Protocol (per fold): the weights of :data:`rag.comparison.RULES` are chosen by greedy forward selection (as
the third round did: start with every rule off, add the single weight change that gains most cells,
until none gains) on the *other* files only, then the left-out file is scored with them. ``--pool old`` restricts the
selection to the rules that existed before issue 16's sixth round (the "before" figures); ``--pool all`` (default)
lets it also choose the sixth round's rules (:data:`NEW_RULES`). The hand-set weights inside
:func:`rag.comparison.score_sentence` are the same in every fold (they were written while reading the first tuning
file, so that file's folds are not fully out of sample). ``shipped`` scores every file with the RULES as they ship
(fitted on all tuning files: in-sample). Cells are scored as ``rag eval`` scores them (the cell holds every key term),
with the table's own order of columns and its penalty for a sentence another cell uses. Never reads a ``*holdout*`` file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag import comparison as C  # noqa: E402
from rag.comparison_eval import contains_terms, load_labels  # noqa: E402
from rag.corpus import load_corpus  # noqa: E402
from rag.models import normalize_title  # noqa: E402
from rag.support import paper_text  # noqa: E402

FILES = {"tune": ROOT / "eval" / "compare_labels.jsonl", "tune2": ROOT / "eval" / "compare_labels_tune2.jsonl",
         "tune3": ROOT / "eval" / "compare_labels_tune3.jsonl"}
SHIPPED = dict(C.RULES)
# the rules added in issue 16's sixth round (the others existed before it); the "before" pool leaves them off
NEW_RULES = tuple(k for k in getattr(C, "SIXTH_ROUND_RULES", ()))
# what the sixth round's rules were before it: hand-set weights inside score_sentence / extract_cell, or absent (0)
BEFORE = {"problem_opening": 0.35, "problem_first": 0.1, "problem_before_contribution": 0.2}
# span rules change no cell of the tuning files (README "Evaluation", fifth round): they keep their shipped setting
FIXED = ("span_min_terms", "problem_min_terms", "data_list_anchor", "result_clause", "first_data_anchor")


def examples(files: dict[str, Path]) -> list[dict]:
    papers = load_corpus(ROOT / "data" / "sources.toml").papers
    by_id, by_title = {p.id: p for p in papers}, {normalize_title(p.title): p for p in papers}
    out = []
    for name, path in files.items():
        if "holdout" in path.name:
            sys.exit("held-out label files are not read by this script")
        for lab in load_labels(path):
            p = by_id.get(lab["id"]) or by_title[normalize_title(lab["title"])]
            t = paper_text(p)
            out.append({"file": name, "paper": p, "text": t, "of": C.sentences_of(t), "cells": lab["cells"]})
    return out


def score(exs: list[dict]) -> tuple[int, int, int, int]:
    """(cells right, labelled cells, empty cells whose label is empty, empty cells) with the current RULES."""
    ok = n = e_ok = e = 0
    for ex in exs:
        cells: dict[str, C.Cell] = {}
        for c in C.DEFAULT_COLUMNS:
            used = {x.sentence for x in cells.values() if x.sentence}
            cells[c] = C.extract_cell(c, ex["text"], used, ex["of"], "rules")
            want = ex["cells"][c]
            if not cells[c].text:
                e += 1
                e_ok += not want["text"]
            if want["text"]:
                n += 1
                ok += contains_terms(cells[c].text, want["key_terms"])
    return ok, n, e_ok, e


def set_rules(cfg: dict) -> None:
    C.RULES.clear()
    C.RULES.update(cfg)


def _grid(k: str) -> list[float]:
    d = BEFORE.get(k) or SHIPPED[k] or getattr(C, "SIXTH_ROUND_DEFAULTS", {}).get(k, 0.5)
    if k == "reused_sentence":
        return [0.0, 0.1, 0.3, 0.5]
    if isinstance(d, int) and d == 1:
        return [0, 1]
    return [0.0, d / 2, d, d * 2]


def fit(exs: list[dict], pool: tuple[str, ...], each: bool = False) -> dict:
    """Greedy forward selection of the weights of ``pool`` on ``exs`` (the others: off, span rules as shipped).
    ``each``: a step is taken only when it loses no cell on any of the training files (not only in their sum)."""
    files = sorted({e["file"] for e in exs})
    floor: dict[str, int] = {}

    def acc(cfg):
        set_rules(cfg)
        per = {f: score([e for e in exs if e["file"] == f])[0] for f in files}
        if each and floor and any(per[f] < floor[f] for f in files):
            return -1
        return sum(per.values())

    def per_file(cfg):
        set_rules(cfg)
        return {f: score([e for e in exs if e["file"] == f])[0] for f in files}
    # the selection starts with the earlier rules off; the sixth round's start as they were before it (the hand-set
    # weights it made adjustable at their old values, the new ones off), span rules as shipped
    cfg = {k: (SHIPPED[k] if k in FIXED else BEFORE.get(k, 0.0)) for k in SHIPPED} | {"reused_sentence": 0.1}
    best = acc(cfg)
    floor.update(per_file(cfg))
    while True:
        cand = None
        for k in pool:
            for w in _grid(k):
                if w != cfg[k] and (sc := acc({**cfg, k: w})) > best:
                    best, cand = sc, (k, w)
        if not cand:
            return cfg
        cfg[cand[0]] = cand[1]
        floor.update(per_file(cfg))


def _fmt(r: tuple[int, int, int, int]) -> str:
    prec = f"{r[2] / r[3]:.2f}" if r[3] else "–"
    return f"{r[0] / r[1]:.3f} ({r[0]}/{r[1]}, empty P {prec})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", choices=("old", "all"), default="all")
    ap.add_argument("--each", action="store_true", help="a selection step must lose no cell on any training file")
    ap.add_argument("--also", type=Path, action="append", default=[], help="an extra label file, scored, never fitted on")
    args = ap.parse_args()
    files = dict(FILES)
    exs = examples(files)
    extra = examples({p.stem: p for p in args.also}) if args.also else []
    pool = tuple(k for k in SHIPPED if k not in FIXED and (args.pool == "all" or k not in NEW_RULES))
    try:
        set_rules(SHIPPED)
        print("shipped RULES (in-sample): " + "  ".join(f"{f} {_fmt(score([e for e in exs if e['file'] == f]))}" for f in files)
              + "".join(f"  {p.stem} {_fmt(score(extra))}" for p in args.also))
        total = [0, 0]
        for test in files:
            cfg = fit([e for e in exs if e["file"] != test], pool, args.each)
            set_rules(cfg)
            r = score([e for e in exs if e["file"] == test])
            total[0] += r[0]
            total[1] += r[1]
            chosen = {k: v for k, v in cfg.items() if k in pool and v}
            print(f"fold: fit on {'+'.join(f for f in files if f != test)}, score {test}: {_fmt(r)}"
                  + (f"  [{args.also[0].stem}: {_fmt(score(extra))}]" if extra else "") + f"   chosen {chosen}", flush=True)
        print(f"LOFO pooled ({args.pool} pool{', each' if args.each else ''}): {total[0] / total[1]:.3f} ({total[0]}/{total[1]})")
    finally:
        set_rules(SHIPPED)


if __name__ == "__main__":
    main()
