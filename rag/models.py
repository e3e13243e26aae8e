"""The paper record, the currency between every stage after parsing, and its stable id."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from urllib.parse import quote_plus

PRESENTATION_TYPES = ("Oral", "Spotlight", "Poster")


def normalize_title(title: str) -> str:
    """Lowercase letters and digits only: the key under which two listings of one paper meet."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def paper_id(title: str) -> str:
    """A stable id from the normalized title: the same paper from two sources gets the same id."""
    return "p" + hashlib.sha1(normalize_title(title).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class SourceRef:
    """Where an entry came from: the source label, the file and the 1-based line of its title."""

    label: str
    file: str
    line: int


@dataclass(frozen=True)
class Paper:
    """One paper. ``sources`` lists every listing merged into it."""

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    venue: str | None = None
    year: int | None = None
    type: str | None = None
    session: str | None = None
    time: str | None = None
    url: str | None = None
    sources: tuple[SourceRef, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["authors"] = list(self.authors)
        d["sources"] = [asdict(s) for s in self.sources]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Paper:
        d = dict(d)
        d["authors"] = tuple(d.get("authors") or ())
        d["sources"] = tuple(SourceRef(**s) for s in d.get("sources") or ())
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @property
    def link(self) -> str:
        """The paper's URL where its source gives one, else a title search: OpenReview for ICLR
        papers, arXiv for the rest (a URL that is not http(s) is never used)."""
        if self.url and self.url.strip().lower().startswith(("http://", "https://")):
            return self.url.strip()
        if (self.venue or "").upper().startswith("ICLR"):
            return "https://openreview.net/search?term=" + quote_plus(self.title) + "&group=all&content=all&source=all"
        return "https://arxiv.org/search/?searchtype=title&query=" + quote_plus(self.title)

    @functools.cached_property
    def content_hash(self) -> str:
        """Changes whenever anything the index stores about the paper changes (computed once: the
        record is immutable, and serializing it costs ~0.3 ms, which adds up on a large store)."""
        return hashlib.sha1(self.to_json().encode()).hexdigest()[:16]


@dataclass
class Hit:
    """One retrieved paper. ``score`` is the fused score (higher is better); ``passages`` are the
    paper's matching chunks, best first; ``dense``/``keyword`` keep each retriever's own score
    (cosine similarity in [−1, 1], BM25 score) or ``None`` where that retriever did not find it."""

    paper: Paper
    score: float
    passages: list[str] = field(default_factory=list)
    dense: float | None = None
    keyword: float | None = None
    rank: int = 0

    def to_dict(self) -> dict:
        return {"rank": self.rank, "score": round(self.score, 6), "dense": self.dense, "keyword": self.keyword,
                "passages": self.passages, "paper": {**self.paper.to_dict(), "link": self.paper.link}}
