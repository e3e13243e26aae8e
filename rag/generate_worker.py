"""The local model's worker process: llama-cpp-python runs here, never in the caller's process.

Started and supervised by :class:`rag.generate.LocalGenerator` as ``python -m rag.generate_worker``.
It loads one GGUF file, says ``{"ready": ...}`` on its protocol stream, then answers one request a
line from stdin (``{"messages": [...], "max_tokens": N, "temperature": T, "stop": [...], "seed": S,
"grammar": GBNF or null}``) with
``{"piece": "..."}`` lines and a final ``{"done": true}`` (or ``{"error": "..."}``). SIGUSR1 stops
the generation under way (the reply still ends with ``done``). A native crash, hang or
out-of-memory here ends only this process: the supervisor turns it into a warning and the
extractive answer, and starts a new worker for the next question.

llama.cpp's C code may print to file descriptor 1, so the protocol goes to a duplicate of it and
fd 1 is pointed at stderr. The worker exits when stdin closes or its parent dies.

``RAG_LLM_FAULT_FILE`` (tests only): when that file exists at the start of a request, the worker
reads it, deletes it and misbehaves as it says: ``segv`` (a real invalid memory access after the
first piece), ``kill`` (SIGKILL to itself), ``hang`` (stops answering), ``exit`` (exits with 3).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

AMX_MARKERS = ("AMX_INT8 = 1", "AMX = 1", "AMX_TILE = 1", "AMX_BF16 = 1")


def _die_with_parent() -> None:
    """Ask Linux to end this process when the parent dies (no orphaned model processes)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: stdin closing still ends the worker
        pass


def system_info() -> str:
    import llama_cpp

    raw = llama_cpp.llama_print_system_info()
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def has_amx(info: str) -> bool:
    """Whether this llama.cpp build would run its AMX kernels (seen to crash on AMX Xeons)."""
    return any(m in info for m in AMX_MARKERS)


def load(model_path: str, n_ctx: int, threads: int):
    """The ``Llama`` model; with an AMX build, llama.cpp's extra buffer types (the AMX path) are off."""
    import llama_cpp

    info = system_info()
    if has_amx(info):  # a native build on an AMX Xeon: its AMX kernels segfault; keep llama.cpp off them
        params = llama_cpp.llama_model_default_params()
        if hasattr(params, "use_extra_bufts"):
            original = llama_cpp.llama_model_default_params

            def no_extra_bufts():
                p = original()
                p.use_extra_bufts = False
                return p

            llama_cpp.llama_model_default_params = no_extra_bufts  # read once by Llama.__init__
            llama_cpp.llama.llama_cpp.llama_model_default_params = no_extra_bufts
    llm = llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)
    return llm, info


def _fault() -> str | None:
    path = os.environ.get("RAG_LLM_FAULT_FILE")
    if not path or not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            what = f.read().strip()
        os.remove(path)
    except OSError:
        return None
    return what or None


def _misbehave(what: str) -> None:
    if what == "segv":
        import ctypes

        ctypes.string_at(0)  # a real segmentation fault
    elif what == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif what == "hang":
        while True:
            time.sleep(3600)
    elif what == "exit":
        os._exit(3)


def serve(llm, out, inp) -> None:
    cancelled = [False]

    def on_cancel(signum, frame):
        cancelled[0] = True

    signal.signal(signal.SIGUSR1, on_cancel)

    def send(obj: dict) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    for line in inp:
        if not line.strip():
            continue
        cancelled[0] = False
        try:
            req = json.loads(line)
            fault = _fault()
            if fault and fault != "segv":
                _misbehave(fault)
            grammar = None
            if req.get("grammar"):
                from llama_cpp import LlamaGrammar

                grammar = LlamaGrammar.from_string(req["grammar"], verbose=False)
            chunks = llm.create_chat_completion(messages=req["messages"], max_tokens=int(req.get("max_tokens", 256)),
                                                temperature=float(req.get("temperature", 0.0)), stop=req.get("stop") or None,
                                                seed=req.get("seed"), grammar=grammar,
                                                stream=True)
            for chunk in chunks:
                if cancelled[0]:
                    break
                piece = (chunk.get("choices") or [{}])[0].get("delta", {}).get("content")
                if piece:
                    send({"piece": piece})
                    if fault == "segv":
                        _misbehave(fault)
            send({"done": True})
        except Exception as e:  # a bad request or a llama.cpp error: report it, keep serving
            send({"error": f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rag.generate_worker")
    ap.add_argument("--model", required=True)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    _die_with_parent()
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # a cancel that arrives while loading is ignored
    proto_fd = os.dup(1)
    os.dup2(2, 1)  # C code printing to stdout must not corrupt the protocol
    out = os.fdopen(proto_fd, "w", buffering=1, encoding="utf-8")
    try:
        llm, info = load(args.model, args.ctx, args.threads)
    except Exception as e:
        out.write(json.dumps({"error": f"cannot load {os.path.basename(args.model)}: {' '.join(str(e).split())[:200]}"}) + "\n")
        out.flush()
        return 2
    out.write(json.dumps({"ready": True, "pid": os.getpid(), "amx": has_amx(info)}) + "\n")
    out.flush()
    serve(llm, out, sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
