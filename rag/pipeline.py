"""The pipeline object: settings, the embedder, the Chroma store, the retriever and the answer
backends, created lazily and held together. The CLI, the UI and the module-level API functions
each own one; nothing here is created at import time."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from .corpus import Corpus, Source, add_source, load_corpus
from .errors import IndexDamagedError, IndexStateError, ModelMismatchError
from .index import IndexReport, Progress, build_index
from .models import Hit
from .settings import Settings
from .store import server_errors


def tqdm_progress() -> Progress | None:
    """A tqdm bar on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int, what: str) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="indexing", unit="paper", file=sys.stderr)
        bar.set_postfix_str(what, refresh=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


class Pipeline:
    """Everything a question needs, built on first use and reused."""

    def __init__(self, settings: Settings | None = None, *, embedder=None, client=None):
        self.settings = settings or Settings()
        self._embedder = embedder
        self._query_embedder = None
        self._client = client
        self._retriever = None
        self._generators: dict[str, object] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ parts

    @property
    def embedder(self):
        with self._lock:
            if self._embedder is None:
                from .embed import make_embedder

                self._embedder = make_embedder(self.settings)
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
        if getattr(self.settings, "query_backend", "index") != "auto" or not isinstance(emb, SentenceTransformerEmbedder):
            return emb
        try:
            from .embed_onnx import OnnxEmbedder

            q = OnnxEmbedder(emb.name, backend="onnx", index_dir=self.settings.index_dir,
                             threads=self.settings.query_threads)
        except Exception as e:  # noqa: BLE001 - any failure (no onnx, export refused) keeps the torch model
            print(f"note: queries are embedded with torch ({type(e).__name__}: {e})", file=sys.stderr)
            return emb
        return q if q.name == emb.name and q.dim == emb.dim else emb

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                from .store import open_client

                self._client = open_client(Path(self.settings.index_dir), self.settings.chroma_url)
            return self._client

    def store(self, create: bool = False):
        from .store import open_store

        with server_errors(self.settings.chroma_url):
            return open_store(self.client, self.settings.collection, self.embedder.name, self.embedder.dim, create=create)

    def corpus(self) -> Corpus:
        return load_corpus(Path(self.settings.manifest))

    @property
    def retriever(self):
        """The retriever over the current index; builds the index first when there is none."""
        with self._lock:
            if self._retriever is None:
                from .retrieval import Retriever

                try:
                    store = self.store(create=False)
                    empty = store.count() == 0
                except (IndexDamagedError, ModelMismatchError):
                    raise
                except IndexStateError:
                    empty = True
                if empty:
                    print("No index yet: building it from the manifest (once).", file=sys.stderr)
                    self.index(progress=tqdm_progress())
                    store = self.store(create=False)
                self._retriever = Retriever(store, self.embedder, settings=self.settings, query_embedder=self.query_embedder)
            return self._retriever

    def refresh(self) -> None:
        """Forget the retriever so the next query sees the latest index."""
        with self._lock:
            self._retriever = None

    # ------------------------------------------------------------------ operations

    def index(self, *, full: bool = False, progress: Progress | None = None) -> IndexReport:
        """Bring the index in line with the manifest's sources."""
        corpus = self.corpus()
        if full and not self.settings.chroma_url:
            try:
                self.client  # noqa: B018 - opening is the check
            except IndexDamagedError:
                from .store import move_aside

                kept = move_aside(Path(self.settings.index_dir))
                print(f"The index was damaged; kept it as {kept} and rebuilding.", file=sys.stderr)
        with server_errors(self.settings.chroma_url):
            report = build_index(self.client, self.settings, self.embedder, corpus.papers, full=full, progress=progress)
        report.problems = [str(p) for p in corpus.problems]
        self.refresh()
        return report

    def add_sources(self, paths: list[Path], fmt: str | None = None, **meta) -> list[Source]:
        return [add_source(Path(self.settings.manifest), Path(p), format=fmt, **meta) for p in paths]

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

        k = k or self.settings.k
        use = self.settings.read_query_filters if read_filters is None else read_filters
        with server_errors(self.settings.chroma_url):
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
            program = r._program = Program(r.papers, read_session_headers(self.settings.manifest))

        def find(text: str):
            hits = self.retrieve(text, 3, read_filters=False)
            return next((h.paper for h in hits if h.paper.session), None)

        return program.answer(question, find)

    def similar(self, paper_id: str, k: int = 5) -> list[Hit]:
        with server_errors(self.settings.chroma_url):
            return self.retriever.similar(paper_id, k)

    def generator(self, backend: str | None = None):
        """The answer backend by name (local, openai, extractive), created once."""
        from .generate import make_generator

        name = backend or self.settings.backend
        with self._lock:
            if name not in self._generators:
                self._generators[name] = make_generator(name, self.settings)
            return self._generators[name]

    def answer(self, question: str, *, backend: str | None = None, k: int | None = None, **filters):
        from .answering import answer as _answer

        return _answer(self, question, backend=backend, k=k, **filters)

    def stream(self, question: str, *, backend: str | None = None, k: int | None = None, **filters):
        from .answering import stream_answer

        return stream_answer(self, question, backend=backend, k=k, **filters)
