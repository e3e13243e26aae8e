"""Source files → paper records.

One parser per text format (conference session page, OpenReview-style markdown list, paper-feed
page) plus JSONL and CSV importers. Parsers never raise on a bad entry: they yield the good
entries and record a :class:`Problem` (file, line, reason) for each one they skip, so one bad line
loses nothing else. :func:`load_corpus` reads the manifest, parses every source and merges the
listings of one paper (same normalized title) into one :class:`~rag.models.Paper`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import CorpusError
from .models import PRESENTATION_TYPES, Paper, SourceRef, normalize_title, paper_id
from .sanitize import sanitize_source

FORMATS = ("session_page", "openreview_md", "paper_feed", "jsonl", "csv")
YEARS = (1900, 2100)  # a year outside this range is a data error
MAX_TITLE = 500  # characters; a longer "title" is a parsing accident
MAX_ABSTRACT = 20_000


@dataclass(frozen=True)
class Source:
    """One manifest entry: a file, its format and what the file does not say itself."""

    label: str
    path: Path
    format: str
    venue: str | None = None
    year: int | None = None
    type: str | None = None
    error: str | None = None  # why the manifest entry cannot be read (the source is then skipped)


@dataclass(frozen=True)
class Problem:
    """Something skipped while parsing, with where and why."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Corpus:
    """The parsed corpus: every entry per source, the merged papers, and what was skipped.

    ``failed`` names the sources that could not be read (missing, unreadable, not text, empty, no
    paper found) with the reason: their papers are not in ``papers``, and the indexer keeps the
    ones already indexed instead of deleting them (:meth:`keep_indexed`)."""

    sources: list[Source]
    entries: dict[str, list[Paper]]
    papers: list[Paper]
    problems: list[Problem] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def n_entries(self) -> int:
        return sum(len(v) for v in self.entries.values())

    def stats(self) -> dict:
        types = Counter(p.type or "unknown" for p in self.papers)
        venues = Counter(" ".join(str(x) for x in (p.venue, p.year) if x) or "unknown" for p in self.papers)
        return {
            "entries": self.n_entries,
            "papers": len(self.papers),
            "sources": {label: len(v) for label, v in self.entries.items()},
            "types": dict(sorted(types.items())),
            "venues": dict(sorted(venues.items())),
            "problems": [str(p) for p in self.problems],
            "failed": dict(self.failed),
        }

    def keep_indexed(self, indexed: list[Paper]) -> dict[str, int]:
        """Put back the listings of every failed source from the ``indexed`` paper records, so that
        a source that cannot be read never deletes its papers. Returns papers kept per source."""
        kept: dict[str, int] = {}
        for label in self.failed:
            listed = [replace(p, sources=tuple(s for s in p.sources if s.label == label))
                      for p in indexed if any(s.label == label for s in p.sources)]
            self.entries[label] = listed
            kept[label] = len(listed)
        if any(kept.values()):
            self.papers = merge([p for v in self.entries.values() for p in v])
        return kept


# ---------------------------------------------------------------- text cleaning

_MD_ESCAPE = re.compile(r"\\+([$()\[\]_*#`{}.!|<>~+-])")
_MD_LINK = re.compile(r"^\[(.*)\]\([^)]*\)$")


def clean_title(raw: str) -> str:
    """Strip markdown wrapping (``[Title](#)``) and markdown escapes (``\\$``, ``\\(``, ``\\_``),
    control characters and prompt delimiters."""
    t = sanitize_source(raw).strip()
    m = _MD_LINK.match(t)
    if m:
        t = m.group(1)
    t = _MD_ESCAPE.sub(r"\1", t)
    return re.sub(r"\s+", " ", t).strip()


def clean_text(raw: str) -> str:
    """Collapse runs of spaces inside each paragraph, keep paragraph breaks; no control characters
    or prompt delimiters."""
    paras = [re.sub(r"[ \t\u00a0]+", " ", p).strip() for p in re.split(r"\n\s*\n", sanitize_source(raw))]
    return "\n\n".join(p for p in paras if p)


def clean_field(raw: str | None) -> str | None:
    """A one-line field (author, venue, session, url …): cleaned, spaces collapsed, None when empty."""
    if raw is None:
        return None
    return re.sub(r"\s+", " ", sanitize_source(raw)).strip() or None


def split_authors(raw: str, sep: str) -> tuple[str, ...]:
    return tuple(a for a in (clean_field(x) for x in raw.split(sep)) if a)


def normalize_type(raw: str | None) -> str | None:
    if not raw:
        return None
    for t in PRESENTATION_TYPES:
        if raw.strip().lower() == t.lower():
            return t
    return raw.strip()


# ---------------------------------------------------------------- reading files

def looks_binary(data: bytes) -> str | None:
    """Why ``data`` is not a text file (an executable, NUL bytes, mostly non-text bytes), or None."""
    head = data[:65536]
    if head.startswith((b"\x7fELF", b"MZ", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"PK\x03\x04", b"%PDF", b"\x1f\x8b")):
        return "a binary file (executable, archive or PDF), not text"
    if head.count(b"\x00") > max(8, len(head) // 100):
        return "a binary file (it is full of NUL bytes), not text"
    text = head.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") + sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r\f")
    if text and bad > 0.1 * len(text):
        return "a binary file (mostly bytes that are not text), not text"
    return None


def read_text_file(path: Path) -> bytes:
    """The bytes of a source file that is text; :class:`CorpusError` for unreadable or binary files."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CorpusError(f"{path}: cannot read source file ({e.strerror or e})") from e
    if why := looks_binary(data):
        raise CorpusError(f"{path}: {why}")
    return data


def read_lines(path: Path, problems: list[Problem]) -> list[str]:
    """The file's lines. Bytes that are not UTF-8 are reported with their line and replaced."""
    data = read_text_file(path)
    lines = []
    for i, raw in enumerate(data.split(b"\n"), 1):
        try:
            lines.append(raw.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as e:
            problems.append(Problem(str(path), i, f"bytes that are not UTF-8 at column {e.start + 1}; replaced with U+FFFD"))
            lines.append(raw.decode("utf-8", errors="replace").rstrip("\r"))
    if lines and lines[-1] == "":
        lines.pop()
    if not any(line.strip() for line in lines):
        problems.append(Problem(str(path), 1, "file is empty"))
        return []
    return lines


def _paragraphs(lines: list[str], start: int, end: int) -> list[tuple[int, str]]:
    """(1-based line number, text) of the non-blank lines in lines[start:end]."""
    return [(i + 1, lines[i].strip()) for i in range(start, end) if lines[i].strip()]


# ---------------------------------------------------------------- session pages

_SLOT = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\w* \d{1,2} [A-Z][a-z]+ \d{1,2}(:\d\d)?( ?[ap]\.?m\.?)? ?[-–—] ?\d{1,2}(:\d\d)?( ?[ap]\.?m\.?)? [A-Z]{2,4}$")
_SESSION_CHROME = re.compile(
    r"^(Skip to .*|Chat is not available\.?|Moderator\s*:.*|(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\w* \d.*|"
    r"(Ballroom|Room|Hall|Exhibit|Auditorium|Virtual)\b.*)$"
)


def parse_session_page(path: Path, src: Source, problems: list[Problem]) -> Iterator[Paper]:
    """Conference session page: header (session name, room, moderator, chrome), then per paper a
    time-slot line, the title, an authors line separated by `` · `` and the abstract."""
    lines = read_lines(path, problems)
    slots = [i for i, line in enumerate(lines) if _SLOT.match(line.strip())]
    if lines and not slots:
        problems.append(Problem(str(path), 1, "no time-slot lines found: is this a session page?"))
        return
    header = [line.strip() for line in lines[: slots[0] if slots else 0] if line.strip()]
    session = next((h for h in header if not _SESSION_CHROME.match(h)), None)
    is_oral = bool(session and re.search(r"\boral\b", session, re.I))
    ptype = src.type or ("Oral" if is_oral else None)
    for n, s in enumerate(slots):
        end = slots[n + 1] if n + 1 < len(slots) else len(lines)
        body = [(ln, t) for ln, t in _paragraphs(lines, s + 1, end) if not _SESSION_CHROME.match(t)]
        if not body:
            problems.append(Problem(str(path), s + 1, "time slot with no paper after it; skipped"))
            continue
        (title_line, title), rest = body[0], body[1:]
        authors: tuple[str, ...] = ()
        if rest and (" · " in rest[0][1] or (len(rest) > 1 and len(rest[0][1]) < 200)):
            authors = split_authors(rest[0][1], " · ")
            rest = rest[1:]
        if not rest:
            problems.append(Problem(str(path), title_line, f"entry {clean_title(title)!r} has no abstract; skipped"))
            continue
        yield Paper(
            id=paper_id(clean_title(title)), title=clean_title(title), authors=authors,
            abstract=clean_text("\n\n".join(t for _, t in rest)),
            venue=src.venue, year=src.year, type=ptype, session=clean_field(session),
            time=clean_field(lines[s]), sources=(SourceRef(src.label, path.name, title_line),),
        )


# ---------------------------------------------------------------- OpenReview-style markdown list

_ABSTRACT = re.compile(r"^- abstract@\[open-review\\?\((?P<type>[^)\\]*)\\?\)\]\([^)]*\):\s*(?P<text>.*)$")


def parse_openreview_md(path: Path, src: Source, problems: list[Problem]) -> Iterator[Paper]:
    """``## [Title](#)`` (or ``## Title``), ``- authors, comma separated``,
    ``- abstract@[open-review\\(Poster)](#): text``, and continuation paragraphs without ``- ``."""
    lines = read_lines(path, problems)
    heads = [i for i, line in enumerate(lines) if line.startswith("## ")]
    if lines and not heads:
        problems.append(Problem(str(path), 1, "no '## Title' lines found: is this an OpenReview list?"))
    for n, h in enumerate(heads):
        end = heads[n + 1] if n + 1 < len(heads) else len(lines)
        title = clean_title(lines[h][3:])
        authors: tuple[str, ...] = ()
        ptype = None
        parts: list[str] = []
        in_abstract = False
        for ln, text in _paragraphs(lines, h + 1, end):
            m = _ABSTRACT.match(text)
            if m:
                ptype, in_abstract = normalize_type(m.group("type")), True
                parts.append(m.group("text"))
            elif in_abstract:
                parts.append(text)
            elif text.startswith("- ") and not authors:
                authors = split_authors(text[2:], ",")
            else:
                problems.append(Problem(str(path), ln, f"unexpected line in entry {title!r}; ignored"))
        abstract = clean_text("\n\n".join(p for p in parts if p.strip()))
        if not title:
            problems.append(Problem(str(path), h + 1, "entry with an empty title; skipped"))
            continue
        if not abstract:
            problems.append(Problem(str(path), h + 1, f"entry {title!r} has no abstract; skipped"))
            continue
        yield Paper(id=paper_id(title), title=title, authors=authors, abstract=abstract,
                    venue=src.venue, year=src.year, type=ptype or src.type,
                    sources=(SourceRef(src.label, path.name, h + 1),))


# ---------------------------------------------------------------- paper feed

_FEED_CHROME = re.compile(
    r"^(new|Get trending papers.*|Subscribe|by\s*AK and the research community|"
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{1,2}(, \d{4})?|Trending Papers|Daily Papers)$",
    re.I,
)


def parse_paper_feed(path: Path, src: Source, problems: list[Problem]) -> Iterator[Paper]:
    """Feed page: chrome at the top, then per paper a title line and an abstract paragraph.
    A title is a short line not ending in a full stop; the following long lines are its abstract."""
    lines = read_lines(path, problems)
    blocks = [(ln, t) for ln, t in _paragraphs(lines, 0, len(lines)) if not _FEED_CHROME.match(t)]
    i = 0
    while i < len(blocks):
        ln, title = blocks[i]
        body = []
        j = i + 1
        while j < len(blocks) and _looks_like_abstract(blocks[j][1]):
            body.append(blocks[j][1])
            j += 1
        if _looks_like_abstract(title):
            problems.append(Problem(str(path), ln, "paragraph with no title line before it; skipped"))
        elif not body:
            problems.append(Problem(str(path), ln, f"entry {clean_title(title)!r} has no abstract; skipped"))
        else:
            t = clean_title(title)
            yield Paper(id=paper_id(t), title=t, abstract=clean_text("\n\n".join(body)),
                        venue=src.venue, year=src.year, type=src.type,
                        sources=(SourceRef(src.label, path.name, ln),))
        i = max(j, i + 1)


def _looks_like_abstract(text: str) -> bool:
    return len(text) >= 250 or (len(text) > 120 and text.rstrip().endswith((".", ":")))


# ---------------------------------------------------------------- JSONL and CSV

_TEXT_FIELDS = ("venue", "type", "session", "time", "url")


def _kind(v: object) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", int: "a number", float: "a number"}.get(type(v), type(v).__name__)


def _year(v: object) -> int | None:
    """A year from an int, an integral float or a string of digits; ValueError otherwise."""
    if v is None or v == "":
        return None
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise ValueError
    if isinstance(v, float) and not v.is_integer():
        raise ValueError
    if isinstance(v, str) and not re.fullmatch(r"\s*\d{1,4}(\.0+)?\s*", v):
        raise ValueError
    y = int(float(v)) if isinstance(v, float | str) else v
    if not YEARS[0] <= y <= YEARS[1]:
        raise ValueError
    return y


def _record_to_paper(rec: dict, src: Source, file: str, line: int, problems: list[Problem]) -> Paper | None:
    """A JSONL/CSV record as a paper, every field type-checked: a record with a field of the wrong
    type or out of bounds is skipped (reported with file and line), never half-read."""
    norm: dict[str, object] = {}
    for k, v in rec.items():  # keys compared case-blind; of two spellings the first non-empty value wins
        key = str(k).strip().lower()
        if k is not None and norm.get(key) in (None, ""):
            norm[key] = v
    rec = norm

    def skip(why: str) -> Paper | None:
        problems.append(Problem(file, line, f"{why}; record skipped"))
        return None

    for name in ("title", "abstract"):
        if rec.get(name) is not None and not isinstance(rec[name], str):
            return skip(f"field {name!r} is {_kind(rec[name])}, not text")
    title = clean_title(str(rec.get("title") or ""))
    abstract = clean_text(str(rec.get("abstract") or ""))
    if not title:
        return skip("record has no title")
    if not normalize_title(title):
        return skip(f"title {title[:80]!r} has no letters or digits")
    if len(title) > MAX_TITLE:
        return skip(f"title is {len(title)} characters long (at most {MAX_TITLE})")
    if not abstract:
        return skip(f"record {title[:80]!r} has no abstract")
    if len(abstract) > MAX_ABSTRACT:
        return skip(f"abstract of {title[:80]!r} is {len(abstract)} characters long (at most {MAX_ABSTRACT})")
    authors = rec.get("authors")
    if isinstance(authors, str):
        authors = split_authors(authors, ";" if ";" in authors else ("·" if "·" in authors else ","))
    elif isinstance(authors, list) and all(isinstance(a, str) for a in authors):
        authors = tuple(a for a in (clean_field(x) for x in authors) if a)
    elif authors is not None:
        return skip(f"field 'authors' is {_kind(authors)}, not text or a list of names")
    fields = {}
    for name in _TEXT_FIELDS:
        v = rec.get(name)
        if v is not None and not isinstance(v, str):
            return skip(f"field {name!r} is {_kind(v)}, not text")
        fields[name] = clean_field(v)
    try:
        year = _year(rec.get("year"))
    except (ValueError, OverflowError):
        shown = repr(rec.get("year"))
        return skip(f"year {shown[:40]}{'…' if len(shown) > 40 else ''} is not a year from {YEARS[0]} to {YEARS[1]}")
    return Paper(
        id=paper_id(title), title=title, abstract=abstract, authors=tuple(authors or ()),
        venue=fields["venue"] or src.venue, year=year or src.year, type=normalize_type(fields["type"]) or src.type,
        session=fields["session"], time=fields["time"], url=fields["url"],
        sources=(SourceRef(src.label, Path(file).name, line),),
    )


def parse_jsonl(path: Path, src: Source, problems: list[Problem]) -> Iterator[Paper]:
    """One JSON object per line: ``title`` and ``abstract`` required; ``authors`` (list or string),
    ``venue``, ``year``, ``type``, ``url``, ``session``, ``time`` optional."""
    for n, line in enumerate(read_lines(path, problems), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(str(path), n, f"not valid JSON ({e.msg}); skipped"))
            continue
        except (ValueError, RecursionError) as e:  # a number too long to convert, nesting too deep
            problems.append(Problem(str(path), n, f"not readable JSON ({type(e).__name__}); skipped"))
            continue
        if not isinstance(rec, dict):
            problems.append(Problem(str(path), n, "not a JSON object; skipped"))
            continue
        if (p := _record_to_paper(rec, src, str(path), n, problems)) is not None:
            yield p


def parse_csv(path: Path, src: Source, problems: list[Problem]) -> Iterator[Paper]:
    """A CSV with a header row: ``title`` and ``abstract`` columns required, others as for JSONL."""
    lines = read_lines(path, problems)
    if not lines:
        return
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    try:
        cols = {c.strip().lower() for c in reader.fieldnames or []}
    except csv.Error as e:
        problems.append(Problem(str(path), 1, f"CSV header cannot be read ({e}); file skipped"))
        return
    missing = [c for c in ("title", "abstract") if c not in cols]
    if missing:
        problems.append(Problem(str(path), 1, f"CSV header has no {' or '.join(missing)} column (columns: {', '.join(sorted(cols))}); file skipped"))
        return
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            return
        except csv.Error as e:  # an oversized field, a stray quote: this row only
            problems.append(Problem(str(path), reader.line_num, f"CSV row cannot be read ({e}); skipped"))
            if reader.line_num >= len(lines):
                return
            continue
        if (p := _record_to_paper(rec, src, str(path), reader.line_num, problems)) is not None:
            yield p


PARSERS: dict[str, Callable[[Path, Source, list[Problem]], Iterator[Paper]]] = {
    "session_page": parse_session_page,
    "openreview_md": parse_openreview_md,
    "paper_feed": parse_paper_feed,
    "jsonl": parse_jsonl,
    "csv": parse_csv,
}


def detect_format(path: Path) -> str:
    """Guess a file's format from its extension, then its content."""
    ext = path.suffix.lower()
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    if ext == ".csv":
        return "csv"
    head = read_text_file(path)[:200_000].decode("utf-8", errors="replace")
    if re.search(r"^## ", head, re.M) and "abstract@" in head:
        return "openreview_md"
    if any(_SLOT.match(line.strip()) for line in head.splitlines()):
        return "session_page"
    if head.lstrip().startswith("{"):
        return "jsonl"
    return "paper_feed"


# ---------------------------------------------------------------- manifest

def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError, RuntimeError):
        return False


def _entry(n: int, s: object, manifest: Path, allow_outside: bool) -> Source:
    """One manifest entry as a Source; an entry that cannot be used carries the reason in ``error``."""
    if not isinstance(s, dict):
        return Source(f"#{n}", manifest, "auto", error=f"source #{n} is not a table")
    raw_path, label = s.get("path"), s.get("label")
    label = label if isinstance(label, str) and label.strip() else (Path(raw_path).stem if isinstance(raw_path, str) else f"#{n}")
    if not isinstance(raw_path, str) or not raw_path.strip():
        return Source(label, manifest, "auto", error=f"source {label!r} has no path")
    path = Path(raw_path)
    path = path if path.is_absolute() else manifest.parent / path
    bad = [k for k, t in (("format", str), ("venue", str), ("type", str), ("year", int)) if s.get(k) is not None and not isinstance(s[k], t)]
    if bad or isinstance(s.get("year"), bool) or not (s.get("year") is None or YEARS[0] <= s["year"] <= YEARS[1]):
        return Source(label, path, "auto", error=f"source {label!r} has a bad value for {', '.join(bad) or 'year'}")
    src = Source(label=label, path=path, format=s.get("format") or "auto", venue=clean_field(s.get("venue")),
                 year=s.get("year"), type=clean_field(s.get("type")))
    if not allow_outside and not _inside(path, manifest.parent):
        return replace(src, error=f"path {raw_path!r} is outside the manifest's folder {manifest.parent.resolve()} "
                                  "(pass --allow-outside, or RAG_ALLOW_OUTSIDE_SOURCES=true, to read it)")
    return src


def load_manifest(manifest: Path, *, allow_outside: bool = False) -> list[Source]:
    """Read the TOML manifest. Paths are relative to the manifest's folder and must resolve inside
    it unless ``allow_outside``; an entry that cannot be used is kept with its ``error`` (reported
    when parsing, its papers kept in the index) so one bad entry never stops the others."""
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise CorpusError(f"manifest {manifest} not found") from e
    except OSError as e:
        raise CorpusError(f"manifest {manifest} cannot be read ({e.strerror or e})") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CorpusError(f"manifest {manifest} is not valid TOML: {e}") from e
    entries = data.get("source", [])
    if not isinstance(entries, list):
        raise CorpusError(f"manifest {manifest}: 'source' must be a list of [[source]] tables")
    out = [_entry(n, s, manifest, allow_outside) for n, s in enumerate(entries, 1)]
    labels = Counter(s.label for s in out)
    if dup := [lab for lab, c in labels.items() if c > 1]:
        raise CorpusError(f"manifest {manifest}: duplicate source label(s) {', '.join(dup)}")
    return out


def add_source(manifest: Path, path: Path, *, format: str | None = None, label: str | None = None,
               venue: str | None = None, year: int | None = None, type: str | None = None,
               allow_outside: bool = False) -> Source:
    """Register a file as a new source: append an entry to the manifest (idempotent by path).
    The file is parsed first: one that is not text in a known format, lists no paper, or lies
    outside the manifest's folder (unless ``allow_outside``) is refused and the manifest is left alone."""
    path = path.resolve()
    if not path.is_file():
        raise CorpusError(f"{path}: no such file")
    if not allow_outside and not _inside(path, manifest.parent):
        raise CorpusError(f"{path} is outside the manifest's folder {manifest.parent.resolve()}; "
                          "copy it there, or pass --allow-outside to register it where it is")
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise CorpusError(f"{path}: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if year is not None and not YEARS[0] <= year <= YEARS[1]:
        raise CorpusError(f"year {year} is not between {YEARS[0]} and {YEARS[1]}")
    existing = load_manifest(manifest, allow_outside=True) if manifest.exists() else []
    for s in existing:
        if s.path.resolve() == path:
            return s
    problems: list[Problem] = []
    papers = PARSERS[fmt](path, Source("new", path, fmt, venue, year, type), problems)
    if next(iter(papers), None) is None:
        why = f" ({problems[0].message})" if problems else ""
        raise CorpusError(f"{path}: no paper found as {fmt}{why}; nothing registered")
    taken = {s.label for s in existing}
    base = label or re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "source"
    lab, n = base, 1
    while lab in taken:
        n += 1
        lab = f"{base}-{n}"
    try:
        rel = path.relative_to(manifest.parent.resolve())
    except ValueError:
        rel = path
    entry = [f'\n[[source]]\nlabel = {json.dumps(lab)}\npath = {json.dumps(str(rel))}\nformat = {json.dumps(fmt)}\n']
    if venue:
        entry.append(f"venue = {json.dumps(venue)}\n")
    if year:
        entry.append(f"year = {int(year)}\n")
    if type:
        entry.append(f"type = {json.dumps(type)}\n")
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with manifest.open("a", encoding="utf-8") as f:
        f.write("".join(entry))
    return Source(lab, path, fmt, venue, year, type)


# ---------------------------------------------------------------- parse and merge

def parse_source(src: Source, problems: list[Problem]) -> list[Paper]:
    """Every entry of one source, in file order. A source that cannot be read (bad manifest entry,
    unknown format, missing, unreadable or binary file) is reported and gives no entries."""
    if src.error:
        problems.append(Problem(str(src.path), 0, f"{src.error}; source skipped"))
        return []
    if not src.path.is_file():
        why = "not a regular file" if src.path.exists() else "file not found"
        problems.append(Problem(str(src.path), 0, f"{why}; source skipped"))
        return []
    try:
        fmt = detect_format(src.path) if src.format == "auto" else src.format
        parser = PARSERS.get(fmt)
        if parser is None:
            problems.append(Problem(str(src.path), 0, f"unknown format {src.format!r} (known: {', '.join(FORMATS)}); source skipped"))
            return []
        papers = list(parser(src.path, src, problems))
    except CorpusError as e:
        problems.append(Problem(str(src.path), 0, f"{str(e).removeprefix(f'{src.path}: ')}; source skipped"))
        return []
    out = []
    for p in papers:
        if len(p.title) > MAX_TITLE or not normalize_title(p.title):
            problems.append(Problem(str(src.path), p.sources[0].line, f"title {p.title[:80]!r}… is not a title; skipped"))
        else:
            out.append(p)
    return out


def _abstract_quality(p: Paper) -> tuple:
    a = p.abstract.rstrip()
    ends_clean = a.endswith((".", "!", "?", ")", '"', "”")) and not re.search(r"(available at|code is at|github)[:.]?$", a, re.I)
    return (ends_clean, -a.count("\\"), len(a))


def merge(papers: list[Paper]) -> list[Paper]:
    """One record per paper id. For each field the richest listing wins: fields from the listing
    that carries the most metadata first, the cleanest abstract, every source kept."""
    groups: dict[str, list[Paper]] = {}
    for p in papers:
        groups.setdefault(p.id, []).append(p)
    out = []
    for group in groups.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        ranked = sorted(group, key=lambda p: -sum(bool(getattr(p, f)) for f in ("authors", "venue", "year", "type", "session", "time", "url")))

        def first(name: str, ranked=ranked):
            return next((getattr(p, name) for p in ranked if getattr(p, name)), None)

        best = ranked[0]
        out.append(replace(
            best,
            authors=first("authors") or (), venue=first("venue"), year=first("year"), type=first("type"),
            session=first("session"), time=first("time"), url=first("url"),
            abstract=max(group, key=_abstract_quality).abstract,
            sources=tuple(s for p in group for s in p.sources),
        ))
    return out


def load_corpus(manifest: Path, extra: list[Source] | None = None, *, allow_outside: bool = False) -> Corpus:
    """Parse every source of the manifest (plus ``extra``) and merge the papers. A source that gives
    no paper (missing, unreadable, emptied, not text) is listed in ``Corpus.failed``."""
    sources = load_manifest(manifest, allow_outside=allow_outside) + list(extra or [])
    problems: list[Problem] = []
    entries, failed = {}, {}
    for s in sources:
        mine: list[Problem] = []
        entries[s.label] = parse_source(s, mine)
        problems += mine
        if not entries[s.label]:
            failed[s.label] = mine[-1].message.removesuffix("; source skipped") if mine else "no paper found"
    papers = merge([p for v in entries.values() for p in v])
    return Corpus(sources=sources, entries=entries, papers=papers, problems=problems, failed=failed)
