"""Embeddings from an OpenAI-compatible ``/v1/embeddings`` endpoint (``embed_backend = "openai"``).

For embedding at scale: a GPU box running vLLM, Hugging Face text-embeddings-inference, Infinity,
Ollama, llama.cpp's server or OpenAI itself does the embedding; this process only chunks, sends
batches and writes the index. Several requests are in flight at once (``embed_concurrency``), each
of ``embed_batch_size`` texts; a failed request is retried with backoff before the build stops with
an :class:`~rag.errors.EmbedderError` (nothing half-written: see :mod:`rag.index`).

Vectors are L2-normalized here (not every server does). A server that returns one vector per
token (llama.cpp with pooling "none") is mean-pooled. At start two probe texts are embedded together
and alone; a server whose batched vectors differ from the single ones (llama-cpp-python's server
does) gets one text per request from then on, and ``notes`` says so. The index records the model as
``openai:<model>``, so its vectors are never mixed with a local model's (switching needs
``rag index --full``); queries are embedded by the same endpoint.

Chunk sizes are counted with the model's own tokenizer when ``embed_model`` names a model that is
available locally (``tokenizers`` only, no torch); otherwise with a conservative estimate (:func:`estimate_tokens`).
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .errors import ConfigError, EmbedderError

# Two texts embedded at start, together and alone: the dimension, and a check that the server's
# batched vectors are the vectors of the texts (llama-cpp-python's server returns wrong vectors for
# all but one text of a batched request, see abetlen/llama-cpp-python#2051).
PROBES = ("Graph neural networks for molecule property prediction.",
          "title: Diffusion models\n\nWe train a denoising model that generates images from noise, step by step.")
MIN_BATCH_AGREEMENT = 0.95  # cosine; servers with dynamic int8 quantization differ slightly per batch
_WORDISH = re.compile(r"\w+|[^\w\s]")


def estimate_tokens(text: str) -> list[str]:
    """Pseudo-tokens for chunking without a tokenizer: each word or punctuation mark, words longer
    than 6 characters in 4-character pieces, each non-ASCII character on its own. Subword tokenizers
    split rare words; this over-counts rather than under-counts (on the shipped abstracts it is
    0.97–1.6 times MiniLM's count, median 1.33)."""
    out: list[str] = []
    for w in _WORDISH.findall(text):
        if not w.isascii():
            out.extend(w)
        elif len(w) > 6:
            out.extend(w[i:i + 4] for i in range(0, len(w), 4))
        else:
            out.append(w)
    return out


def _local_tokenizer(name: str):
    """The model's ``tokenizers`` tokenizer if the model is available locally, else None."""
    from .embed import resolve_model_path

    try:
        path = Path(resolve_model_path(name)) / "tokenizer.json"
    except ConfigError:
        return None
    if not path.is_file():
        return None
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path))


def to_vectors(data: list, n: int, where: str) -> np.ndarray:
    """The ``data`` items of an embeddings response as an ``(n, dim)`` array of unit vectors, in
    input order; per-token vectors (llama.cpp, pooling "none") are mean-pooled first."""
    data = sorted(data, key=lambda d: d.index)
    if len(data) != n:
        raise EmbedderError(f"the embedding server at {where} returned {len(data)} vectors for {n} texts")
    rows: list[np.ndarray] = []
    for d in data:
        try:
            v = np.asarray(d.embedding, dtype=np.float32)
        except (ValueError, TypeError):
            raise EmbedderError(f"the embedding server at {where} returned a malformed vector") from None
        if v.ndim == 2:
            v = v.mean(axis=0)
        if v.ndim != 1 or not v.size or not np.all(np.isfinite(v)) or len({r.size for r in rows} | {v.size}) > 1:
            raise EmbedderError(f"the embedding server at {where} returned a malformed vector")
        rows.append(v / (float(np.linalg.norm(v)) or 1.0))
    return np.stack(rows).astype(np.float32, copy=False)


class OpenAIEmbedder:
    """An :class:`~rag.embed.Embedder` backed by an OpenAI-compatible embeddings server."""

    def __init__(self, model: str, base_url: str | None, *, api_key: str = "none", batch_size: int = 64,
                 concurrency: int = 4, timeout: float = 60.0, retries: int = 3):
        if not base_url:
            raise ConfigError("embed_backend 'openai' needs RAG_EMBED_BASE_URL (e.g. http://gpu-box:8080/v1)")
        import openai

        self.model, self.base_url = model, base_url
        self.name = f"openai:{model}"
        self.request_size = batch_size
        self.concurrency = max(1, concurrency)
        self.batch_size = batch_size * self.concurrency  # what the indexer hands over at once
        self.retries = retries
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key or "none", timeout=timeout, max_retries=0)
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="embed")
        self._tok = _local_tokenizer(model)
        if self._tok is not None:
            self._tok.no_truncation()
            self._tok.no_padding()
        self.notes: list[str] = []
        together = self._request(list(PROBES))
        self.dim = int(together.shape[1])
        if self.request_size > 1:
            alone = np.concatenate([self._request([p]) for p in PROBES])
            if float((together * alone).sum(axis=1).min()) < MIN_BATCH_AGREEMENT:
                self.request_size, self.batch_size = 1, self.concurrency
                self.notes.append(f"the embedding server at {base_url} returns other vectors for a text in a batch than for "
                                  "the text alone (a server bug); sending one text per request")

    # -- the Embedder interface -------------------------------------------------------------
    def embed_batch(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [list(texts[i:i + self.request_size]) for i in range(0, len(texts), self.request_size)]
        vecs = np.concatenate(list(self._pool.map(self._request, parts)))
        if vecs.shape[1] != self.dim:
            raise EmbedderError(f"the embedding server at {self.base_url} changed dimension ({self.dim} → {vecs.shape[1]}); "
                                "is another model being served?")
        return vecs

    def tokenize(self, text: str) -> list:
        if self._tok is not None:
            return self._tok.encode(text, add_special_tokens=False).ids
        return estimate_tokens(text)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    # -- one request --------------------------------------------------------------------------
    def _request(self, texts: list[str]) -> np.ndarray:
        import openai

        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
            try:
                resp = self._client.embeddings.create(model=self.model, input=texts)
                return to_vectors(resp.data, len(texts), self.base_url)
            except openai.APIStatusError as e:
                last = e
                if e.status_code < 500 and e.status_code != 429:  # our request is wrong: retrying will not help
                    break
            except openai.APIConnectionError as e:  # (timeouts included): the server may come back
                last = e
            except EmbedderError:
                raise
            except Exception as e:  # a 200 whose body is not an embeddings response
                raise EmbedderError(f"the embedding server at {self.base_url} returned an unreadable response "
                                    f"({type(e).__name__}: {' '.join(str(e).split())[:120]}); is it an OpenAI-compatible embeddings endpoint?") from e
        raise EmbedderError(self._message(last)) from last

    def _message(self, e: Exception | None) -> str:
        import openai

        where = f"the embedding server at {self.base_url}"
        if isinstance(e, openai.APITimeoutError):
            return f"{where} timed out; check it is running and not overloaded, then rerun"
        if isinstance(e, openai.APIConnectionError):
            return f"{where} cannot be reached; start it (or fix RAG_EMBED_BASE_URL), then rerun"
        if isinstance(e, openai.APIStatusError):
            body = re.sub(r"\s+", " ", str(getattr(e, "message", e)))[:200]
            return f"{where} refused the request (HTTP {e.status_code}: {body}); check RAG_EMBED_MODEL and RAG_EMBED_API_KEY"
        return f"{where} failed: {e}"

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

