"""Program questions answered from the structured records (rag.program): recognition and answers
on made-up records (pure logic), then on the shipped corpus through the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.models import Paper, SourceRef
from rag.program import Program, SessionInfo, read_session_headers, recognise


def talk(n: int, session: str, time: str, ptype: str | None = None) -> Paper:
    return Paper(id=f"p{n}", title=f"Paper {n}", abstract="x", session=session, time=time, type=ptype,
                 sources=(SourceRef("s", "f", n),))


TALKS = [talk(3, "Vision", "Tue 19 July 10:40 - 10:45 PDT"), talk(1, "Vision", "Tue 19 July 10:30 - 10:35 PDT"),
         talk(2, "Vision", "Tue 19 July 10:35 - 10:40 PDT"),
         talk(4, "Orals A", "Mon 1 May 1:00 - 1:10 PDT", "Oral"), talk(5, "Orals A", "Mon 1 May 1:10 - 1:20 PDT", "Oral"),
         Paper(id="p9", title="Unscheduled", abstract="x")]
PROGRAM = Program(TALKS, {"Vision": SessionInfo("Vision", room="Ballroom 1", moderator="Ada Lovelace")})


def finder(n: int):
    return lambda text: next(p for p in TALKS if p.id == f"p{n}")


@pytest.mark.parametrize("question, kind", [
    ("Which talks shared a session with the paper on X?", "session_mates"),
    ("what else was presented in the same session as the paper on X", "session_mates"),
    ("What was scheduled right after the talk on X?", "next"),
    ("which talk came immediately before the one on X?", "previous"),
    ("Which session had the most orals?", "most"),
    ("Who moderated the session where X was presented?", "moderator"),
    ("When was the paper on X presented?", "when"),
    ("In which session was the paper on X presented?", "when"),
    ("In which ICLR 2023 oral session and time slot was the benchmark of sparse networks presented?", "when"),
    ("Which ICML 2022 session featured the paper that adjusts decision boundaries?", "when"),
])
def test_program_questions_are_recognised(question, kind):
    assert recognise(question)[0] == kind


@pytest.mark.parametrize("question", [
    "Which papers improve sessions-based recommendation?",
    "When does dropout hurt generalization?",
    "papers on scheduling jobs in a cluster",
    "Who wrote the paper on lambda layers?",
])
def test_other_questions_are_not_program_questions(question):
    assert recognise(question) is None


def test_order_mates_next_previous_when_moderator_most():
    a = PROGRAM.answer("What was scheduled right after X?", finder(1))
    assert a.kind == "next" and a.papers[0].id == "p2" and "Paper 2" in a.text and "10:35" in a.text
    a = PROGRAM.answer("which talk came right before X?", finder(3))
    assert a.papers[0].id == "p2"
    a = PROGRAM.answer("What was scheduled right after X?", finder(3))
    assert "last talk" in a.text
    a = PROGRAM.answer("Which talks shared a session with X?", finder(2))
    assert [p.id for p in a.papers] == ["p2", "p1", "p3"] and "2 other talks" in a.text
    a = PROGRAM.answer("When was X presented?", finder(2))
    assert "Tue 19 July 10:35 - 10:40 PDT" in a.text and "Vision" in a.text and "Ballroom 1" in a.text
    assert "Ada Lovelace" in PROGRAM.answer("Who moderated the Vision session?", finder(4)).text
    assert "does not name a moderator" in PROGRAM.answer("Who moderated the session of X?", finder(4)).text
    a = PROGRAM.answer("Which session had the most orals?", finder(1))
    assert a.text.startswith("“Orals A” had the most orals: 2") and {p.id for p in a.papers} == {"p4", "p5"}
    a = PROGRAM.answer("Which session had the most talks?", finder(1))
    assert a.text.startswith("“Vision” had the most talks: 3")


def test_unscheduled_or_unrecognised():
    assert PROGRAM.answer("When was X presented?", lambda text: None) is None
    assert PROGRAM.answer("papers on graph networks", finder(1)) is None


def test_session_headers_of_the_shipped_manifest():
    manifest = Path(__file__).resolve().parent.parent / "data" / "sources.toml"
    info = read_session_headers(manifest)
    assert info["DL: Algorithms"].moderator == "Daniel Y Fu"
    assert info["Deep Learning"].moderator == "Jifan Zhang" and info["Deep Learning"].room == "Ballroom 1 & 2"


@pytest.mark.slow
def test_program_answers_on_the_shipped_corpus(pipeline):
    a = pipeline.program_answer("What was scheduled right after the talk on online continual learning through mutual information maximization?")
    assert a is not None and a.kind == "next"
    talks = [p for p in pipeline.retriever.papers if p.session == "DL: Algorithms"]
    first = next(p for p in talks if p.title == "Online Continual Learning through Mutual Information Maximization")
    assert a.papers[1].id == first.id and a.papers[0].session == "DL: Algorithms" and a.papers[0].id != first.id
    a = pipeline.program_answer("Which session had the most orals?")
    assert a.text.startswith("“Oral 1 Track 6: Deep Learning and representational learning II” had the most orals: 7")
    a = pipeline.program_answer("Who moderated the session where online continual learning through mutual information maximization was presented?")
    assert "Daniel Y Fu" in a.text
    assert pipeline.program_answer("papers on graph neural network oversmoothing") is None
    hits = pipeline.retrieve("ICLR 2021 orals on score-based generative models", 5)
    assert hits.read_filters.filters == {"venue": ["ICLR"], "year": 2021, "type": ["Oral"]}
    assert hits and all(h.paper.type == "Oral" and h.paper.year == 2021 for h in hits)
    plain = pipeline.retrieve("ICLR 2021 orals on score-based generative models", 5, read_filters=False)
    assert getattr(plain, "read_filters", None) is None and any(h.paper.type != "Oral" for h in plain)
