"""Calibration of the answer step: the decline model, the relevance thresholds and the source margins.

    python -m bench.calibrate eval/dev_questions.jsonl eval/blind_a_tune.jsonl ... [--out FILE] [--reuse]
    python -m bench.calibrate eval/*questions*.jsonl eval/blind_*.jsonl eval/broad_tune.jsonl --decline-models

For every question: the top-k hits, each hit's closeness / coverage / relevance and whether it is
gold, and the decline model's features (:meth:`rag.relevance.Scored.features`). Then:

1. the decline model (a logistic regression, :func:`fit_logistic`) is fitted on all questions, and
   its honest estimate is printed: refusal and false refusal of a 5-fold cross-validation (repeated
   over shuffles) in which each fold's weights *and* decline threshold come from the other folds,
   plus leave-one-file-out figures (a file's questions judged by a model fitted on the others);
2. a grid over (refuse floor, decline threshold, source margins) prints refusal, false refusal and
   the recall and precision of cited sources against the gold papers present in the top k.

``--decline-models`` prints instead, per question type, the share declined by each shipped decline model
(``lexical``, ``aligned``, ``auto``: :func:`rag.relevance.decline_choice`) with its shipped weights, nothing fitted
(README "Refusal, twelfth session"; ~6 min for the 1,011 questions of every question file on 2 cores).

The rule that declines a question asking for papers when none of its first five papers says a topic phrase it names
(:func:`rag.relevance.unsaid_topics`, twentieth session) is not a fitted feature and is not simulated here.

Only tune files may be passed here: a figure measured on a file used for choosing is a tuning figure. Since the
eighth session the earlier held-out files (blind_a … blind_f) are tune files too (README "Refusal, eighth session");
blind_g is held out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from rag.relevance import ALIGNED_FEATURES, MAX_SOURCES, ONE_THING_SOURCES


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
        several = "several" in intents(q.question)
        row = {"id": q.id, "type": q.type, "gold": len(gold), "file": path.name, "several": several, "hits": []}
        if hits:
            sc = score_hits(parts.embedder, parts.texts, parts.stats, q.question, question_terms(q.question), hits, several, model="faceted")
            row["features"] = sc.features()
            row["values"] = sc.feature_values()
            row["hits"] = [{"gold": normalize_title(h.paper.title) in gold, "closeness": c, "coverage": v, "id": h.paper.id}
                           for h, c, v in zip(hits, sc.closeness, sc.coverage, strict=True)]
        out.append(row)
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression with balanced class weights, by Newton's method on
    standardised features; returns (weights, bias) for the raw features."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    sw = np.where(y, len(y) / (2 * max(1, y.sum())), len(y) / (2 * max(1, (~y).sum())))
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0  # the bias is not penalised
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w)))
        grad = z.T @ (sw * (p - y)) + reg * w
        hess = (z * (sw * p * (1 - p))[:, None]).T @ z + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    weights = w[:-1] / sd
    return weights, float(w[-1] - (weights * mu).sum())


def decline_threshold(logits: np.ndarray, y: np.ndarray, false_refusal: float) -> float:
    """The lowest decline threshold whose false refusal on answerable questions stays within ``false_refusal``."""
    ans = np.sort(logits[~y])[::-1]
    k = int(np.floor(false_refusal * len(ans)))
    return float(ans[k]) + 1e-6 if k < len(ans) else float("-inf")


def cross_validate(x: np.ndarray, y: np.ndarray, files: np.ndarray, false_refusal: float, reps: int = 5) -> dict:
    """Refusal / false refusal of held-out folds, each judged by weights and a threshold fitted without them."""
    rng = np.random.default_rng(0)
    tot = np.zeros(4)
    for _ in range(reps):
        fold = np.empty(len(y), dtype=int)
        for cls in (True, False):  # stratified
            idx = rng.permutation(np.flatnonzero(y == cls))
            fold[idx] = np.arange(len(idx)) % 5
        for f in range(5):
            te, tr = fold == f, fold != f
            w, b = fit_logistic(x[tr], y[tr])
            t = decline_threshold(x[tr] @ w + b, y[tr], false_refusal)
            d = x[te] @ w + b >= t
            tot += [d[y[te]].sum(), y[te].sum(), d[~y[te]].sum(), (~y[te]).sum()]
    per_file = {}
    pooled = np.zeros(len(y), dtype=bool)
    for name in sorted(set(files)):
        te, tr = files == name, files != name
        w, b = fit_logistic(x[tr], y[tr])
        d = x[te] @ w + b >= decline_threshold(x[tr] @ w + b, y[tr], false_refusal)
        pooled[te] = d
        per_file[name] = (float(d[y[te]].mean()) if y[te].any() else None, float(d[~y[te]].mean()) if (~y[te]).any() else None)
    return {"refusal": tot[0] / tot[1], "false_refusal": tot[2] / tot[3], "per_file": per_file,
            "lofo_refusal": float(pooled[y].mean()), "lofo_false_refusal": float(pooled[~y].mean())}


def evaluate(rows: list[dict], refuse: float, weights: np.ndarray, bias: float, decline_at: float, margin: float,
             several_margin: float, answer: float = 0.0, cite_absolute: float = np.inf, depth: int = 3, weight: float = 0.4) -> dict:
    """Refusal, false refusal and cited-source recall / precision of a setting (as rag.relevance.decide)."""
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
        m = several_margin if r.get("several") else margin
        cap = MAX_SOURCES if r.get("several") else ONE_THING_SOURCES  # as rag.answering.plan passes to decide
        chosen = [i for i, v in enumerate(rel) if v >= max(refuse, min(max(rel) - m, cite_absolute))][:cap]
        declined = float(np.dot(weights, r["features"]) + bias) >= decline_at
        return ("related" if declined or best < answer else "answered"), chosen

    out = {r["id"]: decide(r) for r in rows}
    refused = sum(out[r["id"]][0] != "answered" for r in unans) / max(1, len(unans))
    false = [r for r in ans if out[r["id"]][0] != "answered"]
    rec, prec = [], []
    for r in ans:
        outcome, chosen = out[r["id"]]
        if outcome != "answered":
            continue
        present = [i for i, x in enumerate(r["hits"]) if x["gold"]]
        if present:
            rec.append(len(set(present) & set(chosen)) / len(present))
        if chosen:
            prec.append(sum(r["hits"][i]["gold"] for i in chosen) / len(chosen))
    return {"refusal": refused, "false_refusal": len(false) / max(1, len(ans)),
            "cite_recall": float(np.mean(rec)) if rec else 0.0, "cite_precision": float(np.mean(prec)) if prec else 0.0,
            "false_ids": [r["id"] for r in false]}


def decline_shares(rows: list[dict]) -> dict[str, dict[str, tuple[int, int]]]:
    """Per decline model setting and question type: (declined, questions), the shipped models as
    :func:`rag.relevance.decide` applies them (a question below the refuse floor is declined by any of them)."""
    from rag.relevance import LEXICAL, MODELS, REFUSE_THRESHOLD, decline_choice

    out: dict[str, dict[str, tuple[int, int]]] = {}
    for setting in ("lexical", "aligned", "auto"):
        counts: dict[str, list[int]] = {}
        for r in rows:
            if r["hits"]:
                best = max(x["closeness"] + 0.4 * x["coverage"] for x in r["hits"][:3])
                model = MODELS[decline_choice(setting, r["several"])]
                model = model if all(n in r["values"] for n in model.features) else LEXICAL
                declined = best < REFUSE_THRESHOLD or model.logit([r["values"][n] for n in model.features]) >= model.at
            else:
                declined = True
            c = counts.setdefault(r["type"], [0, 0])
            c[0] += declined
            c[1] += 1
        out[setting] = {t: (a, b) for t, (a, b) in sorted(counts.items())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("/tmp/calibration.json"))
    ap.add_argument("--reuse", action="store_true", help="read the features from --out instead of computing them")
    ap.add_argument("--features", default=",".join(ALIGNED_FEATURES),
                    help="comma-separated names of rag.relevance.Scored.feature_values to fit the model on")
    ap.add_argument("--false-refusal", type=float, default=0.08, help="false refusal the decline threshold may cost on the tune files")
    ap.add_argument("--several", action="store_true", help="fit on the questions asking for papers only (the faceted model, "
                    "rag.relevance.FACETED: --features coverage,sentence_coverage,alignment,facet_alignment)")
    ap.add_argument("--one-thing", action="store_true", help="fit on the questions about one thing only (the standout model, "
                    "rag.relevance.STANDOUT: --features coverage,sentence_coverage,alignment,margin)")
    ap.add_argument("--decline-models", action="store_true", help="print the share each shipped decline model declines, per question type")
    args = ap.parse_args()
    if args.reuse:
        rows = json.loads(args.out.read_text())
    else:
        from rag.pipeline import Pipeline
        from rag.settings import Settings

        pipe = Pipeline(Settings())
        rows = [r for f in args.files for r in features(pipe, f)]
        args.out.write_text(json.dumps(rows))
    if args.decline_models:
        for setting, shares in decline_shares(rows).items():
            print(f"{setting:8s} " + "  ".join(f"{t} {a}/{b} = {a / b:.3f}" for t, (a, b) in shares.items()))
        return
    rows = [r for r in rows if r["hits"] and (r["several"] or not args.several) and (not r["several"] or not args.one_thing)]
    names = args.features.split(",")
    x = np.array([[r["values"][n] for n in names] for r in rows], dtype=float)
    base = np.array([[r["values"][n] for n in ("closeness", "coverage", "sentence_coverage")] for r in rows], dtype=float)
    y = np.array([r["type"] == "unanswerable" for r in rows])
    files = np.array([r["file"] for r in rows])
    print(f"{len(rows)} questions, {int(y.sum())} unanswerable")
    for r in rows:
        r["features"] = [r["values"][n] for n in names]
    old = evaluate(rows, 0.58, np.zeros(x.shape[1]), 0.0, np.inf, 0.08, 0.30, answer=0.68)
    print(f"relevance thresholds alone (refuse 0.58, answer 0.68; tuned on the first 221): refusal {old['refusal']:.3f} "
          f"false refusal {old['false_refusal']:.3f} cite recall {old['cite_recall']:.3f} precision {old['cite_precision']:.3f}")
    for label, feats in (("relevance alone", np.array([[f[0] + 0.4 * f[1]] for f in base])),
                         ("closeness, coverage, sentence_coverage", base), (", ".join(names), x)):
        for target in (0.05, 0.08, 0.10, 0.12, 0.15):
            cv = cross_validate(feats, y, files, target)
            print(f"{label}, at tune false refusal {target:.2f}: 5-fold CV refusal {cv['refusal']:.3f} false refusal "
                  f"{cv['false_refusal']:.3f}; leave-one-file-out {cv['lofo_refusal']:.3f} / {cv['lofo_false_refusal']:.3f}")
    cv = cross_validate(x, y, files, args.false_refusal)
    for name, (r, f) in cv["per_file"].items():
        print(f"  leave out {name}: refusal {r if r is None else round(r, 3)} false refusal {f if f is None else round(f, 3)}")
    weights, bias = fit_logistic(x, y)
    at = decline_threshold(x @ weights + bias, y, args.false_refusal)
    print("weights of", names, "=", tuple(round(float(w), 3) for w in weights), " bias =", round(bias, 3), " decline at =", round(at, 3))
    print("refuse margin several absolute | refusal false_refusal cite_recall cite_precision")
    for refuse in (0.4, 0.5, 0.55):
        for margin in (0.06, 0.08, 0.10, 0.12):
            for several in (0.2, 0.3, 0.4):
                for absolute in (np.inf, 1.0, 0.9, 0.85, 0.8):
                    m = evaluate(rows, refuse, weights, bias, at, margin, several, cite_absolute=absolute)
                    print(f"{refuse:.2f} {margin:.2f} {several:.2f} {absolute:.2f} | {m['refusal']:.3f} {m['false_refusal']:.3f} "
                          f"{m['cite_recall']:.3f} {m['cite_precision']:.3f}")


if __name__ == "__main__":
    main()
