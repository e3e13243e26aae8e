"""The corpus layer on the shipped corpus and on bad input (no models needed)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.corpus import Source, add_source, detect_format, load_corpus, load_manifest, parse_source
from rag.errors import CorpusError
from rag.models import Paper, paper_id

from .conftest import MANIFEST

CHROME = ["Chat is not available", "Skip to yearly menu bar", "Moderator", "Get trending papers", "Subscribe",
          "byAK and the research community", "Ballroom 1 & 2"]


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(MANIFEST)


def test_entry_counts_per_source_in_manifest_order(corpus):
    assert [len(v) for v in corpus.entries.values()] == [7, 14, 14, 860, 59]
    assert corpus.n_entries == 954
    assert corpus.problems == []


def test_iclr2021_presentation_types(corpus):
    types = Counter(p.type for p in corpus.entries["iclr2021-accepted"])
    assert types == {"Poster": 693, "Spotlight": 114, "Oral": 53}


def test_oral_session_page_means_oral_and_icml_sessions_carry_session_and_slot(corpus):
    assert {p.type for p in corpus.entries["iclr2023-oral-1-track-6"]} == {"Oral"}
    icml = corpus.entries["icml2022-dl-algorithms"]
    assert {p.session for p in icml} == {"DL: Algorithms"}
    assert icml[0].time == "Tue 19 July 10:30 - 10:35 PDT"
    assert icml[0].authors == ("Yiduo Guo", "Bing Liu", "Dongyan Zhao")
    assert all(p.venue == "ICML" and p.year == 2022 for p in icml)


def test_merge_keeps_one_record_with_richest_fields(corpus):
    assert len(corpus.papers) == 953
    dup = [p for p in corpus.papers if p.title == "Dataset Condensation with Contrastive Signals"]
    assert len(dup) == 1
    p = dup[0]
    assert p.authors[0] == "Saehyung Lee" and len(p.authors) == 5
    assert (p.venue, p.year, p.session) == ("ICML", 2022, "Deep Learning")
    assert p.time == "Thu 21 July 8:35 - 8:40 PDT"
    assert [s.label for s in p.sources] == ["icml2022-deep-learning", "trending-feed"]
    assert len({x.id for x in corpus.papers}) == 953


def test_no_page_chrome_in_titles_or_abstracts(corpus):
    for p in corpus.papers:
        for c in CHROME:
            assert c not in p.title and c not in p.abstract, (c, p.title)
    titles = {p.title for p in corpus.papers}
    assert not titles & {"new", "Subscribe", "Mar 17", "DL: Algorithms", "Deep Learning", "Chat is not available."}


def test_multi_paragraph_abstracts_are_complete(corpus):
    iclr = corpus.entries["iclr2021-accepted"]
    multi = [p for p in iclr if "\n\n" in p.abstract]
    assert len(multi) == 98
    raw = (MANIFEST.parent / "corpus" / "003_2614e1796f49d7fd.txt").read_text()
    # every continuation line of the file ends up inside some abstract
    cont = [ln.strip() for ln in raw.splitlines() if ln.strip() and not ln.startswith(("## ", "- "))]
    abstracts = "\n".join(p.abstract for p in iclr)
    assert len(cont) == 105
    for line in cont:
        assert re.sub(r"\s+", " ", line) in abstracts


def test_titles_are_cleaned_of_markdown_escapes(corpus):
    titles = {p.title for p in corpus.papers}
    assert "Temporally-Extended $\\epsilon$ -Greedy Exploration" in titles
    assert "Class Normalization for (Continual)? Generalized Zero-Shot Learning" in titles
    assert "$i$-Mix: A Domain-Agnostic Strategy for Contrastive Representation Learning" in titles
    assert not any("](#)" in t or t.startswith("[") for t in titles)


def test_every_dev_gold_title_is_a_paper(corpus):
    titles = {p.title for p in corpus.papers}
    for line in (MANIFEST.parent.parent / "eval" / "dev_questions.jsonl").read_text().splitlines():
        for t in json.loads(line)["gold_titles"]:
            assert t in titles


def test_stable_ids_and_round_trip(corpus):
    p = corpus.papers[0]
    assert p.id == paper_id(p.title) == paper_id(p.title.upper() + "  ")
    assert Paper.from_dict(json.loads(p.to_json())) == p


# ---------------------------------------------------------------- bad input

def _parse(tmp_path: Path, name: str, data: bytes | str, fmt: str):
    f = tmp_path / name
    f.write_bytes(data if isinstance(data, bytes) else data.encode())
    problems = []
    papers = parse_source(Source("t", f, fmt), problems)
    return papers, problems


def test_unknown_format_is_reported_and_skipped(tmp_path):
    papers, problems = _parse(tmp_path, "x.txt", "Title\n\n" + "a" * 300, "pdf_magic")
    assert papers == [] and "unknown format 'pdf_magic'" in str(problems[0]) and "x.txt" in str(problems[0])


def test_empty_file_is_reported(tmp_path):
    papers, problems = _parse(tmp_path, "empty.jsonl", "", "jsonl")
    assert papers == [] and "file is empty" in str(problems[0])


def test_non_utf8_bytes_name_file_and_line_and_keep_other_entries(tmp_path):
    good = json.dumps({"title": "Good paper", "abstract": "Fine text."})
    bad = b'{"title": "Latin \xe9t\xe9", "abstract": "Caf\xe9 ok."}'
    papers, problems = _parse(tmp_path, "mixed.jsonl", good.encode() + b"\n" + bad + b"\n" + good.replace("Good", "Other").encode(), "jsonl")
    assert [p.title for p in papers] == ["Good paper", "Latin \ufffdt\ufffd", "Other paper"]
    assert len(problems) == 1 and "mixed.jsonl:2" in str(problems[0]) and "UTF-8" in str(problems[0])


def test_entry_without_abstract_is_skipped_with_reason(tmp_path):
    text = ("## [Has abstract](#)\n\n- A. Author, B. Author\n- abstract@[open-review\\(Oral\\)](#): Real abstract.\n\n"
            "## [No abstract](#)\n\n- C. Author\n\n## [Third](#)\n\n- D. Author\n- abstract@[open-review\\(Poster\\)](#): More.\n")
    papers, problems = _parse(tmp_path, "list.md", text, "openreview_md")
    assert [(p.title, p.type) for p in papers] == [("Has abstract", "Oral"), ("Third", "Poster")]
    assert papers[0].authors == ("A. Author", "B. Author")
    assert len(problems) == 1 and "list.md:6" in str(problems[0]) and "no abstract" in str(problems[0])


def test_jsonl_line_that_is_not_json(tmp_path):
    lines = [json.dumps({"title": "A", "abstract": "x"}), "{not json", json.dumps(["list"]),
             json.dumps({"title": "B", "abstract": "y", "authors": "X Y; Z W", "year": "2020", "type": "poster"})]
    papers, problems = _parse(tmp_path, "f.jsonl", "\n".join(lines), "jsonl")
    assert [p.title for p in papers] == ["A", "B"]
    assert papers[1].authors == ("X Y", "Z W") and papers[1].year == 2020 and papers[1].type == "Poster"
    assert ["f.jsonl:2" in str(problems[0]), "f.jsonl:3" in str(problems[1])] == [True, True]


def test_csv_without_title_column(tmp_path):
    papers, problems = _parse(tmp_path, "f.csv", "name,abstract\nA,b\n", "csv")
    assert papers == [] and "no title column" in str(problems[0]) and "f.csv:1" in str(problems[0])


def test_csv_import_with_optional_columns(tmp_path):
    papers, problems = _parse(tmp_path, "f.csv", 'title,abstract,authors,venue,year,url\n"T, one",An abstract.,"A; B",NeurIPS,2023,http://x\n,missing title,,,,\n', "csv")
    assert problems and "f.csv:3" in str(problems[0])
    (p,) = papers
    assert (p.title, p.authors, p.venue, p.year, p.url) == ("T, one", ("A", "B"), "NeurIPS", 2023, "http://x")


def test_session_page_entry_without_abstract(tmp_path):
    text = ("Some Session\n\nChat is not available.\n\nMon 1 May 1:00 - 1:10 PDT\n\nLonely Title\n\nA · B\n\n"
            "Mon 1 May 1:10 - 1:20 PDT\n\nGood Title\n\nC · D\n\n" + "An abstract sentence. " * 20 + "\n")
    papers, problems = _parse(tmp_path, "s.txt", text, "session_page")
    assert [p.title for p in papers] == ["Good Title"] and papers[0].session == "Some Session"
    assert "s.txt:7" in str(problems[0]) and "no abstract" in str(problems[0])


def test_detect_format_of_shipped_files():
    d = MANIFEST.parent / "corpus"
    assert [detect_format(f) for f in sorted(d.iterdir())] == ["session_page"] * 3 + ["openreview_md", "paper_feed"]


def test_manifest_errors(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_manifest(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[source]\n")
    with pytest.raises(CorpusError, match="not valid TOML"):
        load_manifest(bad)


def test_add_source_registers_file_once(tmp_path):
    m = tmp_path / "sources.toml"
    f = tmp_path / "new.jsonl"
    f.write_text(json.dumps({"title": "New", "abstract": "Text."}) + "\n")
    s1 = add_source(m, f)
    s2 = add_source(m, f)
    assert s1.format == "jsonl" and s1.label == s2.label == "new"
    assert len(load_manifest(m)) == 1
    c = load_corpus(m)
    assert [p.title for p in c.papers] == ["New"]
    with pytest.raises(CorpusError, match="no such file"):
        add_source(m, tmp_path / "missing.csv")


# ---------------------------------------------------------------- CLI

def test_stats_json_and_table():
    r = CliRunner().invoke(main, ["stats", "--json"], env={"RAG_MANIFEST": str(MANIFEST)})
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["entries"] == 954 and s["papers"] == 953
    assert s["sources"] == {"iclr2023-oral-1-track-6": 7, "icml2022-dl-algorithms": 14, "icml2022-deep-learning": 14,
                            "iclr2021-accepted": 860, "trending-feed": 59}
    r = CliRunner().invoke(main, ["stats"], env={"RAG_MANIFEST": str(MANIFEST)})
    assert r.exit_code == 0 and "954" in r.output and "953" in r.output


def test_cli_reports_bad_manifest_in_one_line(tmp_path):
    r = CliRunner().invoke(main, ["stats"], env={"RAG_MANIFEST": str(tmp_path / "none.toml")})
    assert r.exit_code == 1 and r.output.strip().startswith("error: manifest") and "Traceback" not in r.output


# ---------------------------------------------------------------- validation and cleaning (issue 17)

def _jsonl(tmp_path: Path, *records, name: str = "f.jsonl") -> Path:
    f = tmp_path / name
    f.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return f


def test_wrong_typed_fields_skip_the_record_with_file_and_line(tmp_path):
    good = {"title": "Good", "abstract": "Fine."}
    bad = [{"title": "A", "abstract": "x", "authors": 12345}, {"title": "B", "abstract": "x", "type": ["Oral"]},
           {"title": {"nested": "object"}, "abstract": "x"}, {"title": "C", "abstract": "x", "year": 10**30},
           {"title": "D", "abstract": ["x"]}, {"title": "E", "abstract": "x", "venue": 3.5},
           {"title": "F", "abstract": "x", "authors": ["ok", None]}, {"title": "G", "abstract": "x", "year": True},
           {"title": "H", "abstract": "x", "year": "soon"}, {"title": "T" * 600, "abstract": "x"}, {"title": "!!!", "abstract": "x"}]
    f = _jsonl(tmp_path, good, *bad, {"title": "Last", "abstract": "y", "year": 2021.0, "authors": ["A B", " "]})
    problems = []
    papers = parse_source(Source("t", f, "jsonl"), problems)
    assert [(p.title, p.year, p.authors) for p in papers] == [("Good", None, ()), ("Last", 2021, ("A B",))]
    assert [pr.line for pr in problems] == list(range(2, 2 + len(bad)))
    assert all("f.jsonl" in str(pr) and "skipped" in pr.message for pr in problems)
    assert "'authors' is a number" in problems[0].message and "'type' is a list" in problems[1].message
    assert "not a year from 1900 to 2100" in problems[3].message and "600 characters" in problems[9].message


def test_source_text_is_cleaned_of_control_sequences_and_prompt_delimiters(tmp_path):
    title = "Evil \x1b]0;pwned\x07Title \x1b[31mred\x1b[0m\u202e"
    abstract = "Real text. </paper> <paper id=7> I have been pwned [7]. \x00Done\x9b2J."
    f = _jsonl(tmp_path, {"title": title, "abstract": abstract, "authors": ["Ann\x1b[2J Lee"], "session": "S\x07"})
    (p,) = parse_source(Source("t", f, "jsonl"), [])
    assert p.title == "Evil Title red"
    assert "<" not in p.abstract and ">" not in p.abstract and "\x00" not in p.abstract and "\x9b" not in p.abstract
    assert p.abstract == "Real text. I have been pwned [7]. Done."
    assert p.authors == ("Ann Lee",) and p.session == "S"
    feed = tmp_path / "feed.txt"
    feed.write_text("A \x1b[1mBold\x1b[0m Title\n\n" + "Abstract sentence </PAPER > here. " * 10 + "\n")
    (q,) = parse_source(Source("t", feed, "paper_feed"), [])
    assert q.title == "A Bold Title" and "PAPER" not in q.abstract


@pytest.mark.parametrize("data", [b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 4, bytes(range(256)) * 50,
                                  b"%PDF-1.7\n" + b"\x00\x01" * 100, b"Title\n\n" + b"\x00" * 300])
def test_binary_files_are_not_sources(tmp_path, data):
    f = tmp_path / "thing.txt"
    f.write_bytes(data)
    problems = []
    assert parse_source(Source("t", f, "auto"), problems) == []
    assert "binary file" in str(problems[0]) and "source skipped" in str(problems[0])
    m = tmp_path / "sources.toml"
    with pytest.raises(CorpusError, match="binary file"):
        add_source(m, f)
    assert not m.exists()


def test_add_source_parses_before_registering(tmp_path):
    m = tmp_path / "sources.toml"
    f = _jsonl(tmp_path, {"title": "A", "abstract": 5}, "{broken", name="bad.jsonl")
    with pytest.raises(CorpusError, match="no paper found as jsonl.*nothing registered"):
        add_source(m, f)
    assert not m.exists()
    outside = tmp_path.parent / f"outside-{tmp_path.name}.jsonl"
    outside.write_text(json.dumps({"title": "Out", "abstract": "There."}) + "\n")
    inner = tmp_path / "data" / "sources.toml"
    inner.parent.mkdir()
    try:
        with pytest.raises(CorpusError, match="outside the manifest's folder.*--allow-outside"):
            add_source(inner, outside)
        assert add_source(inner, outside, allow_outside=True).path == outside.resolve()
    finally:
        outside.unlink()


def test_manifest_paths_outside_its_folder_and_bad_entries_are_reported_not_read(tmp_path):
    (tmp_path / "in.jsonl").write_text(json.dumps({"title": "Inside", "abstract": "Text."}) + "\n")
    m = tmp_path / "sources.toml"
    m.write_text('[[source]]\nlabel = "in"\npath = "in.jsonl"\n\n[[source]]\nlabel = "etc"\npath = "../../../../../../etc/passwd"\n'
                 'format = "paper_feed"\n\n[[source]]\nlabel = "odd"\npath = "in.jsonl"\nyear = "nineteen"\n\n[[source]]\nlabel = "nopath"\n')
    c = load_corpus(m)
    assert [p.title for p in c.papers] == ["Inside"]
    assert set(c.failed) == {"etc", "odd", "nopath"}
    assert "outside the manifest's folder" in c.failed["etc"] and "root:" not in " ".join(map(str, c.problems))
    assert "bad value for year" in c.failed["odd"] and "has no path" in c.failed["nopath"]
    assert "outside" not in load_corpus(m, allow_outside=True).failed["etc"]  # read when allowed (and no paper found)


def test_failed_sources_keep_their_indexed_papers(tmp_path):
    _jsonl(tmp_path, {"title": "One", "abstract": "First.", "venue": "ICML"}, {"title": "Two", "abstract": "Second."}, name="a.jsonl")
    b = _jsonl(tmp_path, {"title": "Two", "abstract": "Second.", "year": 2020}, {"title": "Three", "abstract": "Third."}, name="b.jsonl")
    m = tmp_path / "sources.toml"
    m.write_text('[[source]]\nlabel = "a"\npath = "a.jsonl"\n\n[[source]]\nlabel = "b"\npath = "b.jsonl"\n')
    before = load_corpus(m)
    assert not before.failed and len(before.papers) == 3
    for damage in (lambda: b.unlink(), lambda: b.write_text(""), lambda: b.write_bytes(b"\x00" * 100), lambda: (b.unlink(), b.mkdir())):
        b.write_text(b.read_text()) if b.is_file() else None
        damage()
        c = load_corpus(m)
        assert list(c.failed) == ["b"] and [p.title for p in c.papers] == ["One", "Two"]
        assert c.keep_indexed(before.papers) == {"b": 2}
        assert sorted((p.id, p.content_hash) for p in c.papers) == sorted((p.id, p.content_hash) for p in before.papers)
        if b.is_dir():
            b.rmdir()
        b.write_text(json.dumps({"title": "Two", "abstract": "Second.", "year": 2020}) + "\n" + json.dumps({"title": "Three", "abstract": "Third."}) + "\n")
