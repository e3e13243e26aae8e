"""Hybrid retrieval that returns papers.

- Dense: a llama-index ``VectorIndexRetriever`` over the Chroma chunk collection; a paper's dense
  score is its best chunk's cosine similarity.
- Keyword: bm25s over one document per paper (title twice, authors, abstract), stemmed.
- Fusion: each retriever's scores are standardized over its own candidate list and weighted by
  how confident that retriever is on this query (how far its best score stands above the rest),
  so a retriever that finds nothing distinctive cannot drown the one that does.
- Filters are one :class:`~rag.filters.Filters` applied to both paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .embed import Embedder
from .filters import Filters, parse_filters, to_metadata_filters
from .models import Hit, Paper
from .store import Store

CANDIDATES = 50  # papers each retriever contributes to fusion


def llama_embedding(embedder: Embedder):
    """A llama-index ``BaseEmbedding`` around our :class:`Embedder` (no global ``Settings``)."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class _Adapter(BaseEmbedding):
        _e: object = PrivateAttr()

        def __init__(self, e):
            super().__init__(model_name=e.name, embed_batch_size=64)
            self._e = e

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._e.embed_batch([query])[0].tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._e.embed_batch([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._e.embed_batch(texts).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return _Adapter(embedder)


class KeywordIndex:
    """BM25 (bm25s, Snowball-stemmed, English stop words) over one text per paper."""

    def __init__(self, papers: list[Paper]):
        import bm25s

        try:
            import Stemmer

            self.stemmer = Stemmer.Stemmer("english")
        except ImportError:  # pragma: no cover - PyStemmer is a dependency
            self.stemmer = None
        self.papers = papers
        corpus = [f"{p.title}\n{p.title}\n{' '.join(p.authors)}\n{p.abstract}" for p in papers]
        self.bm25 = bm25s.BM25()
        self.bm25.index(bm25s.tokenize(corpus, stopwords="en", stemmer=self.stemmer, show_progress=False),
                        show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        import bm25s

        tok = bm25s.tokenize([query], stopwords="en", stemmer=self.stemmer, show_progress=False, return_ids=False)
        terms = tok[0] if tok and tok[0] else []
        if not terms:
            return np.zeros(len(self.papers), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(terms), dtype=np.float32)


@dataclass
class Ranked:
    """One retriever's candidates: paper id → score, plus the matching passages."""

    scores: dict[str, float]
    passages: dict[str, list[str]]


def _confidence(values: list[float]) -> float:
    """How much the best candidate stands out: (top − mean) / std over the candidate list."""
    if len(values) < 3:
        return 1.0
    v = np.asarray(values, dtype=np.float64)
    sd = float(v.std())
    return float((v.max() - v.mean()) / sd) if sd > 1e-9 else 0.0


def _standardize(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    v = np.asarray(list(scores.values()), dtype=np.float64)
    mu, sd = float(v.mean()), float(v.std()) or 1.0
    return {k: (s - mu) / sd for k, s in scores.items()}


class Retriever:
    """Dense + keyword retrieval over one index, fused, one hit per paper."""

    def __init__(self, store: Store, embedder: Embedder, *, candidates: int = CANDIDATES,
                 dense_weight: float = 1.0, keyword_weight: float = 1.0):
        from llama_index.core import VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.store, self.embedder, self.candidates = store, embedder, candidates
        self.dense_weight, self.keyword_weight = dense_weight, keyword_weight
        self.papers = store.paper_records()
        self.by_id = {p.id: p for p in self.papers}
        self.row = {p.id: i for i, p in enumerate(self.papers)}
        self.venues = {p.venue for p in self.papers if p.venue}
        self.source_labels = {s.label for p in self.papers for s in p.sources}
        self.keyword = KeywordIndex(self.papers) if self.papers else None
        self._embed_model = llama_embedding(embedder)
        self._index = VectorStoreIndex.from_vector_store(ChromaVectorStore(chroma_collection=store.chunks),
                                                         embed_model=self._embed_model)

    # ------------------------------------------------------------------ filters

    def filters(self, **kwargs) -> Filters:
        return parse_filters(self.venues, self.source_labels, **kwargs)

    def allowed(self, f: Filters) -> set[str] | None:
        return {p.id for p in self.papers if f.match(p)} if f.active else None

    # ------------------------------------------------------------------ single retrievers

    def dense(self, query: str, f: Filters, n: int | None = None, allowed: set[str] | None = None) -> Ranked:
        """Best chunk cosine per paper, over the top ``3n`` chunks."""
        n = n or self.candidates
        if allowed is not None and not allowed:
            return Ranked({}, {})
        mf = to_metadata_filters(f, sorted(allowed) if allowed is not None else None)
        retriever = self._index.as_retriever(similarity_top_k=3 * n, filters=mf)
        scores: dict[str, float] = {}
        passages: dict[str, list[str]] = {}
        for r in retriever.retrieve(query):
            pid = r.node.metadata.get("paper_id")
            if pid not in self.by_id or (allowed is not None and pid not in allowed):
                continue
            s = float(r.score or 0.0)
            text = r.node.get_content()
            if text not in passages.setdefault(pid, []):
                passages[pid].append(text)
            scores[pid] = max(scores.get(pid, -1.0), s)
        top = sorted(scores, key=scores.get, reverse=True)[:n]
        return Ranked({p: scores[p] for p in top}, {p: passages[p] for p in top})

    def keyword_search(self, query: str, f: Filters, n: int | None = None, allowed: set[str] | None = None) -> Ranked:
        n = n or self.candidates
        if self.keyword is None:
            return Ranked({}, {})
        s = self.keyword.scores(query)
        if allowed is not None:
            mask = np.zeros(len(self.papers), dtype=bool)
            mask[[self.row[i] for i in allowed]] = True
            s = np.where(mask, s, 0.0)
        order = np.argsort(-s)[:n]
        out = {self.papers[i].id: float(s[i]) for i in order if s[i] > 0}
        return Ranked(out, {})

    # ------------------------------------------------------------------ fusion

    def search(self, query: str, k: int = 5, mode: str = "hybrid", **filters) -> list[Hit]:
        """The top ``k`` papers for ``query``; ``mode`` is hybrid, dense or keyword."""
        f = self.filters(**filters)
        allowed = self.allowed(f)
        query = re.sub(r"\s+", " ", query or "").strip()
        if not query or not self.papers:
            return []
        d = self.dense(query, f, allowed=allowed) if mode in ("hybrid", "dense") else Ranked({}, {})
        kw = self.keyword_search(query, f, allowed=allowed) if mode in ("hybrid", "keyword") else Ranked({}, {})
        if mode == "dense":
            fused = dict(d.scores)
        elif mode == "keyword":
            fused = dict(kw.scores)
        else:
            fused = self.fuse(d, kw)
        order = sorted(fused, key=fused.get, reverse=True)[:k]
        hits = []
        for rank, pid in enumerate(order, 1):
            p = self.by_id[pid]
            passages = d.passages.get(pid) or self.best_passages(query, p)
            hits.append(Hit(paper=p, score=float(fused[pid]), passages=passages[:3], dense=d.scores.get(pid),
                            keyword=kw.scores.get(pid), rank=rank))
        return hits

    def fuse(self, d: Ranked, kw: Ranked) -> dict[str, float]:
        """Confidence-weighted sum of standardized scores; a paper missing from one list gets
        that list's floor (its lowest standardized score)."""
        zd, zk = _standardize(d.scores), _standardize(kw.scores)
        wd = self.dense_weight * _confidence(list(d.scores.values()))
        wk = self.keyword_weight * _confidence(list(kw.scores.values()))
        floor_d = min(zd.values(), default=0.0)
        floor_k = min(zk.values(), default=0.0)
        ids = set(zd) | set(zk)
        return {i: wd * zd.get(i, floor_d) + wk * zk.get(i, floor_k) for i in ids}

    def best_passages(self, query: str, p: Paper) -> list[str]:
        """For a paper found by keywords only: its abstract's chunks ranked by term overlap."""
        terms = set(re.findall(r"\w{3,}", query.lower()))
        sents = re.split(r"(?<=[.!?])\s+", p.abstract)
        ranked = sorted(sents, key=lambda s: -len(terms & set(re.findall(r"\w{3,}", s.lower()))))
        return [" ".join(ranked[:2])] if ranked else [p.abstract[:500]]

    # ------------------------------------------------------------------ similar papers

    def similar(self, paper_id: str, k: int = 5) -> list[Hit]:
        """The ``k`` papers whose mean chunk vector is nearest to this paper's."""
        from .errors import ConfigError

        got = self.store.papers.get(ids=[paper_id], include=["embeddings"])
        if not got["ids"]:
            raise ConfigError(f"no paper with id {paper_id!r} in the index")
        res = self.store.papers.query(query_embeddings=[got["embeddings"][0]], n_results=k + 1, include=["distances"])
        hits = []
        for pid, dist in zip(res["ids"][0], res["distances"][0], strict=True):
            if pid == paper_id or pid not in self.by_id:
                continue
            hits.append(Hit(paper=self.by_id[pid], score=1.0 - float(dist), dense=1.0 - float(dist), rank=len(hits) + 1))
        return hits[:k]
