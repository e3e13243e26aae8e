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
                self._retriever = Retriever(store, self.embedder, settings=self.settings)
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

    def retrieve(self, question: str, k: int | None = None, *, mode: str = "hybrid", **filters) -> list[Hit]:
        with server_errors(self.settings.chroma_url):
            return self.retriever.search(question, k or self.settings.k, mode=mode, **filters)

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

    def compare(self, papers_or_question, *, columns=None, backend: str | None = None):
        from .comparison import compare as _compare

        with server_errors(self.settings.chroma_url):
            return _compare(self, papers_or_question, columns=columns, backend=backend)
