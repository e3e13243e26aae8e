"""Answer latency per backend beside retrieval alone, and the calibration of the answer step.

    python bench/bench_answer.py [--questions eval/dev_questions.jsonl] [--n 12] [--backend extractive --backend local]

Latency: for the first ``n`` answerable questions, after one warm-up question per backend, the
p50/p95 of retrieval alone, and per backend of the whole answer and of its first streamed piece,
printed as a table with each backend's ratio to retrieval. Targets on this 2-core machine:
extractive < 300 ms, local p50 <= 4 s with the first piece (the opening sentence) <= 2 s.
The answer step's thresholds are calibrated by ``python -m bench.calibrate``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rag.evaluate import load_questions, percentile  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402


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
        pipe.answer("warm-up question about neural network pruning", backend=b)
        total, first, fallbacks = [], [], 0
        for q in qs:
            a = pipe.answer(q.question, backend=b)
            total.append(a.timings["total_ms"])
            first.append(a.timings["first_token_ms"])
            fallbacks += a.fallback is not None
        rows.append((b, percentile(total, 0.5), percentile(total, 0.95), percentile(first, 0.5), fallbacks))
    base = rows[0][1] or 1e-9
    print(f"{len(qs)} questions, k={pipe.settings.retrieval.k}, {os.cpu_count()} CPUs")
    print(f"{'':<16} {'p50 ms':>9} {'p95 ms':>9} {'1st p50':>9} {'x retr':>8} {'fallbacks':>9}")
    for name, p50, p95, f50, fb in rows:
        print(f"{name:<16} {p50:>9.0f} {p95:>9.0f} {'' if f50 is None else f'{f50:9.0f}':>9} {p50 / base:>8.1f} "
              f"{'' if fb is None else fb:>9}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", action="append", type=Path)
    ap.add_argument("--backend", action="append", choices=["extractive", "local", "openai"])
    ap.add_argument("--n", type=int, default=12, help="answerable questions to time")
    args = ap.parse_args()
    pipe = Pipeline(Settings())
    files = args.questions or [ROOT / "eval" / "dev_questions.jsonl"]
    backends = args.backend or (["extractive", "local"] + (["openai"] if pipe.settings.answer.openai_base_url else []))
    bench(pipe, load_questions(files[0]), backends, args.n)


if __name__ == "__main__":
    main()
