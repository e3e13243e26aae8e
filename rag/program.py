"""Program questions answered from the structured records, not from abstracts.

"Which talks shared a session with …", "what was scheduled right after …", "which session had the
most orals", "when was … presented", "who moderated …": the answer is in the conference program
(each paper's session and time slot, parsed by :mod:`rag.corpus` from session pages, and each
session page's header: room, moderator, time), which an abstract never states. :func:`answer_program`
recognises such a question, finds the paper or session it names and returns a
:class:`ProgramAnswer` (the answer text and the papers it is about); any other question gets None
and goes the usual way.

The paper a question names is found by the caller's ``find`` function (the pipeline passes its
hybrid search restricted to scheduled papers); a session is found by its name in the question.
Within a session, talks are ordered by their time slot (day, start time), then by their place in
the source file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .models import Paper


@dataclass
class SessionInfo:
    """One session of the program: its name and what its page's header says."""

    name: str
    room: str | None = None
    moderator: str | None = None
    when: str | None = None


@dataclass
class ProgramAnswer:
    """The answer to a program question: ``text`` (plain sentences), the ``papers`` it is about,
    and the ``kind`` of question (session_mates, next, previous, most, when, moderator)."""

    kind: str
    text: str
    papers: list[Paper] = field(default_factory=list)


_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def slot_key(p: Paper) -> tuple:
    """Sort key of a talk: (month, day, minutes from midnight of its start), then its source line."""
    line = p.sources[0].line if p.sources else 0
    m = re.match(r"\w+\s+(\d{1,2})\s+([A-Za-z]{3})\w*\s+(\d{1,2})(?::(\d\d))?\s*([ap])?", p.time or "")
    if not m:
        return (99, 99, 9999, line)
    hour, minute = int(m.group(3)), int(m.group(4) or 0)
    if m.group(5) == "p" and hour < 12:
        hour += 12
    return (_MONTHS.get(m.group(2).lower(), 99), int(m.group(1)), hour * 60 + minute, line)


def read_session_headers(manifest: Path) -> dict[str, SessionInfo]:
    """Session name → room, moderator and time range from the header of each session page of the
    manifest (the lines before its first time slot)."""
    from .corpus import _SESSION_CHROME, _SLOT, load_manifest

    out: dict[str, SessionInfo] = {}
    for src in load_manifest(Path(manifest)):
        if src.format != "session_page":
            continue
        try:
            lines = Path(src.path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        first = next((i for i, line in enumerate(lines) if _SLOT.match(line.strip())), len(lines))
        header = [line.strip() for line in lines[:first] if line.strip()]
        name = next((h for h in header if not _SESSION_CHROME.match(h)), None)
        if not name:
            continue
        info = SessionInfo(name)
        for h in header:
            if m := re.match(r"Moderator\s*:\s*(.+)", h):
                info.moderator = m.group(1).strip()
            elif re.match(r"(Ballroom|Room|Hall|Exhibit|Auditorium|Virtual)\b", h):
                info.room = h
            elif re.match(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\w* \d", h) and info.when is None:
                info.when = h
        out[name] = info
    return out


# ---------------------------------------------------------------- recognising the question

_PATTERNS = [
    ("session_mates", re.compile(r"\b(?:shared?|sharing)\s+(?:a|the|its|their)?\s*session\s+with\b|\bsame\s+session\s+(?:as|with)\b|"
                                 r"\b(?:other|which)\s+(?:talks?|papers?|presentations?)\s+(?:were|was)?\s*(?:in|at)\s+(?:the\s+)?same\s+session\b|"
                                 r"\bpresented\s+(?:alongside|together\s+with)\b", re.I)),
    ("next", re.compile(r"\b(?:scheduled|presented|came|comes|talk|was|is|given)\s+(?:\w+\s+)?(?:right|immediately|directly|just)?\s*after\b|"
                        r"\b(?:followed|follows)\b|\bnext\s+(?:talk|paper|presentation)\s+after\b", re.I)),
    ("previous", re.compile(r"\b(?:scheduled|presented|came|comes|talk|was|is|given)\s+(?:\w+\s+)?(?:right|immediately|directly|just)?\s*before\b|"
                            r"\bpreceded\b|\bpreceding\b", re.I)),
    ("most", re.compile(r"\bwhich\s+session\s+(?:had|has|contained|contains|included|includes|featured)\s+the\s+"
                        r"(most|fewest|largest\s+number\s+of|smallest\s+number\s+of|highest\s+number\s+of)\s+"
                        r"(orals?|spotlights?|posters?|papers?|talks?|presentations?)\b", re.I)),
    ("moderator", re.compile(r"\bwho\s+(?:moderated|chaired|hosted|was\s+(?:the\s+)?(?:moderator|chair))\b|\bmoderator\s+of\b", re.I)),
    ("when", re.compile(r"^\s*(?:when|what\s+time|at\s+what\s+time|on\s+which\s+day|which\s+day|what\s+day)\b.*\b(?:presented|scheduled|given|talk|held|take\s+place|slot)\b|"
                        r"\b(?:in\s+)?(?:which|what)\s+(?:[\w']+\s+){0,3}(?:session|time\s+slot|slot)(?:\s+and\s+(?:time\s+slot|slot|time|day))?\s+(?:was|is|did)\b|"
                        r"\b(?:which|what)\s+(?:[\w']+\s+){0,3}session\s+(?:featured|included|had|contained|hosted|presented)\s+"
                        r"(?:the|a)\s+(?:paper|talk|work|presentation)\b", re.I)),
]


def recognise(question: str) -> tuple[str, re.Match] | None:
    """The kind of program question ``question`` is, with the match; None for any other question."""
    for kind, rx in _PATTERNS:
        m = rx.search(question)
        if m:
            return kind, m
    return None


# ---------------------------------------------------------------- answering

class Program:
    """The conference program of an index: scheduled papers by session, and session headers."""

    def __init__(self, papers: list[Paper], sessions: dict[str, SessionInfo] | None = None):
        self.by_session: dict[str, list[Paper]] = {}
        for p in papers:
            if p.session:
                self.by_session.setdefault(p.session, []).append(p)
        for talks in self.by_session.values():
            talks.sort(key=slot_key)
        self.sessions = {name: (sessions or {}).get(name) or SessionInfo(name) for name in self.by_session}

    @property
    def scheduled(self) -> list[Paper]:
        return [p for talks in self.by_session.values() for p in talks]

    def named_session(self, question: str) -> str | None:
        """The session whose name the question contains (the longest such name)."""
        q = question.lower()
        named = [s for s in self.sessions if s.lower() in q]
        return max(named, key=len) if named else None

    @staticmethod
    def _where(p: Paper) -> str:
        return f"{p.time}" if p.time else "at an unknown time"

    def answer(self, question: str, find: Callable[[str], Paper | None]) -> ProgramAnswer | None:
        got = recognise(question)
        if got is None or not self.by_session:
            return None
        kind, m = got
        if kind == "most":
            return self._most(m)
        if kind == "moderator":
            name = self.named_session(question)
            paper = None if name else find(question)
            name = name or (paper.session if paper else None)
            if not name:
                return None
            info = self.sessions[name]
            if not info.moderator:
                return ProgramAnswer(kind, f"The program does not name a moderator for the session \u201c{name}\u201d.",
                                     [paper] if paper else [])
            room = f" ({info.room}{', ' + info.when if info.when else ''})" if info.room else ""
            return ProgramAnswer(kind, f"The session \u201c{name}\u201d{room} was moderated by {info.moderator}.",
                                 [paper] if paper else [])
        paper = find(question)
        if paper is None or not paper.session:
            return None
        talks = self.by_session[paper.session]
        i = next((n for n, p in enumerate(talks) if p.id == paper.id), None)
        if i is None:
            return None
        if kind == "session_mates":
            mates = [p for p in talks if p.id != paper.id]
            listed = "; ".join(f"\u201c{p.title}\u201d ({self._where(p)})" for p in mates)
            return ProgramAnswer(kind, f"\u201c{paper.title}\u201d was presented in the session \u201c{paper.session}\u201d "
                                       f"with {len(mates)} other talk{'s' if len(mates) != 1 else ''}: {listed}.", [paper, *mates])
        if kind in ("next", "previous"):
            j = i + 1 if kind == "next" else i - 1
            if not 0 <= j < len(talks):
                edge = "last" if kind == "next" else "first"
                return ProgramAnswer(kind, f"\u201c{paper.title}\u201d ({self._where(paper)}) was the {edge} talk of the session "
                                           f"\u201c{paper.session}\u201d.", [paper])
            other = talks[j]
            rel = "right after" if kind == "next" else "right before"
            return ProgramAnswer(kind, f"\u201c{other.title}\u201d ({self._where(other)}) was scheduled {rel} \u201c{paper.title}\u201d "
                                       f"({self._where(paper)}) in the session \u201c{paper.session}\u201d.", [other, paper])
        # when / which session
        info = self.sessions[paper.session]
        room = f", {info.room}" if info.room else ""
        return ProgramAnswer("when", f"\u201c{paper.title}\u201d was presented {self._where(paper)} in the session "
                                     f"\u201c{paper.session}\u201d{room}.", [paper])

    def _most(self, m: re.Match) -> ProgramAnswer:
        fewest = m.group(1).lower().startswith(("fewest", "smallest"))
        what = m.group(2).lower().rstrip("s")
        ptype = {"oral": "Oral", "spotlight": "Spotlight", "poster": "Poster"}.get(what)

        def count(name: str) -> int:
            return sum(1 for p in self.by_session[name] if ptype is None or p.type == ptype)

        counts = {name: count(name) for name in self.by_session}
        best = (min if fewest else max)(counts.values())
        top = sorted(n for n, c in counts.items() if c == best)
        noun = f"{what}s" if what != "presentation" else "presentations"
        others = "; ".join(f"\u201c{n}\u201d {c}" for n, c in sorted(counts.items(), key=lambda x: -x[1]) if n not in top)
        text = (f"{' and '.join(f'“{n}”' for n in top)} had the {'fewest' if fewest else 'most'} {noun}: {best}"
                + (f" (the other sessions: {others})." if others else "."))
        if ptype and best == 0:
            text = f"No session of the program lists {noun}."
        return ProgramAnswer("most", text, [p for n in top for p in self.by_session[n] if ptype is None or p.type == ptype])
