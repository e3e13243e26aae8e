"""Reranking the best hybrid candidates with a second, stronger embedding model.

With ``rerank_model`` set (e.g. ``all-mpnet-base-v2``), ``rag index`` embeds each paper's
"title: abstract" once with that model (truncated at what the model reads) and keeps the vectors in a
third Chroma collection, ``<collection>_rerank``, beside the chunks and papers; each record carries
the paper's content hash, so an update re-embeds only new or changed papers and deletes removed ones.
At search time the question (the text the dense side embeds) is embedded by the same model, and the
top ``rerank_candidates`` papers of the hybrid ranking are reordered by

    fused score + rerank_weight × z,   z = (cos(question, paper) − mean) / std over every paper,

the same corpus standardization as the hybrid fusion, so the second model moves a candidate only as far
as its match stands out from a typical paper. Papers below the top ``rerank_candidates`` keep their
place. An index without these vectors (built before the setting was on) is searched as before, with a
note; so is a paper whose vector is missing (z = 0).

The model runs on onnxruntime fp32 (identical vectors to torch, exported once into
``index_dir/models``), falling back to torch when the export fails.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np

from .models import Paper


def paper_text(p: Paper) -> str:
    """What the rerank model embeds for a paper."""
    return f"{p.title}: {p.abstract}"


def make_rerank_embedder(model: str, *, index_dir, device: str = "cpu"):
    """The rerank model: onnxruntime fp32 when it exports (the export cached under ``index_dir``), else
    sentence-transformers on torch."""
    from .embed import SentenceTransformerEmbedder

    try:
        from .embed_onnx import OnnxEmbedder

        return OnnxEmbedder(model, backend="onnx", index_dir=index_dir, batch_size=16)
    except Exception as e:  # noqa: BLE001 - no onnx, export refused: the same model on torch
        print(f"note: the rerank model runs on torch ({type(e).__name__}: {e})", file=sys.stderr)
        return SentenceTransformerEmbedder(model, device=device, batch_size=16)


def collection_name(collection: str) -> str:
    """The rerank collection beside the index's collections named ``collection``."""
    return f"{collection}_rerank"


def open_vectors(client, collection: str, model: str, dim: int, *, create: bool):
    """The rerank vectors of ``model`` (a :class:`rag.store.VectorTable`; None when missing and not ``create``)."""
    from .store import open_vector_table

    return open_vector_table(client, collection_name(collection), model, dim, create=create)


def update_vectors(client, collection: str, papers: list[Paper], embedder,
                   progress: Callable[[int, int, str], None] | None = None) -> tuple[int, float]:
    """Bring the rerank collection in line with ``papers``: embed the new and changed ones, delete the
    removed ones. Returns (papers embedded, seconds spent embedding)."""
    col = open_vectors(client, collection, embedder.name, embedder.dim, create=True)
    have = {pid: (m or {}).get("content_hash", "") for pid, m, _ in col.records(with_vectors=False)}
    todo = [p for p in papers if have.get(p.id) != p.content_hash]
    gone = sorted(set(have) - {p.id for p in papers})
    spent = 0.0
    step = 64
    for b in range(0, len(todo), step):
        batch = todo[b:b + step]
        t = time.perf_counter()
        vecs = embedder.embed_batch([paper_text(p) for p in batch])
        spent += time.perf_counter() - t
        col.upsert([p.id for p in batch], vecs, [{"content_hash": p.content_hash} for p in batch])
        if progress:
            progress(b + len(batch), len(todo), f"rerank vectors ({embedder.name})")
    col.delete(gone)
    return len(todo), spent


class Reranker:
    """The rerank model's query embedder and every paper's stored vector, aligned with ``paper_ids``."""

    def __init__(self, embedder, vectors: np.ndarray, paper_ids: list[str], *, candidates: int, weight: float):
        self.embedder, self.candidates, self.weight = embedder, candidates, weight
        self.row = {pid: i for i, pid in enumerate(paper_ids)}
        self.vectors = np.asarray(vectors, dtype=np.float32)

    @classmethod
    def load(cls, client, collection: str, embedder, papers: list[Paper], *, candidates: int, weight: float) -> Reranker | None:
        """The reranker over the stored vectors of ``papers`` (current content hash only); None when
        the index holds none for this model."""
        col = open_vectors(client, collection, embedder.name, embedder.dim, create=False)
        if col is None:
            return None
        want = {p.id: p.content_hash for p in papers}
        ids, vecs = [], []
        for pid, m, v in col.records(with_vectors=True):
            if want.get(pid) == (m or {}).get("content_hash"):
                ids.append(pid)
                vecs.append(v)
        if not ids:
            return None
        return cls(embedder, np.asarray(vecs, dtype=np.float32), ids, candidates=candidates, weight=weight)

    def rerank(self, text: str, order: list[str], scores: dict[str, float]) -> dict[str, float]:
        """``scores`` with the top ``candidates`` of ``order`` moved by the rerank model's corpus
        z-score of ``text`` (the others unchanged; every reranked score stays above theirs)."""
        top = order[:self.candidates]
        if len(top) < 2 or self.weight <= 0:
            return scores
        q = np.asarray(self.embedder.embed_batch([text])[0], dtype=np.float32)
        cos = np.einsum("ij,j->i", self.vectors, q, optimize=False)
        mu, sd = float(cos.mean()), float(cos.std()) or 1.0
        out = dict(scores)
        for pid in top:
            i = self.row.get(pid)
            out[pid] = scores[pid] + (self.weight * (float(cos[i]) - mu) / sd if i is not None else 0.0)
        rest = order[self.candidates:]
        if rest:  # keep the candidates ahead of everything they were ahead of before
            lift = max(scores[p] for p in rest) - min(out[p] for p in top)
            if lift >= 0:
                for pid in top:
                    out[pid] += lift + 1e-6
        return out
