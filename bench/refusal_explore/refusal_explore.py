# ruff: noqa: B905, SIM115, SIM222, UP031, E702
"""Offline exploration of decline features on the dump of refusal_dump.py."""
import json
import sys

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from bench.calibrate import decline_threshold, fit_logistic  # noqa: E402
from rag.text import QUESTION_WORDS, STOPWORDS, _stem  # noqa: E402

PREPS = {"for", "in", "on", "with", "from", "to", "under", "via", "using", "without", "across", "over", "by", "into",
         "between", "when", "where", "that", "which", "of", "through", "at", "against", "while"}


def qseq(row):
    """Ordered stemmed question content terms (as question_terms filters)."""
    out = []
    for w in row["qwords"]:
        if w in STOPWORDS or w in QUESTION_WORDS or (len(w) <= 1 and not w.isdigit()):
            continue
        s = _stem(w)
        if s in row["qterms"] and s not in out:
            out.append(s)
    return out


def segments(row):
    segs, cur = [], []
    for w in row["qwords"]:
        if w in PREPS:
            if cur:
                segs.append(cur)
            cur = []
            continue
        if w in STOPWORDS or w in QUESTION_WORDS or (len(w) <= 1 and not w.isdigit()):
            continue
        s = _stem(w)
        if s in row["qterms"]:
            cur.append(s)
    if cur:
        segs.append(cur)
    return [sorted(set(s)) for s in segs if s]


def cov(idf, terms, have):
    tot = sum(idf[t] for t in terms)
    return sum(idf[t] for t in terms if t in have) / tot if tot > 0 else 1.0


def compute(row):
    idf = row["qterms"]
    hits = row["hits"]
    top = hits[:3]
    f = {}
    c0, v0, s0 = row["features"]
    f["closeness"], f["coverage"], f["sentence_cov"] = c0, v0, s0
    terms = [set(h["terms"]) for h in top]
    union = set().union(*terms)
    qs = sorted(idf, key=lambda t: -idf[t])
    maxidf = max(idf.values()) if idf else 1.0
    miss_u = [idf[t] for t in idf if t not in union]
    f["miss_idf_union"] = max(miss_u, default=0.0)
    f["miss_idf_union_rel"] = f["miss_idf_union"] / maxidf if maxidf > 0 else 0.0
    # best paper by coverage: the highest idf word it lacks
    bestp = max(range(len(top)), key=lambda i: cov(idf, idf, terms[i]))
    miss_b = [idf[t] for t in idf if t not in terms[bestp]]
    f["miss_idf_best"] = max(miss_b, default=0.0)
    f["miss_idf_best_rel"] = f["miss_idf_best"] / maxidf if maxidf > 0 else 0.0
    f["min_miss_idf_paper"] = min(max((idf[t] for t in idf if t not in T), default=0.0) for T in terms)
    # rare terms (top 3 by idf) in the best single sentence
    rare = qs[:3]
    units = [set(st) for h in top for st in h["sent_terms"] + [h["title_terms"]]]
    best_u = max(units, key=lambda u: cov(idf, idf, u)) if units else set()
    f["rare_in_best_sent"] = cov(idf, rare, best_u)
    f["rare_best_sent_any"] = max((cov(idf, rare, u) for u in units), default=0.0)
    f["rare2_in_one_paper"] = max(cov(idf, qs[:2], T) for T in terms)
    f["rare3_in_one_paper"] = max(cov(idf, qs[:3], T) for T in terms)
    f["top1_in_union"] = 1.0 if qs and qs[0] in union else 0.0
    # qualifier segments
    segs = segments(row)
    f["nseg"] = len(segs)
    f["min_seg_cov"] = max(min(cov(idf, s, T) for s in segs) if segs else 1.0 for T in terms)
    f["min_seg_cov_sent"] = max((min(cov(idf, s, u) for s in segs) if segs else 1.0 for u in units), default=0.0)
    quals = segs[1:]
    f["qual_cov"] = max(min(cov(idf, s, T) for s in quals) if quals else 1.0 for T in terms)
    f["head_cov"] = max(cov(idf, segs[0], T) if segs else 1.0 for T in terms)
    # bigrams
    seq = qseq(row)
    bigr = list(zip(seq, seq[1:]))

    def pbigrams(h):
        b = set()
        for st in h["sent_terms"] + [h["title_terms"]]:
            b |= set(zip(st, st[1:])) | set(zip(st, st[2:]))
        return b
    if bigr:
        pbs = [pbigrams(h) for h in top]
        w = [idf[a] + idf[b] for a, b in bigr]
        f["bigram_cov"] = max(sum(wi for wi, bg in zip(w, bigr) if bg in pb or bg[::-1] in pb) / sum(w) for pb in pbs)
    else:
        f["bigram_cov"] = f["coverage"]
    # dense
    sc = [x for h in top for x in h["sent_cos"]]
    f["dense_sent"] = max(sc, default=0.0)
    f["dense_paper"] = max(h["paper_cos"] for h in top)
    f["dense_title"] = max(h["title_cos"] for h in top)
    f["dense_sent_minus_paper"] = f["dense_sent"] - f["dense_paper"]
    f["dense_top1_paper"] = top[0]["paper_cos"]
    # margins
    rel = sorted([h["closeness"] + 0.4 * h["coverage"] for h in hits], reverse=True)
    f["rel_margin"] = rel[0] - rel[1] if len(rel) > 1 else 0.0
    cl = [h["closeness"] for h in hits]
    f["close_margin_mean"] = max(cl) - float(np.mean(cl))
    pc = sorted([h["paper_cos"] for h in top], reverse=True)
    f["paper_cos_margin"] = pc[0] - pc[1] if len(pc) > 1 else 0.0
    f["nterms"] = len(idf)
    f["sum_idf"] = sum(idf.values())
    f["max_idf"] = maxidf
    return f


def load(path):
    rows = [r for r in json.load(open(path)) if r["hits"]]
    for r in rows:
        r["f"] = compute(r)
    return rows


def lofo(x, y, files, target, l2=1.0):
    """Pooled leave-one-file-out: decisions on each file by a model+threshold fitted on the others."""
    d = np.zeros(len(y), dtype=bool)
    for name in sorted(set(files)):
        te, tr = files == name, files != name
        if y[tr].all() or (~y[tr]).all():
            continue
        w, b = fit_logistic(x[tr], y[tr], l2=l2)
        t = decline_threshold(x[tr] @ w + b, y[tr], target)
        d[te] = x[te] @ w + b >= t
    return d[y].mean(), d[~y].mean(), d


def cv5(x, y, target, reps=5, l2=1.0):
    rng = np.random.default_rng(0)
    tot = np.zeros(4)
    for _ in range(reps):
        fold = np.empty(len(y), dtype=int)
        for cls in (True, False):
            idx = rng.permutation(np.flatnonzero(y == cls))
            fold[idx] = np.arange(len(idx)) % 5
        for k in range(5):
            te, tr = fold == k, fold != k
            w, b = fit_logistic(x[tr], y[tr], l2=l2)
            t = decline_threshold(x[tr] @ w + b, y[tr], target)
            dd = x[te] @ w + b >= t
            tot += [dd[y[te]].sum(), y[te].sum(), dd[~y[te]].sum(), (~y[te]).sum()]
    return tot[0] / tot[1], tot[2] / tot[3]


def matrix(rows, names):
    return np.array([[r["f"][n] for n in names] for r in rows], dtype=float)


if __name__ == "__main__":
    rows = load(sys.argv[1])
    y = np.array([r["type"] == "unanswerable" for r in rows])
    files = np.array([r["file"] for r in rows])
    base = ["closeness", "coverage", "sentence_cov"]
    print(len(rows), int(y.sum()))
    target = float(sys.argv[2]) if len(sys.argv) > 2 else 0.08

    def report(names):
        x = matrix(rows, names)
        r1, f1 = cv5(x, y, target)
        r2, f2, _ = lofo(x, y, files, target)
        return r1, f1, r2, f2
    print("base", "CV %.3f/%.3f LOFO %.3f/%.3f" % report(base))
    cands = [k for k in rows[0]["f"] if k not in base and "dense" not in k and "paper_cos" not in k]
    res = []
    for c in cands:
        r = report(base + [c])
        res.append((r[2], c, r))
    for _, c, r in sorted(res, reverse=True):
        print(f"+{c:24s} CV {r[0]:.3f}/{r[1]:.3f} LOFO {r[2]:.3f}/{r[3]:.3f}")
