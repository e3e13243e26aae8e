"""Load test: N questions at C concurrent callers through the Python API (per backend) and, with
``--ui``, through a running chat UI (gradio_client). Reports errors, throughput and latency.

Run: ``.venv/bin/python -m bench.load [--n 200] [--concurrency 10] [--backend extractive --backend local] [--ui]``
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rag.evaluate import load_questions, percentile

ROOT = Path(__file__).resolve().parent.parent


def question_pool() -> list[str]:
    """Every question of the shipped question files (answerable and not), in a fixed order."""
    return [q.question for f in sorted((ROOT / "eval").glob("*_questions.jsonl")) for q in load_questions(f)]


def run_load(ask, questions: list[str], n: int, concurrency: int) -> dict:
    """Call ``ask(question)`` ``n`` times from ``concurrency`` threads; ``ask`` raises on failure."""
    qs = list(itertools.islice(itertools.cycle(questions), n))
    lat: list[float] = []
    errors: list[str] = []

    def one(q: str) -> None:
        t = time.perf_counter()
        try:
            ask(q)
            lat.append(time.perf_counter() - t)
        except Exception as e:  # a load test counts every failure
            errors.append(f"{type(e).__name__}: {e}"[:200])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, qs))
    wall = time.perf_counter() - t0
    return {"n": n, "concurrency": concurrency, "errors": len(errors), "error_samples": errors[:3],
            "throughput_qps": n / wall, "wall_s": wall,
            "p50_s": percentile(lat, 0.5), "p95_s": percentile(lat, 0.95),
            "mean_s": statistics.fmean(lat) if lat else 0.0}


def api_asker(pipeline, backend: str):
    def ask(q: str) -> None:
        a = pipeline.answer(q, backend=backend)
        if not a.refused and not a.citations:
            raise AssertionError("an answer without citations")

    return ask


def ui_asker(url: str, backend: str = "extractive"):
    import threading

    from gradio_client import Client

    local = threading.local()

    def ask(q: str) -> None:
        if not hasattr(local, "client"):
            local.client = Client(url, verbose=False)
        api = "/chat_local" if backend == "local" else "/chat"
        out = local.client.predict(q, [], backend, 5, [], "Any", [], api_name=api)
        if not out:
            raise AssertionError("empty answer from the UI")

    return ask


def format_rows(rows: dict[str, dict]) -> str:
    lines = ["| path | questions | concurrency | errors | throughput (q/s) | p50 (s) | p95 (s) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['n']} | {r['concurrency']} | {r['errors']} | {r['throughput_qps']:.2f} | {r['p50_s']:.3f} | {r['p95_s']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--backend", action="append", choices=["extractive", "local", "openai"])
    ap.add_argument("--ui", action="store_true", help="also load a UI started here on a free port")
    args = ap.parse_args(argv)

    from rag.pipeline import Pipeline
    from rag.settings import Settings

    pipe = Pipeline(Settings())
    questions = question_pool()
    rows = {}
    for backend in args.backend or ["extractive", "local"]:
        pipe.answer(questions[0], backend=backend)  # warm: model loaded once
        rows[f"Python API, {backend}"] = run_load(api_asker(pipe, backend), questions, args.n, args.concurrency)
        print(f"{backend}: {rows[f'Python API, {backend}']}", flush=True)
    if args.ui:
        from bench.bench_ui import running_ui

        with running_ui() as (url, _proc):
            for backend in args.backend or ["extractive", "local"]:
                rows[f"chat UI (gradio_client), {backend}"] = run_load(ui_asker(url, backend), questions, args.n, args.concurrency)
    out = format_rows(rows)
    (Path(__file__).parent / "results_load.md").write_text(out + "\n")
    return out


if __name__ == "__main__":
    print(main())
