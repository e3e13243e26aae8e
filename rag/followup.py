"""Follow-up questions, resolved against the previous turn before retrieval.

Pure text rules, no model and no index:

- An **ordinal or numbered reference** ("the second one", "the last paper", "[2]", "paper 3") is
  replaced by the quoted title of that paper of the previous turn: ordinals count the papers in
  the order they were shown (the cited sources first, then the rest of the retrieved papers);
  ``[n]``, "source n", "paper n" and "#n" name the paper cited as ``[n]``.
- A question that **leans on the previous one** ("which of those were orals?", "what about their
  datasets?", "and from ICML?") is joined to the previous (already resolved) question. Presentation
  types, known venues and years it names become retrieval filters; when nothing else is left in it
  ("which of those were orals?"), the previous question is asked again under those filters, so
  the answer is about the same topic, narrowed, and ``Resolved.subset`` lists which of the
  papers shown last time match (possibly none, which the UI says).
- Anything else is a new question and is left alone.

Only the previous turn is consulted; because its question and filters were themselves resolved,
chains of follow-ups keep their topic. Pronouns are only trusted in short questions, so a long
self-contained question with an "it" in it is not glued to the previous one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .models import PRESENTATION_TYPES

_ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5, "5th": 5,
    "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8, "ninth": 9, "9th": 9, "tenth": 10, "10th": 10,
    "last": -1, "final": -1,
}
_NOUNS = r"(?:one|paper|result|source|article|work|study|hit|entry|reference|citation)"
# "the second one", "the 2nd paper", "the last one", "the second" (at a clause end)
_ORDINAL_REF = re.compile(
    r"\b(?:the\s+)?(" + "|".join(sorted(_ORDINALS, key=len, reverse=True)) + r")\s+" + _NOUNS + r"s?\b"
    r"|\bthe\s+(" + "|".join(sorted(_ORDINALS, key=len, reverse=True)) + r")\b(?=\s*(?:[?.!,;:]|$|\s+(?:one|about|say|do|does|is|was|propose|show)\b))",
    re.IGNORECASE)
# "[2]", "paper 2", "source #2", "number 2", "#2"
_NUMBERED_REF = re.compile(r"\[\s*(\d{1,2})\s*\]|\b(?:paper|source|result|reference|citation|number|no\.)\s*#?\s*(\d{1,2})\b|#(\d{1,2})\b",
                           re.IGNORECASE)
# words that only make sense with a previous turn: strong ones always, weak ones in a short question
_STRONG = re.compile(
    r"\b(?:those|these|them|this one|that one|the above|above ones|same (?:topic|papers?|question)|such papers"
    r"|(?:any|which|none|all|each|some|one|both) of (?:those|these|them|the above|the papers|the results|the sources))\b",
    re.IGNORECASE)
_WEAK = re.compile(r"\b(?:it|its|they|their|theirs|the papers|the results|the sources)\b", re.IGNORECASE)
_LEADS = re.compile(r"^\s*(?:and|also|what about|how about|only|just|but|so|then|ok(?:ay)?|and what about)\b", re.IGNORECASE)
_TYPE_WORDS = {t: re.compile(rf"\b{t}s?\b", re.IGNORECASE) for t in PRESENTATION_TYPES}
_YEAR = re.compile(r"\b(19[89]\d|20\d\d)\b")
# words that carry no topic of their own in a follow-up
_FILLER = frozenset(re.findall(r"\S+", """
a an the and also what about how which who whom were was is are be been of those these them they their it its this that
one ones any all none each only just but so then ok okay paper papers were presented as at in from published accepted
among there did do does have has had show me list tell more please give same topic question results sources above such
orals oral spotlights spotlight posters poster venue conference year years i want see
"""))
MAX_FOLLOWUP_WORDS = 16


@dataclass(frozen=True)
class ShownPaper:
    """A paper of the previous turn, in the order it was shown. ``n`` is its citation number (None if not cited)."""

    id: str
    title: str
    n: int | None = None
    type: str | None = None
    venue: str | None = None
    year: int | None = None


@dataclass
class Turn:
    """What a follow-up may refer to: the previous (resolved) question and the papers shown for it."""

    question: str
    papers: list[ShownPaper] = field(default_factory=list)
    filters: dict = field(default_factory=dict)  # filters a follow-up added (kept by the next one)

    def to_dict(self) -> dict:
        return {"question": self.question, "papers": [p.__dict__.copy() for p in self.papers], "filters": dict(self.filters)}

    @classmethod
    def from_dict(cls, d: dict | None) -> Turn | None:
        if not d or not d.get("question"):
            return None
        return cls(d["question"], [ShownPaper(**p) for p in d.get("papers") or []], dict(d.get("filters") or {}))


@dataclass
class Resolved:
    """The question to retrieve and answer with, the filters the follow-up adds, and what was done."""

    question: str
    filters: dict = field(default_factory=dict)
    rewritten: bool = False
    papers: list[ShownPaper] = field(default_factory=list)  # papers an ordinal/number referred to
    note: str = ""
    subset: list[ShownPaper] | None = None  # for "which of those were orals?": the previous papers that match


def _pick_ordinal(papers: list[ShownPaper], k: int) -> ShownPaper | None:
    if not papers:
        return None
    if k == -1:
        return papers[-1]
    return papers[k - 1] if 1 <= k <= len(papers) else None


def _pick_number(papers: list[ShownPaper], n: int) -> ShownPaper | None:
    cited = next((p for p in papers if p.n == n), None)
    return cited or _pick_ordinal(papers, n)


def _content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9'-]*", text.lower()) if w not in _FILLER]


def mentioned_filters(question: str, venues: set[str] | frozenset[str] = frozenset()) -> dict:
    """Presentation types, known venues and years a question names, as retrieval filters."""
    out: dict = {}
    types = [t for t, rx in _TYPE_WORDS.items() if rx.search(question)]
    if types:
        out["type"] = types
    named = [v for v in sorted(venues) if re.search(rf"\b{re.escape(v)}\b", question, re.IGNORECASE)]
    if named:
        out["venue"] = named
    years = sorted({int(y) for y in _YEAR.findall(question)})
    if len(years) == 1:
        out["year"] = years[0]
    elif len(years) > 1:
        out["year"] = f"{years[0]}-{years[-1]}"
    return out


def is_followup(question: str) -> bool:
    """Does the question lean on the previous one? "Which of those …", "these", "them" always; "it",
    "they", "their" or a leading "and"/"what about" only in a question with little topic of its own."""
    if len(question.split()) > MAX_FOLLOWUP_WORDS:
        return False
    if _STRONG.search(question):
        return True
    own = len(_content_words(question))
    return bool((_WEAK.search(question) and own <= 4) or (_LEADS.search(question) and own <= 6))


def resolve(question: str, previous: Turn | None, venues: set[str] | frozenset[str] = frozenset()) -> Resolved:
    """Rewrite ``question`` so it stands on its own, using the previous turn (see the module docstring)."""
    q = re.sub(r"\s+", " ", question or "").strip()
    if previous is None or not previous.question.strip() or not q:
        return Resolved(q)

    # 1. ordinal and numbered references to the papers shown last time
    picked: list[ShownPaper] = []
    missing: list[str] = []

    def sub_ordinal(m: re.Match) -> str:
        word = (m.group(1) or m.group(2)).lower()
        p = _pick_ordinal(previous.papers, _ORDINALS[word])
        if p is None:
            missing.append(m.group(0))
            return m.group(0)
        picked.append(p)
        return f'"{p.title}"'

    def sub_number(m: re.Match) -> str:
        n = int(next(g for g in m.groups() if g))
        p = _pick_number(previous.papers, n)
        if p is None:
            missing.append(m.group(0))
            return m.group(0)
        picked.append(p)
        return f'"{p.title}"'

    out = _ORDINAL_REF.sub(sub_ordinal, q)
    out = _NUMBERED_REF.sub(sub_number, out)
    if picked:
        titles = "; ".join(p.title for p in picked)
        return Resolved(out, {}, True, picked, f"“{_short(q)}” refers to {titles}")
    if missing:  # "the ninth one" after five papers: say so rather than guess
        n = len(previous.papers)
        return Resolved(q, note=f"found nothing for “{missing[0]}”: the previous answer showed {n} paper{'s' if n != 1 else ''}")

    # 2. a question that leans on the previous one
    if not is_followup(q):
        return Resolved(q)
    filters = mentioned_filters(q, venues)
    prev = previous.question.strip()
    named = {v.lower() for v in venues} | {str(y) for y in _YEAR.findall(q)}
    if not [w for w in _content_words(q) if w not in named]:
        # nothing but "which of those were orals?": the previous papers that match, and the same
        # question asked again under those filters
        what = ", ".join(_describe(k, v) for k, v in filters.items())
        subset = [p for p in previous.papers if matches(p, filters)] if filters else None
        note = f"asked again{' for ' + what if what else ''}: {prev}"
        if subset is not None:
            shown = len(previous.papers)
            if subset:
                note += (f" (of the {shown} papers shown last time, {len(subset)} match: "
                         + "; ".join(p.title for p in subset) + ")")
            else:
                note += f" (none of the {shown} papers shown last time match)"
        return Resolved(prev, {**previous.filters, **filters}, True, [], note, subset)
    joined = f"{prev.rstrip(' ?.!')}: {q}"
    return Resolved(joined, {**previous.filters, **filters}, True, [], f"read together with the previous question: {joined}")


def matches(p: ShownPaper, filters: dict) -> bool:
    """Does a shown paper satisfy type / venue / year filters (as :func:`mentioned_filters` makes them)?"""
    from .filters import parse_year

    types = filters.get("type")
    if types and (p.type or "") not in types:
        return False
    venues = filters.get("venue")
    if venues and (p.venue or "").lower() not in {v.lower() for v in venues}:
        return False
    if filters.get("year") is not None:
        lo, hi = parse_year(filters["year"])
        if p.year is None or (lo is not None and p.year < lo) or (hi is not None and p.year > hi):
            return False
    return True


def _describe(key: str, value) -> str:
    if isinstance(value, list):
        value = "/".join(str(v) for v in value)
    return f"{key} {value}"


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
