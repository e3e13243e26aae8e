"""The chat UI as a process: start ``rag ui`` on a free port, ask questions through gradio_client,
and report the process's peak memory (VmHWM) beside its memory when idle after start.

Run: ``.venv/bin/python -m bench.bench_ui``
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mem_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


@contextmanager
def running_ui(env: dict | None = None, timeout: float = 300):
    """``rag ui`` on 127.0.0.1:<free port>; yields (url, process); stops it after."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rag", "ui", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("rag ui did not start") from None
                time.sleep(0.5)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(n: int = 20) -> str:
    from bench.load import question_pool, run_load, ui_asker

    rows = []
    with running_ui() as (url, proc):
        idle = _mem_kb(proc.pid, "VmRSS")
        for backend in ("extractive", "local"):
            r = run_load(ui_asker(url, backend), question_pool(), n, 4)
            rows.append((backend, r, _mem_kb(proc.pid, "VmHWM")))
    lines = [f"Chat UI process memory (rag ui, {n} questions per backend at 4 concurrent clients)", "",
             "| after | peak RSS (MiB) | × idle RSS | errors | p50 (s) |", "|---|---:|---:|---:|---:|",
             f"| start (idle) | {idle / 1024:.0f} | 1.00 | – | – |"]
    for backend, r, peak in rows:
        lines.append(f"| {backend} questions | {peak / 1024:.0f} | {peak / idle:.2f} | {r['errors']} | {r['p50_s']:.2f} |")
    out = "\n".join(lines)
    (Path(__file__).parent / "results_ui.md").write_text(out + "\n")
    return out


if __name__ == "__main__":
    print(main())
