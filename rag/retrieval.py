"""Hybrid retrieval that returns papers.

One query runs two retrievers over the same eligible papers and fuses them:

- **Dense**: the query vector against the chunk vectors in Chroma (cosine, HNSW). A paper's dense
  score is its best chunk's cosine similarity; chunks of one paper are merged into one hit.
- **Keyword**: BM25 (bm25s, Snowball-stemmed, English stop words) over one text per paper: the
  title twice (a field weight), the author names and the abstract. Titles, method names and
  author names are therefore searchable even when the dense model knows nothing of them.
- **Fusion** (``mode="hybrid"``): each retriever's score is turned into a z-score against that
  retriever's own score distribution *over the corpus* for this query (how many standard
  deviations a paper stands above a typical paper), and the z-scores are added, the keyword one
  weighted by ``keyword_weight`` × the query's verbosity factor (see :func:`keyword_weight_for`).
  Unlike rank fusion, a retriever whose best match barely stands out contributes little, so a
  keyword list that only matched generic words cannot drown a confident dense match, and the
  reverse; unlike min-max or per-list normalization the scale does not depend on how many
  candidates happened to be returned. For the corpus distribution the dense side uses a fixed
  reference sample of papers (all of them in a corpus of up to ``REFERENCE_PAPERS``), the keyword
  side scores every paper anyway.
- **Pseudo-relevance feedback** (hybrid only, ``prf_weight`` > 0): the query vector is moved toward
  the mean vector of the top ``prf_papers`` papers of the fused ranking (Rocchio), and the dense
  side is searched and fused again with it. A short paraphrase shares few words and little of its
  embedding with the abstract it describes; the best first matches carry the vocabulary of the
  topic into the second search (measured with ``rag eval``: user set R@5 0.729 → 0.771, holdout
  0.891 → 0.901, development set unchanged).
- **Query boilerplate** ("which papers…", "is there a method that…", "find me papers on…") is
  removed from the text the dense model embeds (:func:`strip_boilerplate`); BM25 drops such words
  through its stop-word list and their low IDF.

- **Rerank** (hybrid only, optional): with ``rerank_model`` set, a second embedding model reorders
  the best ``rerank_candidates`` papers (:mod:`rag.rerank`).

Filters (:mod:`rag.filters`) are applied to both retrievers: to Chroma as a ``where`` clause on the
chunk metadata and to the keyword scores as a mask over the same eligible paper set, so a filter
selects the same papers in every mode.

On a store larger than the reference sample (up to ``MEMORY_CHUNKS_MAX`` chunks), every chunk vector
and text is read into memory in the background after the retriever opens (:class:`ChunkMatrix`), so
exact dense scores of keyword candidates and the passages of the hits need no Chroma ``get``; until
it is there they are fetched as before, with the same results. Chroma's dense search runs on a worker
thread while the reference scores and BM25 are computed. With the chunks in memory, the feedback pass
does not search Chroma again: it scores every chunk of the papers the first search returned and of the
keyword candidates exactly in memory (:meth:`Retriever.feedback_dense`). That pass is not the same
search: a chunk outside that pool that Chroma's second search would return is missed, so a hybrid
search run before the background read is done can rank differently from the same search after it.

Query embedding runs with ``query_threads`` torch threads (1 by default): a single short query is
too small to gain from a second thread, and on a shared 2-core machine a second thread mostly
waits for the other processes (p50 latency is several times worse under load).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .embed import Embedder
from .errors import ConfigError
from .filters import Filters, parse_filters, to_chroma_where
from .models import Hit, Paper
from .store import Store, chunk_id, paper_of_chunk, parse_chunk_id

MODES = ("hybrid", "dense", "keyword", "rrf")
RRF_K = 60  # reciprocal rank fusion constant of the "rrf" baseline (Cormack et al. 2009)
REFERENCE_PAPERS = 2000  # papers whose chunk vectors are kept in memory as the dense reference sample
CHUNKS_PER_PAPER = 3  # dense candidates: this many chunks are asked of Chroma per wanted paper
QUERY_CACHE = 256  # query vectors kept (LRU)
MEMORY_CHUNKS_MAX = 300_000  # a store of up to this many chunks keeps every chunk vector in memory (see ChunkMatrix)


def _defaults() -> dict:
    """Retrieval knobs: the defaults of the ``retrieval`` settings fields of the same names."""
    from .settings import RetrievalSettings

    names = ("retrieval_candidates", "keyword_weight", "keyword_verbose_terms", "query_threads", "prf_weight", "prf_papers")
    return {n: RetrievalSettings.model_fields[n].default for n in names}


# ---------------------------------------------------------------------------------------------- query text

_NOUN = (r"(?:papers?|works?|research|stud(?:y|ies)|articles?|publications?|methods?|approach(?:es)?|"
         r"techniques?|algorithms?|models?|ways?|ideas?)")
_LEAD = [
    rf"(?:please\s+)?(?:find|show|list|give|recommend|suggest|search(?:\s+for)?|look(?:ing)?\s+for|"
    rf"i(?:'m|\s+am)\s+looking\s+for|i\s+want|i\s+need)\s+(?:me\s+)?(?:some\s+|any\s+|the\s+|a\s+|an\s+)?{_NOUN}\b",
    rf"(?:which|what)\s+{_NOUN}\b(?:\s+(?:are\s+there|exist|is\s+there))?",
    rf"(?:is|are)\s+there\s+(?:a|an|any|some)?\s*{_NOUN}?\b",
    rf"(?:do|does)\s+(?:you\s+know\s+)?(?:any|a|an)\s+{_NOUN}\b",
    rf"{_NOUN}\s+(?=on\b|about\b|regarding\b)",
]
_LINK = r"\s*(?:that|which|who|where|to|for|on|about|regarding|dealing\s+with|in\s+which|by\s+which)?\b"
_LEAD_RX = re.compile(r"^\s*(?:" + "|".join(_LEAD) + r")" + _LINK + r"\s*", re.I)


def strip_boilerplate(query: str) -> str:
    """The query without a leading generic request ("which papers propose", "is there a method
    that", "find me papers on"): words that say *that* something is asked, not *what*. The query is
    returned unchanged when fewer than two words would be left."""
    out = _LEAD_RX.sub("", query, count=1).strip()
    return out if len(out.split()) >= 2 else query


def keyword_weight_for(n_terms: int, base: float, verbose_terms: int) -> float:
    """The keyword retriever's weight for a query with ``n_terms`` distinct BM25 terms.

    ``base`` up to ``verbose_terms`` terms, then growing in proportion to the number of terms.
    Lexical evidence accumulates with every query term a paper shares, while one dense vector for
    a long multi-part question is a blur of its parts; a verbose, keyword-rich question therefore
    earns the keyword side more weight, a short paraphrase leaves the dense side in front."""
    if verbose_terms <= 0 or n_terms <= verbose_terms:
        return base
    return base * n_terms / verbose_terms


# ---------------------------------------------------------------------------------------------- keyword

class KeywordIndex:
    """BM25 (bm25s, Snowball-stemmed, English stop words) over one text per paper: title twice,
    authors, abstract."""

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
        self.vocab = set(self.bm25.vocab_dict)

    def terms(self, query: str) -> list[str]:
        """The query's stemmed terms that occur in the corpus, in query order, repeats kept (a
        term said twice counts twice, as BM25's query-term frequency)."""
        import bm25s

        tok = bm25s.tokenize([query], stopwords="en", stemmer=self.stemmer, show_progress=False, return_ids=False)
        return [t for t in (tok[0] if tok else []) if t in self.vocab]

    def scores(self, query: str, terms: list[str] | None = None) -> np.ndarray:
        terms = self.terms(query) if terms is None else terms
        if not terms:
            return np.zeros(len(self.papers), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(terms), dtype=np.float32)


# ---------------------------------------------------------------------------------------------- dense

@dataclass
class DenseResult:
    """Dense candidates of one query: paper id → best-chunk cosine, and each paper's matching
    chunk ids, best first."""

    scores: dict[str, float]
    chunks: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    pool: list[str] | None = None  # every chunk id Chroma returned (see Retriever.feedback_dense)


_paper_of = paper_of_chunk


def _unit(v: np.ndarray) -> np.ndarray:
    """``v`` (a vector, or each row of a matrix) scaled to length 1; zero vectors stay zero."""
    return (v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def _matvec(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``a @ v`` without BLAS: a few thousand rows take well under a millisecond either way, and
    waking OpenBLAS's thread pool between two torch inferences makes both of them wait for each
    other's spinning threads on a small machine (search p50 2-3x slower on 2 cores)."""
    return np.einsum("ij,j->i", a, v, optimize=False)


@contextmanager
def _torch_threads(n: int | None):
    """Run the block with ``n`` torch intra-op threads (restored afterwards)."""
    if not n:
        yield
        return
    try:
        import torch
    except ImportError:  # pragma: no cover - an embedder without torch
        yield
        return
    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def top_indices(scores: np.ndarray, n: int) -> np.ndarray:
    """``np.argsort(-scores, kind="stable")[:n]`` (ties: lower index first) without sorting every
    score: on a store of 50,000 papers the full sort of the keyword scores cost ~5 ms a query."""
    if n >= len(scores):
        return np.argsort(-scores, kind="stable")
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    thr = np.partition(scores, len(scores) - n)[len(scores) - n]  # the n-th largest score
    above = np.flatnonzero(scores > thr)
    ties = np.flatnonzero(scores == thr)[:n - len(above)]
    sel = np.concatenate([above, ties])
    return sel[np.lexsort((sel, -scores[sel]))]


def positive_top(scores: np.ndarray, n: int) -> list[int]:
    """``[i for i in top_indices(scores, n) if scores[i] > 0]``, selected without a partition of every
    positive score: on a large corpus most papers share some query term, and that partition cost
    ~0.5 ms a search. The ``n``-th largest of an evenly spaced sample of the scores is a threshold
    that at least ``n`` scores reach, so the top ``n`` (ties included: the same stable order) lie
    among the scores at or above it."""
    if n > 0 and len(scores) > 64 * n:
        sample = scores[::len(scores) // (32 * n)]
        t = np.partition(sample, len(sample) - n)[len(sample) - n]
        if t > 0:
            cand = np.flatnonzero(scores >= t)
            return cand[top_indices(scores[cand], n)].tolist()
    pos = np.flatnonzero(scores > 0)
    return pos[top_indices(scores[pos], n)].tolist()


class ChunkMatrix:
    """Every current chunk of a store in memory, grouped by paper: what
    :meth:`Retriever._fetch_chunk_vectors` would fetch from Chroma for a paper, in the same rows and
    the same order (the store's own), and the chunk texts, without the round trips (on a
    100,000-chunk store a ``get`` of a few papers' vectors cost 2-3 ms a search, of 15 chunk texts
    3-4 ms). ``vecs`` and ``texts`` hold the rows in the store's order, ``ns`` each row's chunk
    number, ``ids`` each row's chunk id; ``order[indptr[r]:indptr[r + 1]]`` are paper row ``r``'s rows,
    ``paper_row`` maps a chunk id to its paper row. Only chunks whose id is one that the fetch would
    ask for (the paper's current content hash, ``n`` below its chunk count) are found here."""

    def __init__(self, vecs: np.ndarray, owners: np.ndarray, ns: np.ndarray, texts: list[str | None], n_papers: int,
                 ids: list[str]):
        self.vecs, self.ns, self.texts, self.ids = vecs, ns, texts, ids
        keep = np.flatnonzero(owners >= 0)
        self.order = keep[np.argsort(owners[keep], kind="stable")]  # by paper, the store's order within one
        self.indptr = np.searchsorted(owners[self.order], np.arange(n_papers + 1))
        self.paper_row = dict(zip([ids[i] for i in keep.tolist()], owners[keep].tolist(), strict=True))

    def rows(self, row: int) -> np.ndarray:
        """The rows (into ``vecs``, ``texts``, ``ns``) of paper row ``row``'s chunks, in the store's order."""
        return self.order[self.indptr[row]:self.indptr[row + 1]]

    def text(self, row: int, n: int) -> tuple[bool, str | None]:
        """(found, text) of chunk ``n`` of paper row ``row``."""
        for i in self.rows(row).tolist():
            if self.ns[i] == n:
                return True, self.texts[i]
        return False, None

    @classmethod
    def load(cls, store: Store, papers: list[Paper], paper_chunks: dict[str, int], page: int = 10_000) -> ChunkMatrix | None:
        """Read every chunk vector and text of ``store`` (pages of ``page``); None when it holds none."""
        from .store import pages

        row = {p.id: (i, p.content_hash, paper_chunks.get(p.id) or 8) for i, p in enumerate(papers)}
        vecs: np.ndarray | None = None
        owners: list[int] = []
        ns: list[int] = []
        texts: list[str | None] = []
        ids: list[str] = []
        for got in pages(store.chunks, ["embeddings", "documents"], page=page):
            emb = got["embeddings"]
            if emb is None or not len(got["ids"]):
                continue
            block = np.asarray(emb, dtype=np.float32)
            if vecs is None:
                vecs = np.empty((max(store.chunk_count(), len(block)), block.shape[1]), dtype=np.float32)
            if len(owners) + len(block) > len(vecs):  # the store grew while it was read
                vecs = np.concatenate([vecs, np.empty((len(owners) + len(block) - len(vecs), vecs.shape[1]), dtype=np.float32)])
            vecs[len(owners):len(owners) + len(block)] = block
            texts += got["documents"] or [None] * len(block)
            ids += got["ids"]
            for cid in got["ids"]:
                parsed = parse_chunk_id(cid)
                r = row.get(parsed[0]) if parsed else None
                ok = parsed is not None and r is not None and parsed[1] == r[1] and parsed[2] < r[2]
                owners.append(r[0] if ok and r else -1)
                ns.append(parsed[2] if ok and parsed else -1)
        if vecs is None:
            return None
        return cls(vecs[:len(owners)], np.asarray(owners, dtype=np.int64), np.asarray(ns, dtype=np.int32), texts, len(papers), ids)


def rrf(rankings: list[list[str]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal rank fusion: each id's sum over the rankings of ``1 / (k + rank)``."""
    out: dict[str, float] = {}
    for ranking in rankings:
        for r, pid in enumerate(ranking, 1):
            out[pid] = out.get(pid, 0.0) + 1.0 / (k + r)
    return out


# ---------------------------------------------------------------------------------------------- retriever

class Retriever:
    """Dense + keyword retrieval over one index, fused, one hit per paper."""

    def __init__(self, store: Store, embedder: Embedder, settings=None, *, query_embedder: Embedder | None = None, **knobs):
        cfg = _defaults()
        if settings is not None:
            cfg.update({k: getattr(settings, k) for k in cfg if hasattr(settings, k)})
        unknown = set(knobs) - set(cfg)
        if unknown:
            raise ConfigError(f"unknown retrieval setting(s): {', '.join(sorted(unknown))}")
        cfg.update({k: v for k, v in knobs.items() if v is not None})
        self.candidates = int(cfg["retrieval_candidates"])
        self.keyword_weight = float(cfg["keyword_weight"])
        self.verbose_terms = int(cfg["keyword_verbose_terms"])
        self.query_threads = int(cfg["query_threads"]) or None
        self.prf_weight = float(cfg["prf_weight"])
        self.prf_papers = int(cfg["prf_papers"])

        self.store, self.embedder = store, embedder
        self.query_embedder = query_embedder or embedder  # the same vectors, maybe a faster runtime
        self.papers, self.paper_chunks = store.paper_records()
        self.by_id = {p.id: p for p in self.papers}
        self.row = {p.id: i for i, p in enumerate(self.papers)}
        self.venues = {p.venue for p in self.papers if p.venue}
        self.source_labels = {s.label for p in self.papers for s in p.sources}
        self.keyword = KeywordIndex(self.papers) if self.papers else None
        self._qcache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._kw_memo: tuple[np.ndarray, int, list[int]] | None = None  # see _keyword_top
        self._pool = None  # worker threads, see _workers
        self.n_chunks = store.chunk_count()
        self.topic_members: Callable[[], dict[int, frozenset[str]]] | None = None  # set by the pipeline (rag.topics)
        self.reranker = None  # a rag.rerank.Reranker, set by the pipeline when rerank_model is on
        self.chunk_matrix: ChunkMatrix | None = None
        self._matrix_thread: threading.Thread | None = None
        self._load_reference()
        # a store larger than the reference sample: every chunk vector is read into memory in the
        # background (searches fetch from Chroma until it is there, with the same results, except the
        # feedback pass: see feedback_dense)
        if not self.ref_full and 0 < self.n_chunks <= MEMORY_CHUNKS_MAX:
            self._matrix_thread = threading.Thread(target=self._load_chunk_matrix, name="rag-chunk-vectors", daemon=True)
            self._matrix_thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the background read of the chunk vectors (if any) is done; True when it is."""
        if self._matrix_thread is not None:
            self._matrix_thread.join(timeout)
            return not self._matrix_thread.is_alive()
        return True

    def _load_chunk_matrix(self) -> None:
        try:
            self.chunk_matrix = ChunkMatrix.load(self.store, self.papers, self.paper_chunks)
        except Exception:  # noqa: BLE001 - an optimization only: searches keep fetching from the store
            self.chunk_matrix = None

    # ------------------------------------------------------------------ reference sample

    def _load_reference(self, max_papers: int = REFERENCE_PAPERS, seed: int = 0) -> None:
        """Chunk vectors of up to ``max_papers`` papers (all of a small corpus; a fixed random
        sample of a large one): the dense score distribution each query is standardized against,
        and exact dense scores for keyword candidates that the dense search did not return."""
        ids = [p.id for p in self.papers]
        if len(ids) > max_papers:
            rng = np.random.default_rng(seed)
            ids = sorted(rng.choice(ids, size=max_papers, replace=False).tolist())
        self.ref_ids = ids
        self.ref_chunk_ids: list[str] = []  # chunk id of each row of ref_vecs
        self.ref_full = len(ids) == len(self.papers)
        vecs, owners = self._fetch_chunk_vectors(ids, self.ref_chunk_ids)
        self.ref_vecs = vecs if len(vecs) else np.zeros((0, self.embedder.dim), dtype=np.float32)
        # papers of the sample (rows into self.papers) and, per paper, the rows of its chunk vectors,
        # padded with an index that points at a -inf slot: a paper's score is one gather and one max
        groups: dict[int, list[int]] = {}
        for i, r in enumerate(owners.tolist()):
            groups.setdefault(r, []).append(i)
        self.ref_owners = owners
        self.ref_papers = np.asarray(sorted(groups), dtype=np.int64)
        width = max((len(g) for g in groups.values()), default=1)
        pad = len(self.ref_vecs)
        self.ref_gather = np.full((len(self.ref_papers), width), pad, dtype=np.int64)
        for j, r in enumerate(self.ref_papers.tolist()):
            self.ref_gather[j, :len(groups[r])] = groups[r]
        self.ref_pos = np.full(len(self.papers), -1, dtype=np.int64)  # row → position in ref_papers
        self.ref_pos[self.ref_papers] = np.arange(len(self.ref_papers))
        # each sampled paper's normalized mean chunk vector (as in the papers collection), for feedback
        means = np.zeros((len(self.ref_papers), self.ref_vecs.shape[1]), dtype=np.float32)
        if len(owners):
            np.add.at(means, self.ref_pos[owners], self.ref_vecs)
        self.ref_means = _unit(means)

    def _fetch_chunk_vectors(self, paper_ids: list[str], chunk_ids: list[str] | None = None,
                             batch: int = 2000) -> tuple[np.ndarray, np.ndarray]:
        """(vectors, paper rows) of every chunk of the given papers, looked up by chunk id
        (see :func:`rag.store.chunk_id`)."""
        m = self.chunk_matrix
        if m is not None and chunk_ids is None:  # in memory: the same rows, no round trip
            rows = [self.row[pid] for pid in dict.fromkeys(paper_ids) if pid in self.by_id]
            sel = [m.rows(r) for r in rows]
            if not sel or not sum(map(len, sel)):
                return np.zeros((0, self.embedder.dim), dtype=np.float32), np.zeros(0, dtype=np.int64)
            return m.vecs[np.concatenate(sel)], np.repeat(np.asarray(rows, dtype=np.int64), [len(x) for x in sel])
        vecs, owners = [], []
        ids = [chunk_id(pid, self.by_id[pid].content_hash, n) for pid in paper_ids if pid in self.by_id
               for n in range(self.paper_chunks.get(pid) or 8)]  # count unknown: probe ids, absent ones are skipped
        for i in range(0, len(ids), batch):
            for cid, v in self.store.chunk_vectors(ids[i:i + batch]):
                vecs.append(v)
                owners.append(self.row[_paper_of(cid)])
                if chunk_ids is not None:
                    chunk_ids.append(cid)
        if not vecs:
            return np.zeros((0, self.embedder.dim), dtype=np.float32), np.zeros(0, dtype=np.int64)
        return np.asarray(vecs, dtype=np.float32), np.asarray(owners, dtype=np.int64)

    def paper_vectors(self, paper_ids: list[str], cache: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """The normalized mean chunk vector of each paper (from the reference sample, the chunk
        vectors in ``cache``, else the papers collection); papers without one are left out."""
        cache = {} if cache is None else cache
        vecs, missing = [], []
        for pid in paper_ids:
            pos = self.ref_pos[self.row[pid]] if pid in self.row else -1
            if pos >= 0:
                vecs.append(self.ref_means[pos])
            elif pid in cache:
                vecs.append(_unit(cache[pid].mean(axis=0)))
            elif self.chunk_matrix is not None and pid in self.row and len(rows := self.chunk_matrix.rows(self.row[pid])):
                # in memory: the mean of the same chunk vectors as the cache path (the papers collection
                # holds Chroma's own normalization of it: equal to ~1e-7, not bit for bit)
                vecs.append(_unit(self.chunk_matrix.vecs[rows].mean(axis=0)))
            else:
                missing.append(pid)
        if missing:
            vecs += [np.asarray(v, dtype=np.float32) for _, v in self.store.paper_vectors(missing)]
        return np.asarray(vecs, dtype=np.float32).reshape(len(vecs), self.embedder.dim)

    def feedback_query(self, qvec: np.ndarray, top: list[str], cache: dict[str, np.ndarray] | None = None) -> np.ndarray | None:
        """``qvec`` moved toward the mean vector of the ``top`` papers by ``prf_weight`` (normalized);
        None when there is nothing to move toward."""
        vecs = self.paper_vectors(top, cache)
        if not len(vecs) or self.prf_weight <= 0:
            return None
        q = _unit(qvec + self.prf_weight * vecs.mean(axis=0))
        return q if np.any(q) else None

    def _reference_scores(self, qvec: np.ndarray) -> np.ndarray:
        """Best-chunk cosine of every paper of the reference sample (aligned with ``ref_papers``)."""
        if not len(self.ref_vecs):
            return np.zeros(0, dtype=np.float32)
        sims = np.append(_matvec(self.ref_vecs, qvec), np.float32(-np.inf))
        return sims[self.ref_gather].max(axis=1)

    # ------------------------------------------------------------------ filters

    def filters(self, **kwargs) -> Filters:
        """Validate filters against the venues, sources and (for a topic filter) topics of this index."""
        topics = self.topic_members() if self.topic_members is not None and kwargs.get("topic") not in (None, "", [], ()) else None
        return parse_filters(self.venues, self.source_labels, topics, **kwargs)

    def allowed(self, f: Filters) -> set[str] | None:
        """The ids of the papers a filter admits (``None``: no filter)."""
        return {p.id for p in self.papers if f.match(p)} if f.active else None

    # ------------------------------------------------------------------ query embedding

    def embed_query(self, text: str) -> np.ndarray:
        """The normalized query vector (cached per text)."""
        with self._lock:
            v = self._qcache.get(text)
            if v is not None:
                self._qcache.move_to_end(text)
                return v
        with _torch_threads(self.query_threads):
            v = np.asarray(self.query_embedder.embed_batch([text])[0], dtype=np.float32)
        with self._lock:
            self._qcache[text] = v
            while len(self._qcache) > QUERY_CACHE:
                self._qcache.popitem(last=False)
        return v

    # ------------------------------------------------------------------ single retrievers

    def dense(self, qvec: np.ndarray, f: Filters, allowed: set[str] | None, n: int | None = None) -> DenseResult:
        """The best ``n`` papers by best-chunk cosine: the best ``3n`` chunks the filter admits, from
        Chroma under the filter's ``where`` clause, or, when the reference sample holds every chunk
        vector (a corpus of up to ``REFERENCE_PAPERS`` papers), by an exact search in memory, which
        spares the Chroma round trip; chunks of one paper are merged."""
        n = n or self.candidates
        if allowed is not None and not allowed:
            return DenseResult({})
        total = self.n_chunks
        if not total:
            return DenseResult({})
        if self.ref_full and len(self.ref_chunk_ids) == len(self.ref_vecs) == total:
            # every chunk vector is in memory: exact search in numpy, no Chroma round trip
            sims = _matvec(self.ref_vecs, qvec)
            if allowed is not None:
                ok = np.zeros(len(self.papers), dtype=bool)
                ok[[self.row[i] for i in allowed]] = True
                sims = np.where(ok[self.ref_owners], sims, -np.inf)
            m = min(CHUNKS_PER_PAPER * n, total)
            top = np.argpartition(-sims, m - 1)[:m] if m < len(sims) else np.arange(len(sims))
            top = top[np.argsort(-sims[top], kind="stable")]
            pairs = [(self.ref_chunk_ids[i], 1.0 - float(sims[i])) for i in top.tolist() if np.isfinite(sims[i])]
        else:
            where = to_chroma_where(f, sorted(allowed) if allowed is not None and f.needs_ids else None)
            pairs = self.store.query_chunks(qvec.tolist(), min(CHUNKS_PER_PAPER * n, total), where)
            d = self._merged(pairs, allowed, n)
            d.pool = [cid for cid, _ in pairs]
            return d
        return self._merged(pairs, allowed, n)

    def _merged(self, pairs: list[tuple[str, float]], allowed: set[str] | None, n: int) -> DenseResult:
        """(chunk id, cosine distance) pairs, nearest first, merged into the best ``n`` papers."""
        scores: dict[str, float] = {}
        chunks: dict[str, list[tuple[str, float]]] = {}
        by_id = self.by_id
        for cid, dist in pairs:
            pid = cid.partition(":")[0]  # _paper_of, inlined: this loop runs for 150 chunks twice a search
            if pid not in by_id or (allowed is not None and pid not in allowed):
                continue
            s = 1.0 - float(dist)
            got = chunks.get(pid)
            if got is None:
                chunks[pid] = [(cid, s)]
                scores[pid] = s
            else:
                got.append((cid, s))
                if s > scores[pid]:
                    scores[pid] = s
        best = sorted(scores, key=scores.__getitem__, reverse=True)[:n]
        return DenseResult({p: scores[p] for p in best}, {p: chunks[p] for p in best})

    def feedback_dense(self, qvec: np.ndarray, d: DenseResult, kw: np.ndarray | None, allowed: set[str] | None,
                       n: int) -> DenseResult | None:
        """The feedback pass's dense side without a second Chroma search (None when it cannot be
        done in memory: no :class:`ChunkMatrix` yet, or a first pass not searched through Chroma or
        holding a chunk that is not in memory).

        The feedback query is the first query moved toward its best papers, so its nearest chunks
        lie among the first query's: the chunks of every paper that the first Chroma search returned
        (all of them, not only the returned ones) and of the keyword candidates are scored exactly
        against ``qvec`` in memory, and the best ``3n`` are merged as in :meth:`dense`. A chunk
        outside that pool that a second HNSW search would have returned is missed (measured on the
        tune files, bench/RESULTS.md "Issue 13 (5)"); the pool's chunks get exact cosines instead of
        HNSW's approximate neighbours. Saves one Chroma round trip (~2-4 ms on 100,000 chunks)."""
        m = self.chunk_matrix
        if m is None or d.pool is None:
            return None
        in_memory, papers = m.paper_row, self.papers
        want: dict[int, None] = {}  # paper rows whose chunks are scored, first-search order
        for cid in d.pool:
            r = in_memory.get(cid)
            if r is None:  # not a current chunk of a known paper
                pid = cid.partition(":")[0]
                if pid not in self.by_id or (allowed is not None and pid not in allowed):
                    continue  # dense() skips these too
                return None  # a chunk of another version of the paper: not in memory
            if allowed is None or papers[r].id in allowed:
                want[r] = None
        if kw is not None and len(kw):
            want.update(dict.fromkeys(self._keyword_top(kw, n)))  # positive scores only: inside the filter
        if not want:
            return None
        prow = np.fromiter(want, dtype=np.int64, count=len(want))
        starts, lens = m.indptr[prow], m.indptr[prow + 1] - m.indptr[prow]
        total = int(lens.sum())
        if not total:
            return None
        # every chunk row of those papers (ChunkMatrix.rows of each, concatenated)
        rows = m.order[np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(total)]
        sims = _matvec(m.vecs[rows], qvec)
        top = np.argsort(-sims, kind="stable")[:CHUNKS_PER_PAPER * n]
        ids = m.ids
        pairs = [(ids[i], 1.0 - s) for i, s in zip(rows[top].tolist(), sims[top].tolist(), strict=True)]
        return self._merged(pairs, allowed, n)

    def dense_scores_for(self, qvec: np.ndarray, paper_ids: list[str], ref: np.ndarray | None = None,
                         cache: dict[str, np.ndarray] | None = None) -> dict[str, float]:
        """Exact best-chunk cosine of the given papers (from the reference sample, else from their
        chunk vectors, fetched from Chroma once per ``cache``: paper id → chunk vectors, kept for one
        search). ``ref``: this query's :meth:`_reference_scores`, when already computed."""
        out: dict[str, float] = {}
        if not paper_ids:
            return out
        ref = self._reference_scores(qvec) if ref is None else ref
        missing = []
        for pid in paper_ids:
            pos = self.ref_pos[self.row[pid]] if pid in self.row else -1
            if pos >= 0:
                out[pid] = float(ref[pos])
            else:
                missing.append(pid)
        cache = {} if cache is None else cache
        fetch = [pid for pid in missing if pid not in cache]
        if fetch:
            vecs, owners = self._fetch_chunk_vectors(fetch)
            for r in sorted(set(owners.tolist())):
                cache[self.papers[r].id] = vecs[owners == r]
        have = [pid for pid in missing if pid in cache and len(cache[pid])]
        if have:  # one product for all of them, then each paper's best chunk (the same per-row dot products)
            mats = [cache[pid] for pid in have]
            starts = np.cumsum([0] + [len(x) for x in mats[:-1]])
            best = np.maximum.reduceat(_matvec(np.concatenate(mats), qvec), starts)
            out.update(zip(have, best.tolist(), strict=True))
        return out

    def keyword_scores(self, query: str, allowed: set[str] | None) -> tuple[np.ndarray, int, tuple[float, float]]:
        """BM25 score of every paper (0 outside ``allowed``), the number of distinct query terms,
        and the scores' mean and standard deviation over the whole corpus (before the filter, so a
        filter never changes the keyword scale in :meth:`fuse`)."""
        if self.keyword is None:
            return np.zeros(0, dtype=np.float32), 0, (0.0, 1.0)
        terms = self.keyword.terms(query)
        s = self.keyword.scores(query, terms)
        n_terms = len(set(terms))
        stats = (float(s.mean()), float(s.std())) if len(s) else (0.0, 1.0)
        if allowed is not None:
            mask = np.zeros(len(self.papers), dtype=bool)
            mask[[self.row[i] for i in allowed]] = True
            s = np.where(mask, s, 0.0).astype(np.float32)
        return s, n_terms, stats

    # ------------------------------------------------------------------ search

    def search(self, query: str, k: int = 5, mode: str = "hybrid", **filters) -> list[Hit]:
        """The top ``k`` papers for ``query``, best first; ``mode`` is hybrid, dense, keyword or rrf
        (the plain baseline: BM25 and dense rankings fused by reciprocal rank, ``1/(60+rank)``
        summed, no feedback pass). Filters: venue, year, type, author, source, topic, session (see :mod:`rag.filters`)."""
        if mode not in MODES:
            raise ConfigError(f"unknown retrieval mode {mode!r}; use {', '.join(MODES)}")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"k must be a positive integer, not {k!r}")
        f = self.filters(**filters)
        allowed = self.allowed(f)
        query = re.sub(r"\s+", " ", query or "").strip()
        if not query or not self.papers or (allowed is not None and not allowed):
            return []
        n = max(self.candidates, k)

        qvec = d = ref = None
        cache: dict[str, np.ndarray] = {}  # chunk vectors fetched from Chroma during this search
        kw = nterms = kw_stats = None

        def keyword_side() -> None:
            nonlocal kw, nterms, kw_stats
            kw, nterms, kw_stats = self.keyword_scores(query, allowed)
            if mode == "hybrid":
                self._keyword_top(kw, n)  # kept for fuse

        if mode in ("hybrid", "dense", "rrf"):
            qvec = self.embed_query(strip_boilerplate(query) if mode != "rrf" else query)
            # on a large store the keyword side runs while Chroma searches the dense side
            d, ref = self._dense_and_reference(qvec, f, allowed, n, keyword_side if mode != "dense" else None)
        elif mode == "keyword":
            keyword_side()

        if mode == "dense":
            fused = dict(d.scores)
        elif mode == "rrf":
            kw_ids = [self.papers[i].id for i in positive_top(kw, n)]
            fused = rrf([self._ranked(d.scores), kw_ids])
        elif mode == "keyword":
            fused = {self.papers[i].id: float(kw[i]) for i in positive_top(kw, n)}
        else:
            need = max(k, self.prf_papers, self.reranker.candidates if self.reranker is not None else 0)
            fused = self.fuse(qvec, d, kw, nterms, n, ref, kw_stats, cache, need)
            q2 = self.feedback_query(qvec, self._ranked(fused)[:self.prf_papers], cache) if fused else None
            if q2 is not None:  # second pass: the dense side again, with the feedback query
                qvec = q2
                d2 = self.feedback_dense(qvec, d, kw, allowed, n)  # in memory on a large store
                if d2 is None:
                    d, ref = self._dense_and_reference(qvec, f, allowed, n)
                else:
                    d, ref = d2, self._reference_scores(qvec)
                fused = self.fuse(qvec, d, kw, nterms, n, ref, kw_stats, cache, need)
            if self.reranker is not None and fused:  # a second model reorders the best candidates
                fused = self.reranker.rerank(strip_boilerplate(query), self._ranked(fused), fused)
        order = self._ranked(fused)[:k]
        return self._hits(query, order, fused, d, kw, qvec, ref, cache)

    def _dense_and_reference(self, qvec: np.ndarray, f: Filters, allowed: set[str] | None, n: int,
                             meanwhile: Callable[[], None] | None = None) -> tuple[DenseResult, np.ndarray]:
        """:meth:`dense` and :meth:`_reference_scores` of one query vector, and ``meanwhile()`` run.
        When the dense side asks Chroma (a large store), Chroma's search runs on a worker thread (it
        releases the GIL) while this thread computes the reference scores and runs ``meanwhile``."""
        if self.ref_full:
            d = self.dense(qvec, f, allowed, n)
            if meanwhile is not None:
                meanwhile()
            return d, self._reference_scores(qvec)
        job = self._workers().submit(self.dense, qvec, f, allowed, n)
        try:
            ref = self._reference_scores(qvec)
            if meanwhile is not None:
                meanwhile()
        finally:
            d = job.result()
        return d, ref

    def _workers(self):
        """The retriever's worker threads (made on first use)."""
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    from concurrent.futures import ThreadPoolExecutor

                    self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rag-dense")
        return self._pool

    def _keyword_top(self, kw: np.ndarray, n: int) -> list[int]:
        """``[i for i in top_indices(kw, n) if kw[i] > 0]``, selected among the papers with a positive
        score only, and kept for the next call with the same ``kw`` (the feedback pass fuses the same
        keyword scores again)."""
        memo = self._kw_memo
        if memo is not None and memo[0] is kw and memo[1] == n:
            return memo[2]
        out = positive_top(kw, n)
        self._kw_memo = (kw, n, out)
        return out

    @staticmethod
    def _ranked(scores: dict[str, float]) -> list[str]:
        return sorted(scores, key=lambda pid: (-scores[pid], pid))

    def fuse(self, qvec: np.ndarray, d: DenseResult, kw: np.ndarray, nterms: int, n: int,
             ref: np.ndarray | None = None, kw_stats: tuple[float, float] | None = None,
             cache: dict[str, np.ndarray] | None = None, need: int | None = None) -> dict[str, float]:
        """Weighted sum of corpus-standardized scores over the union of both candidate lists.

        With ``need``, only the best ``need`` papers must be scored exactly: a keyword candidate whose
        chunk vectors are not in memory is fetched from the store only when its upper bound (the
        lowest dense score of the dense candidates: the dense search passed it over) could put it
        among them; the others are left out. On a large store this saves most fetches."""
        kw_order = self._keyword_top(kw, n)
        cands = list(d.scores) + [self.papers[i].id for i in kw_order if self.papers[i].id not in d.scores]
        dense = dict(d.scores)
        ref = self._reference_scores(qvec) if ref is None else ref
        # dense null distribution: best-chunk cosines of the reference papers for this query
        mu_d, sd_d = (float(ref.mean()), float(ref.std())) if len(ref) > 1 else (0.0, 1.0)
        sd_d = sd_d if sd_d > 1e-9 else 1.0
        mu_k, sd_k = kw_stats or (float(kw.mean()), float(kw.std()))
        sd_k = sd_k if sd_k > 1e-9 else 1.0
        wk = keyword_weight_for(nterms, self.keyword_weight, self.verbose_terms)
        cache = {} if cache is None else cache
        missing = [c for c in cands if c not in dense]
        if need is not None and d.scores:
            costly = {c for c in missing if self.ref_pos[self.row[c]] < 0 and c not in cache}
            if costly:
                cheap = [c for c in missing if c not in costly]
                dense.update(self.dense_scores_for(qvec, cheap, ref, cache))
                known = sorted(((dense[c] - mu_d) / sd_d + wk * (float(kw[self.row[c]]) - mu_k) / sd_k
                                for c in cands if c in dense), reverse=True)
                bar = known[need - 1] if len(known) >= need else -np.inf
                ub = (min(d.scores.values()) - mu_d) / sd_d
                keep = {c for c in costly if ub + wk * (float(kw[self.row[c]]) - mu_k) / sd_k > bar}
                cands = [c for c in cands if c not in costly or c in keep]
                missing = [c for c in cands if c not in dense]
        dense.update(self.dense_scores_for(qvec, missing, ref, cache))
        floor = min(dense.values(), default=0.0)
        out = {}
        for pid in cands:
            zd = (dense.get(pid, floor) - mu_d) / sd_d
            zk = (float(kw[self.row[pid]]) - mu_k) / sd_k
            out[pid] = zd + wk * zk
        return out

    def _hits(self, query: str, order: list[str], fused: dict[str, float], d: DenseResult | None,
              kw: np.ndarray | None, qvec: np.ndarray | None, ref: np.ndarray | None = None,
              cache: dict[str, np.ndarray] | None = None) -> list[Hit]:
        dense_exact = dict(d.scores) if d is not None else {}
        if qvec is not None:
            dense_exact.update(self.dense_scores_for(qvec, [p for p in order if p not in dense_exact], ref, cache))
        texts = self._chunk_texts([cid for pid in order for cid, _ in (d.chunks.get(pid, []) if d else [])[:3]])
        hits = []
        for rank, pid in enumerate(order, 1):
            p = self.by_id[pid]
            passages = [texts[cid] for cid, _ in (d.chunks.get(pid, []) if d else [])[:3] if cid in texts]
            if not passages:
                passages = self.best_passages(query, p)
            kws = float(kw[self.row[pid]]) if kw is not None and len(kw) else 0.0
            hits.append(Hit(paper=p, score=float(fused[pid]), passages=passages,
                            dense=dense_exact.get(pid), keyword=kws if kws > 0 else None, rank=rank))
        return hits

    def _chunk_texts(self, chunk_ids: list[str]) -> dict[str, str]:
        if not chunk_ids:
            return {}
        m = self.chunk_matrix
        if m is None:
            return self.store.chunk_texts(chunk_ids)
        out, ask = {}, []
        for cid in chunk_ids:  # from memory when the chunk is a current one (see ChunkMatrix)
            parsed = parse_chunk_id(cid)
            r = self.row.get(parsed[0]) if parsed else None
            found = False
            if parsed is not None and r is not None and parsed[1] == self.papers[r].content_hash:
                found, t = m.text(r, parsed[2])
                if found and t:
                    out[cid] = t
            if not found:
                ask.append(cid)
        if ask:
            out.update(self.store.chunk_texts(ask))
        return out

    def best_passages(self, query: str, p: Paper) -> list[str]:
        """For a paper found by keywords only: its two abstract sentences sharing most query words."""
        terms = set(re.findall(r"\w{3,}", query.lower()))
        sents = [s for s in re.split(r"(?<=[.!?])\s+", p.abstract) if s.strip()]
        if not sents:
            return [p.abstract[:500]] if p.abstract else []
        ranked = sorted(range(len(sents)), key=lambda i: -len(terms & set(re.findall(r"\w{3,}", sents[i].lower()))))
        return [" ".join(sents[i] for i in sorted(ranked[:2]))]

    # ------------------------------------------------------------------ similar papers

    def similar(self, paper_id: str, k: int = 5) -> list[Hit]:
        """The ``k`` papers whose mean chunk vector is nearest to this paper's (cosine)."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"k must be a positive integer, not {k!r}")
        if paper_id not in self.by_id:
            raise ConfigError(f"no paper with id {paper_id!r} in the index")
        got = self.store.paper_vectors([paper_id])
        if not got:
            raise ConfigError(f"no paper with id {paper_id!r} in the index")
        hits: list[Hit] = []
        for pid, dist in self.store.query_papers(got[0][1], min(k + 1, self.store.count())):
            if pid == paper_id or pid not in self.by_id:
                continue
            hits.append(Hit(paper=self.by_id[pid], score=1.0 - float(dist), dense=1.0 - float(dist), rank=len(hits) + 1))
        return hits[:k]

    # ------------------------------------------------------------------ llama-index

    def as_llama_retriever(self, k: int = 5, mode: str = "hybrid", **filters):
        """This retriever as a llama-index ``BaseRetriever`` (one node per paper, score = fused score)."""
        from llama_index.core.retrievers import BaseRetriever
        from llama_index.core.schema import NodeWithScore, TextNode

        outer = self

        class _PaperRetriever(BaseRetriever):
            def _retrieve(self, query_bundle):
                hits = outer.search(query_bundle.query_str, k, mode=mode, **filters)
                return [NodeWithScore(node=TextNode(text=f"{h.paper.title}\n\n{h.paper.abstract}", id_=h.paper.id,
                                                    metadata={"paper_id": h.paper.id, "title": h.paper.title}),
                                      score=h.score) for h in hits]

        return _PaperRetriever()
