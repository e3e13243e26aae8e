"""Composition and checking: the answer's opening sentence, the evidence after it, and the check of
every sentence a model writes.

An answer reads: a sentence that answers (one paper: the paper and what it does; several asked for:
how many and what each contributes, one clause each, each cited; a metadata question: the metadata
line and nothing after it), then the evidence per paper: its sentences that carry the contribution,
result, name or number asked for, within a word budget. A question that asks for one thing but has
several sources is answered from the first one, whole; the others follow in an "Also related" line,
one short clause each. Every clause and sentence comes from the cited
paper's own text (a "we propose X" sentence becomes "“Title” proposes X") and is checked with
:func:`rag.support.check_support` before it is shown; a model-written sentence is shown only if it
passes the same check.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from .evidence import METADATA_INTENTS, Ranked, continues, defines, lead_clause, pronouns, shorten, unframed
from .models import Hit
from .support import PaperText, PaperTexts, check_support, parse_markers, strip_markers, with_markers
from .text import STOPWORDS, content_terms, key_tokens, words

MAX_WORDS = 96  # the answer's word budget: evidence sentences are added while it lasts
MIN_EVIDENCE = 1  # evidence sentences a one-paper answer shows even past the budget
TOP_QUOTED = 2  # the best-ranked sentences of the paper asked about quoted without a question word the answer does not say yet
BEST_OVER = 25  # words past the budget the best sentence not shown yet may take, when it says a question word not said yet
# a sentence whose ranking score (rag.evidence.rank_sentences: cosine to the question with MiniLM, word overlap, role) is
# below this is not quoted: on the 8 lookup tune files it cut 19 of 365 quoted sentences (mostly "To address these
# issues, we put forth a novel … framework"), 1 of them with an answer fact, and no fact was lost overall (0.35: −2 facts)
MIN_EVIDENCE_SCORE = 0.3
MAX_ANSWER_SENTENCES = 8
MIN_CONTENT = 2  # a sentence needs at least this many content words to state anything
MIN_NEW_TERMS = 2  # ... and this many the question does not already say
STATED_SHARE = 0.6  # an evidence sentence whose content words the answer mostly states is not quoted again
SKIPPED_ROLES = frozenset({"background", "other", "availability"})  # never quoted as evidence: they answer nothing asked
LEAD_CANDIDATES = 3  # best-ranked sentences searched for one that can open the answer
NAMED_LEAD_CANDIDATES = 6  # ... and how far down a sentence with a name the question asks about is looked for
ONE_PAPER_SENTENCES = 8  # ranked sentences of the paper asked about considered as evidence


@dataclass
class Source:
    """A cited paper, numbered as in the answer, with its ranked sentences and metadata lines."""

    n: int
    hit: Hit
    text: PaperText
    relevance: float
    ranked: Ranked
    meta: list[str] = field(default_factory=list)

    @property
    def paper(self):
        return self.hit.paper

    def lead(self) -> tuple[str | None, str | None]:
        """(clause about the paper, the sentence it comes from) from its best sentences, or (None, None).

        Preferred, in order: a sentence that gives the name a question asks for ("Which agent…": "Our method, SPR,
        trains an agent…"), the sentence that uses the most of the names the question asks about
        (FORCE, Hanabi) and of its words that are rare in the corpus, among those the one that introduces the name ("… sensitivity (FORCE)"),
        then one that names the paper's method ("we propose ANCE, which…"), then one that says what
        the paper contributes ("we propose X"), then one that does not continue an earlier sentence
        ("We then propose…"), then the best-ranked."""
        r = self.ranked
        plain = r.without_head()
        pool = plain[:LEAD_CANDIDATES]
        if r.names or r.rare:  # a sentence with the asked-for name may rank lower: it still may open the answer
            pool = list(dict.fromkeys(pool + [s for s in plain[:NAMED_LEAD_CANDIDATES] if r.carries(s)]))
        pool = list(dict.fromkeys(pool + [s for s in plain[:NAMED_LEAD_CANDIDATES] if s in r.naming]))
        found = []
        for rank, s in enumerate(pool):
            clause = lead_clause(s)
            if clause and len(words(clause)) >= 4:
                key = (not r.gives_name(s), -r.carries(s), not defines(s, r.qnames), s not in r.naming,
                       r.roles.get(s) != "contribution", continues(s), rank)
                found.append((key, clause, s))
        if not found:
            return None, None
        _, clause, s = min(found, key=lambda x: x[0])
        return clause, s


def where(p) -> str:
    """"ICLR 2021" / "ICML 2022" / "" for a paper."""
    return " ".join(str(x) for x in (p.venue, p.year) if x)


SHORT_NAME_WORDS = 6  # a title's part before its colon is its short name when it is at most this long


def short_title(title: str) -> str:
    """The name a reader uses for a paper: the part of its title before a colon or " -- " when that part
    is short ("GraphCodeBERT: Pre-training Code Representations with Data Flow" → "GraphCodeBERT",
    "Mind the Pad -- CNNs Can Develop Blind Spots" → "Mind the Pad"); else the whole title. The full
    title is on the paper's source card, which the marker after the name points to."""
    for sep in (":", " -- ", " — "):
        head, found, rest = title.partition(sep)
        if found and rest.strip() and 0 < len(head.split()) <= SHORT_NAME_WORDS:
            return head.strip()
    return title


def named(p, n: int, *, venue: bool = True, short: bool = True) -> str:
    """The paper as the subject of a sentence: “Short title” (ICLR 2021) [n]; without the venue, “Short title” [n];
    not ``short`` (a paper listed with nothing said about it: its title is all it states), the whole title."""
    at = where(p) if venue else ""
    return f"“{short_title(p.title) if short else p.title}”" + (f" ({at})" if at else "") + f" [{n}]"


def said(subject: str, clause: str) -> str:
    """``subject`` followed by ``clause`` (which may open with an aside: ", based on X, proposes…"); an aside whose
    names the subject already says is left out ("“FairFil” [3], to learn the FairFil, introduces…" → "“FairFil” [3]
    introduces…")."""
    if clause.startswith(", "):
        aside, found, rest = clause[2:].partition(", ")
        names = key_tokens(" " + aside)
        if found and names and names <= {w.lower() for w in words(subject)}:
            clause = rest
    return subject + ("" if clause.startswith(",") else " ") + clause


@dataclass
class Line:
    """One shown sentence: its text (with markers), the source numbers it cites, the source
    sentence(s) it rests on, and who wrote it (``evidence``: code, from the paper; ``model``)."""

    text: str
    cites: list[int]
    rests_on: dict[int, str]
    origin: str = "evidence"
    paragraph: int = 0  # 0: the opening; 1: evidence; 2: the "Also related" line after a one-thing answer
    clauses: dict[int, tuple] = field(default_factory=dict)  # a multi-paper opening: n → (shown part, clause, sentence)
    joins: bool = False  # continues the previous line (the same paper's next sentence): joined by a space
    head: str | None = None  # a multi-paper line: what comes before its clauses ("3 papers address this: ")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def unquoted(text: str) -> str:
    """A model's sentence without the bullets and quotes around it; a quoted title it opens with keeps its quotes."""
    text = text.strip(" -*•:\"'")
    return text if text.startswith("“") and "”" in text else text.strip("“”")


def _one_thing_of_several(sources: list[Source], want: set[str]) -> bool:
    """Several sources for a question that asks for one thing (not "which papers…", not metadata)."""
    return len(sources) > 1 and "several" not in want and not want & METADATA_INTENTS


def asked_about(sources: list[Source], want: set[str]) -> list[Source]:
    """The sources the answer is about: a question that asks for one thing (not "which papers…")
    and names it (FORCE, Hanabi) is about the one source that uses most of its names, when exactly
    one does; the others are left out of the answer. Otherwise all of them. The first of them is the
    one the opening (and a model's lead sentence) is about. Only names few papers use count
    (``Ranked.distinct``): "RL" or "GAN" in "Which approach builds RL curricula…" named the field, and the
    one source that happened to write "RL" replaced the paper that answers (blind_k, README)."""
    if not _one_thing_of_several(sources, want):
        return sources
    most = max(len(src.ranked.distinct) for src in sources)
    top = [src for src in sources if len(src.ranked.distinct) == most]
    return top if most and len(top) == 1 else sources


def lead_source(sources: list[Source], want: set[str]) -> Source | None:
    """The paper a question that asks for one thing is answered from when several are cited: the first
    retrieved. None for a question that asks for papers or for metadata, or with one source."""
    return sources[0] if _one_thing_of_several(sources, want) else None


RELATED_HEAD = "Also related: "  # before the clauses of the line that ends a one-thing answer with several sources
RELATED_CLAUSE = 18  # words of each clause in the "Also related" line after a one-thing answer


def also_related(sources: list[Source], want: set[str]) -> Line | None:
    """After a one-thing answer built from its first paper: the other cited papers, one short clause
    each ("Also related: “FedMix” [2] proposes a simple framework, … (MAFL) …; …"), so a reader sees
    what each adds when the first one is not what was asked; None when there are none."""
    sources = asked_about(sources, want)
    primary = lead_source(sources, want)
    if primary is None:
        return None
    line = several(_items([src for src in sources if src is not primary], RELATED_CLAUSE), head=RELATED_HEAD)
    return replace(line, paragraph=2)


def _telling(src: Source) -> list[str]:
    """For a paper without a "we propose…" clause: its best sentence that is not background, other people's work
    or a code link ("Spiking neural networks (SNNs) are…" says nothing of what the paper does); else its best one."""
    return [s for s in src.ranked.best(ONE_PAPER_SENTENCES) if src.ranked.roles.get(s) not in SKIPPED_ROLES][:1] or src.ranked.best(1)


def _items(sources: list[Source], max_clause: int) -> list[tuple[int, str, str, str | None]]:
    """(n, shown part, clause, source sentence) for each paper of a multi-paper line: the paper's lead
    clause cut to ``max_clause`` words, else its best sentence in parentheses, else its whole title."""
    items: list[tuple[int, str, str, str | None]] = []
    for src in sources:
        clause, sent = src.lead()
        if clause:
            short = shorten(clause, max_clause)
            items.append((src.n, said(named(src.paper, src.n, venue=False), short), short, sent))
            continue
        best = _telling(src)
        if best:
            short = shorten(best[0].rstrip("."), max_clause)
            items.append((src.n, f"{named(src.paper, src.n, venue=False)} ({short})", short, best[0]))
        else:
            items.append((src.n, named(src.paper, src.n, venue=False, short=False), "", None))
    return items


def opening(sources: list[Source], want: set[str]) -> list[Line]:
    """The sentence(s) that answer: metadata lines, one paper and what it does, or several papers
    with one clause each. A question that asks for one thing opens with its first paper alone, whole
    (the others follow its evidence: :func:`also_related`)."""
    sources = asked_about(sources, want)
    primary = lead_source(sources, want)
    if primary is not None:
        sources = [primary]
    if want & METADATA_INTENTS:
        lines = []
        for src in sources[:2] if len(sources) > 1 else sources:
            for m in src.meta:
                lines.append(Line(with_markers(m, [src.n]), [src.n], {src.n: m}))
        if lines:
            return lines
    if len(sources) == 1:
        src = sources[0]
        clause, sent = src.lead()
        if clause:
            return [Line(_sentence(said(named(src.paper, src.n), clause)), [src.n], {src.n: sent})]
        best = _telling(src)
        if not best:
            return [Line(_sentence(named(src.paper, src.n)), [src.n], {})]
        return [Line(_sentence(f"In {named(src.paper, src.n)}: {unframed(best[0]).rstrip('.')}"), [src.n], {src.n: best[0]})]
    return [several(_items(sources, 18 if len(sources) >= 3 else 24))]


def several(items: list[tuple[int, str, str, str | None]], head: str | None = None) -> Line:
    """The opening of a multi-paper answer from (n, shown part, clause, source sentence) items, after
    ``head`` ("3 papers address this: " by default)."""
    parts = [shown for _, shown, _, _ in items]
    # "; and" before the last paper when there are three or more, or when one of two says something: a clause may
    # itself hold an "and" ("… such as 90% and “Cascades” [2] presents…" reads as one run-on), and "“A” [1] and “B” [2]
    # shows…" reads as if both show it
    body = "; ".join(parts[:-1]) + "; and " + parts[-1] if len(parts) > 2 or (len(parts) == 2 and any(c for _, _, c, _ in items)) \
        else " and ".join(parts)
    if head is None:
        head = f"{len(items)} papers address this: " if len(items) > 1 else ""
    return Line(_sentence(head + body), [n for n, *_ in items], {n: s for n, _, _, s in items if s},
                clauses={n: (shown, clause, s) for n, shown, clause, s in items}, head=head)


def _mostly_said(terms: set[str], said: set[str]) -> bool:
    """Whether the answer so far (its content words ``said``) says most of a sentence's content words ``terms``."""
    return bool(terms) and len(terms & said) >= STATED_SHARE * len(terms)


def _worth_quoting(terms: set[str], keys: set[str], said: set[str], said_keys: set[str], qterms: set[str] | None) -> bool:
    """Whether a sentence (its content words ``terms``, names and numbers ``keys``) adds to the answer
    so far: a name or number it lacks; else, when most of its words are already said, nothing; else,
    with ``qterms`` (the question's content words), a question word the answer does not state yet."""
    if keys - said_keys:
        return True  # a sentence that adds a name or a number adds what may be asked
    if _mostly_said(terms, said):
        return False
    return qterms is None or bool((terms & qterms) - said)


def evidence_lines(sources: list[Source], opened: list[Line], want: set[str], budget: int = MAX_WORDS,
                   qterms: set[str] | None = None, shown: tuple[Line, ...] = ()) -> list[Line]:
    """Each paper's best sentences that the opening does not already state, within the word budget
    (best first across papers), shown in the abstract's order, one line per paper. With ``qterms``
    (the question's content words), a sentence is quoted only if it adds a name, a number or a
    question word the answer does not state yet, and the sentences that add a question word go first
    (in rank order), those that add only a name or number after them: the budget goes to sentences
    that answer; then the :data:`TOP_QUOTED` best-ranked sentences of the paper asked about that use any question word and
    whose words the answer does not mostly say. None that ranks below :data:`MIN_EVIDENCE_SCORE` (a score with the cosine
    in it) is quoted. ``shown``:
    lines shown in place of some of ``opened`` (a model's lead sentence): the sentences they rest on are not quoted
    again, but their words do not count as said (a lead that echoes the question's words would leave nothing to quote)."""
    if want & METADATA_INTENTS and any(src.meta for src in sources):
        return []  # a metadata question gets the metadata line and nothing padded after it
    sources = asked_about(sources, want)
    used = {s for line in [*opened, *shown] for s in line.rests_on.values()}
    opened_text = " ".join(strip_markers(line.text) for line in opened)
    said, said_keys = set(content_terms(opened_text)), key_tokens(opened_text)
    count = sum(len(words(strip_markers(line.text))) for line in opened)
    picked: dict[int, list[str]] = {src.n: [] for src in sources}
    queue = []
    # one thing asked but several papers cited: the evidence is the first paper's, the one the answer opens with
    # (the others have their clause in the "Also related" line after it); several papers asked for: one each
    primary = lead_source(sources, want)
    if primary is not None:
        queue = [(rank, primary) for rank in range(min(ONE_PAPER_SENTENCES, len(primary.ranked.sentences)))]
    else:
        for rank in range(ONE_PAPER_SENTENCES if len(sources) == 1 else 3):
            queue += [(rank, src) for src in sources if rank < len(src.ranked.sentences)]
    # what the question asks for that a sentence shown gives: a name shown does not answer "and how much memory…" (bc-l-t015),
    # nor list the benchmarks asked for ("On which datasets was X evaluated?" lost "CIFAR-10, CIFAR-100" to it, bq-l-034)
    kinds_shown = {k for src in sources for s in used for k in src.ranked.kinds.get(s, ())}
    # "What loss trains…": the best-ranked sentence naming the kind of thing asked for (rag.evidence.asked_head) that is not
    # shown yet may be quoted as a later ask's answer is, past the budget too if nothing shown names it (blind_q bq-l-006, -009)
    def free(src: Source) -> Iterator[str]:  # a source's sentences in rank order that are not shown and may be quoted
        return (s for s in src.ranked.sentences if s not in used and src.ranked.roles.get(s) not in SKIPPED_ROLES)

    main_src = primary or (sources[0] if len(sources) == 1 else None)
    head_pick = next((s for s in free(main_src) if s in main_src.ranked.headed), None) if main_src else None
    head_shown = main_src is not None and any(s in main_src.ranked.headed for s in used)
    # the best sentence not shown yet, when it says a question word the answer does not: a one-paper answer shows it up to
    # BEST_OVER words past the budget (the opening often uses the best-ranked sentence, and a long second-best, "RPG …
    # including grid-world games and a real-world game Agar.io", gave way to two shorter ones that answered less: br-l-013)
    best_free = {src.n: next(free(src), None) for src in sources}
    # the two best-ranked sentences of the paper asked about that are not shown yet are worth quoting when they use a question
    # word, even one the answer says already, unless the answer mostly says their words: "Specifically, we adopted three tests
    # to evaluate whether the relevance metrics satisfy the minimal requirements…" ranked first for "How did the study …
    # judge whether a relevance metric is reasonable?" but said no question word the opening had not (blind_z bz-l-040).
    # In a third pass, after those that say a question word the answer does not and those that add a name or number: in
    # the first, they took the budget from the sentence that answered (by-l-014, bu-l-001)
    top_free = set(itertools.islice(free(main_src), TOP_QUOTED)) if main_src else set()
    # passes in rank order: first the sentences that say a question word the answer does not state yet (or what a compound
    # question's later ask wants), then the others worth quoting (a name or number only), then the two best-ranked (top_free)
    passes = [(r, src, 1) for r, src in queue] + [(r, src, 2) for r, src in queue] if qterms is not None \
        else [(r, src, 2) for r, src in queue]
    passes += [(r, src, 3) for r, src in queue if src is main_src and src.ranked.sentences[r] in top_free]
    for rank, src, step in passes:
        first = step == 1
        s = src.ranked.sentences[rank]
        if s in used or s in picked[src.n] or src.ranked.roles.get(s) in SKIPPED_ROLES:
            continue
        if src.ranked.by_meaning and src.ranked.scores[rank] < MIN_EVIDENCE_SCORE:
            continue  # ranked low for this question: "Extensive experiments demonstrate the superiority of our method"
        terms, keys = set(content_terms(s)), key_tokens(s)
        mostly_said = _mostly_said(terms, said)
        # the third pass: the best-ranked on the question, not all said
        top = step == 3 and not mostly_said and bool(qterms is None or terms & qterms)
        if first and not ((terms & qterms) - said or s in src.ranked.later or s == head_pick):
            continue
        main = len(sources) == 1 or src is primary
        # the benchmarks or tasks a paper was evaluated on, when asked for, are worth quoting even without a new question word
        gives = src.ranked.kinds.get(s, frozenset())
        listed = main and "evaluated" in gives - kinds_shown
        # the sentence naming the kind of thing asked for adds it even if its question words are said (unless all its words
        # are), as does a best-ranked one in the third pass
        adds = (s == head_pick and not mostly_said) or top
        if not listed and not adds and not _worth_quoting(terms, keys, said, said_keys, qterms):
            continue
        n_words = len(words(s))
        # past the budget: one-paper answers still show their best sentence; the paper asked about
        # shows the sentence that answers a compound question's later ask, and the first one with
        # the name or number asked for if nothing shown has it
        asked = main and (s in src.ranked.later or bool(gives - kinds_shown) or listed
                          or (s == head_pick and not head_shown))
        best = main and len(picked[src.n]) < MIN_EVIDENCE and (rank == 0 or (first and s == best_free[src.n]
                                                                            and count + n_words <= budget + BEST_OVER))
        if count + n_words > budget and not best and not asked:
            continue
        kinds_shown |= gives
        if not main and picked[src.n]:
            continue  # several papers: one evidence sentence each
        picked[src.n].append(s)
        said |= terms
        said_keys |= keys
        count += n_words
    out = []
    for src in sources:
        chosen = [s for s in src.text.sentences if s in picked[src.n]]
        if not chosen:
            continue
        prefix = "" if len(sources) == 1 or primary is not None else f"“{short_title(src.paper.title)}”: "
        for j, s in enumerate(chosen):  # one line a sentence, so the answer streams sentence by sentence
            out.append(Line(with_markers(s if j or not prefix else prefix + s, [src.n]), [src.n], {src.n: s}, paragraph=1, joins=j > 0))
    return out


# ---------------------------------------------------------------- checking a model's sentences

@dataclass
class Checked:
    """A model sentence after the check: shown text (or None), cited source numbers, score, why dropped."""

    text: str | None
    cites: list[int]
    score: float
    note: str = ""
    rests_on: dict[int, str] = field(default_factory=dict)
    clean: str = ""  # the sentence without markers, as it is recorded when dropped


class Checker:
    """Checks sentences a model wrote against the sources they cite (or, uncited, the source that
    supports them best). Keeps no sentence that restates the question or repeats one already seen."""

    def __init__(self, texts: PaperTexts, sources: list[Source], qterms: set[str]):
        self.texts, self.sources, self.qterms = texts, sources, qterms
        self.seen: set[str] = set()
        self.repeats = 0

    def _best_unit(self, src: Source, vec: np.ndarray) -> str:
        units = src.text.units
        if src.text.vectors is None or not units:
            return src.text.sentences[0] if src.text.sentences else src.paper.title
        return units[int(np.argmax(src.text.vectors @ vec))]

    def check(self, raw: str, only: list[int] | None = None) -> Checked | None:
        """``raw`` checked; None for a fragment that states nothing (not worth reporting)."""
        by_n = {s.n: s for s in self.sources}
        claimed = [by_n[n] for n in parse_markers(raw) if n in by_n and (only is None or n in only)]
        clean = re.sub(r"^\d+[.)]\s*", "", unquoted(strip_markers(raw))).strip()
        terms = set(content_terms(clean))
        if len(terms) < MIN_CONTENT:
            return None
        key = re.sub(r"\W+", " ", clean.lower()).strip()
        if key in self.seen:
            self.repeats += 1
            return None
        self.seen.add(key)
        if len(terms - self.qterms) < MIN_NEW_TERMS:
            return Checked(None, [], 0.0, "only restates the question", clean=_sentence(_cap(clean)))
        pool = claimed or [s for s in self.sources if only is None or s.n in only]
        vec = self.texts.embed([s.text for s in pool], extra=[clean])[0]
        keep: list[Source] = []
        score = 0.0
        for s in pool:
            sup = check_support(clean, vec, [s.text])
            score = max(score, sup.score)
            if sup.supported:
                keep.append(s)
        if not claimed and keep:
            keep = [max(keep, key=lambda s: check_support(clean, vec, [s.text]).score)]
        if not keep and len(claimed) > 1:
            sup = check_support(clean, vec, [s.text for s in claimed])
            score = max(score, sup.score)
            keep = claimed if sup.supported else []
        if not keep:
            return Checked(None, [], score, "its cited source does not support it" if claimed else "no source supports it",
                           clean=_sentence(_cap(clean)))
        return Checked(with_markers(_cap(clean), [s.n for s in keep]), [s.n for s in keep], score,
                       rests_on={s.n: self._best_unit(s, vec) for s in keep})


_PREAMBLE = re.compile(r"^(?:(?:the |my |an? )?(?:[\w-]+ ){0,2}?(?:answer|(?:rewritten|correct|revised) sentence|rewrite(?:d)?(?: sentence)?)(?: to (?:the|your) question)?"
                       r"(?: is)?\s*[:\-–]\s*|(?:paper|sentence|lead|response|output)\s*:\s*"  # "Rewrite sentence:", "Paper:"
                       r"|(?:sure|here is[^:]{0,40}|certainly)[,!.:]\s*|a\s*:\s+)+", re.I)  # "A: A new paper, …" (blind_y)
_WE = re.compile(r"\b(?:we|our|us)\b", re.I)
# a lead about the prompt rather than the paper ("This sentence proposes …") or in the authors' voice that lead_clause
# could not turn into one about the paper ("Our iterative reasoning approach can solve …")
_NOT_ABOUT_PAPER = re.compile(r"^(?:(?:this|the) (?:rewritten )?sentence\b|(?:our|we|us)\b)", re.I)
# "It also provides sequence-level … detection [1]." (blind_u bu-l-023): the paper doing something, said of "it"
_IT_DOES = re.compile(r"^it\s+((?:also\s+|further\s+|then\s+)?(?!is\b|was\b|has\b|does\b)[a-z]+s\b.*)$", re.I | re.S)
# a subordinate clause with no main clause after it ("When Tent and its model are optimized to … [1]."; blind_u bu-l-038)
_FRAGMENT = re.compile(r"^(?:when|if|while|although|though|because|since|whereas|unless|whether|as)\b[^,;:]*$", re.I)


def _runs(text: str) -> Counter:
    terms = content_terms(text)
    return Counter(zip(terms, terms[1:], terms[2:], strict=False))


def _repeats_phrase(text: str, source: str) -> bool:
    """Whether three consecutive content words come more often than in the paper's own text ("… high-quality shapes
    with the ability to produce high-quality shapes"): a small model looping, not a sentence to open an answer with.
    A repetition the abstract makes ("syntactic-level structure of code … semantic-level structure of code") is not one."""
    have = _runs(source)
    return any(n > max(1, have[run]) for run, n in _runs(text).items())


# words a lead about the paper may add to its sentence: the frame of a sentence about a paper, not a claim
_FRAME_TEXT = ("paper papers study work authors author method approach model framework technique proposes propose proposed "
               "presents present introduces introduce shows show uses use new novel called named")
_FRAME_WORDS = frozenset(content_terms(_FRAME_TEXT))


MAX_NEW_WORDS = 1  # one word of its own is a paraphrase ("random pruning beats these approaches"); more is invention


def invents_words(text: str, src: Source, question: str = "") -> bool:
    """Whether ``text`` uses more than ``MAX_NEW_WORDS`` content words that neither the paper (title, venue, abstract,
    record lines), the question nor the frame of a sentence about a paper has (a hyphenated word whose parts are all
    there is not new): a small model's rewrite that swaps a word ("end-to-end" → "end-to-tail") or adds a claim, which
    the support check, scoring the sentence as a whole, can let through."""
    have = set(content_terms(" ".join([src.paper.title, where(src.paper), *src.text.sentences, *src.meta, question]))) | _FRAME_WORDS
    new = {t for t in content_terms(strip_markers(text).replace("-", " ")) if t not in have}
    # a hyphenated word with a new part counts once more: a swap inside a copied compound is the failure it catches
    new |= {w for w in re.findall(r"\w+(?:-\w+)+", strip_markers(text)) if set(content_terms(w.replace("-", " "))) & new}
    return len(new) > MAX_NEW_WORDS


LEAD_FRAME = f"{_FRAME_TEXT} finds improves achieves"  # the frame of a sentence about a paper, and what it found
_GRAMMAR_WORD = re.compile(r"[\w%$+/'’.-]+")


def lead_grammar(title: str, sentence: str, question: str) -> str:
    """A GBNF grammar (llama.cpp's) for a local model's lead sentence: words of the paper's title, of the evidence
    sentence it rewrites and of the question, as written, lowercased or capitalized, plus function words and a few that
    frame a sentence about a paper, separated by a space, a comma, a semicolon or brackets, ending with a full stop.
    The model then cannot add a word of its own (:func:`invents_words`, the most common reason its leads were
    dropped); whether it answers is still the support check's to decide."""
    vocab: set[str] = set()
    for w in _GRAMMAR_WORD.findall(" ".join([title, sentence, question, LEAD_FRAME, *sorted(STOPWORDS)])):
        w = w.strip(".'’-/")
        if w:
            vocab |= {w, w.lower(), w[:1].upper() + w[1:]}
    rules: dict[str, str] = {}
    _radix(sorted(vocab), "word", rules)
    return "\n".join(['root ::= word (sep word)* "."', 'sep ::= " " | ", " | "; " | " (" | ") " | "), "',
                      *(f"{name} ::= {body}" for name, body in rules.items())]) + "\n"


def _radix(suffixes: list[str], name: str, rules: dict[str, str]) -> None:
    """GBNF rules spelling ``suffixes`` as a radix tree (rule ``name``, its children ``name-i``): words share their
    prefixes, so llama.cpp follows a few grammar stacks at a word's start instead of one per word (a flat list of 460
    words made the lead 7x slower to sample, a tree 1.4x)."""
    groups: dict[str, list[str]] = {}
    for w in suffixes:
        if w:
            groups.setdefault(w[0], []).append(w)
    alternatives = []
    for i, (_, group) in enumerate(sorted(groups.items())):
        prefix = os.path.commonprefix(group)
        rest = [w[len(prefix):] for w in group]
        literal = json.dumps(prefix, ensure_ascii=False)
        if rest == [""]:
            alternatives.append(literal)
        else:
            _radix(rest, f"{name}-{i}", rules)
            alternatives.append(f"{literal} {name}-{i}")
    body = " | ".join(alternatives)
    rules[name] = f"( {body} )?" if "" in suffixes else body


def polish_lead(raw: str, src: Source) -> str | None:
    """A local model's lead sentence made fit to open an answer, before it is checked: the "The answer
    to the question is:" preamble dropped; a sentence that speaks as the authors ("In this paper, we design
    X") turned into one about the paper ("“Title” [n] designs X", the rewrite the code-built opening uses);
    a leading connective dropped. None when it says nothing beyond the paper's title (a title fragment
    such as "Benchmark for High-level Mathematical Reasoning [1]." is not an answer), is a subordinate clause alone
    ("When Tent … are optimized to …"), speaks of the prompt ("This sentence proposes …") or as the authors where no
    clause about the paper can be made of it ("Our approach …"), or repeats a phrase (a looping model)."""
    marks = parse_markers(raw)
    text = _PREAMBLE.sub("", unquoted(strip_markers(raw))).strip()
    if not text:
        return None
    if len(set(content_terms(text)) - set(content_terms(src.paper.title))) < MIN_NEW_TERMS:
        return None
    if _repeats_phrase(text, " ".join([src.paper.title, *src.text.sentences])):
        return None
    clause = lead_clause(text)
    if not clause or _WE.search(clause):  # "It also provides X" opens an answer about no paper named: the paper's name for "It"
        it = _IT_DOES.match(text)
        clause = it.group(1) if it else ""
    if clause:
        return _sentence(said(named(src.paper, src.n), clause.rstrip(".")))
    text = unframed(_cap(text))
    if _NOT_ABOUT_PAPER.match(text) or _FRAGMENT.match(text):
        return None
    text = pronouns(text)  # "… taking syntax trees as our canonical example" speaks as the authors of a sentence about the paper
    return with_markers(_cap(text), marks) if marks else text


def restates(line: Line, shown: list[Line], at: float = 0.8) -> bool:
    """Whether ``line`` says little beyond ``shown``: at least ``at`` of its content words are already there."""
    terms = set(content_terms(strip_markers(line.text)))
    have = {t for ln in shown for t in content_terms(strip_markers(ln.text))}
    return bool(terms) and len(terms & have) >= at * len(terms)


KEEP_TERMS = 0.7  # share of the replaced opening's own content words a model's rewrite must keep
# words that turn a claim around: a rewrite that drops or adds one can say the opposite with the same content words
_POLARITY = re.compile(r"\b(?:not|no|never|none|nor|neither|without|cannot|rather|instead|unlike|than|fail(?:s|ed|ing|ure)?|"
                       r"lacks?|\w+n['’]t)\b", re.I)


def polarity(text: str) -> Counter:
    """The negations and contrasts of ``text`` ("not", "without", "rather than", "fails"), counted."""
    return Counter(m.lower() for m in _POLARITY.findall(text))


def _same_polarity(old: str, new: str, cited: str) -> bool:
    """Whether ``new`` has the negations and contrasts of ``old``, apart from the cited title's ("Not All Semantics
    are Created Equal"): the same ones, except that a "without" clause may be left out (it says less, not the opposite)."""
    title = polarity(cited)
    had, has = polarity(old) - title, polarity(new) - title
    return had.pop("without", 0) >= has.pop("without", 0) and had == has


# words that come in opposite pairs: a rewrite that keeps both but in the other order has swapped them ("keeps the false
# positives … close …, at the price of more false negatives" for the paper's "false negatives … false positives": dev d008)
_OPPOSITES = (("positive", "negative"), ("increase", "decrease"), ("higher", "lower"), ("larger", "smaller"), ("more", "fewer"),
              ("more", "less"), ("source", "target"), ("input", "output"), ("upper", "lower"), ("train", "test"),
              ("compressed", "original"), ("student", "teacher"), ("minimum", "maximum"), ("best", "worst"))


def _keeps_order(old: str, new: str) -> bool:
    """Whether each pair of opposite words (:data:`_OPPOSITES`) that both texts use comes in the same order in both."""
    def first(text: str, word: str) -> int:
        m = re.search(rf"\b{word}", text, re.I)
        return m.start() if m else -1
    for a, b in _OPPOSITES:
        fo, so, fn, sn = first(old, a), first(old, b), first(new, a), first(new, b)
        if min(fo, so, fn, sn) >= 0 and (fo < so) != (fn < sn):
            return False
    return True


_DETAIL = re.compile(r"([A-Za-z][\w-]*)\s*\(([^()]{1,80})\)")


def asked_details(sentence: str, asked: set[str]) -> set[str]:
    """Content words of a parenthesis right after a word the question asks about: "physics parameters (mass and
    friction)" asked "which physics parameters differ?" gives {mass, friction}, the answer itself."""
    out: set[str] = set()
    for m in _DETAIL.finditer(sentence):
        if set(content_terms(m.group(1))) & asked:
            out |= set(content_terms(m.group(2)))
    return out


def keeps_specifics(line: Line, replaced: Line, paper, question: str = "") -> bool:
    """Whether ``line`` keeps what ``replaced`` says (apart from the paper's title and venue, which its citation
    gives): every name and number, its negations and contrasts (:func:`polarity`), and ``KEEP_TERMS`` of its other
    content words, none of them swapped for a word of the question. A rewrite that drops them (a 135M model turns
    "description length as a measure" into "a crucial example of Solomonoff's theory") answers less than the sentence
    it replaces; one that drops "an ad-hoc post processing step rather than" says the opposite (blind_r br-l-040); one
    that writes "the combination of the invariant and varying spaces performs best" for "the concatenation of …",
    asked "which combination … performed best?", repeats the question where the answer was (blind_u bu-l-012); one that
    keeps "physics parameters" but drops their "(mass and friction)", asked which physics parameters differ, drops the
    answer (blind_w bw-l-035, :func:`asked_details`)."""
    cited = f"{paper.title} {where(paper)}"
    given, title = key_tokens(cited), set(content_terms(cited))
    old, new = strip_markers(replaced.text), strip_markers(line.text)
    if not key_tokens(old) - given <= key_tokens(new) | given or not _same_polarity(old, new, cited) or not _keeps_order(old, new):
        return False
    n_old, n_new = Counter(content_terms(old)), Counter(content_terms(new))
    asked, had, has = set(content_terms(question)), set(n_old), set(n_new)
    if (has - had) & asked and had - has - asked - title:
        return False
    if not asked_details(old, asked) <= has | title:
        return False
    # a word written more often than the sentence has it, where one of the sentence's words went: a swap ("keeps the
    # number of false positives of the original model close to the one of the original model" for "… false negatives
    # of the compressed model …": dev d008, read in the blind_y session)
    fixed = title | _FRAME_WORDS
    if had - has - fixed and any(n_new[t] > n_old[t] for t in had - fixed):
        return False
    terms = had - title
    return not terms or len(terms & (has | title)) >= KEEP_TERMS * len(terms)


def _supported(texts: PaperTexts, text: str, srcs: list[Source]) -> bool:
    texts.embed([s.text for s in srcs])  # units of every source embedded (cached)
    known = next((s.text.vectors[i] for s in srcs for i, u in enumerate(s.text.units) if u == text), None)
    # a verbatim sentence of a source reuses its stored vector instead of being embedded again
    vec = known if known is not None else texts.embed([], extra=[text])[0]
    return check_support(text, vec, [s.text for s in srcs]).supported


def _full_titles(text: str, srcs: list[Source]) -> str:
    """``text`` with each cited paper's short name (“GraphCodeBERT”) written as its whole title."""
    for src in srcs:
        short = short_title(src.paper.title)
        if short != src.paper.title:
            text = text.replace(f"“{short}”", f"“{src.paper.title}”", 1)
    return text


def check_lines(texts: PaperTexts, sources: list[Source], lines: list[Line]) -> list[Line]:
    """The code-built lines that pass the support check against the sources they cite, checked as
    they are shown; a multi-paper opening is checked clause by clause, each (with the paper's name
    before it) against its own paper, and keeps the clauses that pass; a paper whose clause fails (a
    shortened clause can lose what made it supported) stays in it by its title alone. A line or
    clause that fails with a paper's short name is tried once more with its whole title (the title's
    words are the paper's own). (They are built from the papers' own sentences, so a failure means a
    rewrite went wrong; it is never shown.)"""
    by_n = {s.n: s for s in sources}

    def shown_ok(text: str, srcs: list[Source]) -> bool:
        return _supported(texts, strip_markers(text).strip(" ;:,"), srcs)

    out = []
    for line in lines:
        if line.clauses:
            kept = []
            for n, (shown, clause, sent) in line.clauses.items():
                if n not in by_n:
                    continue
                src = by_n[n]
                if clause and _supported(texts, clause, [src]):
                    full = _full_titles(shown, [src])
                    shown = shown if shown_ok(shown, [src]) else full if full != shown and shown_ok(full, [src]) else ""
                    if shown:
                        kept.append((n, shown, clause, sent))
                        continue
                elif not clause:
                    kept.append((n, shown, clause, sent))
                    continue
                kept.append((n, named(src.paper, n, venue=False, short=False), "", None))
            if kept:
                out.append(replace(several(kept, line.head), paragraph=line.paragraph))
            continue
        srcs = [by_n[n] for n in line.cites if n in by_n]
        if not srcs:
            continue
        if shown_ok(line.text, srcs):
            out.append(line)
            continue
        full = _full_titles(line.text, srcs)
        if full != line.text and shown_ok(full, srcs):
            out.append(replace(line, text=full))
    return out
