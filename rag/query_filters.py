"""Filters read from the question's own words: venue, year, presentation type, author, session.

"ICLR 2021 orals on contrastive learning", "spotlights about pruning", "papers by Bengio", "at ICML
2022", "in the Deep Learning session" each name a filter the user would otherwise have to set by
hand. :func:`read_filters` finds such phrases and returns the filters (the keyword arguments of
:func:`rag.filters.parse_filters`), the phrases it read, and the question with them removed: the
text that is searched, so "ICLR 2021" does not pull in papers that mention ICLR in their abstract.

A phrase counts only in a position where it is a restriction, never as part of a topic:

- **venue**: a venue of the index followed by a year ("ICLR 2021", "ICML'22"), by a word for papers
  ("ICLR papers", "ICML orals") or at the end, or after *at / in / from* when the next word is not
  a noun of its own ("at ICML on …" yes; "the ICLR reviewing process", "in ICLR reviewing" no);
- **year**: next to a venue, or after *in / from / since / after / before / published in* ("papers
  from 2021", "after 2020" → 2021 on); a year inside a topic ("the 2020 census") is left alone;
- **type** (not when the question asks for the type: "was it an oral or a poster?", "what
  presentation type…"): *orals / spotlights / posters* used as a noun (not "spotlights the role", a verb), or
  *oral / spotlight / poster* before *paper(s), talk(s), session(s)*, *presentation(s)* (but not
  "oral presentation **of** results") or after *as a / an* ("presented as a spotlight");
- **author**: a full name of an author of the index after *by / authored by / written by*, or a
  capitalized surname after *papers by / work by / written by*, or a possessive "Bengio's papers";
  "by reducing the variance" and "trained by Adam" are not names;
- **session**: "the <name> session" where <name> is a session of the index (its whole name, or a
  part of one: "the Deep Learning session", "the DL: Algorithms session").

Explicit filters win: :meth:`rag.pipeline.Pipeline.retrieve` merges the read filters under the
caller's, field by field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .models import Paper

_PAPER_WORDS = r"(?:papers?|works?|talks?|articles?|submissions?|publications?|orals?|spotlights?|posters?|presentations?)"
_TYPES = {"oral": "Oral", "spotlight": "Spotlight", "poster": "Poster"}
# words after which a venue or a plural type is still a restriction, not a noun phrase of its own
_AFTER_OK = (r"(?:on|about|at|from|in|of|with|that|which|who|where|whose|regarding|related|concerning|"
             r"dealing|tackling|addressing|proposing|using|studying|for|by|and|or|to|are|were|was|is|did|do|"
             r"had|have|has|accepted|presented|published|\d{4})\b")
_END = r"(?=\s*(?:[,.;:?!)]|$))"
_YEAR = r"(?:19|20)\d\d"


@dataclass
class ReadFilters:
    """What :func:`read_filters` found: ``filters`` (keyword arguments for the retriever), the
    ``phrases`` it read them from, and ``text``, the question without those phrases."""

    question: str
    text: str
    filters: dict = field(default_factory=dict)
    phrases: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.filters)

    def describe(self) -> str:
        """``venue ICLR, year 2021, type Oral`` — for "filters read from your question: …"."""
        parts = []
        for k in ("venue", "year", "type", "author", "session"):
            if k in self.filters:
                v = self.filters[k]
                parts.append(f"{k} {'/'.join(map(str, v)) if isinstance(v, (list, tuple)) else v}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Vocabulary:
    """What the index holds, which the reader matches against: venues, authors, session names."""

    venues: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()

    @classmethod
    def of(cls, papers: list[Paper]) -> Vocabulary:
        return cls(tuple(sorted({p.venue for p in papers if p.venue})),
                   tuple(sorted({a for p in papers for a in p.authors if a})),
                   tuple(sorted({p.session for p in papers if p.session})))

    def surnames(self) -> dict[str, set[str]]:
        """Lowercased last name → full names."""
        out: dict[str, set[str]] = {}
        for a in self.authors:
            parts = a.split()
            if parts and len(parts[-1]) >= 2:
                out.setdefault(parts[-1].lower(), set()).add(a)
        return out


class _Reader:
    def __init__(self, question: str, vocab: Vocabulary):
        self.q = question
        self.vocab = vocab
        self.cut: list[tuple[int, int]] = []  # spans removed from the searched text
        self.phrases: list[str] = []
        self.filters: dict = {}

    def take(self, start: int, end: int) -> None:
        self.cut.append((start, end))
        self.phrases.append(self.q[start:end].strip())

    def free(self, start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in self.cut)

    # ------------------------------------------------------------------ venue and year

    def venues(self) -> None:
        for v in self.vocab.venues:
            vx = re.escape(v)
            year_after = rf"(?:\s*'(\d\d)|\s*({_YEAR})|(\d\d)\b)"
            rx = re.compile(rf"(?:\b(at|in|from|to|for)\s+(?:the\s+)?)?\b({vx})\b{year_after}?", re.I)
            for m in rx.finditer(self.q):
                if not self.free(m.start(), m.end()):
                    continue
                prep, yy, yyyy, yy2 = m.group(1), m.group(3), m.group(4), m.group(5)
                rest = self.q[m.end():]
                year = int(yyyy) if yyyy else (2000 + int(yy or yy2) if (yy or yy2) else None)
                follows = re.match(rf"\s*(?:{_PAPER_WORDS}\b|{_AFTER_OK}|$|[,.;:?!)])", rest, re.I)
                if year is None and not (follows or re.match(_END, rest)):
                    continue  # "ICLR reviewing process": the venue is a topic word here
                if year is None and not prep and not re.match(rf"\s*{_PAPER_WORDS}\b", rest, re.I) and not re.match(_END, rest):
                    continue  # "ICLR and NeurIPS reviewing": no preposition, no paper word
                self.filters.setdefault("venue", [])
                if v not in self.filters["venue"]:
                    self.filters["venue"].append(v)
                if year is not None:
                    self.filters["year"] = year
                self.take(m.start(), m.end())

    def years(self) -> None:
        if "year" in self.filters:
            return
        rx = re.compile(rf"\b(published\s+in|in|from|during|of|since|after|before|until)\s+(?:the\s+year\s+)?({_YEAR})\b(?!\s*-?\s*\w*(?:census|election|olympics|pandemic|crisis|challenge|competition|dataset))", re.I)
        for m in rx.finditer(self.q):
            if not self.free(m.start(), m.end()):
                continue
            prep, y = m.group(1).lower(), int(m.group(2))
            if prep == "of" and not re.search(rf"{_PAPER_WORDS}\s*$", self.q[:m.start()], re.I):
                continue  # "papers of 2021" yes; "the results of 2021 experiments" no
            self.filters["year"] = {"after": f">{y}", "since": f">={y}", "before": f"<{y}", "until": f"<={y}"}.get(prep, y)
            self.take(m.start(), m.end())
            return

    # ------------------------------------------------------------------ presentation type

    def types(self) -> None:
        if re.search(r"\b(?:oral|spotlight|poster)s?\b.{0,40}\bor\b.{0,12}\b(?:oral|spotlight|poster)s?\b", self.q, re.I) or \
                re.match(r"\s*(?:was|is|were|did|does|has|had)\b", self.q, re.I) or \
                re.search(r"\b(?:presentation\s+type|which\s+type|what\s+type|presented\s+as\s+what)\b", self.q, re.I):
            return  # the type is asked about ("was it an oral or a poster?"), not a restriction
        found: list[str] = []
        plural = re.compile(r"\b(orals|spotlights|posters)\b", re.I)
        for m in plural.finditer(self.q):
            rest = self.q[m.end():]
            if not (re.match(_END, rest) or re.match(rf"\s*(?:{_AFTER_OK})", rest, re.I)):
                continue  # "spotlights the role of": a verb
            if re.match(r"\s*(?:the|a|an|its|their|how|what|why)\b", rest, re.I):
                continue
            found.append(_TYPES[m.group(1).lower()[:-1]])
            self.take(m.start(), m.end())
        single = re.compile(r"\b(?:(as\s+(?:an?\s+)?|an?\s+)?)\b(oral|spotlight|poster)\b(\s+(?:papers?|talks?|sessions?|presentations?|slots?|tracks?))?", re.I)
        for m in single.finditer(self.q):
            if not self.free(m.start(), m.end()):
                continue
            lead, noun = m.group(1), m.group(3)
            rest = self.q[m.end():]
            if noun:
                if re.match(r"presentation", noun.strip(), re.I) and re.match(r"\s+of\b", rest, re.I):
                    continue  # "oral presentation of results"
            elif re.match(r"\s*(?:,|and|or)\s+(?:an?\s+)?(?:oral|spotlight|poster)s?\s+(?:papers?|talks?|presentations?)\b", rest, re.I):
                pass  # "spotlight and oral papers"
            elif not (lead and (re.match(_END, rest) or re.match(rf"\s*(?:{_AFTER_OK})", rest, re.I))):
                continue  # "oral health", "poster child", "in the spotlight"
            t = _TYPES[m.group(2).lower()]
            if t not in found:
                found.append(t)
            self.take(m.start(), m.end())
        if found:
            self.filters["type"] = found

    # ------------------------------------------------------------------ author

    def author(self) -> None:
        surnames = self.vocab.surnames()
        full = {a.lower(): a for a in self.vocab.authors}
        name_tok = r"[A-Za-zÀ-ÿ][\w'.\-À-ÿ]*"
        rx = re.compile(rf"\b((?:co-?)?authored\s+by|written\s+by|by|from)\s+((?:{name_tok}\s+){{0,3}}{name_tok})", re.I)
        for m in rx.finditer(self.q):
            words = m.group(2).split()
            # a surname alone is a name only after "papers by", "work by", "written by" ("trained by Adam" is not)
            by_paper = m.group(1).lower() != "by" or bool(re.search(rf"\b{_PAPER_WORDS}\s*$", self.q[:m.start()], re.I))
            # the longest run of leading words that names an author of the index
            for n in range(len(words), 0, -1):
                cand = " ".join(words[:n]).rstrip("'s").rstrip(".,?")
                low = cand.lower()
                if low in full and (n > 1 or cand[:1].isupper()):
                    name = full[low]
                elif n == 1 and cand[:1].isupper() and low in surnames and m.group(1).lower() != "from" and by_paper:
                    name = cand
                elif n == 2 and by_paper and all(w[:1].isupper() for w in words[:2]) and words[1].lower() in surnames \
                        and any(a.lower().startswith(words[0].lower().rstrip(".")) for a in surnames[words[1].lower()]):
                    name = f"{words[0]} {words[1]}".rstrip(".,?")
                    name = words[1].rstrip(".,?") if "." in words[0] else name
                else:
                    continue
                end = m.start(2) + len(" ".join(words[:n]))
                self.filters["author"] = name
                self.take(m.start(), end)
                return
        poss = re.compile(rf"\b({name_tok}(?:\s+{name_tok})?)'s\s+(?:{_PAPER_WORDS}|research|group|lab)\b")
        for m in poss.finditer(self.q):
            cand = m.group(1)
            words = cand.split()
            if cand.lower() in full:
                name = full[cand.lower()]
            elif words[-1][:1].isupper() and words[-1].lower() in surnames:
                name = words[-1]
            else:
                continue
            self.filters["author"] = name
            self.take(m.start(), m.start(1) + len(cand) + 2)
            return

    # ------------------------------------------------------------------ session

    def session(self) -> None:
        rx = re.compile(r"\b(?:(?:in|at|from|during|of)\s+)?the\s+(.{2,80}?)\s+session\b", re.I)
        for m in rx.finditer(self.q):
            phrase = re.sub(r"\s+", " ", m.group(1)).strip(" \"'“”")
            # the phrase may start earlier than the session name ("papers in the deep learning")
            words = phrase.split()
            for i in range(len(words)):
                cand = " ".join(words[i:]).lower()
                exact = [s for s in self.vocab.sessions if s.lower() == cand]
                part = [s for s in self.vocab.sessions if cand in s.lower()] if len(cand) >= 4 else []
                hit = exact or part
                if hit:
                    self.filters["session"] = hit
                    self.take(m.start(), m.end())
                    return


def read_filters(question: str, vocab: Vocabulary) -> ReadFilters:
    """The filters the question states in words, and the question without those words."""
    r = _Reader(question, vocab)
    r.session()
    r.venues()
    r.years()
    r.types()
    r.author()
    text = question
    for s, e in sorted(r.cut, reverse=True):
        text = text[:s] + " " + text[e:]
    text = re.sub(r"\s+([,.;:?!])", r"\1", re.sub(r"\s+", " ", text)).strip()
    if len(re.findall(r"\w{3,}", text)) < 1:
        text = question  # nothing left to search: keep the whole question
    return ReadFilters(question=question, text=text, filters=r.filters, phrases=r.phrases)


class Hits(list):
    """The hit list of :meth:`rag.pipeline.Pipeline.retrieve`, with the filters it read from the
    question (``read_filters``; None when reading was off or found nothing it applied)."""

    read_filters: ReadFilters | None = None


def merge(read: dict, explicit: dict) -> dict:
    """The read filters under the explicit ones: a field the caller set (not None/empty) wins."""
    out = {k: v for k, v in read.items()}
    out.update({k: v for k, v in explicit.items() if v not in (None, "", [], ())})
    return out
