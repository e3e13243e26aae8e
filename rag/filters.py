"""Retrieval filters: parsed and validated once into a :class:`Filters`, then applied identically by
the dense path (as a Chroma ``where`` clause on chunk metadata, see :func:`to_chroma_where`) and the
keyword path (as a predicate over paper records).

Both forms express the same rules, so a filter selects the same papers in both paths:

- ``venue``: one or more venues, matched case-insensitively against the venues in the index.
- ``year``: ``2021``, ``"2020-2022"``, ``"2020.."``, ``">=2021"``, ``"<2022"``, ``(2020, 2022)``; a paper
  without a year never matches a year filter.
- ``type``: ``Oral``, ``Spotlight`` or ``Poster`` (any case), one or more.
- ``author``: a case-insensitive substring of one author name (``"bengio"`` matches Yoshua Bengio).
- ``source``: one or more source labels of the manifest.
- ``topic``: one or more topic ids of the index's topics (see :mod:`rag.topics`; ``-1``: the outliers).
- ``session``: one or more conference session names (case-insensitive, whole name), e.g. ``Deep Learning``.

Several values of one field are alternatives (OR); different fields must all hold (AND). An unknown
field, an unknown venue/type/source or an impossible year raises :class:`~rag.errors.FilterError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import FilterError
from .models import PRESENTATION_TYPES, Paper

FIELDS = ("venue", "year", "type", "author", "source", "topic", "session")
YEAR_MIN, YEAR_MAX = 1900, 2100


@dataclass(frozen=True)
class Filters:
    venues: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    types: tuple[str, ...] = ()
    author: str | None = None
    sources: tuple[str, ...] = ()
    topics: tuple[int, ...] = ()
    topic_papers: frozenset[str] = frozenset()  # the papers of ``topics``
    sessions: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.venues or self.year_min is not None or self.year_max is not None
                    or self.types or self.author or self.sources or self.topics or self.sessions)

    @property
    def needs_ids(self) -> bool:
        """Author, source, topic and session filters cannot be written on Chroma's flat strings: the
        dense path passes the matching paper ids instead."""
        return bool(self.author or self.sources or self.topics or self.sessions)

    def match(self, p: Paper) -> bool:
        if self.venues and (p.venue or "").lower() not in {v.lower() for v in self.venues}:
            return False
        if (self.year_min is not None or self.year_max is not None) and not p.year:
            return False
        if self.year_min is not None and p.year < self.year_min:
            return False
        if self.year_max is not None and p.year > self.year_max:
            return False
        if self.types and (p.type or "") not in self.types:
            return False
        if self.author and not any(self.author.lower() in a.lower() for a in p.authors):
            return False
        if self.topics and p.id not in self.topic_papers:
            return False
        if self.sessions and (p.session or "").lower() not in {s.lower() for s in self.sessions}:
            return False
        return not (self.sources and not {s.label for s in p.sources} & set(self.sources))

    def describe(self) -> str:
        parts = []
        if self.venues:
            parts.append("venue " + "/".join(self.venues))
        if self.year_min is not None or self.year_max is not None:
            lo, hi = self.year_min, self.year_max
            parts.append(f"year {lo}" if lo == hi else f"year {lo or ''}–{hi or ''}")
        if self.types:
            parts.append("type " + "/".join(self.types))
        if self.author:
            parts.append(f"author ~ {self.author!r}")
        if self.sources:
            parts.append("source " + "/".join(self.sources))
        if self.topics:
            parts.append("topic " + "/".join(map(str, self.topics)))
        if self.sessions:
            parts.append("session " + "/".join(repr(s) for s in self.sessions))
        return ", ".join(parts) or "none"


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return [v for v in value if v not in (None, "")]
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [value]


def _year(v) -> int:
    if isinstance(v, bool):
        raise FilterError(f"year filter {v!r} is not a year (use 2021, 2020-2022, >=2021 or <=2022)")
    try:
        y = int(str(v).strip())
    except (TypeError, ValueError):
        raise FilterError(f"year filter {v!r} is not a year (use 2021, 2020-2022, >=2021 or <=2022)") from None
    if not YEAR_MIN <= y <= YEAR_MAX:
        raise FilterError(f"year filter {y} is out of range ({YEAR_MIN}–{YEAR_MAX})")
    return y


def parse_year(value) -> tuple[int | None, int | None]:
    """2021, "2021", "2020-2022", "2020..2022", "2020-", ">=2021", "<=2022", (2020, 2022), [2020, None] → (min, max)."""
    if value is None or value == "":
        return None, None
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise FilterError(f"year range {value!r} must have two ends (min, max)")
        lo = _year(value[0]) if value[0] not in (None, "") else None
        hi = _year(value[1]) if value[1] not in (None, "") else None
    elif isinstance(value, int) and not isinstance(value, bool):
        lo = hi = _year(value)
    else:
        s = str(value).strip()
        if m := re.fullmatch(r"(>=|<=|>|<|=)\s*(\S+)", s):
            y = _year(m.group(2))
            lo, hi = {">=": (y, None), ">": (y + 1, None), "<=": (None, y), "<": (None, y - 1), "=": (y, y)}[m.group(1)]
        elif m := re.fullmatch(r"(\d{4})?\s*(?:-|–|\.\.|:)\s*(\d{4})?", s):
            if not (m.group(1) or m.group(2)):
                raise FilterError(f"year filter {value!r} has no year in it")
            lo = _year(m.group(1)) if m.group(1) else None
            hi = _year(m.group(2)) if m.group(2) else None
        else:
            lo = hi = _year(s)
    if lo is not None and hi is not None and lo > hi:
        raise FilterError(f"year range {value!r} is empty: {lo} is after {hi}")
    return lo, hi


def parse_filters(known_venues: set[str] | None = None, known_sources: set[str] | None = None,
                  known_topics: dict[int, frozenset[str]] | None = None, **kwargs) -> Filters:
    """Validate keyword filters. Unknown fields, unknown types, venues, sources or topics and
    impossible years raise :class:`FilterError` naming the accepted values. ``None`` or empty values
    mean "no filter on this field". ``known_topics`` maps topic ids to their paper ids; a topic
    filter needs it."""
    unknown = sorted(k for k in kwargs if k not in FIELDS)
    if unknown:
        raise FilterError(f"unknown filter field(s) {', '.join(unknown)}; use {', '.join(FIELDS)}")
    venues = []
    for v in _as_list(kwargs.get("venue")):
        if not isinstance(v, str):
            raise FilterError(f"venue filter must be text, not {type(v).__name__}")
        name = v.strip()
        if known_venues is not None:
            match = [k for k in known_venues if k.lower() == name.lower()]
            if not match:
                raise FilterError(f"unknown venue {v!r}; the index has {', '.join(sorted(known_venues)) or 'no venues'}")
            name = match[0]
        if name not in venues:
            venues.append(name)
    types = []
    for t in _as_list(kwargs.get("type")):
        match = [k for k in PRESENTATION_TYPES if k.lower() == str(t).strip().lower()]
        if not match:
            raise FilterError(f"unknown presentation type {t!r}; use {', '.join(PRESENTATION_TYPES)}")
        if match[0] not in types:
            types.append(match[0])
    sources = []
    for s in _as_list(kwargs.get("source")):
        if not isinstance(s, str):
            raise FilterError(f"source filter must be text, not {type(s).__name__}")
        sources.append(s.strip())
    if known_sources is not None:
        bad = [s for s in sources if s not in known_sources]
        if bad:
            raise FilterError(f"unknown source {bad[0]!r}; the index has {', '.join(sorted(known_sources)) or 'no sources'}")
    author = kwargs.get("author")
    if author is not None and not isinstance(author, str):
        raise FilterError(f"author filter must be text, not {type(author).__name__}")
    sessions = []
    for s in _as_list(kwargs.get("session")) if not isinstance(kwargs.get("session"), str) else [kwargs["session"]]:
        if not isinstance(s, str):
            raise FilterError(f"session filter must be text, not {type(s).__name__}")
        sessions.append(s.strip())
    topics, topic_papers = _topics(kwargs.get("topic"), known_topics)
    lo, hi = parse_year(kwargs.get("year"))
    return Filters(tuple(venues), lo, hi, tuple(types), (author or "").strip() or None, tuple(sources), topics, topic_papers,
                   tuple(sessions))


def _topics(value, known: dict[int, frozenset[str]] | None) -> tuple[tuple[int, ...], frozenset[str]]:
    from .topics import parse_topic_id

    ids: list[int] = []
    for t in _as_list(value):
        tid = parse_topic_id(t)
        if tid not in ids:
            ids.append(tid)
    if not ids:
        return (), frozenset()
    if known is None:
        raise FilterError("a topic filter needs the index's topics; filter through a pipeline (rag.retrieve, Pipeline.retrieve)")
    bad = [t for t in ids if t not in known]
    if bad:
        real = sorted(t for t in known if t >= 0)
        raise FilterError(f"unknown topic {bad[0]}; the index has topics {real[0]}–{real[-1]} (and -1, the outliers)"
                          if real else f"unknown topic {bad[0]}; the index has no topics")
    return tuple(ids), frozenset().union(*(known[t] for t in ids))


def to_chroma_where(f: Filters, allowed_ids: list[str] | None = None) -> dict | None:
    """A Chroma ``where`` clause on chunk metadata that selects exactly the papers ``f.match`` selects.

    Chunk metadata stores a missing venue/type as ``""`` and a missing year as ``0``; a year bound
    therefore also requires ``year > 0``. Author and source filters become ``paper_id $in allowed_ids``."""
    clauses: list[dict] = []
    if f.venues:
        clauses.append({"venue": {"$in": list(f.venues)}})
    if f.year_min is not None or f.year_max is not None:
        clauses.append({"year": {"$gte": max(f.year_min or 1, 1)}})
        if f.year_max is not None:
            clauses.append({"year": {"$lte": f.year_max}})
    if f.types:
        clauses.append({"type": {"$in": list(f.types)}})
    if f.needs_ids:
        clauses.append({"paper_id": {"$in": list(allowed_ids or []) or ["<none>"]}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
