"""A real Chroma server (started here on 127.0.0.1), and faults: the server stopping, the index
directory missing or damaged, the disk refusing writes during ``rag index``."""

from __future__ import annotations

import html
import json
import os
import resource
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rag.errors import StoreUnavailableError
from rag.evaluate import load_questions
from rag.pipeline import Pipeline

from .conftest import DEV_QUESTIONS, MANIFEST, ROOT, free_port
from .test_ui import cited_titles

pytestmark = pytest.mark.slow  # a Chroma server, or `rag` subprocesses that load the model and build indexes

CHROMA = Path(sys.executable).with_name("chroma")



class ChromaServer:
    """``chroma run`` on 127.0.0.1 in a subprocess."""

    def __init__(self, path: Path, port: int | None = None):
        self.path, self.port, self.proc = path, port or free_port(), None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ChromaServer:
        self.proc = subprocess.Popen([str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1)
                return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("chroma server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server_pipeline(chroma_server, settings_factory, embedder, tmp_path_factory):
    settings = settings_factory(chroma_url=chroma_server.url, index_dir=tmp_path_factory.mktemp("server-lock"))
    pipe = Pipeline(settings, embedder=embedder)
    rep = pipe.index()
    assert (rep.added, rep.papers) == (953, 953)
    return pipe


def test_server_index_gives_same_top5_as_embedded_for_every_dev_question(server_pipeline, pipeline):
    assert server_pipeline.index().unchanged == 953
    for q in load_questions(DEV_QUESTIONS):
        ours = [h.paper.id for h in server_pipeline.retrieve(q.question, 5)]
        embedded = [h.paper.id for h in pipeline.retrieve(q.question, 5)]
        assert ours == embedded, q.id


@pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword")  # gradio's queue vs pandas
def test_answer_and_ui_run_against_the_server(server_pipeline, pipeline):
    """The same answers (extractive: deterministic) and the chat UI, with the index on the server."""
    from gradio_client import Client

    from ui.app import create_app, launch

    questions = load_questions(DEV_QUESTIONS)[:6]
    for q in questions:
        ours, embedded = server_pipeline.answer(q.question, backend="extractive"), pipeline.answer(q.question, backend="extractive")
        assert (ours.text, [c.paper.id for c in ours.citations]) == (embedded.text, [c.paper.id for c in embedded.citations])
    app = create_app(server_pipeline, server_pipeline.settings)
    port = free_port()
    launch(app, server_pipeline.settings, "127.0.0.1", port, block=False, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        q = questions[0]
        _, sources, _ = client.predict(q.question, [], "extractive", 5, [], "Any", [], api_name="/chat")
        expected = server_pipeline.answer(q.question, backend="extractive")
        assert expected.citations and cited_titles(html.unescape(sources)) == [c.paper.title for c in expected.citations]
    finally:
        app.close()


def test_server_stopped_mid_session_gives_clear_error_then_recovers(server_pipeline, chroma_server):
    assert server_pipeline.retrieve("sparse networks fail on hard tasks", 3)
    chroma_server.stop()
    try:
        with pytest.raises(StoreUnavailableError, match="stopped answering.*restart it"):
            server_pipeline.retrieve("sparse networks fail on hard tasks", 3)
        env = {**os.environ, "RAG_CHROMA_URL": chroma_server.url, "RAG_INDEX_DIR": str(server_pipeline.settings.index_dir)}
        r = subprocess.run([sys.executable, "-m", "rag", "search", "pruning"], capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 1 and "Chroma server" in r.stderr and "Traceback" not in r.stderr
    finally:
        chroma_server.start()
    assert server_pipeline.retrieve("sparse networks fail on hard tasks", 3)


def test_writer_lease_keeps_a_second_machine_out(chroma_server, tmp_path):
    """Two writers on different machines share only the server: the second gets a clear "being
    updated" error (here: a lease held by this process, and `rag index` in a subprocess with its own
    index dir, as on another machine); the lease is renewed while held and expires when its owner dies."""
    from rag.errors import IndexBusyError
    from rag.lease import StoreLease
    from rag.store import open_client

    client = open_client(tmp_path, chroma_server.url)
    with StoreLease(client, "leasetest", ttl=2.0, settle=0.05):
        time.sleep(2.5)  # longer than the ttl: renewals keep it
        with pytest.raises(IndexBusyError, match=r"being updated by .* \(pid \d+\)"):
            StoreLease(client, "leasetest").acquire()
        env = {**_small(tmp_path, n=5), "RAG_CHROMA_URL": chroma_server.url, "RAG_COLLECTION": "leasetest"}
        r = _rag(env, "index")
        assert r.returncode == 1 and "error: the index 'leasetest' on http://127.0.0.1" in r.stderr, r.stderr
        assert "being updated by" in r.stderr and "Traceback" not in r.stderr
    assert _rag(env, "index", "--json").returncode == 0  # released on exit: the other machine goes ahead

    dead = StoreLease(client, "leasetest", ttl=1.0, settle=0.05)
    dead.acquire()
    dead._stop.set()  # its owner "dies": no renewal, no release
    with pytest.raises(IndexBusyError, match="lease expires at"):
        StoreLease(client, "leasetest").acquire()
    time.sleep(1.2)
    with StoreLease(client, "leasetest", settle=0.05) as lease:
        assert lease.holder()["owner"] == lease.token
    assert StoreLease(client, "leasetest").holder() is None


# ---------------------------------------------------------------- embedded index faults (subprocesses)

def _small(tmp: Path, n: int = 20, start: int = 0) -> dict:
    from rag.corpus import load_corpus

    papers = load_corpus(MANIFEST).papers[start:start + n]
    (tmp / "a.jsonl").write_text("".join(json.dumps({"title": p.title, "abstract": p.abstract}) + "\n" for p in papers))
    (tmp / "sources.toml").write_text('[[source]]\nlabel = "a"\npath = "a.jsonl"\nformat = "jsonl"\n')
    return {**os.environ, "RAG_MANIFEST": str(tmp / "sources.toml"), "RAG_INDEX_DIR": str(tmp / "index")}


def _rag(env, *args, preexec=None):
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, env=env, timeout=300,
                          cwd=ROOT, preexec_fn=preexec)


def test_missing_index_dir_is_built_on_first_use(tmp_path):
    env = _small(tmp_path, 12)
    assert not (tmp_path / "index").exists()
    r = _rag(env, "search", "neural network", "--k", "2", "--json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == 2 and "building it" in r.stderr


def test_damaged_index_gets_remedy_and_full_rebuild_keeps_the_old_copy(tmp_path):
    env = _small(tmp_path, 12)
    assert _rag(env, "index").returncode == 0
    db = tmp_path / "index" / "chroma" / "chroma.sqlite3"
    with db.open("r+b") as f:
        f.write(b"this is not a database" * 50)
    r = _rag(env, "search", "neural network")
    assert r.returncode == 1 and "cannot be opened" in r.stderr and "rag index --full" in r.stderr
    assert "Traceback" not in r.stderr
    r = _rag(env, "index", "--full", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["papers"] == 12
    assert list((tmp_path / "index").glob("chroma.damaged-*/chroma.sqlite3"))
    assert _rag(env, "search", "neural network", "--json").returncode == 0


def test_disk_write_failure_during_index_is_clear_and_loses_nothing(tmp_path):
    env = _small(tmp_path, 20)
    assert _rag(env, "index").returncode == 0
    _small(tmp_path, 150)  # 130 new papers: far more than the file-size limit lets through

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (3_000_000, 3_000_000))

    r = _rag(env, "index", preexec=limit_file_size)
    assert r.returncode == 1, r.stdout
    assert "writing the index failed" in r.stderr and "disk space" in r.stderr and "Traceback" not in r.stderr
    r = _rag(env, "search", "neural network", "--k", "3", "--json")
    assert r.returncode == 0 and len(json.loads(r.stdout)) == 3
    r = _rag(env, "index", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["papers"] == 150
    idx = json.loads(_rag(env, "stats", "--index", "--json").stdout)["index"]
    assert (idx["papers"], idx["stale_chunks"], idx["papers_without_chunks"]) == (150, 0, 0)
