"""The pipeline object: settings, the embedder, the Chroma store, the retriever and the answer
backends, created lazily and held together. The CLI, the UI and the module-level API functions
each own one; nothing here is created at import time."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

from .corpus import Corpus, Source, add_source, load_corpus
from .errors import ConfigError, DiskFullError, IndexDamagedError, IndexStateError, ModelMismatchError
from .index import IndexReport, Progress, build_index, write_lock
from .models import Hit
from .settings import Settings
from .store import store_errors


def tqdm_progress() -> Progress | None:
    """Two tqdm bars on stderr when it is a terminal: papers embedded and papers written. Both stay
    on screen until the last paper is written, and neither ever goes backwards."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bars: dict = {}

    def update(done: int, total: int, what: str) -> None:
        if total <= 0 or bars.get("closed"):
            return
        if not bars:
            for pos, name in enumerate(("embedding", "writing")):
                bars[name] = tqdm(total=total, desc=f"{name:<9}", unit="paper", file=sys.stderr, position=pos, leave=True)
        bar = bars.get(what)
        if bar is not None and done > bar.n:
            bar.n = min(done, total)
            bar.refresh()
        if bars["writing"].n >= total:
            bars["embedding"].close()
            bars["writing"].close()
            bars["closed"] = True

    return update


def _positive_k(k: object, default: int) -> int:
    if k is None:
        return default
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ConfigError(f"k must be a positive integer, not {k!r}")
    return k


def _text(value: object, what: str, limit: int | None = None) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"the {what} must be text, not {type(value).__name__}")
    if limit is not None and len(" ".join(value.split())) > limit:
        raise ConfigError(f"the {what} is {len(' '.join(value.split()))} characters long; the limit is {limit}")
    return value


class Pipeline:
    """Everything a question needs, built on first use and reused."""

    def __init__(self, settings: Settings | None = None, *, embedder=None, client=None, rerank_embedder=None):
        self.settings = settings or Settings()
        self._embedder = embedder
        self._rerank_embedder = rerank_embedder  # rerank_model's embedder (rag.rerank), made on first use
        self._query_embedder = None
        self._client = client
        self._retriever = None
        self._generators: dict[str, object] = {}
        self._parts = None
        self._catalog: Any = None  # (retriever, rag.catalog.Catalog) of the current index
        self._lock = threading.RLock()
        self._topics: Any = None  # rag.topics.TopicMap, loaded or computed on first use
        self._topics_lock = threading.Lock()  # apart from _lock: computing topics never holds up questions

    # ------------------------------------------------------------------ parts

    @property
    def embedder(self):
        with self._lock:
            if self._embedder is None:
                from .embed import make_embedder

                self._embedder = make_embedder(self.settings.embed, self.settings.index.index_dir)
            return self._embedder

    @property
    def query_embedder(self):
        """What embeds questions at search time. With ``query_backend=auto`` and the index model on
        torch: the same model run by onnxruntime in fp32 (vectors identical to torch's, cosine ≥ 0.999
        checked at export; a query in a few ms instead of ~28), exported once into the index folder;
        anything else (or an export that fails) uses the index embedder itself."""
        with self._lock:
            if self._query_embedder is None:
                self._query_embedder = self._make_query_embedder()
            return self._query_embedder

    def _make_query_embedder(self):
        from .embed import SentenceTransformerEmbedder

        emb = self.embedder
        if self.settings.retrieval.query_backend != "auto" or not isinstance(emb, SentenceTransformerEmbedder):
            return emb
        try:
            from .embed_onnx import OnnxEmbedder

            q = OnnxEmbedder(emb.name, backend="onnx", index_dir=self.settings.index.index_dir,
                             threads=self.settings.retrieval.query_threads)
        except Exception as e:  # noqa: BLE001 - any failure (no onnx, export refused) keeps the torch model
            print(f"note: queries are embedded with torch ({type(e).__name__}: {e})", file=sys.stderr)
            return emb
        return q if q.name == emb.name and q.dim == emb.dim else emb

    @property
    def rerank_embedder(self):
        """The ``rerank_model``'s embedder (onnxruntime fp32, else torch; see :mod:`rag.rerank`)."""
        with self._lock:
            if self._rerank_embedder is None:
                from .rerank import make_rerank_embedder

                self._rerank_embedder = make_rerank_embedder(self.settings.retrieval.rerank_model, index_dir=self.settings.index.index_dir,
                                                              device=self.settings.embed.embed_device)
            return self._rerank_embedder

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                from .store import open_client

                self._client = open_client(Path(self.settings.index.index_dir), self.settings.index.chroma_url)
            return self._client

    def store(self, create: bool = False):
        from .store import open_store

        with self.store_errors():
            return open_store(self.client, self.settings.index.collection, self.embedder.name, self.embedder.dim, create=create)

    def store_errors(self):
        """Store failures as one-line typed errors (server down, disk full, damaged files)."""
        return store_errors(Path(self.settings.index.index_dir), self.settings.index.chroma_url)

    def corpus(self) -> Corpus:
        return load_corpus(Path(self.settings.corpus.manifest), allow_outside=self.settings.corpus.allow_outside_sources)

    @property
    def retriever(self):
        """The retriever over the current index; builds the index first when there is none."""
        with self._lock:
            if self._retriever is None:
                from .retrieval import Retriever

                try:
                    store = self.store(create=False)
                    with self.store_errors():
                        empty = store.count() == 0
                except (IndexDamagedError, ModelMismatchError, DiskFullError):
                    raise
                except IndexStateError:
                    empty = True
                if empty:
                    print("No index yet: building it from the manifest (once).", file=sys.stderr)
                    self.index(progress=tqdm_progress())
                    store = self.store(create=False)
                with self.store_errors():  # it reads every paper record: damage shows here first
                    self._retriever = Retriever(store, self.embedder, settings=self.settings.retrieval, query_embedder=self.query_embedder)
                self._retriever.topic_members = lambda: self.topics().members()
                if self.settings.retrieval.rerank_model:
                    self._retriever.reranker = self._load_reranker(self._retriever)
            return self._retriever

    def _load_reranker(self, retriever):
        """The rerank model over the index's stored paper vectors (rag.rerank); None, with a note,
        when the index holds none for it."""
        from .rerank import Reranker

        with self.store_errors():
            rs = self.settings.retrieval
            r = Reranker.load(self.client, self.settings.index.collection, self.rerank_embedder, retriever.papers,
                              candidates=rs.rerank_candidates, weight=rs.rerank_weight)
        if r is None:
            print(f"note: the index holds no paper vectors of rerank model {self.settings.retrieval.rerank_model}; run `rag index` "
                  "to add them (searching without reranking)", file=sys.stderr)
        return r

    def catalog(self):
        """What the current index holds (:class:`rag.catalog.Catalog`): papers, venues, source labels,
        lookup by id, filter validation and the index's build information; built once per index."""
        from types import MappingProxyType

        from .catalog import Catalog

        r = self.retriever
        with self._lock:
            if self._catalog is None or self._catalog[0] is not r:
                self._catalog = (r, Catalog(tuple(r.papers), frozenset(r.venues), frozenset(r.source_labels),
                                            MappingProxyType(r.by_id), r.filters, self._index_info))
            return self._catalog[1]

    def _index_info(self) -> dict:
        with self.store_errors():
            return self.store(create=False).info()

    def refresh(self) -> None:
        """Forget the retriever so the next query sees the latest index."""
        with self._lock:
            self._retriever = None
            self._parts = None

    # ------------------------------------------------------------------ operations

    def index(self, *, full: bool = False, prune: bool = False, progress: Progress | None = None) -> IndexReport:
        """Bring the index in line with the manifest's sources. The papers of a source that cannot
        be read are kept (``IndexReport.kept``) unless ``prune``; a damaged embedded store is moved
        aside and rebuilt with ``full``, reported with that remedy otherwise."""
        from .store import stored_papers

        corpus = self.corpus()
        with self.store_errors():
            if full and not self.settings.index.chroma_url:
                self._move_aside_if_damaged()
            elif (store := self._existing_store()) is not None:
                store.check()
            kept = {}
            if corpus.failed and not prune:
                kept = corpus.keep_indexed(stored_papers(self.client, self.settings.index.collection))
            report = build_index(self.client, self.settings.index, self.embedder, corpus.papers, full=full, progress=progress)
            if self.settings.retrieval.rerank_model:  # the rerank model's paper vectors (rag.rerank), also incremental
                from .rerank import update_vectors

                t = time.perf_counter()
                with write_lock(Path(self.settings.index.index_dir)):  # the papers the index now holds, kept ones included
                    report.rerank_embedded, _ = update_vectors(self.client, self.settings.index.collection, self.store().paper_records()[0],
                                                               self.rerank_embedder, progress)
                report.seconds += time.perf_counter() - t
        report.problems = [str(p) for p in corpus.problems]
        report.failed, report.kept = dict(corpus.failed), kept
        self.refresh()
        return report

    def _existing_store(self):
        """The index's store when its collections exist (None when there is no index yet)."""
        try:
            return self.store(create=False)
        except ModelMismatchError:
            return None  # build_index reports it
        except IndexStateError as e:
            if isinstance(e, IndexDamagedError | DiskFullError):
                raise
            return None

    def _move_aside_if_damaged(self) -> None:
        """Before a full rebuild: open and read the embedded store; if that fails, rename it to
        ``chroma.damaged-<time>`` (kept for inspection) so the rebuild starts from a clean folder."""
        from .index import write_lock
        from .store import move_aside

        try:
            with self.store_errors():
                if (store := self._existing_store()) is not None:
                    store.check()
            return
        except DiskFullError:
            raise
        except IndexDamagedError:
            pass
        from .store import forget_clients

        with self._lock:
            self._client = self._retriever = None
            forget_clients()
            with write_lock(Path(self.settings.index.index_dir)):
                kept = move_aside(Path(self.settings.index.index_dir))
        print(f"The index was damaged; kept it as {kept} and rebuilding.", file=sys.stderr)

    @property
    def topics_path(self) -> Path:
        return Path(self.settings.index.index_dir) / f"topics-{self.settings.index.collection}.json"

    def topics(self, *, compute: bool = True, progress=None):
        """The topics of the current index (:class:`~rag.topics.TopicMap`): read from
        :attr:`topics_path` when they were computed for exactly the indexed papers, else computed
        from the stored paper vectors (under a minute for a thousand papers) and stored. With
        ``compute=False``, None instead of computing. ``progress`` gets a line per step."""
        from .topics import compute_topics, fingerprint, load_topics, save_topics

        r = self.retriever
        fp = fingerprint(r.papers)
        with self._topics_lock:
            tm = self._topics
            if tm is None or tm.fingerprint != fp:
                tm = load_topics(self.topics_path, fp)
                if tm is None:
                    if not compute:
                        return None
                    with self.store_errors():
                        vectors = r.store.paper_matrix([p.id for p in r.papers])
                    tm = compute_topics(r.papers, vectors, progress=progress)
                    save_topics(self.topics_path, tm)
                self._topics = tm
            return tm

    def add_sources(self, paths: list[Path], fmt: str | None = None, **meta) -> list[Source]:
        allow = meta.pop("allow_outside", None) or self.settings.corpus.allow_outside_sources
        return [add_source(Path(self.settings.corpus.manifest), Path(p), format=fmt, allow_outside=allow, **meta) for p in paths]

    def read_filters(self, question: str):
        """The filters the question states in words ("ICLR 2021 orals on …", "papers by Bengio"), as a
        :class:`rag.query_filters.ReadFilters` (its ``text`` is the question without them)."""
        from .query_filters import Vocabulary, read_filters

        r = self.retriever
        vocab = getattr(r, "_vocabulary", None)
        if vocab is None:
            vocab = r._vocabulary = Vocabulary.of(r.papers)
        return read_filters(question, vocab)

    def retrieve(self, question: str, k: int | None = None, *, mode: str = "hybrid", read_filters: bool | None = None,
                 **filters) -> list[Hit]:
        """The top ``k`` papers. Unless ``read_filters`` is False (default: the ``read_query_filters``
        setting), filters stated in the question's words are applied too (explicit ``filters`` win,
        field by field) and the question without those words is searched; the returned list's
        ``read_filters`` says what was read. A read filter that leaves nothing is dropped again."""
        from .errors import FilterError
        from .query_filters import Hits, merge

        question = _text(question, "question", self.settings.answer.max_question_chars)
        k = _positive_k(k, self.settings.retrieval.k)
        use = self.settings.retrieval.read_query_filters if read_filters is None else read_filters
        with self.store_errors():
            read = self.read_filters(question) if use and question else None
            if read:
                try:
                    hits = self.retriever.search(read.text, k, mode=mode, **merge(read.filters, filters))
                except FilterError:
                    hits = []
                if hits:
                    out = Hits(hits)
                    out.read_filters = read
                    return out
            return Hits(self.retriever.search(question, k, mode=mode, **filters))

    def program_answer(self, question: str):
        """The answer to a program question ("which talks shared a session with …", "what was
        scheduled right after …", "which session had the most orals", "when was … presented", "who
        moderated …") from the structured records, as a :class:`rag.program.ProgramAnswer`; None for
        any other question. The paper it names is the best of the top 3 hybrid hits that has a slot."""
        from .program import Program, read_session_headers

        r = self.retriever
        program = getattr(r, "_program", None)
        if program is None:
            program = r._program = Program(r.papers, read_session_headers(self.settings.corpus.manifest))

        def find(text: str):
            hits = self.retrieve(text, 3, read_filters=False)
            return next((h.paper for h in hits if h.paper.session), None)

        return program.answer(question, find)

    def similar(self, paper_id: str, k: int = 5) -> list[Hit]:
        paper_id = _text(paper_id, "paper id", 100)
        k = _positive_k(k, 5)
        with self.store_errors():
            return self.retriever.similar(paper_id, k)

    def generator(self, backend: str | None = None):
        """The answer backend by name (local, openai, extractive), created once."""
        from .generate import make_generator

        name = backend or self.settings.answer.backend
        with self._lock:
            if name not in self._generators:
                self._generators[name] = make_generator(name, self.settings.answer)
            return self._generators[name]

    def answer_parts(self):
        """The parts the answer step uses (:class:`rag.answering.AnswerParts`), built once."""
        from .answering import AnswerParts
        from .support import PaperTexts, TermStats

        with self._lock:
            if self._parts is None:
                retriever = self.retriever
                self._parts = AnswerParts(self.settings.answer, self.embedder, PaperTexts(self.embedder), TermStats(list(retriever.papers)),
                                          self.retrieve, self.generator, self.program_answer)
            return self._parts

    def answer(self, question: str, *, backend: str | None = None, k: int | None = None, **filters):
        from .answering import answer as _answer

        return _answer(self.answer_parts(), question, backend=backend, k=k, **filters)

    def stream(self, question: str, *, backend: str | None = None, k: int | None = None, **filters):
        from .answering import stream_answer

        return stream_answer(self.answer_parts(), question, backend=backend, k=k, **filters)

    def compare(self, papers_or_question, *, columns=None, backend: str | None = None):
        from .comparison import compare as _compare

        with self.store_errors():
            return _compare(self, papers_or_question, columns=columns, backend=backend)
