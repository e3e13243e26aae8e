# ruff: noqa: B905, SIM115, SIM222, UP031, E702
import json
import sys

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from refusal_explore import cv5, load, lofo

raw = load("raw_merged.json"); dd = [r for r in json.load(open("blindd_feats.json")) if r["hits"]]
rows = []
for r in raw:
    rows.append({"file": r["file"], "type": r["type"], "several": r["several"], "rel": [h["closeness"] + 0.4 * h["coverage"] for h in r["hits"]],
                 "v": {"closeness": r["f"]["closeness"], "coverage": r["f"]["coverage"], "sentence_coverage": r["f"]["sentence_cov"], "segment_coverage": r["f"]["min_seg_cov_sent"]}})
for r in dd:
    rows.append({"file": "d_" + r["file"], "type": r["type"], "several": r["several"], "rel": [h["closeness"] + 0.4 * h["coverage"] for h in r["hits"]],
                 "v": {k: r["values"][k] for k in ("closeness", "coverage", "sentence_coverage", "segment_coverage")}})
for r in rows:
    rel = sorted(r["rel"], reverse=True)
    r["v"]["margin"] = rel[0] - rel[1]
    r["v"]["margin_rest"] = rel[0] - float(np.mean(rel[1:]))
    r["v"]["margin3"] = rel[0] - rel[min(3, len(rel) - 1)]
    r["v"]["margin_last"] = rel[0] - rel[-1]
    r["v"]["margin_ns"] = 0.0 if r["several"] else rel[0] - rel[1]
    r["v"]["several"] = float(r["several"])
    r["v"]["margin_x_ns"] = (rel[0] - rel[1]) * (1 - float(r["several"]))
y = np.array([r["type"] == "unanswerable" for r in rows]); files = np.array([r["file"] for r in rows])
topic = np.array([r["type"] in ("topic", "multi") for r in rows])
def M(names, idx=None):
    return np.array([[r["v"][n] for n in names] for r in rows])
base = ["closeness", "coverage", "sentence_coverage"]
sets = [base, base + ["margin"], base + ["margin", "segment_coverage"], base + ["margin_rest"], base + ["margin3"], base + ["margin_last"],
        base + ["margin_ns"], base + ["margin", "several"], base + ["margin_rest", "segment_coverage"], base + ["margin3", "segment_coverage"],
        base + ["segment_coverage"], base + ["margin_ns", "segment_coverage"], base + ["margin_x_ns", "several"]]
only = sys.argv[1] if len(sys.argv) > 1 else "all"
if only == "old":
    keep = ~np.char.startswith(files.astype(str), "d_")
    y, files, topic = y[keep], files[keep], topic[keep]
else:
    keep = np.ones(len(rows), bool)
for s in sets:
    x = M(s)[keep]; out = []
    for t in (0.06, 0.08, 0.10):
        r, f, d = lofo(x, y, files, t)
        out.append(f"{r:.3f}/{f:.3f}(topicFR {d[topic & ~y].mean():.2f})")
    c = cv5(x, y, 0.08)
    print(" ".join(out), f"CV.08 {c[0]:.3f}/{c[1]:.3f}", s[3:])
