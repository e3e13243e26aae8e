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
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .errors import IndexDamagedError, IndexStateError, ModelMismatchError, StoreUnavailableError
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
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
        raise IndexDamagedError(f"the index at {path} cannot be opened ({type(e).__name__}: {e}); "
                                "run `rag index --full` to move it aside and rebuild it") from e


def move_aside(index_dir: Path) -> Path:
    """Rename a damaged embedded store to ``chroma.damaged-<time>`` (kept, not deleted)."""
    import time

    src = Path(index_dir) / "chroma"
    dst = src.with_name(f"chroma.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    src.rename(dst)
    return dst


def stale_chunk_ids(chunk_ids: list[str], hashes: dict[str, str]) -> list[str]:
    """The chunk ids (``paper_id:content_hash:n``) not matching their paper's current hash."""
    out = []
    for cid in chunk_ids:
        pid, _, rest = cid.partition(":")
        if hashes.get(pid) != rest.partition(":")[0]:
            out.append(cid)
    return out


@dataclass
class Store:
    """The two collections of one index."""

    client: object
    chunks: object
    papers: object
    model: str
    dim: int

    def _paper_metadatas(self, page: int = 5000):
        """(id, metadata) of every paper, read in pages (one ``get`` of a large collection exceeds
        SQLite's variable limit inside Chroma)."""
        offset = 0
        while True:
            got = self.papers.get(include=["metadatas"], limit=page, offset=offset)
            metas = got["metadatas"] or []
            yield from zip(got["ids"], metas, strict=True)
            if len(metas) < page:
                return
            offset += page

    def paper_records(self) -> tuple[list[Paper], dict[str, int]]:
        """Every paper record stored, in id order, and each paper's number of chunks."""
        out, nchunks = [], {}
        for pid, m in self._paper_metadatas():
            out.append(Paper.from_dict(json.loads(m["record"])))
            nchunks[pid] = int(m.get("chunks") or 0)
        return sorted(out, key=lambda p: p.id), nchunks

    def paper_vectors(self, ids: list[str], page: int = 2000):
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

    def health(self) -> dict:
        """Consistency counts: chunks not matching their paper's current hash (left by an
        interrupted update; harmless to queries, removed by the next ``rag index``) and papers whose
        chunks are missing."""
        hashes = self.paper_hashes()
        ids = self.chunks.get(include=[])["ids"]
        stale = set(stale_chunk_ids(ids, hashes))
        covered = {cid.partition(":")[0] for cid in ids if cid not in stale}
        return {"papers": len(hashes), "chunks": len(ids), "stale_chunks": len(stale),
                "papers_without_chunks": len(set(hashes) - covered)}

    def info(self) -> dict:
        meta = self.papers.metadata or {}
        return {"papers": self.papers.count(), "chunks": self.chunks.count(), "embed_model": meta.get("embed_model"),
                "dim": meta.get("dim"), "last_build": meta.get("last_build")}


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


def drop_store(client, name: str) -> None:
    """Delete both collections (for a full rebuild)."""
    from chromadb.errors import NotFoundError

    for kind in ("chunks", "papers"):
        with suppress(NotFoundError):
            client.delete_collection(f"{name}_{kind}")
