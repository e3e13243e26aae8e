"""Build and update the index: paper records → chunks → vectors → Chroma.

Incremental and crash-safe by construction. The papers collection holds each paper's content
hash; a run compares it with the parsed corpus and only embeds new or changed papers. For each
batch of papers, the new chunks (ids carry the content hash, so old and new versions never
collide) are written first and the paper record after them; stale chunks and removed papers are
deleted last. A run killed at any point therefore leaves an index whose every paper record is
complete and queryable, and the next run sees exactly what is left to do. A lock file keeps a
second writer on this machine out; with a Chroma server, a writer lease kept on the server
(:mod:`rag.lease`) keeps out writers on other machines.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .embed import Embedder
from .errors import IndexBusyError, IndexWriteError
from .models import Paper
from .store import Store, chunk_id, drop_store, open_store, stale_chunk_ids, store_error

Progress = Callable[[int, int, str], None]
PAPER_BATCH = 64  # papers per write: chunks, then their records
EMBED_WINDOW = 1024  # papers whose chunks are embedded together, sorted by length
DELETE_BATCH = 500


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    papers: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    rerank_embedded: int = 0  # papers embedded by the rerank model (rag.rerank), when it is on
    problems: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # source label → why it could not be read
    kept: dict[str, int] = field(default_factory=dict)  # source label → its papers kept in the index

    def to_dict(self) -> dict:
        return asdict(self)


@contextmanager
def write_lock(index_dir: Path) -> Iterator[None]:
    """An exclusive, non-blocking lock on ``index_dir/.lock``; released on exit or process death."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(f"the index at {index_dir} is being updated by another process; try again when it finishes") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


def chunk_metadata(p: Paper) -> dict:
    """Flat metadata Chroma accepts (str/int/float/bool; no None): what filters and display need."""
    return {
        "paper_id": p.id,
        "title": p.title,
        "authors": "; ".join(p.authors),
        "venue": p.venue or "",
        "year": int(p.year or 0),
        "type": p.type or "",
        "session": p.session or "",
        "source": ",".join(s.label for s in p.sources),
        "content_hash": p.content_hash,
    }


class Chunker:
    """llama-index's SentenceSplitter, counting tokens with the embedding model's own tokenizer so
    that no chunk (title included) exceeds what the model reads."""

    def __init__(self, embedder: Embedder, chunk_size: int = 200, chunk_overlap: int = 32):
        from llama_index.core.node_parser import SentenceSplitter

        self.splitter = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap, tokenizer=embedder.tokenize,
                                         include_metadata=True, include_prev_next_rel=False)

    def chunks(self, p: Paper) -> list:
        """TextNodes for one paper; the embedded text is ``title: …`` followed by the chunk."""
        from llama_index.core import Document

        meta = chunk_metadata(p)
        doc = Document(text=p.abstract, metadata=meta, id_=p.id,
                       excluded_embed_metadata_keys=[k for k in meta if k != "title"],
                       excluded_llm_metadata_keys=[k for k in meta if k != "title"])
        nodes = self.splitter.get_nodes_from_documents([doc])
        for i, n in enumerate(nodes):
            n.id_ = chunk_id(p.id, meta["content_hash"], i)
            n.metadata["chunk"] = i
        return nodes


class Indexer:
    """Brings a :class:`Store` in line with a list of papers."""

    def __init__(self, store: Store, embedder: Embedder, chunker: Chunker, index_dir: Path,
                 lease: Callable[[], AbstractContextManager] | None = None):
        self.store, self.embedder, self.chunker, self.index_dir = store, embedder, chunker, index_dir
        self.lease = lease or nullcontext

    def update(self, papers: list[Paper], *, full: bool = False, progress: Progress | None = None) -> IndexReport:
        t0 = time.perf_counter()
        with write_lock(self.index_dir), self.lease():
            rep = IndexReport()
            desired = {p.id: p for p in papers}
            existing = self.store.paper_hashes()
            todo = [p for p in papers if full or existing.get(p.id) != p.content_hash]
            rep.added = sum(p.id not in existing for p in todo)
            rep.updated = len(todo) - rep.added
            rep.unchanged = len(desired) - len(todo)
            removed = [i for i in existing if i not in desired]
            rep.removed = len(removed)
            try:
                self._write(todo, rep, progress)
                self._delete_stale(desired, removed)
                self.store.mark_built(time.strftime("%Y-%m-%dT%H:%M:%S%z"))
            except (store_error(), OSError) as e:
                raise IndexWriteError(
                    f"writing the index failed after {rep.chunks_embedded} chunks ({type(e).__name__}: {e}); "
                    "check free disk space and permissions, then rerun `rag index`: the papers already in the index stay searchable"
                ) from e
            rep.papers = self.store.count()
            rep.seconds = time.perf_counter() - t0
            return rep

    def _write(self, todo: list[Paper], rep: IndexReport, progress: Progress | None) -> None:
        """Per window of papers: chunk, embed all chunks sorted by length (little padding), then
        write in paper batches, each batch's chunks before its paper records."""
        from llama_index.core.schema import MetadataMode

        vstore = self.store.chunk_writer()
        total, done = len(todo), 0
        if progress:
            progress(0, total, "embedding")
        for w in range(0, total, EMBED_WINDOW):
            window = todo[w:w + EMBED_WINDOW]
            nodes_per = [self.chunker.chunks(p) for p in window]
            nodes = [n for ns in nodes_per for n in ns]
            texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            bs = self.embedder.batch_size
            t = time.perf_counter()
            for b in range(0, len(order), bs):
                idx = order[b:b + bs]
                for i, v in zip(idx, self.embedder.embed_batch([texts[i] for i in idx]), strict=True):
                    nodes[i].embedding = v
                if progress:  # papers are done when all their chunks are: report the chunk share
                    progress(done + int(len(window) * min(b + bs, len(order)) / max(len(order), 1)), total, "embedding")
            rep.embed_seconds += time.perf_counter() - t
            rep.chunks_embedded += len(nodes)
            for b in range(0, len(window), PAPER_BATCH):
                batch, per = window[b:b + PAPER_BATCH], nodes_per[b:b + PAPER_BATCH]
                batch_nodes = [n for ns in per for n in ns]
                for n in batch_nodes:
                    n.embedding = [float(x) for x in n.embedding]
                vstore.add(batch_nodes)  # chunks first ...
                paper_vecs = []
                for ns in per:
                    m = np.mean([n.embedding for n in ns], axis=0)
                    paper_vecs.append((m / (np.linalg.norm(m) or 1.0)).tolist())
                self.store.upsert_papers(  # ... then the paper records that make them current
                    ids=[p.id for p in batch], vectors=paper_vecs,
                    documents=[f"{p.title}\n\n{p.abstract}" for p in batch],
                    metadatas=[{**chunk_metadata(p), "record": p.to_json(), "chunks": len(ns)} for p, ns in zip(batch, per, strict=True)],
                )
                if progress:
                    progress(done + b + len(batch), total, "writing")
            done += len(window)

    def _delete_stale(self, desired: dict[str, Paper], removed: list[str]) -> None:
        """Delete chunks whose paper is gone or whose hash is not the paper's current one. Chunk ids
        are ``paper_id:content_hash:n``, so this reads ids only."""
        stale = stale_chunk_ids(self.store.chunk_ids(), {i: p.content_hash for i, p in desired.items()})
        for i in range(0, len(stale), DELETE_BATCH):
            self.store.delete_chunks(stale[i:i + DELETE_BATCH])
        for i in range(0, len(removed), DELETE_BATCH):
            self.store.delete_papers(removed[i:i + DELETE_BATCH])


def build_index(client, settings, embedder: Embedder, papers: list[Paper], *, full: bool = False,
                progress: Progress | None = None) -> IndexReport:
    """Update (or with ``full``, rebuild) the index named by ``settings`` (the ``index`` section) from ``papers``.
    A full rebuild under the same model re-embeds in place (crash-safe); under another model it
    drops the old collections first."""
    from .errors import ModelMismatchError
    from .lease import StoreLease

    def lease() -> AbstractContextManager:
        """The server-side writer lease when the index lives on a Chroma server."""
        return StoreLease(client, settings.collection, where=settings.chroma_url) if settings.chroma_url else nullcontext()

    try:
        store = open_store(client, settings.collection, embedder.name, embedder.dim)
    except ModelMismatchError:
        if not full:
            raise
        with write_lock(Path(settings.index_dir)), lease():
            drop_store(client, settings.collection)
        store = open_store(client, settings.collection, embedder.name, embedder.dim)
    chunker = Chunker(embedder, settings.chunk_size, settings.chunk_overlap)
    return Indexer(store, embedder, chunker, Path(settings.index_dir), lease).update(papers, full=full, progress=progress)
