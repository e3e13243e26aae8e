"""Fit the learned sentence-role scorer of comparison cells (:mod:`rag.cell_roles`) and measure it beside
the hand-written rules (:data:`rag.comparison.RULES`).

    python bench/fit_cell_roles.py            # leave-one-label-file-out: shipped rules vs learned vs combined (~2 min)
    python bench/fit_cell_roles.py --write    # refit on every training label file and write rag/cell_roles.py

Training data: every label file ``eval/compare_labels*.jsonl`` except the held-out ones (:data:`HELD_OUT`): the
four tuning files and the ten earlier held-out files, each run and reported once before it became training data
(378 papers, 1419 labelled cells, eleven blind writers). For every labelled paper and every default column with a
non-empty label, each abstract sentence is positive when it contains all the label's key terms (the test
:func:`rag.comparison_eval.contains_terms` applies to cells), negative otherwise. One conditional logit per column
(a softmax over each abstract's sentences, L2-penalized, fitted with scipy's L-BFGS) on standardized
:func:`rag.comparison.sentence_features`. Scored like ``rag eval``: cell accuracy of the extractive table
(:func:`rag.comparison.extract_table`, the real code path).

Protocol: each label file is scored by a model fitted on the other files. The rules keep their shipped weights in
every fold; they were chosen on the four tuning files, so on those files the rules are scored in-sample (an
advantage worth about 7 cells of 265 in the sixth round's leave-one-file-out, README "Evaluation"); on the ten
earlier held-out files they are out of sample like the learned model. Never reads a file of :data:`HELD_OUT`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from rag import cell_roles  # noqa: E402
from rag import comparison as C  # noqa: E402
from rag.comparison_eval import contains_terms, labelled_papers, load_labels  # noqa: E402
from rag.corpus import load_corpus  # noqa: E402
from rag.support import paper_text  # noqa: E402

HELD_OUT = ("compare_labels_holdout11.jsonl", "compare_labels_holdout11b.jsonl")  # blind files never fitted on nor read here
# (run once, README); 11b is a second writer's labels of holdout11's papers (bench/label_agreement.py)
FILES = {(f.stem.removeprefix("compare_labels").lstrip("_") or "tune"): f
         for f in sorted((ROOT / "eval").glob("compare_labels*.jsonl")) if f.name not in HELD_OUT}
SHIPPED_RULES = dict(C.RULES)


def examples(manifest: Path = ROOT / "data" / "sources.toml") -> list[dict]:
    """The labelled papers of every training label file (:data:`FILES`): ``{"file", "paper", "text", "cells"}``."""
    papers = load_corpus(manifest).papers
    out = []
    for name, path in FILES.items():
        labels = load_labels(path)
        for p, lab in zip(labelled_papers(papers, labels), labels, strict=True):
            out.append({"file": name, "paper": p, "text": paper_text(p), "cells": lab["cells"]})
    return out


def accuracy(exs: list[dict], scorer: str) -> tuple[int, int]:
    """(correct, labelled) cells of the extractive tables of ``exs`` with the current rules and model."""
    ok = n = 0
    for at in range(0, len(exs), 5):
        part = exs[at:at + 5]
        table = C.extract_table([e["paper"] for e in part], list(C.DEFAULT_COLUMNS), texts=[e["text"] for e in part],
                                scorer=scorer)
        for row, e in zip(table.rows, part, strict=True):
            for c in C.DEFAULT_COLUMNS:
                want = e["cells"][c]
                if want["text"]:
                    n += 1
                    ok += contains_terms(row.cells[c].text, want["key_terms"])
    return ok, n


def set_rules(cfg: dict) -> None:
    C.RULES.clear()
    C.RULES.update(cfg)


def design(exs: list[dict]) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Per column, one group per labelled cell: the features of the paper's sentences and which of
    them contain the label's key terms (current rules). Cells no sentence can fill are left out."""
    out: dict[str, list] = {c: [] for c in C.DEFAULT_COLUMNS}
    for e in exs:
        of = C.sentences_of(e["text"])
        feats = C.sentence_features(of, e["paper"].title)
        for c in C.DEFAULT_COLUMNS:
            want = e["cells"][c]
            y = np.asarray([contains_terms(s, want["key_terms"]) for s in of.sents], dtype=bool)
            if want["text"] and y.any():
                out[c].append((feats, y))
    return out


def _fit_conditional(groups: list[tuple[np.ndarray, np.ndarray]], l2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Conditional logit (a softmax over each paper's sentences): maximize the probability that the
    chosen sentence is one holding the key terms, with an L2 penalty. Returns mean, scale, coef."""
    from scipy.optimize import minimize

    x_all = np.vstack([x for x, _ in groups])
    mean, scale = x_all.mean(0), x_all.std(0)
    scale[scale == 0] = 1.0
    zs = [((x - mean) / scale, y) for x, y in groups]

    def loss(w):
        total, grad = 0.5 * l2 * w @ w, l2 * w
        for z, y in zs:
            s = z @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            q = p * y
            total -= np.log(q.sum() + 1e-300)
            q /= q.sum()
            grad = grad + z.T @ (p - q)
        return total, grad

    w = minimize(loss, np.zeros(x_all.shape[1]), jac=True, method="L-BFGS-B").x
    return mean, scale, w


def fit_model(exs: list[dict], l2: float, features: tuple[str, ...] | None = None) -> dict:
    """One conditional logit per column on standardized features (``features``: a subset of
    :data:`rag.cell_roles.FEATURES`, the others get weight 0): the :data:`rag.cell_roles.MODEL` table."""
    keep = np.asarray([f in (features or cell_roles.FEATURES) for f in cell_roles.FEATURES])
    model = {}
    for c, groups in design(exs).items():
        mean, scale, coef = _fit_conditional([(x[:, keep], y) for x, y in groups], l2)
        mean, scale, coef = (_expand(v, keep, fill) for v, fill in ((mean, 0.0), (scale, 1.0), (coef, 0.0)))
        model[c] = {"mean": [round(float(v), 6) for v in mean], "scale": [round(float(v), 6) for v in scale],
                    "coef": [round(float(v), 6) for v in coef], "intercept": 0.0}
    return model


def _expand(v: np.ndarray, keep: np.ndarray, fill: float) -> np.ndarray:
    out = np.full(len(keep), fill)
    out[keep] = v
    return out


SHIP = (100.0, None)  # (L2 penalty, features; None = all of rag.cell_roles.FEATURES): the variant --write fits
# the variants the report measures beside it (name -> (L2, features)), chosen before the seventh held-out file was read
CONFIGS = {"L2 30": (30.0, None), "L2 100": SHIP, "L2 300": (300.0, None)}


def _fmt(r: tuple[int, int]) -> str:
    return f"{r[0] / r[1]:.3f} ({r[0]}/{r[1]})"


def report(exs: list[dict]) -> dict[str, dict[str, tuple[int, int]]]:
    """Leave-one-file-out: per label file, cells right with the shipped rules and with the learned and combined
    scorers of every :data:`CONFIGS` variant fitted on the other files. Prints a Markdown table; returns it."""
    saved = cell_roles.MODEL
    out: dict[str, dict[str, tuple[int, int]]] = {}
    try:
        set_rules(SHIPPED_RULES)
        for name in FILES:
            test = [e for e in exs if e["file"] == name]
            train = [e for e in exs if e["file"] != name]
            row = {"rules": accuracy(test, "rules")}
            for v, (l2, feats) in CONFIGS.items():
                cell_roles.MODEL = fit_model(train, l2, feats)
                row[f"learned, {v}"] = accuracy(test, "learned")
                row[f"combined, {v}"] = accuracy(test, "combined")
            out[name] = row
            print(f"{name}: " + "  ".join(f"{k} {a}/{b}" for k, (a, b) in row.items()), flush=True)
    finally:
        cell_roles.MODEL = saved
    tuning = [n for n in out if n.startswith("tune")]
    groups = {"tuning files (rules in-sample)": tuning, "earlier held-out files": [n for n in out if n not in tuning],
              "all": list(out)}
    scorers = list(next(iter(out.values())))
    print("\n| scorer | " + " | ".join(groups) + " |\n|---|" + "---:|" * len(groups))
    for sc in scorers:
        cells = [tuple(map(sum, zip(*(out[n][sc] for n in names), strict=True))) for names in groups.values()]
        print(f"| {sc} | " + " | ".join(_fmt(c) for c in cells) + " |")
    return out


def render_model(model: dict) -> str:
    lines = ["MODEL: dict = {"]
    for c, m in model.items():
        lines.append(f"    {c!r}: {{")
        for k in ("mean", "scale", "coef"):
            lines.append(f"        {k!r}: {m[k]!r},")
        lines.append(f"        'intercept': {m['intercept']!r},")
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines)


def write_model(model: dict, path: Path = ROOT / "rag" / "cell_roles.py") -> None:
    src = path.read_text(encoding="utf-8")
    new = re.sub(r"(# BEGIN FITTED[^\n]*\n).*?(\n# END FITTED)", lambda m: m.group(1) + render_model(model) + m.group(2), src, flags=re.S)
    path.write_text(new, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="refit on every training label file (shipped rules) and write rag/cell_roles.py")
    args = ap.parse_args()
    exs = examples()
    if args.write:
        set_rules(SHIPPED_RULES)
        l2, feats = SHIP
        write_model(fit_model(exs, l2, feats))
        print("wrote rag/cell_roles.py")
        return
    report(exs)


if __name__ == "__main__":
    main()
