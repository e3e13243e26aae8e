"""Filters read from the question's words (rag.query_filters): pure logic, no index."""

from __future__ import annotations

import pytest

from rag.filters import parse_filters
from rag.models import Paper
from rag.query_filters import Vocabulary, merge, read_filters

VOCAB = Vocabulary(
    venues=("ICLR", "ICML"),
    authors=("Kingma Adam", "Yoshua Bengio", "Samy Bengio", "Sergey Levine", "Jifan Zhang", "Bo Long", "Chelsea Finn", "Daniel Y Fu"),
    sessions=("Deep Learning", "DL: Algorithms", "Oral 1 Track 6: Deep Learning and representational learning II"),
)


def read(q: str):
    return read_filters(q, VOCAB)


@pytest.mark.parametrize("question, expected, text", [
    ("ICLR 2021 orals on contrastive learning", {"venue": ["ICLR"], "year": 2021, "type": ["Oral"]}, "on contrastive learning"),
    ("spotlights about network pruning", {"type": ["Spotlight"]}, "about network pruning"),
    ("papers by Bengio on causal representation learning", {"author": "Bengio"}, "papers on causal representation learning"),
    ("which papers at ICML 2022 study continual learning?", {"venue": ["ICML"], "year": 2022}, "which papers study continual learning?"),
    ("talks in the Deep Learning session about generalization", {"session": ["Deep Learning"]}, "talks about generalization"),
    ("papers in the DL: Algorithms session on mutual information", {"session": ["DL: Algorithms"]}, "papers on mutual information"),
    ("ICML'22 papers on federated learning", {"venue": ["ICML"], "year": 2022}, "papers on federated learning"),
    ("oral papers on graph neural networks", {"type": ["Oral"]}, "on graph neural networks"),
    ("which work was presented as a spotlight and studies meta-learning?", {"type": ["Spotlight"]}, None),
    ("papers written by Sergey Levine about offline RL", {"author": "Sergey Levine"}, "papers about offline RL"),
    ("papers by yoshua bengio", {"author": "Yoshua Bengio"}, None),
    ("Levine's papers on robot learning", {"author": "Levine"}, None),
    ("papers from 2021 on diffusion models", {"year": 2021}, "papers on diffusion models"),
    ("papers after 2021 about transformers", {"year": ">2021"}, None),
    ("ICLR posters about adversarial robustness", {"venue": ["ICLR"], "type": ["Poster"]}, "about adversarial robustness"),
    ("papers accepted at ICLR on equivariance", {"venue": ["ICLR"]}, None),
    ("spotlight and oral papers on optimization", {"type": ["Spotlight", "Oral"]}, None),
    ("the ICLR 2021 oral presentations about sparsity", {"venue": ["ICLR"], "year": 2021, "type": ["Oral"]}, None),
])
def test_filters_are_read(question, expected, text):
    r = read(question)
    assert r.filters == expected, r
    if text is not None:
        assert r.text == text
    for words in r.phrases:
        assert words.lower() not in r.text.lower()
    parse_filters({"ICLR", "ICML"}, None, **r.filters)  # every read filter is a valid filter


@pytest.mark.parametrize("question", [
    "methods for the oral presentation of results in clinical trials",
    "how does the ICLR reviewing process affect acceptance?",
    "models that detect oral cancer from images",
    "which paper spotlights the role of data augmentation?",
    "learning by reducing the variance of gradient estimates",
    "papers on speech recognition for oral history archives",
    "training by long schedules with warm restarts",
    "what is the poster child of self-supervised learning?",
    "datasets from the 2020 census",
    "a session on reinforcement learning for robots",
    "papers that put uncertainty estimation in the spotlight",
    "papers on learning from demonstrations by Finnish speakers",
    "comparing ICLR and NeurIPS reviewing practices",
    "models trained by Adam with warmup",
    "optimization by Long schedules",
    "was the paper on score matching presented as an oral, a spotlight or a poster?",
    "Was the lambda layers paper an oral?",
    "what presentation type did the paper on entity retrieval get, oral or spotlight?",
])
def test_topic_words_are_not_filters(question):
    r = read(question)
    assert r.filters == {}, r
    assert r.text == question
    assert not r


def test_describe_and_merge():
    r = read("ICLR 2021 spotlights by Bengio")
    assert r.describe() == "venue ICLR, year 2021, type Spotlight, author Bengio"
    assert merge(r.filters, {"year": 2020, "type": None}) == {"venue": ["ICLR"], "year": 2020, "type": ["Spotlight"], "author": "Bengio"}


def test_a_question_of_filters_only_keeps_its_text():
    r = read("ICLR 2021 orals")
    assert r.filters == {"venue": ["ICLR"], "year": 2021, "type": ["Oral"]}
    assert r.text == "ICLR 2021 orals"


def test_vocabulary_of_papers():
    ps = [Paper(id="p1", title="A", abstract="x", authors=("Ann Lee",), venue="ICLR", session="Deep Learning"),
          Paper(id="p2", title="B", abstract="y", authors=("Bo Long", "Ann Lee"), venue="ICML")]
    v = Vocabulary.of(ps)
    assert v.venues == ("ICLR", "ICML") and v.authors == ("Ann Lee", "Bo Long") and v.sessions == ("Deep Learning",)
    assert read_filters("papers by Ann Lee at ICML", v).filters == {"author": "Ann Lee", "venue": ["ICML"]}


def test_session_filter_selects_whole_session_names():
    f = parse_filters(None, None, session="Deep Learning")
    on = Paper(id="p1", title="A", abstract="x", session="Deep Learning")
    other = Paper(id="p2", title="B", abstract="x", session="Oral 1 Track 6: Deep Learning and representational learning II")
    assert f.match(on) and not f.match(other) and f.needs_ids
    assert "session" in f.describe()
