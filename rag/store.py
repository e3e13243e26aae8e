"""The Chroma store: one client (embedded ``PersistentClient`` or a server's ``HttpClient``) and the
two collections the index uses.

- ``<name>_chunks``: one record per abstract chunk (llama-index node format), embedded.
- ``<name>_papers``: one record per paper: the full paper record as JSON, its content hash, and
  the normalized mean of its chunk vectors as its embedding.

Both collections carry the embedding model's name and dimension; opening them with another model
is refused (:class:`~rag.errors.ModelMismatchError`).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .errors import DiskFullError, IndexDamagedError, IndexStateError, ModelMismatchError, StoreUnavailableError
from .models import Paper


def _chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def open_client(index_dir: Path, chroma_url: str | None = None):
    """An embedded client under ``index_dir/chroma``, or an HTTP client for ``chroma_url``."""
    import chromadb

    if chroma_url:
        u = urlparse(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
        try:
            client = chromadb.HttpClient(host=u.hostname or "127.0.0.1", port=u.port or (443 if u.scheme == "https" else 8000),
                                         ssl=u.scheme == "https", settings=_chroma_settings())
            client.heartbeat()
        except Exception as e:  # chromadb raises several unrelated types for a dead server
            raise StoreUnavailableError(f"Chroma server at {chroma_url} is not reachable ({type(e).__name__}); start it or unset RAG_CHROMA_URL") from e
        return client
    path = Path(index_dir) / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
        client.heartbeat()
        return client
    except Exception as e:
        forget_clients()
        raise IndexDamagedError(f"the index at {path} cannot be opened ({type(e).__name__}: {e}); "
                                "run `rag index --full` to move it aside and rebuild it") from e


def forget_clients() -> None:
    """Drop Chroma's process-wide cache of embedded clients (after a failure, or before a store's
    folder is moved away, so the next open reads the disk again)."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def move_aside(index_dir: Path) -> Path:
    """Rename a damaged embedded store to ``chroma.damaged-<time>`` (kept, not deleted)."""
    import time

    src = Path(index_dir) / "chroma"
    dst = src.with_name(f"chroma.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    src.rename(dst)
    return dst


def chunk_id(paper_id: str, content_hash: str, n: int) -> str:
    """The id of chunk ``n`` of one version of a paper: ``paper_id:content_hash:n`` (old and new
    versions never collide; the one place this format is written)."""
    return f"{paper_id}:{content_hash}:{n}"


def parse_chunk_id(cid: str) -> tuple[str, str, int] | None:
    """(paper id, content hash, n) of a chunk id written by :func:`chunk_id`, or None when it is not one."""
    pid, _, rest = cid.partition(":")
    h, _, n = rest.partition(":")
    return (pid, h, int(n)) if n.isdecimal() and str(int(n)) == n else None


def paper_of_chunk(cid: str) -> str:
    """The paper id of a chunk id (see :func:`chunk_id`)."""
    return cid.partition(":")[0]


def stale_chunk_ids(chunk_ids: list[str], hashes: dict[str, str]) -> list[str]:
    """The chunk ids (see :func:`chunk_id`) not matching their paper's current hash."""
    out = []
    for cid in chunk_ids:
        pid, _, rest = cid.partition(":")
        if hashes.get(pid) != rest.partition(":")[0]:
            out.append(cid)
    return out


def store_error() -> type[Exception]:
    """The base class of the store's own errors (a failed write), for ``except`` clauses outside."""
    from chromadb.errors import ChromaError

    return ChromaError


def pages(col, include: list[str], page: int = 2000) -> Iterator[dict]:
    """Every record of a collection, one ``get`` result per page (one ``get`` of a large collection
    exceeds SQLite's variable limit inside Chroma)."""
    offset = 0
    while True:
        got = col.get(include=include, limit=page, offset=offset)
        yield got
        if len(got["ids"]) < page:
            return
        offset += page


@dataclass
class Store:
    """The two collections of one index."""

    client: Any  # chromadb's client and collections
    chunks: Any
    papers: Any
    model: str
    dim: int

    def _paper_metadatas(self, page: int = 5000):
        """(id, metadata) of every paper, read in pages."""
        for got in pages(self.papers, ["metadatas"], page):
            yield from zip(got["ids"], got["metadatas"] or [], strict=True)

    def paper_records(self) -> tuple[list[Paper], dict[str, int]]:
        """Every paper record stored, in id order, and each paper's number of chunks."""
        out, nchunks = [], {}
        for pid, m in self._paper_metadatas():
            out.append(Paper.from_dict(json.loads(m["record"])))
            nchunks[pid] = int(m.get("chunks") or 0)
        return sorted(out, key=lambda p: p.id), nchunks

    def paper_matrix(self, ids: list[str], page: int = 2000):
        """The stored vector of each paper (the normalized mean of its chunk vectors), rows aligned
        with ``ids``; :class:`IndexStateError` when one is missing."""
        import numpy as np

        got: dict[str, list[float]] = {}
        for i in range(0, len(ids), page):
            res = self.papers.get(ids=ids[i:i + page], include=["embeddings"])
            got.update(zip(res["ids"], res["embeddings"] if res["embeddings"] is not None else [], strict=True))
        missing = [pid for pid in ids if pid not in got]
        if missing:
            raise IndexStateError(f"{len(missing)} paper(s) have no vector in the index (e.g. {missing[0]}); run `rag index`")
        return np.asarray([got[pid] for pid in ids], dtype=np.float32).reshape(len(ids), self.dim)

    def paper_hashes(self) -> dict[str, str]:
        return {pid: m.get("content_hash", "") for pid, m in self._paper_metadatas()}

    def count(self) -> int:
        return self.papers.count()

    def check(self) -> None:
        """Read both collections the way a search does: a count, one stored vector, and a query with
        that vector, which must find it. Damaged SQLite pages, corrupted or missing HNSW files raise
        (the caller turns that into :class:`IndexDamagedError` via :func:`store_errors`)."""
        for col in (self.chunks, self.papers):
            n = col.count()
            if n == 0:
                continue
            got = col.get(limit=1, include=["embeddings"])
            if not got["ids"] or got["embeddings"] is None or len(got["embeddings"]) == 0:
                raise IndexDamagedError(f"collection {col.name} counts {n} records but none can be read")
            res = col.query(query_embeddings=[list(got["embeddings"][0])], n_results=1, include=["distances"])
            if not res["ids"] or not res["ids"][0]:
                raise IndexDamagedError(f"collection {col.name}: its vector index finds nothing")
            if res["ids"][0][0] != got["ids"][0] and float(res["distances"][0][0]) > 1e-3:
                raise IndexDamagedError(f"collection {col.name}: its vector index does not find a stored vector")

    def health(self) -> dict:
        """Consistency counts: chunks not matching their paper's current hash (left by an
        interrupted update; harmless to queries, removed by the next ``rag index``) and papers whose
        chunks are missing. Reads the store first (:meth:`check`)."""
        self.check()
        hashes = self.paper_hashes()
        ids = self.chunk_ids()
        stale = set(stale_chunk_ids(ids, hashes))
        covered = {paper_of_chunk(cid) for cid in ids if cid not in stale}
        return {"papers": len(hashes), "chunks": len(ids), "stale_chunks": len(stale),
                "papers_without_chunks": len(set(hashes) - covered)}

    def info(self) -> dict:
        meta = self.papers.metadata or {}
        return {"papers": self.papers.count(), "chunks": self.chunks.count(), "embed_model": meta.get("embed_model"),
                "dim": meta.get("dim"), "last_build": meta.get("last_build")}

    # -- reads and writes for the indexer and the retriever (nothing outside sees Chroma's shapes)
    def chunk_count(self) -> int:
        return self.chunks.count()

    def chunk_ids(self) -> list[str]:
        return self.chunks.get(include=[])["ids"]

    def chunk_vectors(self, ids: list[str]) -> list[tuple[str, list[float]]]:
        """(chunk id, vector) of the given chunks that exist."""
        got = self.chunks.get(ids=ids, include=["embeddings"])
        return list(zip(got["ids"], got["embeddings"] if got["embeddings"] is not None else [], strict=True))

    def chunk_texts(self, ids: list[str]) -> dict[str, str]:
        """Chunk id → text of the given chunks that exist and have one."""
        got = self.chunks.get(ids=ids, include=["documents"])
        return {i: t for i, t in zip(got["ids"], got["documents"] or [], strict=True) if t}

    def query_chunks(self, vector: list[float], n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine distance) of the ``n`` chunks nearest to ``vector`` under ``where``, nearest first."""
        res = self.chunks.query(query_embeddings=[vector], n_results=n, where=where, include=["distances"])
        return list(zip(res["ids"][0], res["distances"][0], strict=True))

    def paper_vectors(self, ids: list[str]) -> list[tuple[str, list[float]]]:
        """(paper id, mean chunk vector) of the given papers that exist."""
        got = self.papers.get(ids=ids, include=["embeddings"])
        return list(zip(got["ids"], got["embeddings"] if got["embeddings"] is not None else [], strict=True))

    def query_papers(self, vector: list[float], n: int) -> list[tuple[str, float]]:
        """(paper id, cosine distance) of the ``n`` papers nearest to ``vector``, nearest first."""
        res = self.papers.query(query_embeddings=[vector], n_results=n, include=["distances"])
        return list(zip(res["ids"][0], res["distances"][0], strict=True))

    def chunk_writer(self):
        """A llama-index vector store writing nodes (with ``embedding`` set) into the chunks collection."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.chunks)

    def upsert_papers(self, ids: list[str], vectors: list[list[float]], documents: list[str], metadatas: list[dict]) -> None:
        self.papers.upsert(ids=ids, embeddings=vectors, documents=documents, metadatas=metadatas)

    def delete_chunks(self, ids: list[str]) -> None:
        self.chunks.delete(ids=ids)

    def delete_papers(self, ids: list[str]) -> None:
        self.papers.delete(ids=ids)

    def mark_built(self, when: str) -> None:
        """Record the time of the last completed build on the papers collection."""
        meta = dict(self.papers.metadata or {})
        meta.pop("hnsw:space", None)
        meta["last_build"] = when
        self.papers.modify(metadata=meta)


@contextmanager
def server_errors(chroma_url: str | None) -> Iterator[None]:
    """Turn a Chroma server's transport failures into :class:`StoreUnavailableError`."""
    try:
        yield
    except (ConnectionError, TimeoutError) as e:
        raise StoreUnavailableError(_down(chroma_url, e)) from e
    except Exception as e:
        import httpx

        if chroma_url and isinstance(e, httpx.HTTPError):
            raise StoreUnavailableError(_down(chroma_url, e)) from e
        raise


def _one_line(e: Exception, limit: int = 240) -> str:
    text = re.sub(r"\s+", " ", f"{type(e).__name__}: {e}").strip()
    return text if len(text) <= limit else text[:limit] + "…"


def disk_is_full(path: Path, e: BaseException | None = None, min_free: int = 8 << 20) -> bool:
    """Whether the disk holding ``path`` has (almost) no space left, or ``e`` says so."""
    if e is not None and re.search(r"disk is full|no space left|ENOSPC|file too large", str(e), re.I):
        return True
    try:
        return shutil.disk_usage(path).free < min_free
    except OSError:
        return False


@contextmanager
def store_errors(index_dir: Path, chroma_url: str | None) -> Iterator[None]:
    """Reads and writes of the store with one-line errors: a Chroma server that stopped answering
    (:class:`StoreUnavailableError`); for the embedded store, a full disk (:class:`DiskFullError`)
    or damaged files (:class:`IndexDamagedError`, with the remedy ``rag index --full``)."""
    from chromadb.errors import ChromaError, NotFoundError

    with server_errors(chroma_url):
        try:
            yield
        except IndexDamagedError as e:
            if chroma_url or not disk_is_full(Path(index_dir)):
                if "rag index --full" in str(e):
                    raise
                raise IndexDamagedError(f"the index at {Path(index_dir) / 'chroma'} is damaged ({e}); "
                                        "run `rag index --full` to move it aside and rebuild it") from e
            raise _full(index_dir, e) from e
        except NotFoundError:
            raise
        except (ChromaError, OSError, RuntimeError, json.JSONDecodeError) as e:
            if chroma_url:
                raise
            if disk_is_full(Path(index_dir), e):
                raise _full(index_dir, e) from e
            raise IndexDamagedError(f"the index at {Path(index_dir) / 'chroma'} cannot be read ({_one_line(e)}); "
                                    "run `rag index --full` to move it aside and rebuild it") from e


def _full(index_dir: Path, e: Exception) -> DiskFullError:
    e = e.__cause__ if isinstance(e, IndexDamagedError) and isinstance(e.__cause__, Exception) else e
    return DiskFullError(f"the disk holding the index at {index_dir} is full, so the index cannot be read or written "
                         f"({_one_line(e, 120)}); free some space and retry: nothing in it is lost")


def _down(url: str | None, e: Exception) -> str:
    return f"the Chroma server at {url} stopped answering ({type(e).__name__}: {e}); restart it, or unset RAG_CHROMA_URL to use the embedded index"


def open_store(client, name: str, model: str, dim: int, *, create: bool = True) -> Store:
    """The index's collections, checked against the embedding model; created when missing."""
    from chromadb.errors import NotFoundError

    meta = {"embed_model": model, "dim": dim, "hnsw:space": "cosine"}
    cols = {}
    for kind in ("chunks", "papers"):
        cname = f"{name}_{kind}"
        try:
            col = client.get_collection(cname)
        except NotFoundError:
            if not create:
                raise IndexStateError(f"no index yet (collection {cname} missing); run `rag index`") from None
            col = client.create_collection(cname, metadata=meta)
        got = col.metadata or {}
        if got.get("embed_model") != model or int(got.get("dim") or 0) != dim:
            raise ModelMismatchError(
                f"the index was built with embedding model {got.get('embed_model')!r} (dim {got.get('dim')}), "
                f"but {model!r} (dim {dim}) is configured; set RAG_EMBED_MODEL (and RAG_EMBED_BACKEND) back or run `rag index --full` to rebuild"
            )
        cols[kind] = col
    return Store(client, cols["chunks"], cols["papers"], model, dim)


def stored_papers(client, name: str) -> list[Paper]:
    """Every paper record of index ``name`` whatever model built it ([] when there is none)."""
    from chromadb.errors import NotFoundError

    try:
        col = client.get_collection(f"{name}_papers")
    except NotFoundError:
        return []
    return Store(client, None, col, "", 0).paper_records()[0]


def drop_store(client, name: str) -> None:
    """Delete both collections (for a full rebuild)."""
    from chromadb.errors import NotFoundError

    for kind in ("chunks", "papers"):
        with suppress(NotFoundError):
            client.delete_collection(f"{name}_{kind}")


class VectorTable:
    """One vector per id with a small metadata dict, in its own collection (the rerank model's paper
    vectors, rag.rerank): the Chroma calls of such a table, read in pages."""

    PAGE = 2000

    def __init__(self, col):
        self.col = col

    def records(self, *, with_vectors: bool) -> Iterator[tuple[str, dict, Any]]:
        """(id, metadata, vector or None) of every record."""
        for got in pages(self.col, ["metadatas", "embeddings"] if with_vectors else ["metadatas"], self.PAGE):
            metas = got["metadatas"] or [None] * len(got["ids"])
            embs = got["embeddings"] if with_vectors and got["embeddings"] is not None else [None] * len(got["ids"])
            yield from zip(got["ids"], metas, embs, strict=True)

    def upsert(self, ids: list[str], vectors, metadatas: list[dict]) -> None:
        self.col.upsert(ids=ids, embeddings=[list(map(float, v)) for v in vectors], metadatas=metadatas)

    def delete(self, ids: list[str]) -> None:
        for b in range(0, len(ids), 500):
            self.col.delete(ids=ids[b:b + 500])

    def count(self) -> int:
        return self.col.count()


def open_vector_table(client, name: str, model: str, dim: int, *, create: bool) -> VectorTable | None:
    """The vector table ``name`` made by ``model`` (None when it is missing and not ``create``). A table
    made by another model or dimension is dropped when ``create`` (a rebuild), else treated as missing."""
    from chromadb.errors import NotFoundError

    try:
        col = client.get_collection(name)
    except NotFoundError:
        col = None
    meta = (col.metadata or {}) if col is not None else {}
    if col is not None and (meta.get("embed_model") != model or int(meta.get("dim") or 0) != dim):
        if not create:
            return None
        client.delete_collection(name)
        col = None
    if col is None and create:
        col = client.create_collection(name, metadata={"embed_model": model, "dim": dim, "hnsw:space": "cosine"})
    return VectorTable(col) if col is not None else None
