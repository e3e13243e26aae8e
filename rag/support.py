"""Text checks behind every answer: sentences, citation markers, content words, the evidence a
paper offers, and whether a sentence is supported by the paper(s) it cites.

A sentence is *supported* by a paper when all three hold:

- **grounded**: every number, acronym and capitalized name in it occurs in the paper's text or
  metadata (hallucinated authors, figures and method names fail here);
- **lexical**: at least ``MIN_OVERLAP`` of its content words (stemmed) occur in the paper;
- **semantic**: its embedding is within ``MIN_COSINE`` cosine of one of the paper's sentences.

The thresholds were calibrated on the development set: checked against another paper retrieved
for the same question, 0.3% of 1,766 abstract sentences pass (most of those are true of both
papers); of the SmolLM2 sentences produced for the development questions, the hand-labelled vague
or wrong ones that passed looser thresholds (0.6 / 0.55) all had a cosine below 0.65, the correct
paraphrases and quotations at least 0.69 with an overlap of at least 0.67.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .models import Paper
from .text import (  # noqa: F401 - re-exported: support was their home before rag.text
    _ABBREV,
    _WORD,
    QUESTION_WORDS,
    STOPWORDS,
    _stem,
    clean_source_text,
    content_terms,
    key_tokens,
    phrases,
    question_terms,
    split_sentences,
    stems,
    tokens,
    words,
)

MIN_OVERLAP = 0.65  # share of a sentence's content words found in the cited paper
MIN_COSINE = 0.65  # best cosine between the sentence and one of the paper's sentences
MIN_CONTENT = 2  # a sentence needs at least this many content words to state anything
TOPIC_MIN_TITLES = 2  # a phrase of one title is that paper's name, not a topic of the corpus
# a phrase of more titles than this share says little a paper lacks: "neural network" (78 of the shipped 953 titles) and
# "reinforcement learning" (44) are out, "graph neural network" (15) and "optimal transport" (5) in; 40 titles when fitted
TOPIC_MAX_SHARE = 0.042

_MARKER = re.compile(r"\[\s*(?:(?:source|paper|ref|doc)s?\s*)?(\d+(?:\s*(?:,|;|and|&|[-–])\s*(?:(?:source|paper|ref|doc)\s*)?\d+)*)\s*\]",
                     re.IGNORECASE)
_ANY_BRACKET_NUM = re.compile(r"\[\s*\d+(?:\s*[,;–-]\s*\d+)*\s*\]")
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.]{0,40}\b(?:instruction|prompt|rule|context|above|previous)s?\b"
    r"|\b(?:system prompt|you are (?:now )?(?:an? )?(?:ai|assistant|language model|chatbot))\b"
    r"|\b(?:always|must|should) cite\b|\bcite \[\d+\]",
    re.IGNORECASE)


# ---------------------------------------------------------------- sentences and markers

def parse_markers(text: str) -> list[int]:
    """Every source number a text cites, in order, without repeats: ``[1]``, ``[1, 2]``, ``[2-3]``, ``[Source 4]``."""
    found: list[int] = []
    for m in _MARKER.finditer(text):
        body = re.sub(r"(?i)(?:source|paper|ref|doc)s?", "", m.group(1))
        for part in re.split(r"\s*(?:,|;|and|&)\s*", body):
            bounds = [int(x) for x in re.findall(r"\d+", part)]
            if len(bounds) == 2 and re.search(r"[-–]", part) and 0 <= bounds[1] - bounds[0] <= 10:
                nums = list(range(bounds[0], bounds[1] + 1))
            else:
                nums = bounds
            found.extend(n for n in nums if n not in found)
    return found


def strip_markers(text: str) -> str:
    """The text without citation markers (also stray ``[`` ``]`` left by a broken one)."""
    text = _MARKER.sub("", text)
    text = re.sub(r"\[\s*\]", "", text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def looks_like_instruction(sentence: str) -> bool:
    """Text in a source that addresses the reader as a model (prompt injection); never used as evidence."""
    return bool(_INJECTION.search(sentence))


def with_markers(sentence: str, numbers: Iterable[int]) -> str:
    """``sentence`` with ``[n]`` markers placed before its final punctuation."""
    marks = "".join(f"[{n}]" for n in numbers)
    s = sentence.rstrip()
    if not marks:
        return s
    m = re.search(r"([.!?]+[\"'”)]*)$", s)
    if m:
        return f"{s[:m.start()].rstrip()} {marks}{m.group(1)}"
    return f"{s} {marks}."


# ---------------------------------------------------------------- words

# ---------------------------------------------------------------- papers as evidence

def metadata_sentences(p: Paper) -> list[str]:
    """What the paper's record says beyond its abstract, as plain sentences."""
    out = []
    if p.authors:
        names = list(p.authors)
        who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        out.append(f"{p.title} is by {who}.")
    where = " ".join(str(x) for x in (p.venue, p.year) if x)
    if p.type and where:
        out.append(f"{p.title} was presented as a{'n' if p.type[0] in 'AEIOU' else ''} {p.type} at {where}.")
    elif where:
        out.append(f"{p.title} appeared at {where}.")
    if p.session or p.time:
        when = ", ".join(x for x in (p.session and f"in the session {p.session}", p.time and f"at {p.time}") if x)
        out.append(f"{p.title} was presented{' at ' + where if where else ''} {when}.")
    return out


def paper_details(p: Paper, want: set[str] | None = None) -> str:
    """Metadata lines for a prompt: venue always; authors and schedule when ``want`` asks for
    them (``None``: everything)."""
    parts = []
    if p.authors and (want is None or "authors" in want):
        parts.append("Authors: " + ", ".join(p.authors))
    where = " ".join(str(x) for x in (p.venue, p.year, p.type) if x)
    parts.append("Venue: " + (where or "unknown"))
    if (p.session or p.time) and (want is None or "when" in want):
        parts.append("Session: " + " · ".join(x for x in (p.session, p.time) if x))
    return "\n".join(parts)


@dataclass
class PaperText:
    """A paper split into checkable units (abstract sentences, title, metadata sentences), its
    content-word set and raw token set, and (once :meth:`PaperTexts.embed` ran) the units' vectors."""

    paper: Paper
    sentences: list[str]
    meta: list[str]
    terms: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    vectors: np.ndarray | None = None

    @property
    def units(self) -> list[str]:
        return self.sentences + [self.paper.title] + self.meta

    def evidence_candidates(self) -> list[tuple[int, str]]:
        """(unit index, sentence) pairs that may be quoted: abstract sentences that are not instructions."""
        return [(i, s) for i, s in enumerate(self.sentences) if not looks_like_instruction(s) and len(words(s)) >= 4]


def paper_text(p: Paper) -> PaperText:
    """The lexical part of a :class:`PaperText` (no vectors yet)."""
    abstract = clean_source_text(p.abstract)
    sents = split_sentences(abstract) or [abstract or p.title]
    meta = metadata_sentences(p)
    full = " ".join([p.title, abstract, " ".join(p.authors), " ".join(meta)])
    return PaperText(p, sents, meta, set(content_terms(full)), set(words(full)))


class PaperTexts:
    """An LRU cache of :class:`PaperText` per paper; vectors are added on demand with the embedder."""

    def __init__(self, embedder, size: int = 2048):
        self.embedder = embedder
        self.size = size
        self._cache: OrderedDict[tuple[str, str], PaperText] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, papers: list[Paper]) -> list[PaperText]:
        out = []
        with self._lock:
            for p in papers:
                key = (p.id, p.content_hash)
                if key not in self._cache:
                    self._cache[key] = paper_text(p)
                self._cache.move_to_end(key)
                out.append(self._cache[key])
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return out

    def embed(self, texts: list[PaperText], extra: list[str] | None = None, words: bool = False) -> np.ndarray:
        """Give every text its unit vectors (one batch for all that lack them); returns the vectors of ``extra``.
        ``words``: in the same pass, have the embedder keep the units' word vectors (``embed_words``, when it has one)."""
        todo = [t for t in texts if t.vectors is None]
        pieces = [u for t in todo for u in t.units] + list(extra or [])
        embed = getattr(self.embedder, "embed_words", None) if words else None
        embed = embed or self.embedder.embed_batch
        vecs = np.asarray(embed(pieces), dtype=np.float32) if pieces else np.zeros((0, 0), np.float32)
        at = 0
        for t in todo:
            n = len(t.units)
            t.vectors = vecs[at:at + n]
            at += n
        return vecs[at:]


# ---------------------------------------------------------------- support

@dataclass
class Support:
    """How well one sentence is supported by one paper (or a group of papers)."""

    supported: bool
    score: float
    cosine: float
    overlap: float
    ungrounded: list[str]


def _grounded(keys: set[str], tokens: set[str]) -> list[str]:
    missing = []
    for k in keys:
        if k in tokens:
            continue
        parts = [x for x in re.split(r"[.'’-]", k) if x]
        if parts and all(x in tokens for x in parts):
            continue
        missing.append(k)
    return sorted(missing)


def check_support(sentence: str, vector: np.ndarray, texts: list[PaperText], *,
                  min_overlap: float = MIN_OVERLAP, min_cosine: float = MIN_COSINE) -> Support:
    """Whether ``sentence`` (markers stripped, embedded as ``vector``) is supported by ``texts`` taken together."""
    if not texts:
        return Support(False, 0.0, 0.0, 0.0, [])
    terms = content_terms(sentence)
    pool_terms = set().union(*(t.terms for t in texts))
    pool_tokens = set().union(*(t.tokens for t in texts))
    cos = max(float(np.max(t.vectors @ vector)) if t.vectors is not None and len(t.vectors) else 0.0 for t in texts)
    overlap = sum(1 for w in terms if w in pool_terms) / len(terms) if terms else 0.0
    missing = _grounded(key_tokens(sentence), pool_tokens)
    score = 0.5 * cos + 0.5 * overlap
    ok = len(set(terms)) >= MIN_CONTENT and not missing and overlap >= min_overlap and cos >= min_cosine
    return Support(ok, score, cos, overlap, missing)


# ---------------------------------------------------------------- relevance of a paper to a question

class TermStats:
    """Document frequencies of content words over a set of papers (the indexed corpus)."""

    def __init__(self, papers: list[Paper]):
        self.n = max(1, len(papers))
        self._papers = papers
        df: dict[str, int] = {}
        for p in papers:
            text = " ".join([p.title, p.abstract, " ".join(p.authors), " ".join(str(x) for x in (p.venue, p.year, p.type, p.session, p.time) if x)])
            for t in set(content_terms(text)):
                df[t] = df.get(t, 0) + 1
        self.df = df

    @cached_property
    def typed_df(self) -> dict[str, int]:
        """Papers per token with a capital letter, as written ("RL", "FORCE", "Hanabi"); counted on the first
        question that uses a name, not when the answer parts are built."""
        typed: dict[str, int] = {}
        for p in self._papers:
            for t in {t for t in tokens(f"{p.title} {p.abstract}") if not t.islower()}:
                typed[t] = typed.get(t, 0) + 1
        return typed

    @cached_property
    def title_phrases(self) -> frozenset[str]:
        """Topic phrases of the corpus: word n-grams (:func:`rag.text.phrases`) that at least ``TOPIC_MIN_TITLES``
        titles and at most a ``TOPIC_MAX_SHARE`` of them use ("graph neural network", "optimal transport", "active
        learn"; not "neural network", nor a phrase of one title); built on first use."""
        df: dict[str, int] = {}
        for p in self._papers:
            for g in phrases(stems(p.title)):
                df[g] = df.get(g, 0) + 1
        most = max(TOPIC_MIN_TITLES, int(TOPIC_MAX_SHARE * len(self._papers)))
        return frozenset(g for g, c in df.items() if TOPIC_MIN_TITLES <= c <= most)

    def name_df(self, name: str) -> int:
        """How many papers use a name as typed: an acronym or mixed-case name exactly ("FORCE" is not the word
        "force"), a capitalized word in any case (as :func:`rag.evidence.names_in` matches them)."""
        if sum(c.isupper() for c in name) >= 2:
            return self.typed_df.get(name, 0)
        terms = content_terms(name)
        return max(self.typed_df.get(name, 0), self.df.get(terms[0], 0) if terms else 0)

    def idf(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5))

    def coverage(self, qterms: set[str], paper_terms: set[str]) -> float:
        """IDF-weighted share of the question's content words that the paper contains."""
        total = sum(self.idf(t) for t in qterms)
        if total <= 0:
            return 0.0
        return sum(self.idf(t) for t in qterms if t in paper_terms) / total
