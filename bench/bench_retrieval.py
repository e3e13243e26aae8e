"""Warm retrieval latency: the hybrid retriever against a plain Chroma ``collection.query`` of the
same k, in the same run, on the shipped corpus's index and on a synthetic store of 100,000 chunks.

    .venv/bin/python -m bench.bench_retrieval [--chunks 100000] [--k 5] [--out bench/results_retrieval.md]

Not a test. "Warm" means the model is loaded, the index opened and a few queries run first; every
timed query is a different text and the retriever's query-vector cache is cleared before each, so
each timing includes embedding the query. Baselines, timed on the same queries:

- ``chroma.query(vector)``: ``collection.query(query_embeddings=[v], n_results=k)`` on the chunk
  collection with a precomputed vector (the vector store alone);
- ``embed + chroma.query``: the same plus embedding the query (the least a dense search does).

The synthetic store holds random unit vectors (dimension of the embedding model) written in the
index's own format (chunk ids ``<paper>:<hash>:<n>``, the same metadata, a papers collection with
records and mean vectors), two chunks per paper, and abstracts of random words for BM25.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parent.parent


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def questions() -> list[str]:
    out = []
    for name in ("dev_questions.jsonl", "user_questions.jsonl", "tune_questions.jsonl"):  # never a held-out file
        p = ROOT / "eval" / name
        if p.exists():
            out += [json.loads(line)["question"] for line in p.read_text().splitlines() if line.strip()]
    return out


def time_calls(fn, items, warm: int = 5) -> list[float]:
    for it in items[:warm]:
        fn(it)
    ts = []
    for it in items:
        t = time.perf_counter()
        fn(it)
        ts.append((time.perf_counter() - t) * 1000)
    return ts


def measure(retriever, embedder, qs: list[str], k: int) -> dict[str, list[float]]:
    """Latencies (ms) of hybrid search and the two Chroma baselines over the same queries. The
    baseline embeds with the retriever's query embedder (the same runtime as the hybrid search);
    when that is not the index embedder (torch), torch's embed + chroma.query is timed too."""
    from rag.retrieval import strip_boilerplate

    col = retriever.store.chunks
    torch_embedder, embedder = embedder, retriever.query_embedder
    vecs = {q: np.asarray(embedder.embed_batch([q])[0]).tolist() for q in qs}
    stripped = {q: np.asarray(embedder.embed_batch([strip_boilerplate(q)])[0], dtype=np.float32) for q in qs}

    def hybrid(q):
        retriever._qcache.clear()
        retriever.search(q, k)

    def hybrid_cached(q):
        retriever._qcache[strip_boilerplate(q)] = stripped[q]  # vector cached: everything but the model
        retriever.search(q, k)

    def dense_only(q):
        retriever._qcache.clear()
        retriever.search(q, k, mode="dense")

    def keyword_only(q):
        retriever.search(q, k, mode="keyword")

    def chroma_vec(q):
        col.query(query_embeddings=[vecs[q]], n_results=k)

    def chroma_embed(q):
        from rag.retrieval import _torch_threads

        with _torch_threads(retriever.query_threads):
            v = embedder.embed_batch([q])[0]
        col.query(query_embeddings=[v.tolist()], n_results=k)

    def embed_only(q):
        from rag.retrieval import _torch_threads

        with _torch_threads(retriever.query_threads):
            embedder.embed_batch([q])

    def torch_chroma_embed(q):
        from rag.retrieval import _torch_threads

        with _torch_threads(retriever.query_threads):
            v = torch_embedder.embed_batch([q])[0]
        col.query(query_embeddings=[v.tolist()], n_results=k)

    def embed_2threads(q):
        from rag.retrieval import _torch_threads

        with _torch_threads(2):
            torch_embedder.embed_batch([q])

    out = {}
    # interleave the runs twice so that background load hits every column alike
    for name, fn in ([("hybrid", hybrid), ("embed + chroma.query", chroma_embed), ("chroma.query(vector)", chroma_vec),
                     ("hybrid, query vector cached", hybrid_cached), ("dense mode", dense_only),
                     ("keyword mode", keyword_only), ("query embedding", embed_only),
                     ("query embedding, 2 torch threads", embed_2threads)]
                    + ([("embed (torch) + chroma.query", torch_chroma_embed)] if torch_embedder is not embedder else [])) * 2:
        out.setdefault(name, []).extend(time_calls(fn, qs))
    return out


def table(title: str, res: dict[str, list[float]], k: int, extra: str = "") -> str:
    base_e = statistics.median(res["embed + chroma.query"])
    base_v = statistics.median(res["chroma.query(vector)"])
    lines = [f"### {title}", "", extra, "" if extra else None,
             f"| path (k={k}) | p50 ms | p95 ms | p50 ÷ embed+chroma | p50 ÷ chroma(vector) |",
             "|---|---:|---:|---:|---:|"]
    for name, ts in res.items():
        p50 = statistics.median(ts)
        lines.append(f"| {name} | {p50:.1f} | {pct(ts, 0.95):.1f} | {p50 / base_e:.2f}x | {p50 / base_v:.1f}x |")
    return "\n".join(x for x in lines if x is not None)


# ---------------------------------------------------------------------------------------------- synthetic store

def build_synthetic(path: Path, n_chunks: int, dim: int, model: str, per_paper: int = 2, seed: int = 0) -> None:
    """A Chroma index of ``n_chunks`` random unit vectors in the index's format."""
    from rag.index import chunk_metadata
    from rag.models import Paper, SourceRef, paper_id
    from rag.store import open_client, open_store

    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(20000)] + ["learning", "neural", "network", "model", "training", "data", "graph", "attention"]
    client = open_client(path)
    store = open_store(client, "papers", model, dim)
    n_papers = n_chunks // per_paper
    batch = 2000
    venues = ["ICLR", "ICML", "NeurIPS"]
    for start in range(0, n_papers, batch):
        papers, chunk_ids, chunk_vecs, chunk_meta, chunk_docs, pvecs = [], [], [], [], [], []
        for i in range(start, min(start + batch, n_papers)):
            abstract = " ".join(rng.choice(words, size=120))
            p = Paper(id=paper_id(f"synthetic paper {i}"), title=f"Synthetic paper {i} " + " ".join(rng.choice(words, 6)),
                      abstract=abstract, authors=(f"Author {i % 997}", f"Writer {i % 313}"),
                      venue=venues[i % 3], year=2019 + i % 5, type=("Oral", "Spotlight", "Poster")[i % 3],
                      sources=(SourceRef("synthetic", "synthetic.jsonl", i + 1),))
            papers.append(p)
            v = rng.standard_normal((per_paper, dim)).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            meta = chunk_metadata(p)
            for j in range(per_paper):
                chunk_ids.append(f"{p.id}:{meta['content_hash']}:{j}")
                chunk_vecs.append(v[j].tolist())
                chunk_meta.append({**meta, "chunk": j})
                chunk_docs.append(abstract[j * 300:(j + 1) * 300] or abstract)
            m = v.mean(axis=0)
            pvecs.append((m / np.linalg.norm(m)).tolist())
        store.chunks.add(ids=chunk_ids, embeddings=chunk_vecs, metadatas=chunk_meta, documents=chunk_docs)
        store.papers.add(ids=[p.id for p in papers], embeddings=pvecs, documents=[p.title for p in papers],
                         metadatas=[{**chunk_metadata(p), "record": p.to_json(), "chunks": per_paper} for p in papers])
        print(f"  synthetic store: {min(start + batch, n_papers) * per_paper:,}/{n_chunks:,} chunks", flush=True)


# ---------------------------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--chunks", type=int, default=100_000, help="chunks in the synthetic store (0: skip it)")
    ap.add_argument("--synthetic-dir", type=Path, help="keep (and reuse) the synthetic store here")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results_retrieval.md")
    args = ap.parse_args()

    import torch

    from rag.pipeline import Pipeline
    from rag.retrieval import Retriever
    from rag.settings import Settings
    from rag.store import open_client, open_store

    settings = Settings()
    pipe = Pipeline(settings)
    t = time.perf_counter()
    retriever = pipe.retriever
    open_s = time.perf_counter() - t
    embedder = pipe.embedder
    qs = questions()
    print(f"shipped corpus: {len(retriever.papers)} papers, {retriever.store.chunks.count()} chunks; {len(qs)} queries", flush=True)
    res = measure(retriever, embedder, qs, args.k)
    load = os.getloadavg()
    parts = [
        "# Retrieval latency",
        "",
        f"`python -m bench.bench_retrieval` on {platform.node() or 'this machine'}: {os.cpu_count()} cores, "
        f"torch {torch.__version__} (query embedding with {retriever.query_threads or torch.get_num_threads()} thread(s)), "
        f"embedding model {embedder.name}, queries embedded by {type(retriever.query_embedder).__name__}. Load average at the end of the shipped-corpus run: "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (other processes share the 2 cores).",
        f"Each of the {len(qs)} queries (dev, user and tune question files) is timed twice per path, with the "
        "query-vector cache cleared before every hybrid and dense query.",
        "",
        table(f"Shipped corpus ({len(retriever.papers)} papers, {retriever.store.chunks.count()} chunks)", res, args.k,
              f"Retriever opened (papers, BM25 index, dense reference sample) in {open_s:.2f} s."),
    ]

    if args.chunks:
        tmp = args.synthetic_dir or Path(tempfile.mkdtemp(prefix="rag-synth-"))
        try:
            marker = tmp / "built.json"
            if not marker.exists() or json.loads(marker.read_text()).get("chunks") != args.chunks:
                shutil.rmtree(tmp / "chroma", ignore_errors=True)
                t = time.perf_counter()
                build_synthetic(tmp, args.chunks, embedder.dim, embedder.name)
                print(f"built synthetic store in {time.perf_counter() - t:.0f} s", flush=True)
                marker.write_text(json.dumps({"chunks": args.chunks}))
            client = open_client(tmp)
            store = open_store(client, "papers", embedder.name, embedder.dim, create=False)
            t = time.perf_counter()
            synth = Retriever(store, embedder, settings.retrieval, query_embedder=pipe.query_embedder)
            open_s = time.perf_counter() - t
            print(f"synthetic: {len(synth.papers)} papers, {store.chunks.count()} chunks", flush=True)
            sres = measure(synth, embedder, qs, args.k)
            parts += ["", table(f"Synthetic store ({store.chunks.count():,} chunks, {len(synth.papers):,} papers)", sres, args.k,
                                f"Random unit vectors, random-word abstracts. Retriever opened in {open_s:.1f} s.")]
        finally:
            if not args.synthetic_dir:
                shutil.rmtree(tmp, ignore_errors=True)

    parts += ["", "Paths: *hybrid* = `Retriever.search(q, k)` (embed, Chroma dense search over 3×50 chunks with ids and "
              "distances only, BM25 over every paper, corpus-standardized fusion, passages of the k hits); "
              "*hybrid, query vector cached* = the same with the query's vector already cached (the retriever's own cost); "
              "*dense mode* / *keyword mode* = one retriever; *query embedding* = the model alone "
              "(with the retriever's `query_threads`, and with 2 threads)."]
    text = "\n".join(parts) + "\n"
    print(text)
    args.out.write_text(text)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
