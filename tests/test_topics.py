"""Topics of the corpus (rag/topics.py): labelling and filter logic on small inputs; on the real
index, recomputation after `rag index` adds papers, the ``topic`` filter through the API, the CLI,
the UI's endpoints and, in Chromium, the Map tab scoping a question to a topic."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from rag.errors import FilterError
from rag.filters import parse_filters
from rag.models import Paper
from rag.topics import TopicMap, cited_topics, compute_topics, fingerprint, load_topics, make_label, npmi, parse_topic_id, save_topics

from .conftest import free_port

QUESTION = "Which papers study pruning neural networks at initialization?"
SPANNING = "Which papers compress neural networks?"  # answered from two topics: quantization and pruning


def _paper(i: int, text: str = "a paper", **kw) -> Paper:
    return Paper(id=f"p{i:03d}", title=f"Paper {i}", abstract=text, **kw)


# ---------------------------------------------------------------- pure logic

def test_labels_prefer_phrases_and_drop_what_a_chosen_term_already_says():
    terms = ["graph", "node", "gnns", "graph neural", "graph neural networks", "graphs", "spectral"]
    scores = [1.0, 0.37, 0.35, 0.35, 0.30, 0.29, 0.17]
    assert make_label(terms, scores) == "Graph neural networks, node, spectral"
    # an acronym spelled out; a plural and the acronym of a chosen phrase skipped; casing from the texts
    label = make_label(["gans", "image", "gan", "generative adversarial networks", "discriminator"], [1, 0.6, 0.5, 0.4, 0.3],
                       docs=["We train GANs on images.", "GANs and a discriminator."])
    assert label == "Generative adversarial networks, image"  # a third term would make it too long
    assert make_label(["adversarial", "attacks", "robustness", "adversarial attacks"], [1, 0.67, 0.5, 0.21]) == \
        "Adversarial attacks, robustness"


def test_fingerprint_follows_ids_and_contents_and_stored_topics_are_keyed_by_it(tmp_path):
    a, b = _paper(1, "one"), _paper(2, "two")
    fp = fingerprint([a, b])
    assert fp == fingerprint([b, a])
    assert fp != fingerprint([a]) and fp != fingerprint([a, _paper(2, "two, edited")])
    tm = TopicMap(fp, [], {"p001": -1, "p002": -1}, {"p001": (0.0, 1.0), "p002": (1.0, 0.0)})
    path = tmp_path / "topics.json"
    save_topics(path, tm)
    assert load_topics(path, fp).points == tm.points
    assert load_topics(path, fingerprint([a])) is None  # another index: recompute
    path.write_text("{not json")
    assert load_topics(path, fp) is None


def test_topic_filter_is_parsed_checked_and_matched():
    known = {0: frozenset({"p001", "p002"}), 1: frozenset({"p003"}), -1: frozenset({"p004"})}
    f = parse_filters(None, None, known, topic="1")
    assert f.active and f.needs_ids and f.topics == (1,)
    assert f.match(_paper(3)) and not f.match(_paper(1))
    f = parse_filters(None, None, known, topic=[0, -1], type="Oral")
    assert f.match(_paper(4, type="Oral")) and not f.match(_paper(4, type="Poster")) and not f.match(_paper(3, type="Oral"))
    assert "topic 0/-1" in f.describe()
    assert not parse_filters(None, None, known, topic=[]).active
    for bad, msg in ((7, "unknown topic 7"), ("x", "not a topic id"), (True, "not a topic id")):
        with pytest.raises(FilterError, match=msg):
            parse_filters(None, None, known, topic=bad)
    with pytest.raises(FilterError, match="needs the index's topics"):
        parse_filters(None, None, None, topic=0)
    assert parse_topic_id(" -1 ") == -1


def test_npmi_is_one_for_terms_always_together_and_minus_one_for_never():
    docs = ["alpha beta", "alpha beta", "gamma delta", "gamma delta", "epsilon"]
    assert npmi([["alpha", "beta"]], docs) == pytest.approx(1.0)
    assert npmi([["alpha", "gamma"]], docs) == pytest.approx(-1.0)
    assert npmi([["alpha", "beta"], ["alpha", "gamma"]], docs) == pytest.approx(0.0)


@pytest.mark.slow  # numba compiles UMAP on first use (~30 s)
def test_small_corpus_topics_are_deterministic_and_cover_every_paper():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 16))
    vecs = np.vstack([c + 0.05 * rng.normal(size=(20, 16)) for c in centres]).astype(np.float32)
    words = ["protein folding structure", "robot policy reward", "speech audio waveform"]
    papers = [_paper(i, f"{words[i // 20]} study number {i}") for i in range(60)]
    a, b = compute_topics(papers, vecs), compute_topics(papers[::-1], vecs[::-1])
    assert a.assignment == b.assignment and [t.label for t in a.topics] == [t.label for t in b.topics]
    assert set(a.assignment) == set(a.points) == {p.id for p in papers}
    assert len(a.topics) == 3 and sorted(t.size for t in a.topics) == [20, 20, 20]
    by_label = {t.label.lower(): {int(pid[1:]) // 20 for pid in t.paper_ids} for t in a.topics}
    assert all(len(groups) == 1 for groups in by_label.values()), by_label  # each topic is one planted group
    assert any("protein" in label for label in by_label)
    assert cited_topics(a, ["p000", "p001", "p059"]) == [
        {"id": a.assignment["p000"], "label": a.topic(a.assignment["p000"]).label, "papers": ["p000", "p001"]},
        {"id": a.assignment["p059"], "label": a.topic(a.assignment["p059"]).label, "papers": ["p059"]}]


# ---------------------------------------------------------------- the real index

@pytest.fixture(scope="module")
def topics(pipeline):
    return pipeline.topics()


def _biggest_with(pipeline, topics, word: str):
    """The largest topic with a paper whose title contains ``word``."""
    for t in sorted(topics.topics, key=lambda t: -t.size):
        if any(word in pipeline.retriever.by_id[p].title.lower() for p in t.paper_ids):
            return t
    raise AssertionError(word)


@pytest.mark.slow
def test_topics_of_the_shipped_corpus(pipeline, topics):
    assert topics.papers == 953 and set(topics.points) == set(topics.assignment)
    assert len(topics.outliers) < 0.3 * topics.papers and 10 <= len(topics.topics) <= 60
    sizes = [t.size for t in topics.topics]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) + len(topics.outliers) == 953
    labels = " | ".join(t.label.lower() for t in topics.topics[:10])
    for theme in ("reinforcement learning", "language", "adversarial", "graph neural networks"):
        assert theme in labels, labels
    assert pipeline.topics() is topics  # kept, not recomputed
    assert load_topics(pipeline.topics_path, topics.fingerprint).assignment == topics.assignment


@pytest.mark.slow
def test_topic_filter_through_the_api_and_the_cli(pipeline, topics, monkeypatch):
    from click.testing import CliRunner

    from rag import retrieve
    from rag.cli import main

    t = _biggest_with(pipeline, topics, "pruning")
    hits = retrieve("pruning at initialization", k=5, pipeline=pipeline, topic=t.id)
    assert hits and {h.paper.id for h in hits} <= set(t.paper_ids)
    unfiltered = pipeline.retrieve("reinforcement learning policy", k=5)
    assert not {h.paper.id for h in unfiltered} <= set(t.paper_ids)  # the filter is what keeps them in the topic
    assert {h.paper.id for h in pipeline.retrieve("reinforcement learning policy", k=5, topic=t.id)} <= set(t.paper_ids)
    with pytest.raises(FilterError, match="unknown topic"):
        pipeline.retrieve("pruning", topic=999)

    monkeypatch.setenv("RAG_INDEX_DIR", str(pipeline.settings.index.index_dir))
    monkeypatch.setenv("RAG_MANIFEST", str(pipeline.settings.corpus.manifest))
    run = CliRunner().invoke
    res = run(main, ["topics", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["papers"] == 953 and doc["outliers"] == len(topics.outliers)
    assert set(doc["topics"][0]) == {"id", "label", "size", "terms", "paper_ids"}
    assert [d["label"] for d in doc["topics"]] == [x.label for x in topics.topics]
    res = run(main, ["topics", str(t.id)])
    assert res.exit_code == 0 and t.label in res.output and pipeline.retriever.by_id[t.paper_ids[0]].title in res.output
    res = run(main, ["search", "pruning at initialization", "--topic", str(t.id), "--json"])
    assert res.exit_code == 0 and {h["id"] for h in json.loads(res.stdout)} <= set(t.paper_ids)
    res = run(main, ["ask", QUESTION, "--backend", "extractive", "--topic", str(t.id), "--json"])
    doc = json.loads(res.stdout)
    assert doc["citations"] and doc["topics"] and doc["topics"][0]["id"] == t.id
    res = run(main, ["topics", "999"])
    assert res.exit_code == 1 and "unknown topic 999" in res.output


@pytest.mark.slow
def test_topics_are_recomputed_after_rag_index_adds_papers(tmp_path, settings_factory, embedder):
    from rag.corpus import load_corpus
    from rag.pipeline import Pipeline

    from .conftest import write_jsonl
    from .test_index import _small_manifest

    shipped = load_corpus(Path(settings_factory().corpus.manifest)).papers
    m = _small_manifest(tmp_path, shipped[:120], shipped[120:200])
    pipe = Pipeline(settings_factory(manifest=m, index_dir=tmp_path / "index"), embedder=embedder)
    pipe.index()
    before = pipe.topics()
    assert before.papers == 200 and pipe.topics_path.exists()
    write_jsonl(tmp_path / "new.jsonl", shipped[200:240])
    pipe.add_sources([tmp_path / "new.jsonl"], "jsonl")
    pipe.index()
    after = pipe.topics()
    assert after.fingerprint != before.fingerprint and after.papers == 240
    assert {p.id for p in shipped[200:240]} <= set(after.assignment)
    assert load_topics(pipe.topics_path, after.fingerprint) is not None  # stored for the next process


# ---------------------------------------------------------------- the UI

@pytest.fixture(scope="module")
def app_url(pipeline, topics):
    from ui.app import create_app, launch

    app = create_app(pipeline)
    port = free_port()
    launch(app, pipeline.settings.ui, "127.0.0.1", port, block=False, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.mark.slow
def test_topic_filter_through_the_ui_endpoints(app_url, pipeline, topics):
    from gradio_client import Client

    from ui.map import topic_choice

    t = _biggest_with(pipeline, topics, "pruning")
    client = Client(app_url, verbose=False)
    table, count = client.predict([], "Any", [], "", topic_choice(t), api_name="/papers")
    assert count.startswith(f"**{t.size}** of 953") and {r[-1] for r in table["data"]} == set(t.paper_ids)
    history, sources, _ = client.predict(QUESTION, [], "extractive", 5, [], "Any", [], topic_choice(t), api_name="/chat")
    cited = re.findall(r'rag-cited"[^>]*data-paper-id="([^"]+)"', sources)
    assert cited and set(cited) <= set(t.paper_ids)
    text = str(history[-1]["content"])
    assert f"Topics: {t.label} (topic {t.id})" in text
    detail, _ = client.predict(t.paper_ids[0], 3, api_name="/similar")
    assert f"Topic: <b>{t.id} · " in detail and "Nearest topics:" in detail


CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-extensions", "--disable-sync"]


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.filterwarnings("ignore:.*no_silent_downcasting")
def test_map_tab_scopes_a_question_to_a_topic_in_chromium(app_url, pipeline, topics):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    from ui.map import topic_choice

    # a question whose answer cites papers of two topics; scoped to one of them, only that one's
    unscoped = [topics.assignment[c.paper.id] for c in pipeline.answer(SPANNING, backend="extractive").citations]
    spanned = sorted({x for x in unscoped if x >= 0}, key=unscoped.index)
    assert len(spanned) >= 2, unscoped
    t = topics.topic(spanned[1])
    artifacts = Path(__file__).resolve().parent / "artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1480, "height": 1000})
        page.set_default_timeout(60_000)
        outside = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((app_url, "data:", "blob:")) else None)
        page.goto(app_url)
        page.wait_for_selector("#rag-question textarea")

        # the map: every paper drawn, the largest topics labelled
        page.get_by_role("tab", name="Map").click()
        page.wait_for_selector("#rag-map-plot .scatterlayer .point")
        assert page.locator("#rag-map-plot .scatterlayer .point").count() >= 953
        assert topics.topics[0].label in page.locator("#rag-map-plot").inner_text()

        # pick the topic: its papers and bars appear, then ask about it
        page.locator("#rag-map-topic input").fill(topic_choice(t))
        page.locator("[role='option']", has_text=topic_choice(t)).first.click()
        page.wait_for_function("(n) => document.querySelector('#rag-map-info').innerText.includes(n)", arg=f"Topic {t.id}:")
        page.wait_for_selector("#rag-map-bars .plot-container")
        page.screenshot(path=str(artifacts / "ui_map.png"), full_page=True)
        page.locator("#rag-map-ask").click()
        page.wait_for_selector("#rag-question textarea", state="visible")
        assert page.locator("#rag-topic input").input_value() == topic_choice(t)

        page.get_by_label("Extractive (no model)").check()
        page.fill("#rag-question textarea", SPANNING)
        page.keyboard.press("Enter")
        page.wait_for_function("""() => { const b = document.querySelectorAll('#rag-chat [data-testid="bot"]');
                                          return b.length && /backend|do not cover/.test(b[b.length - 1].innerText); }""")
        cited = page.locator("#rag-sources .rag-cited").evaluate_all("els => els.map(e => e.dataset.paperId)")
        assert cited and set(cited) <= set(t.paper_ids), cited  # an answer citing only the topic's papers
        assert f"topic {t.id}" in page.locator('#rag-chat [data-testid="bot"]').last.inner_text()

        # back on the map, the cited papers are starred
        page.get_by_role("tab", name="Map").click()
        page.wait_for_function("() => document.querySelector('#rag-map-status').innerText.includes('cited by the last answer')")
        page.screenshot(path=str(artifacts / "ui_map_cited.png"), full_page=True)
        browser.close()
    assert not outside, f"the page fetched from outside the app: {outside[:5]}"
