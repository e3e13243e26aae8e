"""The same sentence-transformers model run by onnxruntime, in fp32 or int8.

The transformer is exported to ONNX once from the local model folder (never from a model hub) and
cached under ``<index_dir>/models/<model>-<backend>/``; later loads need only onnxruntime, the
``tokenizers`` library and numpy (no torch import). The rest of the sentence-transformers pipeline
of all-MiniLM-L6-v2 (``modules.json``: Transformer → mean Pooling → Normalize) is reproduced in
numpy: tokenization truncated at the model's ``max_seq_length`` (256), mean pooling over the
attention mask, L2 normalization.

Export recipe: the model with eager attention, traced by ``torch.onnx.export`` (needs the ``onnx``
package), then onnxruntime's BERT graph optimizer (fused attention / layer norm / GELU); for
``onnx-int8`` dynamic per-channel int8 quantization of the weights. Every export is checked against
the torch model on probe texts before it is cached, and written atomically (a temporary folder
renamed into place), so a crash or a concurrent export never leaves a half-written model.

Vector agreement with the torch backend (cosine on the shipped corpus's 1823 chunks, see
bench/results_embed.md): fp32 1.0000, so ``onnx`` keeps the model's name and can serve an index
built by ``torch`` and vice versa; int8 mean 0.994 (min 0.984), so ``onnx-int8`` is named
``<model>:onnx-int8`` and the index refuses to mix its vectors with the others' (switching to or from
it needs ``rag index --full``). Dynamic int8 quantizes activations with one scale per batch, so an
int8 vector also depends slightly on the batch it was computed in (cosine ≥ 0.98 between a text
alone and in a batch); fp32 vectors do not.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from .embed import PACKAGED_MODELS, WordCache, join_pieces, quiet_load, resolve_model_path, st_modules
from .errors import ConfigError

RECIPE = 1  # bump when the export recipe changes: cached exports of another recipe are redone
MODEL_FILE = "model.onnx"
META_FILE = "export.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Minimum cosine to the torch model on the probe texts for an export to be accepted.
MIN_PROBE_COSINE = {"onnx": 0.999, "onnx-int8": 0.95}
BACKENDS = tuple(MIN_PROBE_COSINE)  # the ONNX variants (each registered in rag.embed.EMBEDDERS)
PROBES = [
    "Attention Is All You Need: The dominant sequence transduction models are based on complex recurrent networks.",
    "LoRA: low-rank adaptation of large language models reduces the number of trainable parameters.",
    "graph neural networks",
    "We propose a diffusion model for image synthesis that outperforms GANs on FID " * 12,
]


def _model_info(model_dir: Path) -> tuple[int, int, int, int]:
    """(hidden size, attention heads, max tokens, pad id) from the model folder's configs."""
    cfg = json.loads((model_dir / "config.json").read_text())
    max_tokens = int(cfg.get("max_position_embeddings", 512))
    st_cfg = model_dir / "sentence_bert_config.json"
    if st_cfg.is_file():
        max_tokens = int(json.loads(st_cfg.read_text()).get("max_seq_length") or max_tokens)
    return int(cfg["hidden_size"]), int(cfg["num_attention_heads"]), max_tokens, int(cfg.get("pad_token_id") or 0)


def _check_pooling(model_dir: Path) -> None:
    """Refuse models whose sentence-transformers pipeline is not Transformer → mean pooling (→ Normalize)."""
    for kind, folder in st_modules(model_dir) or []:  # a plain transformers folder: sentence-transformers would mean-pool it too
        if kind == "Pooling":
            pool = json.loads((folder / "config.json").read_text())
            modes = [k for k, v in pool.items() if k.startswith("pooling_mode") and v]
            if modes != ["pooling_mode_mean_tokens"]:
                raise ConfigError(f"the onnx embed backends support mean pooling only; {model_dir} uses {modes}")
        elif kind not in ("Transformer", "Normalize"):
            raise ConfigError(f"the onnx embed backends do not support the sentence-transformers module {kind} of {model_dir}")


def _source_stamp(model_dir: Path) -> dict:
    """What identifies the source weights: file names, sizes and modification times."""
    files = sorted(p for p in model_dir.glob("*") if p.suffix in (".safetensors", ".bin") and p.is_file())
    return {p.name: [p.stat().st_size, int(p.stat().st_mtime)] for p in files}


def cache_dir_for(index_dir: Path, model: str, backend: str) -> Path:
    """``<index_dir>/models/<model>-<backend>``, the model reduced to a safe folder name."""
    base = model if model in PACKAGED_MODELS else Path(model).expanduser().name or "model"
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base.rsplit("/", 1)[-1])
    return Path(index_dir) / "models" / f"{base}-{backend}"


def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling then Normalize, in float32."""
    m = mask[..., None].astype(np.float32)
    v = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
    return (v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)).astype(np.float32, copy=False)


@contextlib.contextmanager
def _quiet():
    """Silence the exporter's tracer warnings and the quantizer's root-logger advice."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def export(model_dir: Path, backend: str, out_dir: Path) -> dict:
    """Export ``model_dir`` to ``out_dir/model.onnx`` for ``backend``; returns the export's metadata.

    Raises :class:`ConfigError` when the exported model disagrees with the torch model."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import onnx
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel, AutoTokenizer
    except ImportError as e:
        raise ConfigError(f"exporting the embedding model to ONNX needs torch, transformers and onnx ({e}): pip install onnx") from e

    t0 = time.perf_counter()
    hidden, heads, max_tokens, _ = _model_info(model_dir)
    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    with quiet_load():
        model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager").eval()

    enc = tok(PROBES, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
    # the inputs this model takes (MPNet has no token_type_ids)
    accepted = inspect.signature(model.forward).parameters
    inputs = [k for k in INPUTS if k in accepted and k in enc]

    class LastHidden(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, *args):
            return self.m(**dict(zip(inputs, args, strict=True))).last_hidden_state

    with torch.inference_mode():
        ref = _mean_pool(model(**{k: enc[k] for k in inputs}).last_hidden_state.numpy(), enc["attention_mask"].numpy())

    raw = out_dir / "raw.onnx"
    dims = {0: "batch", 1: "tokens"}
    ids = torch.ones((2, 8), dtype=torch.long)
    dummy = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
    with _quiet(), torch.no_grad():
        torch.onnx.export(LastHidden(model), tuple(dummy[k] for k in inputs), str(raw),
                          input_names=inputs, output_names=["last_hidden_state"],
                          dynamic_axes={**{k: dims for k in inputs}, "last_hidden_state": dims},
                          opset_version=17, dynamo=False)
    fp32, fused = raw, {}
    try:  # fuse attention, layer norms and GELU; the plain export is correct, only slower
        from onnxruntime.transformers.optimizer import optimize_model

        with _quiet():
            opt = optimize_model(str(raw), model_type="bert", num_heads=heads, hidden_size=hidden)
        fp32 = out_dir / "fp32.onnx"
        opt.save_model_to_file(str(fp32))
        fused = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
    except Exception as e:  # noqa: BLE001 - any optimizer failure falls back to the plain export
        fused = {"error": f"{type(e).__name__}: {e}"}
    final = out_dir / MODEL_FILE
    if backend == "onnx-int8":
        with _quiet():
            quantize_dynamic(str(fp32), str(final), weight_type=QuantType.QInt8, per_channel=True,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    else:
        fp32.replace(final)
    for p in (raw, out_dir / "fp32.onnx"):
        p.unlink(missing_ok=True)

    sess = _session(final, threads=0)
    feed = {i.name: enc[i.name].numpy().astype(np.int64) for i in sess.get_inputs()}
    got = _mean_pool(sess.run(None, feed)[0], enc["attention_mask"].numpy())
    cos = float((got * ref).sum(axis=1).min())
    if cos < MIN_PROBE_COSINE[backend]:
        raise ConfigError(f"the {backend} export of {model_dir} disagrees with the torch model (probe cosine {cos:.4f}); "
                          "use embed_backend='torch'")
    import onnxruntime

    return {"recipe": RECIPE, "backend": backend, "source": str(model_dir), "source_stamp": _source_stamp(model_dir),
            "probe_min_cosine": round(cos, 5), "fused": fused, "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "seconds": round(time.perf_counter() - t0, 1),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _cache_valid(folder: Path, model_dir: Path, backend: str) -> bool:
    try:
        meta = json.loads((folder / META_FILE).read_text())
    except (OSError, ValueError):
        return False
    return ((folder / MODEL_FILE).is_file() and meta.get("recipe") == RECIPE and meta.get("backend") == backend
            and meta.get("source_stamp") == _source_stamp(model_dir))


def ensure_export(model_dir: Path, backend: str, cache: Path) -> tuple[Path, bool]:
    """The cached export in ``cache`` (made first when missing or stale) and whether it was reused.

    The export is written into a temporary sibling folder and renamed into place: readers see either
    no folder or a complete one. When another process wins the race its export is used."""
    if _cache_valid(cache, model_dir, backend):
        return cache / MODEL_FILE, True
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", dir=cache.parent))
    try:
        tmp.chmod(0o755)
        meta = export(model_dir, backend, tmp)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1))
        if cache.exists():  # a stale export: move it aside, then replace it
            old = Path(tempfile.mkdtemp(prefix=f".{cache.name}.old.", dir=cache.parent))
            with contextlib.suppress(OSError):
                cache.rename(old / "x")
        try:
            tmp.rename(cache)
        except OSError:
            if not _cache_valid(cache, model_dir, backend):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for stale in cache.parent.glob(f".{cache.name}.old.*"):
            shutil.rmtree(stale, ignore_errors=True)
    return cache / MODEL_FILE, False


def _session(path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or os.cpu_count() or 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


class OnnxEmbedder:
    """A sentence-transformers model (mean pooling) run by onnxruntime; same interface as
    :class:`rag.embed.SentenceTransformerEmbedder`."""

    def __init__(self, name: str = "all-MiniLM-L6-v2", *, backend: str = "onnx", index_dir: Path | str | None = None,
                 batch_size: int = 64, threads: int = 0):
        if backend not in BACKENDS:
            raise ConfigError(f"unknown onnx embed backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        from tokenizers import Tokenizer

        model_dir = Path(resolve_model_path(name))
        _check_pooling(model_dir)
        if not (model_dir / "tokenizer.json").is_file():
            raise ConfigError(f"the onnx embed backends need a fast tokenizer (tokenizer.json) in {model_dir}")
        self.dim, _, self.max_tokens, pad_id = _model_info(model_dir)
        self.model_name, self.backend, self.batch_size = name, backend, batch_size
        self.notes: list[str] = []
        # fp32 reproduces the torch vectors (cosine ≈ 1), int8 does not quite: keep it apart in the index
        self.name = name if backend == "onnx" else f"{name}:{backend}"

        index_dir = Path(index_dir) if index_dir is not None else Path(tempfile.gettempdir()) / "rag-onnx"
        self.cache_dir = cache_dir_for(index_dir, name, backend)
        try:
            path, self.reused = ensure_export(model_dir, backend, self.cache_dir)
            self.session = _session(path, threads)
        except OSError:  # the cache is not writable: export to a temporary folder for this process only
            with tempfile.TemporaryDirectory() as tmp:
                export(model_dir, backend, Path(tmp))
                self.session = _session(Path(tmp) / MODEL_FILE, threads)  # loaded into memory: the file may go
            self.reused, self.cache_dir = False, None
        self.inputs = [i.name for i in self.session.get_inputs()]

        self._counter = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._counter.no_padding()
        self._counter.no_truncation()
        self._encoder = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._encoder.no_padding()
        self._encoder.enable_truncation(max_length=self.max_tokens)
        self._pad_id = pad_id
        self._words = WordCache()

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """L2-normalized float32 vectors, in the order of ``texts``; runs in batches of similar length."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, _, hidden, mask in self._batches(texts):
            out[idx] = _mean_pool(hidden, mask)
        return out

    def _batches(self, texts: list[str]):
        """(indexes into ``texts``, their encodings, last hidden states, attention mask) per batch of similar length."""
        encs = self._encoder.encode_batch(list(texts)) if texts else []
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        for b in range(0, len(order), self.batch_size):
            idx = order[b:b + self.batch_size]
            batch = [encs[i] for i in idx]
            yield idx, batch, *self._hidden(batch)

    def word_vectors(self, texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
        """As :meth:`rag.embed.SentenceTransformerEmbedder.word_vectors`: each text's words with their
        contextual vectors (the model's last hidden states, pieces of a word averaged)."""
        return self._words.get(texts, lambda todo: self._encode(todo)[1])

    def embed_words(self, texts: list[str]) -> np.ndarray:
        """:meth:`embed_batch`'s vectors and, from the same pass, the texts' word vectors (kept for :meth:`word_vectors`)."""
        vecs, words = self._encode(texts)
        self._words.put(texts, words)
        return vecs

    def _encode(self, texts: list[str]) -> tuple[np.ndarray, list[tuple[list[str], np.ndarray]]]:
        vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
        words: list[tuple[list[str], np.ndarray]] = [([], np.zeros((0, self.dim), dtype=np.float32))] * len(texts)
        for idx, batch, hidden, mask in self._batches(texts):
            vecs[idx] = _mean_pool(hidden, mask)
            for r, (i, e) in enumerate(zip(idx, batch, strict=True)):
                words[i] = join_pieces(e.tokens, hidden[r, :len(e.ids)])
        return vecs, words

    def _hidden(self, encs: list) -> tuple[np.ndarray, np.ndarray]:
        """The model's last hidden states for a batch of encodings, padded to the longest, and the attention mask."""
        width = max(len(e.ids) for e in encs)
        ids = np.full((len(encs), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        types = np.zeros((len(encs), width), dtype=np.int64)
        for r, e in enumerate(encs):
            n = len(e.ids)
            ids[r, :n], mask[r, :n], types[r, :n] = e.ids, e.attention_mask, e.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return self.session.run(None, {k: feed[k] for k in self.inputs})[0], mask

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def tokenize(self, text: str) -> list[int]:
        return self._counter.encode(text, add_special_tokens=False).ids
