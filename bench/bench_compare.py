"""Comparison-table latency: a 5-paper table extractive and with the local model, beside
retrieval of one question in the same run.

    python bench/bench_compare.py [--n 5] [--repeat 5] [--local]

The papers are the top hits of a few fixed questions (5 a table). Reported: p50/p95 of the whole
``Pipeline.compare`` call per backend, and for the local model the number of model-written cells
kept and rejected by the support check; the extractive table is timed with the default sentence scorer
(:data:`rag.comparison.SCORER`) and with each other one (rules alone, learned roles alone: :mod:`rag.cell_roles`). Targets on this 2-core machine: extractive < 1 s, local < 10 s.
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

from rag import comparison  # noqa: E402
from rag.evaluate import percentile  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402

QUESTIONS = ["pruning neural networks at initialization", "contrastive self-supervised representation learning",
             "offline reinforcement learning", "graph neural networks over-smoothing", "dataset distillation"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5, help="papers per table")
    ap.add_argument("--repeat", type=int, default=len(QUESTIONS), help="tables per backend")
    ap.add_argument("--local", action="store_true", help="also time the local model")
    args = ap.parse_args()
    pipe = Pipeline(Settings())
    default_scorer = comparison.SCORER
    tables = [[h.paper.id for h in pipe.retrieve(q, args.n)] for q in QUESTIONS][:args.repeat]
    pipe.compare(tables[0], backend="extractive")  # warm-up: index, embedder
    retr = []
    for q in QUESTIONS[:args.repeat]:
        t = time.perf_counter()
        pipe.retrieve(q, args.n)
        retr.append((time.perf_counter() - t) * 1000)
    rows = [("retrieval of one question", percentile(retr, 0.5), percentile(retr, 0.95), "")]
    others = [f"extractive/{s}" for s in ("rules", "learned", "combined") if s != default_scorer]
    for backend in ["extractive", *others] + (["local"] if args.local else []):
        comparison.SCORER = backend.split("/")[1] if "/" in backend else default_scorer  # the sentence scorer (rag.cell_roles)
        if backend == "local":
            list(pipe.generator("local").stream([{"role": "user", "content": "hi"}], max_tokens=2, temperature=0.0))  # load
        times, kept, rejected = [], 0, 0
        for ids in tables:
            t = time.perf_counter()
            table = pipe.compare(ids, backend=backend.split("/")[0])
            times.append((time.perf_counter() - t) * 1000)
            kept += sum(c.by == "model" for r in table.rows for c in r.cells.values())
            rejected += table.rejected
        extra = f"model cells kept {kept}, rejected {rejected}" if backend != "extractive" else f"default ({default_scorer} sentence scorer)"
        if "/" in backend:
            extra = f"{backend.split('/')[1]} sentence scorer"
        rows.append((f"{args.n}-paper table, {backend.split('/')[0]}", percentile(times, 0.5), percentile(times, 0.95), extra))
    comparison.SCORER = default_scorer
    print(f"# Comparison tables ({len(tables)} tables of {args.n} papers, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})\n")
    print("| what | p50 ms | p95 ms | notes |\n|---|---:|---:|---|")
    for name, p50, p95, extra in rows:
        print(f"| {name} | {p50:.0f} | {p95:.0f} | {extra} |")


if __name__ == "__main__":
    main()
