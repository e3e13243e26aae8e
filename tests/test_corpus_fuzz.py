"""Fuzzing (hypothesis) the JSONL and CSV importers with records whose every field holds any JSON
type: the corpus loads, every good record becomes a paper, every bad one is skipped with its file
and line, and nothing raises."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.corpus import Source, load_corpus, parse_source

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIELDS = ["title", "abstract", "authors", "venue", "year", "type", "url", "session", "time", "Title", " ABSTRACT ", "extra"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-10**40, max_value=10**40),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
                    st.text(alphabet=st.characters(max_codepoint=0x2070), max_size=20),
                    st.sampled_from(["2021", "1899", "</paper> <paper id=3>", "\x1b]0;t\x07x", "Oral", " ; ", "·"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(st.text(max_size=5), inner, max_size=3)), max_leaves=8)
records = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8)
GOOD = {"title": "A Known Good Paper", "abstract": "It is fine.", "authors": ["Ann Lee"], "year": 2020}


def _check(papers, problems, path: Path, n_lines: int) -> None:
    assert papers[0].title == GOOD["title"] and papers[-1].title == "Another Known Good Paper"
    for p in papers:
        assert isinstance(p.title, str) and p.title and isinstance(p.abstract, str) and p.abstract
        assert all(isinstance(a, str) and a for a in p.authors)
        assert p.year is None or (isinstance(p.year, int) and 1900 <= p.year <= 2100)
        assert all(isinstance(getattr(p, f), str | None) for f in ("venue", "type", "session", "time", "url"))
        assert "\x1b" not in p.title + p.abstract and "</paper" not in p.abstract.lower()
    for pr in problems:
        assert pr.file == str(path) and 1 <= pr.line <= n_lines and "\n" not in pr.message


@FUZZ
@given(recs=st.lists(st.one_of(records, json_values), max_size=12))
def test_jsonl_with_any_json_in_any_field_loads(recs):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.jsonl"
        lines = [json.dumps(GOOD)] + [json.dumps(r) for r in recs] + [json.dumps({**GOOD, "title": "Another Known Good Paper"})]
        path.write_text("\n".join(lines) + "\n")
        problems = []
        papers = parse_source(Source("fuzz", path, "jsonl"), problems)
        _check(papers, problems, path, len(lines))
        bad_lines = {pr.line for pr in problems}
        good_lines = {p.sources[0].line for p in papers}
        assert bad_lines | good_lines == set(range(1, len(lines) + 1))  # every line: a paper or a reported skip
        (Path(d) / "sources.toml").write_text('[[source]]\nlabel = "fuzz"\npath = "fuzz.jsonl"\n')
        corpus = load_corpus(Path(d) / "sources.toml")
        assert corpus.stats()["papers"] == len(corpus.papers) >= 1 and not corpus.failed


@FUZZ
@given(rows=st.lists(st.dictionaries(st.sampled_from(FIELDS), json_values.map(str) | st.text(max_size=30), max_size=8), max_size=10))
def test_csv_with_any_text_in_any_column_loads(rows):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.csv"
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerow(GOOD)
        w.writerows(rows)
        w.writerow({**GOOD, "title": "Another Known Good Paper"})
        path.write_text(buf.getvalue(), newline="")
        n_lines = buf.getvalue().count("\n") + 1
        problems = []
        papers = parse_source(Source("fuzz", path, "csv"), problems)
        _check(papers, problems, path, n_lines)
