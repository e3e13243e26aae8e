"""Retrieval filters: parsing and validation (pure), and the same paper sets in the dense path
(Chroma ``where`` on chunk metadata) and the keyword path (predicate over paper records) on the
real index of the shipped corpus."""

from __future__ import annotations

import pytest

from rag.errors import FilterError
from rag.filters import Filters, parse_filters, parse_year, to_chroma_where
from rag.models import Paper, SourceRef

VENUES = {"ICLR", "ICML"}
SOURCES = {"iclr2021-accepted", "trending-feed"}

# Filter specs used against the real index; every field alone, combined, and an empty combination.
SPECS = [
    {"venue": "ICLR"},
    {"venue": ["icml"]},
    {"year": 2022},
    {"year": "2021-2022"},
    {"year": ">=2022"},
    {"year": "<=2021"},
    {"type": "Oral"},
    {"type": ["spotlight", "Oral"]},
    {"author": "Bengio"},
    {"source": "trending-feed"},
    {"source": ["icml2022-deep-learning", "iclr2023-oral-1-track-6"]},
    {"venue": "ICLR", "year": 2021, "type": "Oral"},
    {"venue": "ICLR", "author": "bengio", "type": "Poster"},
    {"year": "2020-2023", "source": "iclr2021-accepted", "type": "Spotlight"},
    {"venue": "ICML", "type": "Oral"},  # ICML papers carry no presentation type: empty
    {"author": "No Such Author Anywhere"},  # empty
]


def _paper(**kw) -> Paper:
    base = {"id": "p1", "title": "T", "abstract": "A", "authors": ("Yoshua Bengio", "Ann Lee"), "venue": "ICLR",
            "year": 2021, "type": "Oral", "sources": (SourceRef("iclr2021-accepted", "f.txt", 1),)}
    base.update(kw)
    return Paper(**base)


# ---------------------------------------------------------------------------------------------- pure

@pytest.mark.parametrize("value,expected", [
    (2021, (2021, 2021)), ("2021", (2021, 2021)), ("2020-2022", (2020, 2022)), ("2020..2022", (2020, 2022)),
    ("2020–2022", (2020, 2022)), ("2021-", (2021, None)), ("-2022", (None, 2022)), (">=2021", (2021, None)),
    (">2021", (2022, None)), ("<=2022", (None, 2022)), ("<2022", (None, 2021)), ((2020, 2022), (2020, 2022)),
    ([2020, None], (2020, None)), (None, (None, None)), ("", (None, None)),
])
def test_parse_year_forms(value, expected):
    assert parse_year(value) == expected


@pytest.mark.parametrize("kwargs,needle", [
    ({"venu": "ICLR"}, "unknown filter field"),
    ({"conference": None}, "unknown filter field"),
    ({"year": "twenty"}, "not a year"),
    ({"year": 1800}, "out of range"),
    ({"year": "2023-2021"}, "is empty"),
    ({"year": (2020, 2021, 2022)}, "two ends"),
    ({"year": True}, "not a year"),
    ({"year": "-"}, "no year"),
    ({"venue": "NeurIPS"}, "unknown venue"),
    ({"type": "Workshop"}, "unknown presentation type"),
    ({"source": "nowhere"}, "unknown source"),
    ({"author": 42}, "author filter must be text"),
])
def test_bad_filters_raise_clear_errors(kwargs, needle):
    with pytest.raises(FilterError) as e:
        parse_filters(VENUES, SOURCES, **kwargs)
    assert needle in str(e.value)


def test_parse_normalizes_case_and_duplicates():
    f = parse_filters(VENUES, SOURCES, venue=["iclr", "ICLR"], type="oral,SPOTLIGHT", author="  bengio ")
    assert f.venues == ("ICLR",) and f.types == ("Oral", "Spotlight") and f.author == "bengio"
    assert not parse_filters(VENUES, SOURCES, venue=None, year="", type=[], author="").active


@pytest.mark.parametrize("f,ok", [
    (Filters(venues=("ICLR",)), True),
    (Filters(venues=("ICML",)), False),
    (Filters(year_min=2021, year_max=2021), True),
    (Filters(year_min=2022), False),
    (Filters(year_max=2020), False),
    (Filters(types=("Poster",)), False),
    (Filters(author="bengio"), True),
    (Filters(author="hinton"), False),
    (Filters(sources=("trending-feed",)), False),
    (Filters(venues=("ICLR",), types=("Oral",), author="ann"), True),
])
def test_match_each_field(f, ok):
    assert f.match(_paper()) is ok


def test_paper_without_year_or_venue_never_matches_those_filters():
    p = _paper(venue=None, year=None, type=None)
    assert not Filters(year_max=2022).match(p)
    assert not Filters(year_min=2000).match(p)
    assert not Filters(venues=("ICLR",)).match(p)
    assert not Filters(types=("Oral",)).match(p)
    assert Filters(author="bengio").match(p)


def test_chroma_where_shapes():
    assert to_chroma_where(Filters()) is None
    assert to_chroma_where(Filters(venues=("ICLR",))) == {"venue": {"$in": ["ICLR"]}}
    w = to_chroma_where(Filters(year_max=2022, author="x"), ["p1"])
    assert {"year": {"$gte": 1}} in w["$and"] and {"year": {"$lte": 2022}} in w["$and"]
    assert {"paper_id": {"$in": ["p1"]}} in w["$and"]
    assert to_chroma_where(Filters(author="x"), []) == {"paper_id": {"$in": ["<none>"]}}


# ---------------------------------------------------------------------------------------------- real index

@pytest.fixture(scope="module")
def retriever(pipeline):
    return pipeline.retriever


def _chroma_papers(retriever, spec) -> set[str]:
    """The papers whose chunks Chroma selects under the dense path's where clause."""
    f = retriever.filters(**spec)
    allowed = retriever.allowed(f)
    where = to_chroma_where(f, sorted(allowed) if f.needs_ids else None)
    got = retriever.store.chunks.get(where=where, include=["metadatas"])
    return {m["paper_id"] for m in got["metadatas"]}


@pytest.mark.parametrize("spec", SPECS, ids=[str(s) for s in SPECS])
def test_dense_where_and_keyword_predicate_select_the_same_papers(retriever, spec):
    f = retriever.filters(**spec)
    predicate = {p.id for p in retriever.papers if f.match(p)}
    assert _chroma_papers(retriever, spec) == predicate


@pytest.mark.parametrize("spec", SPECS, ids=[str(s) for s in SPECS])
def test_every_mode_returns_only_matching_papers(retriever, spec):
    f = retriever.filters(**spec)
    allowed = {p.id for p in retriever.papers if f.match(p)}
    for mode in ("hybrid", "dense", "keyword"):
        hits = retriever.search("neural network training with learned representations", 20, mode=mode, **spec)
        ids = [h.paper.id for h in hits]
        assert set(ids) <= allowed, (mode, spec)
        assert len(ids) == len(set(ids))
        assert all(f.match(h.paper) for h in hits)
        if allowed:
            assert hits, (mode, spec)


def test_small_filtered_set_gives_identical_papers_in_dense_and_keyword(retriever):
    spec = {"source": "iclr2023-oral-1-track-6"}  # 7 papers
    f = retriever.filters(**spec)
    allowed = {p.id for p in retriever.papers if f.match(p)}
    assert 3 <= len(allowed) <= 20
    q = "deep learning models"  # generic words every abstract of the session shares with some weight
    dense = {h.paper.id for h in retriever.search(q, 50, mode="dense", **spec)}
    keyword = {h.paper.id for h in retriever.search(q, 50, mode="keyword", **spec)}
    hybrid = {h.paper.id for h in retriever.search(q, 50, mode="hybrid", **spec)}
    assert dense == allowed
    assert keyword <= allowed and len(keyword) >= len(allowed) - 2
    assert hybrid == allowed


def test_each_field_on_the_real_index(retriever):
    q = "sparse training of neural networks"
    assert {h.paper.venue for h in retriever.search(q, 10, venue="ICML")} == {"ICML"}
    assert {h.paper.year for h in retriever.search(q, 10, year=2022)} == {2022}
    assert {h.paper.year for h in retriever.search(q, 10, year="2022-2023")} <= {2022, 2023}
    assert {h.paper.type for h in retriever.search(q, 10, type="spotlight")} == {"Spotlight"}
    assert all(any("bengio" in a.lower() for a in h.paper.authors) for h in retriever.search(q, 10, author="Bengio"))
    assert all("trending-feed" in {s.label for s in h.paper.sources} for h in retriever.search(q, 10, source="trending-feed"))


def test_combined_and_empty_results(retriever):
    q = "attention in transformers"
    hits = retriever.search(q, 10, venue="ICLR", year=2021, type="Oral")
    assert hits and all((h.paper.venue, h.paper.year, h.paper.type) == ("ICLR", 2021, "Oral") for h in hits)
    for mode in ("hybrid", "dense", "keyword"):
        assert retriever.search(q, 10, mode=mode, venue="ICML", type="Oral") == []
        assert retriever.search(q, 10, mode=mode, year=2023, venue="ICML") == []
        assert retriever.search(q, 10, mode=mode, author="No Such Author Anywhere") == []


def test_bad_filters_on_the_real_index(retriever):
    with pytest.raises(FilterError, match="unknown filter field"):
        retriever.search("x", 5, conference="ICLR")
    with pytest.raises(FilterError, match="unknown venue 'NeurIPS'; the index has ICLR, ICML"):
        retriever.search("x", 5, venue="NeurIPS")
    with pytest.raises(FilterError, match="unknown source"):
        retriever.search("x", 5, source="arxiv")
    with pytest.raises(FilterError, match="is empty"):
        retriever.search("x", 5, year="2022-2020")
