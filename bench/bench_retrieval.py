"""Warm retrieval latency: the hybrid retriever against a plain Chroma ``collection.query`` of the
same k, in the same run, on the shipped corpus's index and on a synthetic store of 100,000 chunks.

    .venv/bin/python -m bench.bench_retrieval [--synthetic 100000] [--synthetic-dir DIR] [--k 5] [--out bench/results_retrieval.md]

Not a test. "Warm" means the model is loaded, the index opened and a few queries run first; every
timed query is a different text and the retriever's query-vector cache is cleared before each, so
each timing includes embedding the query. Baselines, timed on the same queries:

- ``chroma.query(vector)``: ``collection.query(query_embeddings=[v], n_results=k)`` on the chunk
  collection with a precomputed vector (the vector store alone);
- ``embed + chroma.query``: the same plus embedding the query (the least a dense search does).

The synthetic store (``--synthetic N`` chunks, kept with ``--synthetic-dir``) is written in the index's
own format (chunk ids ``<paper>:<hash>:<n>``, the same metadata, a papers collection with records
and mean vectors) from the shipped index's real chunks and vectors, copied with small text
variations and vector noise until it holds N chunks (see :func:`build_synthetic`): nothing is
embedded, so it builds in minutes.
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

def _read_all(col, include: list[str]) -> dict[str, list]:
    """Every record of a Chroma collection (ids and the ``include`` fields)."""
    from rag.store import pages

    out: dict[str, list] = {"ids": [], **{k: [] for k in include}}
    for got in pages(col, include):
        out["ids"] += got["ids"]
        for k in include:
            out[k] += list(got[k])
    return out


def build_synthetic(path: Path, n_chunks: int, source, *, noise: float = 0.15, seed: int = 0) -> None:
    """A Chroma index of about ``n_chunks`` chunks in the index's format, made from the real chunks
    and vectors of ``source`` (a built :class:`rag.store.Store`): the corpus itself, then copies of
    it until ``n_chunks`` is reached. Copy ``r`` of a paper gets a title with a marker word, an
    abstract with about 5% of its words dropped at random and the marker added (so that BM25 sees
    distinct documents of realistic vocabulary), and each chunk vector gets Gaussian noise of norm
    ``noise`` (renormalized; cosine to the original ≈ 0.99), so that the HNSW graph holds 100k
    distinct points clustered like real ones. Nothing is embedded: vectors are added precomputed,
    in large batches."""
    from rag.index import chunk_metadata
    from rag.models import Paper, paper_id
    from rag.store import chunk_id, open_client, open_store, paper_of_chunk

    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    chunks = _read_all(source.chunks, ["embeddings", "metadatas", "documents"])
    papers = _read_all(source.papers, ["metadatas"])
    records = {pid: Paper.from_dict(json.loads(m["record"])) for pid, m in zip(papers["ids"], papers["metadatas"], strict=True)}
    by_paper: dict[str, list[int]] = {}
    for i, cid in enumerate(chunks["ids"]):
        by_paper.setdefault(paper_of_chunk(cid), []).append(i)
    order = [pid for pid in sorted(records) if pid in by_paper]
    vecs = np.asarray(chunks["embeddings"], dtype=np.float32)
    dim = vecs.shape[1]
    print(f"  read {len(chunks['ids'])} chunks / {len(order)} papers of the source index in {time.perf_counter() - t:.1f} s", flush=True)

    client = open_client(path)
    store = open_store(client, "papers", source.model, source.dim)
    batch = min(5000, client.get_max_batch_size())
    pending: dict[str, list] = {"ids": [], "embeddings": [], "metadatas": [], "documents": []}
    ppending: dict[str, list] = {"ids": [], "embeddings": [], "metadatas": [], "documents": []}

    def flush(force: bool = False) -> None:
        if pending["ids"] and (force or len(pending["ids"]) >= batch):
            store.chunks.add(**pending)
            for v in pending.values():
                v.clear()
        if ppending["ids"] and (force or len(ppending["ids"]) >= batch):
            store.papers.add(**ppending)
            for v in ppending.values():
                v.clear()

    done, r = 0, 0
    while done < n_chunks:
        for pid in order:
            if done >= n_chunks:
                break
            src = records[pid]
            if r == 0:
                p = src
                cv = vecs[by_paper[pid]]
            else:
                marker = f"copy{r}"
                words = src.abstract.split()
                keep = rng.random(len(words)) > 0.05
                abstract = " ".join(w for w, k in zip(words, keep, strict=True) if k) + f" ({marker})"
                title = f"{src.title} ({marker})"
                p = Paper(**{**src.to_dict(), "id": paper_id(title), "title": title, "abstract": abstract,
                             "authors": src.authors, "sources": src.sources})
                cv = vecs[by_paper[pid]] + rng.standard_normal((len(by_paper[pid]), dim)).astype(np.float32) * (noise / np.sqrt(dim))
                cv /= np.linalg.norm(cv, axis=1, keepdims=True)
            meta = chunk_metadata(p)
            for n, (i, v) in enumerate(zip(by_paper[pid], cv, strict=True)):
                pending["ids"].append(chunk_id(p.id, meta["content_hash"], n))
                pending["embeddings"].append(v.tolist())
                pending["metadatas"].append({**meta, "chunk": n})
                doc = chunks["documents"][i] or ""
                pending["documents"].append(doc if r == 0 else f"{doc} ({marker})")
            m = cv.mean(axis=0)
            ppending["ids"].append(p.id)
            ppending["embeddings"].append((m / np.linalg.norm(m)).tolist())
            ppending["metadatas"].append({**meta, "record": p.to_json(), "chunks": len(cv)})
            ppending["documents"].append(f"{p.title}\n\n{p.abstract}")
            done += len(cv)
            if len(pending["ids"]) >= batch:
                flush()
                print(f"  synthetic store: {done:,}/{n_chunks:,} chunks ({time.perf_counter() - t:.0f} s)", flush=True)
        r += 1
    flush(force=True)
    print(f"  synthetic store: {store.chunks.count():,} chunks, {store.papers.count():,} papers, {r} copies of the corpus", flush=True)


# ---------------------------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--synthetic", "--chunks", dest="chunks", type=int, default=100_000,
                    help="chunks in the synthetic store built from the shipped index's chunks and vectors (0: skip it)")
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
            built = ""
            want = {"chunks": args.chunks, "kind": "replicated", "model": embedder.name}
            if not marker.exists() or json.loads(marker.read_text()) != want:
                marker.unlink(missing_ok=True)
                shutil.rmtree(tmp / "chroma", ignore_errors=True)
                t = time.perf_counter()
                build_synthetic(tmp, args.chunks, retriever.store)
                build_s = time.perf_counter() - t
                print(f"built synthetic store in {build_s:.0f} s", flush=True)
                built = f", built in {build_s:.0f} s"
                marker.write_text(json.dumps(want))
            client = open_client(tmp)
            store = open_store(client, "papers", embedder.name, embedder.dim, create=False)
            t = time.perf_counter()
            synth = Retriever(store, embedder, settings.retrieval, query_embedder=pipe.query_embedder)
            open_s = time.perf_counter() - t
            synth.wait_ready()  # "warm": the chunk vectors and texts read into memory in the background
            ready_s = time.perf_counter() - t
            print(f"synthetic: {len(synth.papers)} papers, {store.chunks.count()} chunks", flush=True)
            sres = measure(synth, embedder, qs, args.k)
            sload = os.getloadavg()
            parts += ["", table(f"Synthetic store ({store.chunks.count():,} chunks, {len(synth.papers):,} papers)", sres, args.k,
                                f"The shipped corpus's chunks and vectors, copied with text variations and vector noise "
                                f"(see `build_synthetic`){built}. Retriever opened in {open_s:.1f} s (chunk vectors and texts in memory after "
                                f"{ready_s:.1f} s, read in the background); load average "
                                f"after this run {sload[0]:.1f} / {sload[1]:.1f} / {sload[2]:.1f}.")]
        finally:
            if not args.synthetic_dir:
                shutil.rmtree(tmp, ignore_errors=True)

    parts += ["", "Paths: *hybrid* = `Retriever.search(q, k)` (embed, Chroma dense search over 3×50 chunks with ids and "
              "distances only, BM25 over every paper, corpus-standardized fusion, passages of the k hits; on a store "
              "larger than the reference sample, chunk vectors and texts from memory, BM25 while Chroma searches, and the feedback pass scored in memory instead of a second Chroma search); "
              "*hybrid, query vector cached* = the same with the query's vector already cached (the retriever's own cost); "
              "*dense mode* / *keyword mode* = one retriever; *query embedding* = the model alone "
              "(with the retriever's `query_threads`, and with 2 threads)."]
    text = "\n".join(parts) + "\n"
    print(text)
    args.out.write_text(text)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
