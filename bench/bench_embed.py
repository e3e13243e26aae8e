"""Embedding throughput of the model's runtimes, side by side in one run: sentence-transformers on
torch fp32 (the baseline), onnxruntime fp32 and onnxruntime int8 (``embed_backend`` torch / onnx /
onnx-int8, see :mod:`rag.embed_onnx`).

    .venv/bin/python -m bench.bench_embed [--sample N] [--no-quality] [--out bench/results_embed.md]

Not a test. What is measured:

- throughput (chunks/s) on the chunk texts an index build embeds (the shipped corpus through
  ``rag.index.Chunker``), sorted by length and cut in ``embed_batch_size`` batches as the indexer
  does. The backends are interleaved batch by batch, in rotating order, so load from other
  processes on the machine hits them alike; the ratios to torch are the figures to trust;
- single-query embedding latency on the evaluation questions (interleaved the same way; torch with
  the retriever's ``query_threads``);
- vector agreement with torch: cosine per chunk (min / 5th percentile / mean);
- retrieval quality: Recall@5 / MRR@10, dense-only and hybrid, on eval/dev_questions.jsonl and
  eval/user_questions.jsonl, each backend with its own temporary index built by
  :class:`rag.pipeline.Pipeline` (``Settings(index_dir=tmp, embed_backend=…)``). The chunk vectors
  of the throughput run are reused for the build (the same texts, the same embedder); questions are
  embedded live by each backend.
- one-time ONNX export (cold) and model load (cached export) times.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from rag.embed import EMBEDDERS  # noqa: E402 (after the environment defaults)

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = tuple(b for b in EMBEDDERS if b != "openai")  # the local ones, torch (the baseline) first
QUESTION_FILES = ("dev_questions.jsonl", "user_questions.jsonl")


class Precomputed:
    """An embedder that answers from vectors already computed for known texts and delegates the rest."""

    def __init__(self, inner, vectors: dict[str, np.ndarray]):
        self.inner, self.vectors = inner, vectors

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        if all(t in self.vectors for t in texts):
            return np.stack([self.vectors[t] for t in texts]) if texts else self.inner.embed_batch(texts)
        return self.inner.embed_batch(texts)


def chunk_texts(settings, embedder) -> list[str]:
    """The texts an index build embeds, in the indexer's order (sorted by length)."""
    from llama_index.core.schema import MetadataMode

    from rag.corpus import load_corpus
    from rag.index import Chunker

    chunker = Chunker(embedder, settings.index.chunk_size, settings.index.chunk_overlap)
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for p in load_corpus(Path(settings.corpus.manifest)).papers
             for n in chunker.chunks(p)]
    return sorted(texts, key=len)


def interleaved(fns: dict, items: list) -> dict[str, list[float]]:
    """Run every function on every item, rotating the order item by item; seconds per call."""
    names = list(fns)
    out = {k: [] for k in names}
    for i, it in enumerate(items):
        for j in range(len(names)):
            k = names[(i + j) % len(names)]
            t = time.perf_counter()
            fns[k](it)
            out[k].append(time.perf_counter() - t)
    return out


def main(sample: int | None = None, quality: bool = True) -> str:
    import torch

    from rag.embed import make_embedder
    from rag.evaluate import eval_retrieval, load_questions
    from rag.pipeline import Pipeline
    from rag.retrieval import _torch_threads
    from rag.settings import Settings

    base = Settings(_env_file=None)
    started = time.strftime("%Y-%m-%d %H:%M")
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        root = Path(tmp)
        emb, load_s, export_s = {}, {}, {}
        for b in BACKENDS:
            s = Settings(_env_file=None, index_dir=root / "shared", embed_backend=b)
            t = time.perf_counter()
            emb[b] = make_embedder(s.embed, s.index.index_dir)
            export_s[b] = time.perf_counter() - t
            if b != "torch":  # second load: from the cached export
                t = time.perf_counter()
                emb[b] = make_embedder(s.embed, s.index.index_dir)
                load_s[b] = time.perf_counter() - t
            else:
                load_s[b] = export_s.pop(b)

        texts = chunk_texts(base, emb["torch"])
        if sample and sample < len(texts):
            step = len(texts) / sample
            texts = [texts[int(i * step)] for i in range(sample)]
        bs = base.embed.embed_batch_size
        batches = [texts[i:i + bs] for i in range(0, len(texts), bs)]
        for e in emb.values():  # warm-up
            e.embed_batch(batches[len(batches) // 2])

        # keep every backend's vectors in batch order despite the rotation
        per_batch: dict[str, dict[int, np.ndarray]] = {b: {} for b in BACKENDS}
        fns = {b: (lambda item, b=b: per_batch[b].__setitem__(item[0], emb[b].embed_batch(item[1]))) for b in BACKENDS}
        secs = interleaved(fns, list(enumerate(batches)))
        V = {b: np.concatenate([per_batch[b][i] for i in range(len(batches))]) for b in BACKENDS}
        cos = {b: (V[b] * V["torch"]).sum(axis=1) for b in BACKENDS}
        norms = {b: float(np.abs(np.linalg.norm(V[b], axis=1) - 1).max()) for b in BACKENDS}
        total = {b: sum(secs[b]) for b in BACKENDS}

        questions = {f: load_questions(ROOT / "eval" / f) for f in QUESTION_FILES}
        qtexts = [q.question for qs in questions.values() for q in qs]
        qthreads = base.retrieval.query_threads or None

        qfns = {}
        for b in BACKENDS:
            if b == "torch":
                def qf(text, e=emb[b]):
                    with _torch_threads(qthreads):
                        e.embed_batch([text])
            else:
                def qf(text, e=emb[b]):
                    e.embed_batch([text])
            qfns[b] = qf
        for f in qfns.values():
            f(qtexts[0])
        qsecs = interleaved(qfns, qtexts)

        quality_rows = {}
        if quality:
            for b in BACKENDS:
                s = Settings(_env_file=None, index_dir=root / b, embed_backend=b)
                # (a sampled run's vectors cover only part of the corpus: the rest is embedded live)
                pipe = Pipeline(s, embedder=Precomputed(emb[b], dict(zip(texts, V[b], strict=True))))
                t = time.perf_counter()
                pipe.index()
                build = time.perf_counter() - t
                r = pipe.retriever
                quality_rows[b] = {"build_s": build, **{f: eval_retrieval(r, qs, modes=("dense", "hybrid"))
                                                         for f, qs in questions.items()}}

    n = len(texts)
    tp = {b: n / total[b] for b in BACKENDS}
    lines = [
        f"# Embedding benchmark ({started}, {platform.machine()}, {platform.processor() or 'cpu'}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, torch threads {torch.get_num_threads()}, onnxruntime {__import__('onnxruntime').__version__})",
        "",
        f"Model {base.embed.embed_model}; {n} chunk texts of the shipped corpus (sorted by length, batches of {bs}); backends "
        "interleaved batch by batch in rotating order (the machine is shared: absolute figures are noisy, ratios less so).",
        "",
        "| backend | index name | chunks/s | × torch | median batch s | × torch (median batch) | query p50 ms | query p95 ms "
        "| cosine to torch min / p5 / mean | max norm error | load s (cached) | export s (once) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for b in BACKENDS:
        med = statistics.median(secs[b])
        ratio_med = statistics.median(t / s for t, s in zip(secs["torch"], secs[b], strict=True))
        q = sorted(qsecs[b])
        c = cos[b]
        lines.append(
            f"| {b} | `{emb[b].name}` | {tp[b]:.1f} | {tp[b] / tp['torch']:.2f} | {med:.2f} | {ratio_med:.2f} "
            f"| {1000 * q[len(q) // 2]:.1f} | {1000 * q[min(len(q) - 1, int(0.95 * len(q)))]:.1f} "
            f"| {c.min():.4f} / {np.quantile(c, 0.05):.4f} / {c.mean():.4f} | {norms[b]:.1e} "
            f"| {load_s[b]:.1f} | {export_s.get(b, float('nan')):.1f} |"
        )
    lines.append("")
    lines.append("`× torch (median batch)` is the median over batches of the per-batch time ratio, the least load-sensitive figure. "
                 "Query latency: one question at a time (torch with the retriever's query_threads="
                 f"{base.retrieval.query_threads}; onnxruntime with intra-op threads = cores), {len(qtexts)} questions.")
    if quality_rows:
        lines += ["", "## Retrieval quality (paper level, a fresh index per backend)", "",
                  "| backend | " + " | ".join(f"{f.split('_')[0]} {m} R@5 | {f.split('_')[0]} {m} MRR@10"
                                              for f in QUESTION_FILES for m in ("dense", "hybrid")) + " | index build s |",
                  "|---|" + "---:|" * (4 * len(QUESTION_FILES) + 1)]
        for b, row in quality_rows.items():
            cells = " | ".join(f"{row[f][m]['recall@5']:.3f} | {row[f][m]['mrr@10']:.3f}"
                               for f in QUESTION_FILES for m in ("dense", "hybrid"))
            lines.append(f"| {b} | {cells} | {row['build_s']:.1f} |")
        n_q = {f: quality_rows["torch"][f]["dense"]["n"] for f in QUESTION_FILES}
        lines += ["", "Questions with gold titles: " + ", ".join(f"{f} {k}" for f, k in n_q.items())
                  + ". Index build s: chunking, writing and BM25 only (the chunk vectors come from the throughput run)."]
        diffs = []
        for b in BACKENDS[1:]:
            for f in QUESTION_FILES:
                ranks = {r["id"]: r["top"] for r in quality_rows["torch"][f]["dense"]["questions"]}
                other = {r["id"]: r["top"] for r in quality_rows[b][f]["dense"]["questions"]}
                same = sum(ranks[i] == other[i] for i in ranks)
                diffs.append(f"{b} {f}: {same}/{len(ranks)}")
        lines += ["", "Dense top-3 identical to torch's: " + "; ".join(diffs) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=int, default=None, help="embed only N chunk texts (evenly spaced by length)")
    ap.add_argument("--no-quality", action="store_true", help="skip the retrieval-quality indexes")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results_embed.md")
    args = ap.parse_args()
    report = main(args.sample, quality=not args.no_quality)
    print(report)
    args.out.write_text(report)
