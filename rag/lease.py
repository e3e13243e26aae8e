"""A writer lease kept in the vector store itself, for an index on a Chroma server.

The lock file of :func:`rag.index.write_lock` only excludes writers on one machine. With
``chroma_url`` set, ``rag index`` also takes this lease: a one-record collection
``<name>_writer`` holding the owner (host, pid, a random token), when it started and when the lease
expires. The owner renews it every ``ttl / 4`` seconds while it writes and deletes it when done; a
lease whose owner died (``kill -9``, a lost machine) expires after ``ttl`` seconds.

Chroma has no compare-and-set, so taking the lease is write-then-verify: read (someone else's live
lease → :class:`~rag.errors.IndexBusyError`), write ours, wait ``settle`` seconds, read again (someone
else's → busy). Two writers starting within the same fraction of a second are told apart this way;
the write order of :mod:`rag.index` keeps the index consistent even if they were not.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time

from .errors import IndexBusyError

LEASE_ID = "writer"
TTL = 60.0
SETTLE = 0.3


class StoreLease:
    """``with StoreLease(client, name):`` holds the writer lease of index ``name`` on ``client``."""

    def __init__(self, client, name: str, *, ttl: float = TTL, settle: float = SETTLE, where: str = "the Chroma server"):
        self.client, self.name, self.ttl, self.settle, self.where = client, name, ttl, settle, where
        self.token = secrets.token_hex(8)
        self.host, self.pid = socket.gethostname(), os.getpid()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._col = None

    # -- the record -----------------------------------------------------------------------------
    def _collection(self):
        if self._col is None:
            self._col = self.client.get_or_create_collection(f"{self.name}_writer")
        return self._col

    def holder(self) -> dict | None:
        """The current lease record (owner, host, pid, since, expires), or None."""
        got = self._collection().get(ids=[LEASE_ID], include=["metadatas"])
        return dict(got["metadatas"][0]) if got["ids"] else None

    def _write(self, since: float) -> None:
        self._collection().upsert(ids=[LEASE_ID], embeddings=[[1.0]], metadatas=[{
            "owner": self.token, "host": self.host, "pid": self.pid, "since": since, "expires": time.time() + self.ttl}])

    def _busy(self, rec: dict) -> IndexBusyError:
        if not rec:
            return IndexBusyError(f"another writer took the lease of index {self.name!r} on {self.where} at the same moment; try again")
        since = time.strftime("%H:%M:%S", time.localtime(float(rec.get("since", 0))))
        until = time.strftime("%H:%M:%S", time.localtime(float(rec.get("expires", 0))))
        return IndexBusyError(
            f"the index {self.name!r} on {self.where} is being updated by {rec.get('host')} (pid {rec.get('pid')}) since {since}; "
            f"try again when it finishes (if that process died, its lease expires at {until})")

    # -- acquire / renew / release ------------------------------------------------------------
    def acquire(self) -> None:
        rec = self.holder()
        if rec and rec.get("owner") != self.token and float(rec.get("expires", 0)) > time.time():
            raise self._busy(rec)
        self._write(time.time())
        time.sleep(self.settle)
        rec = self.holder()
        if not rec or rec.get("owner") != self.token:
            raise self._busy(rec or {})
        self._thread = threading.Thread(target=self._renew, name="index-lease", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        since = time.time()
        while not self._stop.wait(self.ttl / 4):
            try:
                rec = self.holder()
                if rec and rec.get("owner") == self.token:
                    since = float(rec.get("since", since))
                    self._write(since)
            except Exception:  # a server hiccup: the writer itself will hit it and report; retry next round
                continue

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            rec = self.holder()
            if rec and rec.get("owner") == self.token:
                self._collection().delete(ids=[LEASE_ID])
        except Exception:  # the server is gone: the lease expires by itself
            pass

    def __enter__(self) -> StoreLease:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
