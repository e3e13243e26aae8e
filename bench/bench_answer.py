"""Answer latency per backend beside retrieval alone, and the calibration of the answer step.

    python bench/bench_answer.py [--questions eval/dev_questions.jsonl] [--n 12] [--backend extractive --backend local]
    python bench/bench_answer.py --calibrate [--questions eval/dev_questions.jsonl --questions eval/user_questions.jsonl]

Latency: for the first ``n`` answerable questions, after one warm-up question per backend, the
p50/p95 of retrieval alone, and per backend of the whole answer and of its first streamed piece,
printed as a table with each backend's ratio to retrieval. Targets on this 2-core machine:
extractive < 300 ms, local < 8 s with the first piece < 2 s.

Calibration: for every question, the relevance of the leading hits (``rag.answering.score_hits``);
then a grid over the refusal threshold and the fused-score ratio that makes a hit a source,
reporting refusal of unanswerable questions, false refusals, and the precision/recall of the
selected sources against the gold papers, per question file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rag.evaluate import load_questions, percentile  # noqa: E402
from rag.models import normalize_title  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402

A = importlib.import_module("rag.answering")


def bench(pipe: Pipeline, questions, backends: list[str], n: int) -> None:
    qs = [q for q in questions if q.gold_titles][:n]
    pipe.retrieve(qs[0].question)  # warm-up: index, embedder
    retr = []
    for q in qs:
        t = time.perf_counter()
        pipe.retrieve(q.question)
        retr.append((time.perf_counter() - t) * 1000)
    rows = [("retrieval only", percentile(retr, 0.5), percentile(retr, 0.95), None, None)]
    for b in backends:
        A.answer(pipe, "warm-up question about neural network pruning", backend=b)
        total, first, fallbacks = [], [], 0
        for q in qs:
            a = A.answer(pipe, q.question, backend=b)
            total.append(a.timings["total_ms"])
            first.append(a.timings["first_token_ms"])
            fallbacks += a.fallback is not None
        rows.append((b, percentile(total, 0.5), percentile(total, 0.95), percentile(first, 0.5), fallbacks))
    base = rows[0][1] or 1e-9
    print(f"{len(qs)} questions, k={pipe.settings.k}, {os.cpu_count()} CPUs")
    print(f"{'':<16} {'p50 ms':>9} {'p95 ms':>9} {'1st p50':>9} {'x retr':>8} {'fallbacks':>9}")
    for name, p50, p95, f50, fb in rows:
        print(f"{name:<16} {p50:>9.0f} {p95:>9.0f} {'' if f50 is None else f'{f50:9.0f}':>9} {p50 / base:>8.1f} "
              f"{'' if fb is None else fb:>9}")


def calibrate(pipe: Pipeline, files: list[Path]) -> None:
    data = {}
    for f in files:
        rows = []
        for q in load_questions(f):
            hits = pipe.retrieve(q.question)
            if not hits:
                rows.append((q, None))
                continue
            rows.append((q, A.score_hits(pipe, q.question, hits)))
        data[f.name] = rows
    print("per question: best relevance (answerable A / unanswerable U)")
    for name, rows in data.items():
        vals = sorted(((sc.best if sc else 0.0), "A" if q.gold_titles else "U", q.id) for q, sc in rows)
        print(f"  {name}: " + " ".join(f"{v:.3f}{t}" for v, t, _ in vals))
    print(f"\n{'threshold':>9} {'ratio':>6} " + " ".join(f"{n[:14] + ' refuse/falseR/P/R':>34}" for n in data))
    for thr in [x / 100 for x in range(56, 76, 2)]:
        for ratio in (0.7, 0.8, 0.9):
            cells = []
            for rows in data.values():
                un = [sc for q, sc in rows if not q.gold_titles]
                an = [(q, sc) for q, sc in rows if q.gold_titles]
                refuse = statistics.fmean([sc is None or not A.select_sources(sc, thr, ratio) for sc in un]) if un else 0.0
                false_r = statistics.fmean([sc is None or not A.select_sources(sc, thr, ratio) for _, sc in an]) if an else 0.0
                cited = gold = 0
                recall = []
                for q, sc in an:
                    if sc is None:
                        continue
                    g = {normalize_title(t) for t in q.gold_titles}
                    sel = [sc.pool[i] for i in A.select_sources(sc, thr, ratio)]
                    cited += len(sel)
                    gold += sum(normalize_title(h.paper.title) in g for h in sel)
                    recall.append(sum(normalize_title(h.paper.title) in g for h in sel) / len(g))
                cells.append(f"{refuse:.2f}/{false_r:.2f}/{gold / max(1, cited):.2f}/{statistics.fmean(recall) if recall else 0:.2f}")
            print(f"{thr:>9.2f} {ratio:>6.2f} " + " ".join(f"{c:>34}" for c in cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", action="append", type=Path)
    ap.add_argument("--backend", action="append", choices=["extractive", "local", "openai"])
    ap.add_argument("--n", type=int, default=12, help="answerable questions to time")
    ap.add_argument("--calibrate", action="store_true")
    args = ap.parse_args()
    pipe = Pipeline(Settings())
    files = args.questions or [ROOT / "eval" / "dev_questions.jsonl"]
    if args.calibrate:
        calibrate(pipe, files)
        return
    backends = args.backend or (["extractive", "local"] + (["openai"] if pipe.settings.openai_base_url else []))
    bench(pipe, load_questions(files[0]), backends, args.n)


if __name__ == "__main__":
    main()
