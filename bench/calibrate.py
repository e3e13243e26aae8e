"""Calibration of the answer step's relevance thresholds and source margin.

    python -m bench.calibrate eval/dev_questions.jsonl eval/blind_a_tune.jsonl ... [--out FILE]

For every question: the top-k hits, each hit's closeness / coverage / relevance and whether it is
gold. Then a grid over (refuse threshold, answer threshold, source margin) prints, per setting, the
refusal rate on unanswerable questions, the false refusal rate on answerable ones, and the recall
and precision of cited sources against the gold papers present in the top k. Only tune files should
be passed here: a figure measured on a file used for choosing is a tuning figure.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def features(pipe, path: Path) -> list[dict]:
    from rag.evaluate import load_questions
    from rag.evidence import intents
    from rag.models import normalize_title
    from rag.relevance import score_hits
    from rag.text import question_terms

    parts = pipe.answer_parts()
    out = []
    for q in load_questions(path):
        hits = pipe.retrieve(q.question, pipe.settings.retrieval.k)
        gold = {normalize_title(t) for t in q.gold_titles}
        if not hits:
            out.append({"id": q.id, "type": q.type, "gold": len(gold), "hits": []})
            continue
        sc = score_hits(parts.embedder, parts.texts, parts.stats, q.question, question_terms(q.question), hits)
        qterms = sorted(question_terms(q.question), key=lambda t: -parts.stats.idf(t))
        out.append({"id": q.id, "type": q.type, "gold": len(gold), "file": path.name, "qterms": qterms,
                    "several": "several" in intents(q.question),
                    "idf": [parts.stats.idf(t) for t in qterms],
                    "hits": [{"gold": normalize_title(h.paper.title) in gold, "closeness": c, "coverage": v, "id": h.paper.id,
                              "dense": h.dense, "keyword": h.keyword, "score": h.score,
                              "has": [t in tx.terms for t in qterms]}
                             for h, c, v, tx in zip(hits, sc.closeness, sc.coverage, sc.texts, strict=True)]})
    return out


def evaluate(rows: list[dict], refuse: float, answer: float, margin: float, depth: int = 3, weight: float = 0.4,
             several_margin: float | None = None) -> dict:
    unans = [r for r in rows if r["type"] == "unanswerable"]
    ans = [r for r in rows if r["type"] != "unanswerable"]

    def decide(r):
        h = r["hits"]
        if not h:
            return "not_covered", []
        best = max(x["closeness"] for x in h[:depth]) + weight * max(x["coverage"] for x in h[:depth])
        if best < refuse:
            return "not_covered", []
        rel = [x["closeness"] + weight * x["coverage"] for x in h]
        m = several_margin if several_margin is not None and r.get("several") else margin
        chosen = [i for i, v in enumerate(rel) if v >= max(refuse, max(rel) - m)]
        return ("related" if best < answer else "answered"), chosen

    refused = sum(decide(r)[0] != "answered" for r in unans) / max(1, len(unans))
    not_covered = sum(decide(r)[0] == "not_covered" for r in unans) / max(1, len(unans))
    false = [r for r in ans if decide(r)[0] != "answered"]
    rec, prec = [], []
    for r in ans:
        out, chosen = decide(r)
        if out != "answered":
            continue
        present = [i for i, x in enumerate(r["hits"]) if x["gold"]]
        if present:
            rec.append(len(set(present) & set(chosen)) / len(present))
        if chosen:
            prec.append(sum(r["hits"][i]["gold"] for i in chosen) / len(chosen))
    return {"refusal": refused, "refused_outright": not_covered, "false_refusal": len(false) / max(1, len(ans)),
            "cite_recall": float(np.mean(rec)) if rec else 0.0, "cite_precision": float(np.mean(prec)) if prec else 0.0,
            "false_ids": [r["id"] for r in false]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("/tmp/calibration.json"))
    ap.add_argument("--reuse", action="store_true", help="read the features from --out instead of computing them")
    args = ap.parse_args()
    if args.reuse:
        rows = json.loads(args.out.read_text())
    else:
        from rag.pipeline import Pipeline
        from rag.settings import Settings

        pipe = Pipeline(Settings())
        rows = [r for f in args.files for r in features(pipe, f)]
        args.out.write_text(json.dumps(rows))
    best = []
    for refuse in np.arange(0.40, 0.70, 0.02):
        for answer in np.arange(refuse, 0.75, 0.02):
            for margin in (0.04, 0.06, 0.08, 0.10, 0.12, 0.15, 0.2):
                m = evaluate(rows, refuse, answer, margin)
                best.append((round(float(refuse), 2), round(float(answer), 2), margin, m))
    ok = [b for b in best if b[3]["refusal"] >= 0.9]
    ok.sort(key=lambda b: (b[3]["false_refusal"], -(b[3]["cite_recall"] + b[3]["cite_precision"])))
    print("refuse answer margin | refusal outright false_refusal cite_recall cite_precision")
    for refuse, answer, margin, m in ok[:25]:
        print(f"{refuse:.2f} {answer:.2f} {margin:.2f} | {m['refusal']:.3f} {m['refused_outright']:.3f} {m['false_refusal']:.3f} "
              f"{m['cite_recall']:.3f} {m['cite_precision']:.3f}")


if __name__ == "__main__":
    main()
