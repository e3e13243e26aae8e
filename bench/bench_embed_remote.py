"""Embedding through an OpenAI-compatible endpoint (``embed_backend=openai``) against local embedding
of the same model, in one run on one machine.

    .venv/bin/python -m bench.bench_embed_remote [--sample N] [--out bench/results_embed_remote.md]

Not a test. The endpoint is :mod:`bench.embed_server` (all-MiniLM-L6-v2 behind FastAPI) started on
127.0.0.1, so the model and the hardware are the same on both sides and the ratio is the cost of
the remote path (HTTP, JSON, splitting into requests). Local torch, the endpoint with one request in
flight, and the endpoint with ``embed_concurrency=4`` run interleaved batch by batch in rotating order.
On a real deployment the server is a GPU box, and throughput is the server's: this process only
chunks, sends and writes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "bench.embed_server", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"embed_server exited: {proc.stderr.read().decode()[-500:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("embed_server did not start")


def main(sample: int | None, out: Path) -> str:
    from bench.bench_embed import chunk_texts, interleaved
    from rag.embed import SentenceTransformerEmbedder
    from rag.embed_openai import OpenAIEmbedder
    from rag.evaluate import load_questions
    from rag.settings import Settings

    base = Settings(_env_file=None)
    local = SentenceTransformerEmbedder(base.embed.embed_model)
    texts = chunk_texts(base, local)
    if sample and sample < len(texts):
        step = len(texts) / sample
        texts = [texts[int(i * step)] for i in range(sample)]
    port = free_port()
    proc = start_server(port)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        emb = {"local torch": local,
               "endpoint, 1 in flight": OpenAIEmbedder(base.embed.embed_model, url, batch_size=64, concurrency=1),
               "endpoint, 4 in flight": OpenAIEmbedder(base.embed.embed_model, url, batch_size=64, concurrency=4)}
        unit = 256  # texts per call: four requests of 64 for the concurrent client
        batches = [texts[i:i + unit] for i in range(0, len(texts), unit)]
        for e in emb.values():
            e.embed_batch(batches[len(batches) // 2])
        per: dict[str, dict[int, np.ndarray]] = {k: {} for k in emb}
        fns = {k: (lambda it, k=k: per[k].__setitem__(it[0], emb[k].embed_batch(it[1]))) for k in emb}
        secs = interleaved(fns, list(enumerate(batches)))
        V = {k: np.concatenate([per[k][i] for i in range(len(batches))]) for k in emb}

        qs = [q.question for q in load_questions(ROOT / "eval" / "dev_questions.jsonl")]
        qfns = {k: (lambda q, e=e: e.embed_batch([q])) for k, e in emb.items() if "4" not in k}
        qsecs = interleaved(qfns, qs)
        qcos = min(float(local.embed_batch([q])[0] @ emb["endpoint, 1 in flight"].embed_batch([q])[0]) for q in qs)
    finally:
        proc.terminate()
        proc.wait(10)

    n = len(texts)
    total = {k: sum(v) for k, v in secs.items()}
    lines = [f"# Embedding through an OpenAI-compatible endpoint ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores)", "",
             f"{n} chunk texts of the shipped corpus, {base.embed.embed_model} on both sides (endpoint: bench/embed_server.py on "
             "127.0.0.1, same machine), interleaved in calls of 256 texts.", "",
             "| path | chunks/s | × local | cosine to local (min) | query p50 ms |", "|---|---:|---:|---:|---:|"]
    for k in emb:
        c = float((V[k] * V["local torch"]).sum(axis=1).min())
        q = sorted(qsecs[k])[len(qsecs[k]) // 2] * 1000 if k in qsecs else float("nan")
        lines.append(f"| {k} | {n / total[k]:.1f} | {total['local torch'] / total[k]:.2f} | {c:.4f} | {q:.1f} |")
    lines += ["", f"Query vectors through the endpoint vs local: min cosine {qcos:.4f} over {len(qs)} dev questions "
              "(identical vectors → identical retrieval). On one machine the endpoint can only cost: both sides share "
              "the same 2 cores. The figure that matters at scale is the server's own throughput, which this "
              "process does not limit (it sends `embed_concurrency` requests at once)."]
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    return text


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=int, default=None, help="embed only N chunk texts (spread over the length range)")
    ap.add_argument("--out", type=Path, default=HERE / "results_embed_remote.md")
    a = ap.parse_args()
    print(main(a.sample, a.out))
