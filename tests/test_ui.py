"""The chat UI through its HTTP API (gradio_client against a real server on 127.0.0.1), the
follow-up resolution rules, and the UI's handling of bad input and failures."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag.followup import ShownPaper, Turn, is_followup, mentioned_filters, resolve

from .conftest import ROOT, free_port

# gradio's own queue code trips pandas deprecation warnings; not ours to fix
pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"), pytest.mark.filterwarnings("ignore:The copy keyword")]

QUESTION = "Which papers study pruning neural networks at initialization?"
PROTEIN = ("Which papers analyze what Transformer language models trained on protein sequences learn about protein "
           "structure, for example through their attention maps?")



def cited_titles(sources: str) -> list[str]:
    """The titles of the cited papers in the sources panel, in [n] order."""
    return [t for _, t in re.findall(r'rag-n">\[(\d+)\]</span> (?:<a [^>]*>)?([^<]*)', sources or "")]


def last_bot(history) -> str:
    msg = [m for m in history if m["role"] == "assistant"][-1]
    content = msg["content"]
    if isinstance(content, list):
        return " ".join(c.get("text", "") for c in content if isinstance(c, dict))
    return str(content)


@pytest.fixture(scope="module")
def server(pipeline):
    from ui.app import create_app, launch

    app = create_app(pipeline)
    port = free_port()
    launch(app, pipeline.settings.ui, "127.0.0.1", port, block=False, quiet=True)
    yield app, f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def url(server):
    return server[1]


def ask(client, question, backend="extractive", k=5, venues=(), year="Any", types=(), history=None):
    return client.predict(question, history or [], backend, k, list(venues), year, list(types), api_name="/chat")


# ---------------------------------------------------------------- follow-up rules (pure)

PREV = Turn("which papers show that pruning fails on hard tasks?", [
    ShownPaper("a", "Paper A", 1, "Poster", "ICLR", 2021),
    ShownPaper("b", "Paper B", 2, "Oral", "ICLR", 2021),
    ShownPaper("c", "Paper C", None, None, "ICML", 2022),
])


@pytest.mark.parametrize("question, expected", [
    ("what about the second one?", 'what about "Paper B"?'),
    ("What does the last paper propose?", 'What does "Paper C" propose?'),
    ("tell me more about [1]", 'tell me more about "Paper A"'),
    ("and source 2?", 'and "Paper B"?'),
    ("the first one", '"Paper A"'),
])
def test_followup_ordinal_and_numbered_references_become_titles(question, expected):
    r = resolve(question, PREV, {"ICLR", "ICML"})
    assert r.rewritten and r.question == expected and r.filters == {}


def test_followup_which_of_those_asks_the_previous_question_again_under_filters():
    r = resolve("which of those were orals?", PREV, {"ICLR", "ICML"})
    assert r.question == PREV.question and r.filters == {"type": ["Oral"]}
    assert [p.id for p in r.subset] == ["b"] and "Paper B" in r.note
    r = resolve("and from ICML?", PREV, {"ICLR", "ICML"})
    assert r.question == PREV.question and r.filters == {"venue": ["ICML"]} and [p.id for p in r.subset] == ["c"]
    r = resolve("any of them spotlights?", PREV)
    assert r.filters == {"type": ["Spotlight"]} and r.subset == [] and "none" in r.note
    # a filter added by one follow-up is kept by the next; a new type replaces the old one
    chained = Turn(PREV.question, PREV.papers, {"type": ["Oral"], "year": 2021})
    assert resolve("which of these were spotlights?", chained).filters == {"type": ["Spotlight"], "year": 2021}


def test_followup_with_its_own_words_is_joined_to_the_previous_question():
    r = resolve("what about their datasets?", PREV)
    assert r.question == "which papers show that pruning fails on hard tasks: what about their datasets?"
    assert resolve("Do they use reinforcement learning?", PREV).rewritten


@pytest.mark.parametrize("question", [
    "Which paper proposes a sparse attention transformer and what does it achieve on long documents?",
    "What is the second stage of training in diffusion distillation?",
    "How do graph neural networks handle over-smoothing?",
])
def test_new_questions_are_left_alone(question):
    r = resolve(question, PREV, {"ICLR"})
    assert not r.rewritten and r.question == question and r.filters == {}


def test_followup_without_previous_turn_and_helpers():
    assert resolve("what about the second one?", None).question == "what about the second one?"
    r = resolve("what about the ninth one?", PREV)  # no such paper: left alone, and said so
    assert r.question == "what about the ninth one?" and not r.rewritten and "showed 3 papers" in r.note
    assert is_followup("which of those were orals?") and not is_followup("What is a transformer?")
    assert mentioned_filters("orals from ICLR 2021 or 2023", {"ICLR", "ICML"}) == {
        "type": ["Oral"], "venue": ["ICLR"], "year": "2021-2023"}
    assert Turn.from_dict(PREV.to_dict()) == PREV and Turn.from_dict(None) is None


# ---------------------------------------------------------------- the chat endpoint

def test_chat_endpoint_streams_an_answer_with_its_sources(url, pipeline):
    from gradio_client import Client

    expected = pipeline.answer(QUESTION, backend="extractive")
    client = Client(url, verbose=False)
    job = client.submit(QUESTION, [], "extractive", 5, [], "Any", [], api_name="/chat")
    history, sources, box = job.result(timeout=120)
    updates = job.outputs()
    assert len(updates) >= 3  # "searching" placeholder, streamed text, final answer
    assert "Searching the papers" in last_bot(updates[0][0])
    assert [m["role"] for m in history] == ["user", "assistant"]
    text = last_bot(history)
    assert "[1]" in text and "backend extractive" in text and "▌" not in text
    assert expected.citations and cited_titles(html.unescape(sources)) == [c.paper.title for c in expected.citations]
    assert "<mark>" in sources and box == ""


def test_refusal_says_the_corpus_does_not_cover_the_question(url):
    from gradio_client import Client

    history, sources, _ = ask(Client(url, verbose=False), "What is the best recipe for a chocolate cake?")
    assert "do not cover this question" in last_bot(history)
    assert "rag-cited" not in sources


def test_bad_input_gets_a_friendly_message_not_an_error(url, pipeline):
    from gradio_client import Client

    client = Client(url, verbose=False)
    for empty in ("", "   \n\t "):
        history, _, _ = ask(client, empty)
        assert [m["role"] for m in history] == ["assistant"] and "Please type a question" in last_bot(history)
    limit = pipeline.settings.answer.max_question_chars
    long_q = "why " * (limit // 4 + 10)
    history, _, box = ask(client, long_q)
    assert "the limit is" in last_bot(history) and f"{limit:,}" in last_bot(history)
    assert box == long_q  # kept in the box to be shortened
    history, _, _ = ask(client, QUESTION, year="banana")  # a FilterError: its one-line message
    assert last_bot(history).startswith("⚠️") and "not a year" in last_bot(history)
    history, _, _ = ask(client, QUESTION, backend="openai")  # no server configured: extractive, saying why
    assert "RAG\\_OPENAI\\_BASE\\_URL" in last_bot(history) and "[1]" in last_bot(history)
    assert not any("Traceback" in last_bot([m]) for m in history if m["role"] == "assistant")


def test_unexpected_errors_become_a_generic_chat_message(pipeline):
    from rag.errors import GeneratorError
    from ui.chat import ChatService
    from ui.render import GENERIC_ERROR

    class Broken:
        settings = pipeline.settings
        catalog = pipeline.catalog

        def __init__(self, exc):
            self.exc = exc

        def stream(self, *a, **kw):
            raise self.exc

    out = list(ChatService(Broken(RuntimeError("secret internals /etc/x"))).respond(
        QUESTION, [], None, "extractive", 5, [], "Any", []))
    assert last_bot(out[-1][0]) == GENERIC_ERROR
    out = list(ChatService(Broken(GeneratorError("model server at x is unreachable"))).respond(
        QUESTION, [], None, "local", 5, [], "Any", []))
    assert last_bot(out[-1][0]) == "⚠️ Model server at x is unreachable"


def test_ten_clients_asking_at_once_all_get_answers(url):
    import json

    from gradio_client import Client

    qs = [json.loads(line)["question"] for line in (ROOT / "eval" / "dev_questions.jsonl").read_text().splitlines()[:10]]
    clients = [Client(url, verbose=False) for _ in qs]
    start = threading.Barrier(len(qs))

    def one(i):
        start.wait()
        history, sources, _ = ask(clients[i], qs[i])
        return history, sources

    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(qs)) as pool:
        results = list(pool.map(one, range(len(qs))))
    elapsed = time.perf_counter() - t0
    for q, (history, sources) in zip(qs, results, strict=True):
        assert history[0]["content"][0]["text"] == " ".join(q.split())
        text = last_bot(history)
        assert ("[1]" in text and "rag-cited" in sources) or "do not cover this question" in text \
            or "none of their abstracts states" in text, text
    print(f"10 concurrent extractive answers in {elapsed:.1f} s")


def test_followup_questions_are_answered_about_the_right_papers(url, pipeline):
    from gradio_client import Client

    from ui.render import shown_papers

    client = Client(url, verbose=False)  # one session: the conversation state lives on the server
    first = pipeline.answer(PROTEIN, backend="extractive")
    shown = shown_papers(first)
    history, sources, _ = ask(client, PROTEIN)
    assert shown[0].title in sources

    # "the second one": the second paper shown, by title
    history, sources, _ = ask(client, "what about the second one?", history=history)
    text = last_bot(history)
    assert "Follow-up" in text and shown[1].title.split(":")[0][:30] in text.replace("\\", "")
    assert cited_titles(html.unescape(sources))[0] == shown[1].title

    # "which of those were orals?": the first question again, orals only, and the orals among those shown
    history, _, _ = ask(client, PROTEIN, history=history)
    history, sources, _ = ask(client, "which of those were orals?", history=history)
    text = last_bot(history)
    orals_before = [p for p in shown if p.type == "Oral"]
    assert orals_before and all(p.title[:40] in text.replace("\\", "") for p in orals_before)
    assert all(p.title[:40] in html.unescape(sources) for p in orals_before)
    assert "rag-type-oral" in sources and "rag-type-poster" not in sources and "rag-type-spotlight" not in sources


def test_papers_view_and_similar_papers_without_the_model(url, pipeline):
    from gradio_client import Client

    client = Client(url, verbose=False)
    table, count = client.predict(["ICLR"], "2023", ["Oral"], "", api_name="/papers")
    rows = table["data"] if isinstance(table, dict) else table
    expected = [p for p in pipeline.retriever.papers if p.venue == "ICLR" and p.year == 2023 and p.type == "Oral"]
    assert len(rows) == len(expected) > 0 and f"**{len(expected)}** of" in count
    assert all(r[2] == "ICLR" and str(r[3]) == "2023" and r[4] == "Oral" for r in rows)
    pid = rows[0][-1]
    detail, similar = client.predict(pid, 5, api_name="/similar")
    assert pipeline.retriever.by_id[pid].title.split(":")[0][:30] in detail
    assert all(h.paper.title[:30] in html.unescape(similar) for h in pipeline.similar(pid, 5))
    table, count = client.predict([], "Any", [], "zzzz-no-such-paper", api_name="/papers")
    assert (table["data"] if isinstance(table, dict) else table) in ([], [["", "", "", "", "", ""]]) and "**0**" in count


def test_no_files_are_served_beyond_the_app(url):
    for path in ("/etc/passwd", str(ROOT / "README.md"), str(ROOT / "rag" / "settings.py")):
        for route in ("gradio_api/file=", "file="):
            try:
                with urllib.request.urlopen(url + route + path, timeout=10) as r:
                    body = r.read()
                assert b"root:" not in body and b"paper-rag" not in body and b"class Settings" not in body
            except urllib.error.HTTPError as e:
                assert e.code in (403, 404)


# ---------------------------------------------------------------- the local model, serialized

@pytest.mark.slow
def test_local_backend_questions_wait_in_line_and_all_get_answers(url, pipeline):
    from gradio_client import Client

    gen = pipeline.generator("local")
    original = gen.stream
    running, peak, lock = [0], [0], threading.Lock()

    def counting(*a, **kw):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            yield from original(*a, **kw)
        finally:
            with lock:
                running[0] -= 1

    gen.stream = counting
    try:
        qs = [QUESTION, "How can a network be trained to maximize partial AUC?",
              "Which papers learn priors for compressed sensing?"]
        clients = [Client(url, verbose=False) for _ in qs]
        jobs = [c.submit(q, [], "local", 5, [], "Any", [], api_name="/chat_local") for c, q in zip(clients, qs, strict=True)]
        results = [j.result(timeout=300) for j in jobs]
    finally:
        del gen.stream
    assert peak[0] == 1
    for history, sources, _ in results:
        text = last_bot(history)
        assert "[1]" in text and "backend" in text and "rag-cited" in sources, text


# ---------------------------------------------------------------- index panel and the CLI

def test_index_update_button_reports_and_refreshes(pipeline, embedder, tmp_path):
    from gradio_client import Client

    from rag.pipeline import Pipeline
    from ui.app import create_app, launch

    shutil.copytree(pipeline.settings.index.index_dir, tmp_path / "index")
    settings = pipeline.settings.model_copy(update={"index_dir": tmp_path / "index"})
    app = create_app(Pipeline(settings, embedder=embedder))
    port = free_port()
    launch(app, settings.ui, "127.0.0.1", port, block=False, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        info = client.predict(api_name="/index_info")
        assert "**Papers indexed**: 953" in info and "all-MiniLM-L6-v2" in info and "Last build" in info
        job = client.submit(api_name="/update_index")
        out = job.result(timeout=300)
        assert "953 papers indexed" in out[0] and "0 added" in out[0] and "**Papers indexed**: 953" in out[1]
    finally:
        app.close()


@pytest.mark.slow
def test_rag_does_not_import_ui_and_the_cli_serves_with_auth(built_index, tmp_path):
    code = "import sys, rag, rag.cli, rag.pipeline; assert 'ui' not in sys.modules and 'gradio' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)

    port = free_port()
    env = {**os.environ, "RAG_INDEX_DIR": str(built_index.index.index_dir), "RAG_MANIFEST": str(built_index.corpus.manifest),
           "RAG_UI_USERNAME": "reader", "RAG_UI_PASSWORD": "s3cret", "RAG_BACKEND": "extractive"}
    proc = subprocess.Popen([sys.executable, "-m", "rag", "ui", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=5).close()
                break
            except urllib.error.HTTPError:
                break  # the server answers (the login page or 401)
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.time() < deadline, "rag ui did not start"
                time.sleep(0.5)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + "/config", timeout=10)
        assert e.value.code in (401, 403)
        from gradio_client import Client

        client = Client(base + "/", auth=("reader", "s3cret"), verbose=False)
        history, sources, _ = client.predict(QUESTION, [], "extractive", 5, [], "Any", [], api_name="/chat")
        assert "[1]" in last_bot(history)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_answer_rendering_marks_unsupported_sentences_and_escapes_sources():
    from types import SimpleNamespace as NS

    from rag.models import Hit, Paper
    from ui.render import answer_markdown, sources_html

    p = Paper(id="p1", title="A <b>bold</b> title", abstract="First claim here. The model is <script>x</script> good.",
              authors=("Ann",), venue="ICLR", year=2021, type="Oral", url="javascript:alert(1)")
    ans = NS(text="The model is good [1].", refused=False, backend="local", requested_backend="local", fallback=None,
             citations=[NS(n=1, paper=p, evidence=["The model is <script>x</script> good."])],
             retrieved=[Hit(paper=p, score=1.0, rank=1)], timings={"total_ms": 1200.0},
             unsupported=[NS(text="It beats *everything* by 40%."), NS(text="The model is good [1].")])
    md = answer_markdown(ans)
    assert "⚠️ ~~It beats \\*everything\\* by 40%.~~" in md  # dropped: listed, struck through
    assert "⚠️ *The model is good [[1]](#rag-src-1).* **(not supported by its sources)**" in md  # kept: marked in place, [n] links to its card
    assert "backend local" in md and "1.2 s" in md
    html_ = sources_html(ans)
    assert "<script>" not in html_ and "<b>" not in html_ and "javascript:" not in html_
    assert "<mark>The model is &lt;script&gt;x&lt;/script&gt; good.</mark>" in html_
    assert 'id="rag-src-1"' in html_ and "openreview.net/search?term=A+%3Cb%3Ebold" in html_  # the card the marker links to; a search link
