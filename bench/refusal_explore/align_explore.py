# ruff: noqa: B905, E501, E702, E741, SIM115, SIM905, I001, E402
"""Word-alignment features of the decline model, measured by 5-fold CV and leave-one-file-out (eighth session).

    python bench/refusal_explore/align_dump.py dump.json eval/FILE.jsonl ...     # tune files: per-question alignments
    python bench/refusal_explore/align_explore.py dump.json [dump2.json ...]    # the candidate features, LOFO

The shipped feature (``alignment`` in rag/relevance.py) is ``tok_recall`` here; the others were measured and not kept.
"""
import json
import sys

import numpy as np

sys.path.insert(0, ".")
from bench.calibrate import cross_validate, decline_threshold, fit_logistic  # noqa: E402

import re as _re
SKIP = set("author authors wrote written who venue conference year years session sessions day days time slot hour oral orals spotlight spotlights poster posters presentation presented type talk published publish iclr icml neurips nips receive received get got".split())
def feats(r):
    keep = [i for i, q in enumerate(r["qwords"]) if q not in SKIP and not _re.fullmatch(r"(19|20)\d\d", q)] or list(range(len(r["qwords"])))
    A = [np.array(a)[keep] for a in r["align"] if len(a)]
    w = np.array(r["qidf"])[keep]; w = w / (w.sum() + 1e-9)
    rec = [float((a * w).sum()) for a in A]
    mn = [float(a.min()) for a in A]
    pool = np.max(np.array(A), 0)
    # idf-weighted share of words poorly aligned in the best paper
    best = int(np.argmax(rec))
    out = {"tok_recall": max(rec), "tok_min": max(mn), "tok_min_pool": float(pool.min()),
           "tok_recall_pool": float((pool * w).sum()),
           "tok_poor": float((w * (A[best] < 0.6)).sum()),
           "tok_min_top1": mn[0], "tok_recall_top1": rec[0]}
    # idf-weighted min: the rarest-word alignment
    order = np.argsort(-np.array(r["qidf"])[keep])
    out["tok_rarest2"] = float(np.max([a[order[:2]].mean() for a in A]))
    return out


rows = []
for f in sys.argv[1:]:
    rows += [r for r in json.load(open(f)) if r["hits"] and r.get("qwords")]
for r in rows:
    r["values"].update(feats(r))
    r["values"]["margin_one"] = r["values"]["margin"] if not r["several"] else 0.22
    r["values"]["several"] = float(r["several"])
y = np.array([r["type"] == "unanswerable" for r in rows]); files = np.array([r["file"] for r in rows])
types = np.array([r["type"] for r in rows])
print(len(rows), "rows", int(y.sum()), "unanswerable;", {t: int((types == t).sum()) for t in set(types)})
base = ["closeness", "coverage", "sentence_coverage"]
SHIP = (np.array([-8.429, -11.228, 9.992]), 6.544, 1.038)
x = np.array([[r["values"][n] for n in base] for r in rows])
d = x @ SHIP[0] + SHIP[1] >= SHIP[2]
ho = np.array(["blind" in f and "holdout" in f for f in files])
for name, m in (("tune", ~ho), ("old holdouts", ho)):
    print(f"shipped model on {name}: refusal {d[m & y].mean():.3f} false refusal {d[m & ~y].mean():.3f}; by type:",
          {t: round(float(d[m & (types == t)].mean()), 3) for t in sorted(set(types[m]))})
def run(names, fr):
    x = np.array([[r["values"][n] for n in names] for r in rows])
    cv = cross_validate(x, y, files, fr, reps=2)
    pooled = np.zeros(len(y), dtype=bool)
    for name in sorted(set(files)):
        te, tr = files == name, files != name
        w, b = fit_logistic(x[tr], y[tr])
        pooled[te] = x[te] @ w + b >= decline_threshold(x[tr] @ w + b, y[tr], fr)
    cv["by_type"] = {t: round(float(pooled[types == t].mean()), 3) for t in sorted(set(types))}
    cv["ho"] = (round(float(pooled[ho & y].mean()), 3), round(float(pooled[ho & ~y].mean()), 3))
    return cv
for fr in (0.08, 0.10):
    for names in [base, base + ["margin"], base + ["margin_one"], base + ["margin_one", "several"], base + ["tok_recall"], base + ["tok_poor"],
                  base + ["tok_recall", "margin_one"], base + ["tok_poor", "tok_min_top1"], base + ["tok_recall", "margin"], base + ["tok_poor", "margin"], base + ["tok_recall", "tok_poor", "margin"]]:
        cv = run(names, fr)
        print(f"@{fr:.2f} {','.join(names)}: CV {cv['refusal']:.3f}/{cv['false_refusal']:.3f} LOFO {cv['lofo_refusal']:.3f}/{cv['lofo_false_refusal']:.3f} by type {cv['by_type']} old-HO files {cv['ho']}", flush=True)
