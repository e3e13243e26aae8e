"""Answers with checked citations: the flow of one question.

1. **Retrieve** papers (:mod:`rag.retrieval`); no hit under active filters is its own outcome
   ("no paper matches these filters").
2. **Relevance and refusal** (:mod:`rag.relevance`): the question is *answered*, only *related*
   (the corpus has papers on the topic, but none of their abstracts states what was asked: they are
   shown as related papers, never quoted as the answer) or *not covered* (refused, nothing cited);
   the cited sources are the retrieved papers whose relevance is close to the best one's.
3. **Evidence** (:mod:`rag.evidence`): each source's sentences ranked for the question, preferring
   the contribution, the result, the asked-for name, number or remedy, avoiding opening background
   and sentences about other people's work; the metadata line when the question asks for authors,
   presentation type, venue or schedule.
4. **Compose and check** (:mod:`rag.compose`): an opening sentence that answers (the paper and what
   it does; or how many papers and one clause each), then the evidence per paper within a word
   budget. A language model gets a task it can do (below); every sentence it writes passes the
   support check (:func:`rag.support.check_support`) or is dropped and listed in
   ``Answer.unsupported``; a backend that fails falls back to the extractive answer, saying why.

Model tasks (``settings.answer.answer_model_task``): ``lead`` (the local default; what a 135M model does
reliably) — rewrite the best evidence sentence of the top paper into one sentence that answers the
question, which becomes the opening; ``full`` (the default for a configured server) — write the
whole answer from the numbered evidence, opening with a direct answer, followed by the evidence it
does not state (``settings.answer.answer_quotes``).

Citations are renumbered in order of first use, so ``Citation.n`` always matches the text's markers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from .compose import (
    MAX_ANSWER_SENTENCES,
    MAX_WORDS,
    Checker,
    Line,
    Source,
    also_related,
    asked_about,
    check_lines,
    evidence_lines,
    invents_words,
    keeps_specifics,
    lead_grammar,
    opening,
    polish_lead,
    restates,
)
from .embed import Embedder
from .errors import ConfigError, GeneratorError
from .evidence import METADATA_INTENTS, focus, intents, question_names, rank_sentences
from .generate import ExtractiveGenerator, Generator
from .models import Hit, Paper
from .program import ProgramAnswer
from .prompts import answer_messages, as_data, evidence_block, render
from .relevance import (
    ANSWER_THRESHOLD,
    ANSWERED,
    MAX_SOURCES,
    NOT_COVERED,
    ONE_THING_SOURCES,
    REFUSE_THRESHOLD,
    RELATED,
    SEVERAL_MARGIN,
    SOURCE_MARGIN,
    decide,
    decline_choice,
    lexical,
    score_hits,
)
from .settings import AnswerSettings
from .support import PaperText, PaperTexts, TermStats, metadata_sentences, paper_details, strip_markers
from .text import content_terms, question_terms, strip_markup, words

NO_MATCH = "no_match"
LEAD_MAX_TOKENS = 64  # one sentence
GIVE_UP_AFTER = 2  # unsupported sentences, with none supported yet, after which a model is abandoned
LEAD_RETRY_TEMPERATURE = 0.7  # a lead sentence asked for again is sampled at this temperature (the first is greedy)
RARE_DF = 8  # a question word used by at most this many papers of the corpus is rare (it names what is asked about)


# ---------------------------------------------------------------- results

@dataclass
class Citation:
    """Source ``[n]`` of an answer: the paper and the sentence(s) of it the answer relies on."""

    n: int
    paper: Paper
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        p = self.paper
        return {"n": self.n, "id": p.id, "title": p.title, "authors": list(p.authors), "venue": p.venue, "year": p.year,
                "type": p.type, "url": p.link, "evidence": list(self.evidence)}


@dataclass
class AnswerSentence:
    """One sentence of the answer and its check: ``citations`` are answer numbers (empty when
    unsupported); ``origin`` is ``model`` or ``evidence`` (quoted by code); ``note`` says why a
    sentence was dropped."""

    text: str
    citations: list[int]
    supported: bool
    support: float
    origin: str = "model"
    note: str = ""

    def to_dict(self) -> dict:
        return {"text": self.text, "citations": self.citations, "supported": self.supported,
                "support": round(self.support, 3), "origin": self.origin, "note": self.note}


@dataclass
class Answer:
    """An answer with checked citations. ``text`` holds only supported sentences."""

    question: str
    text: str
    citations: list[Citation]
    refused: bool
    retrieved: list[Hit]
    backend: str
    requested_backend: str
    fallback: str | None = None
    sentences: list[AnswerSentence] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    relevance: float = 0.0
    backend_failed: bool = False  # the fallback was caused by the backend failing (not by unsupported text)
    outcome: str = ANSWERED  # answered | related | not_covered | no_match
    related: list[Paper] = field(default_factory=list)  # with outcome "related": papers on the topic, not quoted

    @property
    def unsupported(self) -> list[AnswerSentence]:
        return [s for s in self.sentences if not s.supported]

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "backend": self.backend,
            "requested_backend": self.requested_backend,
            "fallback": self.fallback,
            "backend_failed": self.backend_failed,
            "unsupported": [s.text for s in self.unsupported],
            "sentences": [s.to_dict() for s in self.sentences],
            "retrieved": [{"rank": h.rank, "id": h.paper.id, "title": h.paper.title, "score": round(h.score, 4)} for h in self.retrieved],
            "relevance": round(self.relevance, 4),
            "outcome": self.outcome,
            "related": [{"id": p.id, "title": p.title, "venue": p.venue, "year": p.year, "url": p.link} for p in self.related],
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
        }


# ---------------------------------------------------------------- streaming a model's sentences

_BOUNDARY = re.compile(r"[.!?](?:\s*\[[^\]\n]{0,24}\])*[\"'”)]?(?=\s+[^\s\[])|\n+")
_ABBREV_END = re.compile(r"\b(?:e\.g|i\.e|et al|etc|vs|cf|Fig|Eq|Sec|No)\.$", re.I)


def sentences_from_stream(pieces: Iterator[str]) -> Iterator[str]:
    """Complete sentences (with any markers that follow them) as the pieces arrive."""
    buf = ""
    for piece in pieces:
        buf += piece
        while True:
            cut = None
            for m in _BOUNDARY.finditer(buf):
                if not _ABBREV_END.search(buf[:m.start() + 1]):
                    cut = m.end()
                    break
            if cut is None:
                break
            sentence, buf = buf[:cut], buf[cut:]
            if sentence.strip():
                yield sentence.strip()
    if buf.strip():
        yield buf.strip()


# ---------------------------------------------------------------- the parts an answer uses

@dataclass
class AnswerParts:
    """Everything the answer step needs, passed explicitly (the pipeline builds one):
    settings, the embedder, the paper-text cache, corpus term statistics, a retrieve function
    ``(question, k, **filters) -> hits`` and a generator lookup ``(backend name) -> Generator``."""

    settings: AnswerSettings
    embedder: Embedder
    texts: PaperTexts
    stats: TermStats
    retrieve: Callable[..., list[Hit]]
    generator: Callable[[str | None], Generator]
    program: Callable[[str], ProgramAnswer | None] | None = None  # a program question answered from the records


@dataclass
class Plan:
    """What one question gets: its outcome, the numbered sources (answered) or related papers."""

    question: str
    qvec: np.ndarray | None
    hits: list[Hit]
    relevance: float
    outcome: str
    sources: list[Source]
    related: list[Hit] = field(default_factory=list)
    want: set[str] = field(default_factory=set)
    qterms: set[str] = field(default_factory=set)

    @property
    def refused(self) -> bool:
        return self.outcome != ANSWERED


_META_MARKERS = {"authors": (" is by ",), "type": (" presented as ", " appeared at "), "venue": (" presented as ", " appeared at "),
                 "when": (" in the session ",)}


def wanted_meta(text: PaperText, want: set[str]) -> list[str]:
    """The paper's metadata sentences that the question asks for."""
    keys = [m for w in want & METADATA_INTENTS for m in _META_MARKERS[w]]
    return [m for m in text.meta if any(k in m.lower() for k in keys)]


def thresholds(settings) -> tuple[float, float]:
    """(refuse, answer) thresholds; ``settings.refuse_threshold`` overrides both (no "related" band)."""
    override = getattr(settings, "refuse_threshold", None)
    if override is None:
        return REFUSE_THRESHOLD, ANSWER_THRESHOLD
    return float(override), float(override)


def plan(parts: AnswerParts, question: str, hits: list[Hit]) -> Plan:
    """Outcome, sources and their ranked evidence for ``question`` over ``hits``."""
    qterms = question_terms(question)
    want = intents(question)
    if not hits:
        return Plan(question, None, hits, 0.0, NOT_COVERED, [], want=want, qterms=qterms)
    chooser = getattr(parts.settings, "decline_model", "auto")
    sc = score_hits(parts.embedder, parts.texts, parts.stats, question, qterms, hits, several="several" in want,
                    model=decline_choice(chooser, "several" in want), topics=chooser == "auto")
    refuse, answer_at = thresholds(parts.settings)
    margin = getattr(parts.settings, "source_margin", None)
    if margin is None:
        margin = SEVERAL_MARGIN if "several" in want else SOURCE_MARGIN
    d = decide(sc, refuse, answer_at, margin, MAX_SOURCES if "several" in want else ONE_THING_SOURCES, decline=getattr(parts.settings, "refuse_threshold", None) is None)
    if d.outcome != ANSWERED:
        return Plan(question, sc.qvec, hits, d.relevance, d.outcome, [], [sc.pool[i] for i in d.chosen] if d.outcome == RELATED else [],
                    want, qterms)
    chosen = sorted(d.chosen)  # in retrieval order
    texts = [sc.texts[i] for i in chosen]
    parts.texts.embed(texts)
    sources = []
    later = focus(question)
    fterms = question_terms(later) if later else set()
    rare = {t for t in qterms if parts.stats.df.get(t, 0) <= RARE_DF}  # words that name what is asked about
    common = {n for n in question_names(question) if parts.stats.name_df(n) > RARE_DF}  # "RL", "GAN": not one paper's name
    for n, (i, t) in enumerate(zip(chosen, texts, strict=True), 1):
        lex = [lexical(s, qterms, parts.stats) for s in t.sentences]
        foc = [lexical(s, fterms, parts.stats) for s in t.sentences] if fterms else None
        ranked = rank_sentences(t, t.vectors[:len(t.sentences)], sc.qvec, lex, want, question, foc, rare, common)
        sources.append(Source(n, sc.pool[i], t, sc.relevance[i], ranked, wanted_meta(t, want)))
    return Plan(question, sc.qvec, hits, d.relevance, ANSWERED, sources, want=want, qterms=qterms)


# ---------------------------------------------------------------- assembling the answer

class Assembly:
    """The shown lines of one answer, renumbered by first use, with the sentence records."""

    def __init__(self, sources: list[Source]):
        self.by_n = {s.n: s for s in sources}
        self._para = 0  # the paragraph of the last line added
        self.number: dict[int, int] = {}
        self.evidence: dict[int, list[str]] = {}
        self.sentences: list[AnswerSentence] = []
        self.lines: list[tuple[str, str]] = []  # (display text, separator before it)

    def _renumber(self, text: str, cites: list[int]) -> str:
        for n in cites:
            if n not in self.number:
                self.number[n] = len(self.number) + 1
        return re.sub(r"\[(\d+)\]", lambda m: f"[{self.number.get(int(m.group(1)), int(m.group(1)))}]", text)

    def add(self, line: Line, support: float = 1.0) -> str:
        text = self._renumber(line.text, line.cites)
        for n, s in line.rests_on.items():
            if s and s not in self.evidence.setdefault(n, []):
                self.evidence[n].append(s)
        self.sentences.append(AnswerSentence(text, [self.number[n] for n in line.cites], True, support, origin=line.origin))
        self.lines.append((text, self.separator(line)))
        self._para = line.paragraph
        return text

    def reset(self) -> None:
        """Forget the shown lines before falling back (sentences dropped by the check stay on record)."""
        self.number.clear()
        self.evidence.clear()
        self.lines.clear()
        self._para = 0
        self.sentences = [s for s in self.sentences if not s.supported]

    def drop(self, text: str, score: float, note: str) -> None:
        self.sentences.append(AnswerSentence(text, [], False, score, origin="model", note=note))

    def text(self) -> str:
        return "".join(sep + text for text, sep in self.lines)

    def separator(self, line: Line) -> str:
        """What goes before ``line``: nothing first; a space within the opening or within one paper's
        evidence; a blank line between the opening and the evidence; a newline between papers."""
        if not self.lines:
            return ""
        if line.joins or (line.paragraph == 0 and self._para == 0):
            return " "
        return "\n\n" if self._para == 0 or line.paragraph > self._para else "\n"

    def citations(self) -> list[Citation]:
        return [Citation(ans_n, self.by_n[src_n].paper, self.evidence.get(src_n, []))
                for src_n, ans_n in sorted(self.number.items(), key=lambda kv: kv[1])]


def asked_terms(lines: list[Line], qterms: set[str]) -> set[str]:
    """The question's content words that ``lines`` say."""
    return set(content_terms(" ".join(strip_markers(line.text) for line in lines))) & qterms


def _lead_sentence(src: Source) -> str | None:
    """The evidence sentence a model's lead rewrites: the opening's, else the paper's best."""
    _, sent = src.lead()
    return sent or (src.ranked.best(1) or [None])[0]


def _lead_messages(question: str, src: Source) -> list[dict] | None:
    sent = _lead_sentence(src)
    if not sent:
        return None
    system = render("lead_system")
    user = render("lead_user", question=as_data(question), title=as_data(src.paper.title), sentence=as_data(sent))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _full_messages(question: str, p: Plan) -> list[dict]:
    blocks = [evidence_block(s.n, s.paper.title, paper_details(s.paper, p.want), " ".join(s.meta + s.ranked.best(3)))
              for s in p.sources]
    max_sent = min(4, max(2, len(p.sources) + 1))
    return answer_messages(question, blocks, [s.n for s in p.sources], max_sentences=max_sent)


def _related_text(related: list[Hit]) -> str:
    papers = "; ".join(f"“{h.paper.title}”" + (f" ({' '.join(str(x) for x in (h.paper.venue, h.paper.year) if x)})"
                                               if h.paper.venue or h.paper.year else "") for h in related)
    return render("related", papers=papers).strip()


def stream_answer(parts: AnswerParts, question: str, *, backend: str | None = None, k: int | None = None,
                  **filters) -> Iterator[str | Answer]:
    """Yields the answer text in pieces as it is checked, then the final :class:`Answer`.

    The pieces are display text in order (the opening, then evidence lines); the final
    ``Answer.text`` is authoritative."""
    t0 = time.perf_counter()
    if not isinstance(question, str):
        raise ConfigError(f"the question must be text, not {type(question).__name__}")
    question = strip_markup(question)
    if not question:
        raise ConfigError("the question is empty")
    settings = parts.settings
    limit = settings.max_question_chars
    if len(question) > limit:
        raise ConfigError(f"the question is {len(question)} characters long; the limit is {limit}")
    name = backend or settings.backend
    gen = parts.generator(name)
    given = {k: v for k, v in filters.items() if k != "read_filters"}  # the filters a caller set (read_filters is a switch)
    prog = parts.program(question) if parts.program is not None and not given and filters.get("read_filters") is not False else None
    if prog is not None and prog.papers:
        # a question about the conference program: answered from the session and time records
        hits = [Hit(paper=p, score=1.0, rank=i) for i, p in enumerate(prog.papers, 1)]
        marks = "".join(f"[{i}]" for i in range(1, len(hits) + 1))
        text = prog.text.strip()  # plain sentences from the records
        text = text[:-1] + f" {marks}." if text.endswith(".") else f"{text} {marks}"
        cites = [Citation(i, p, [s for s in metadata_sentences(p) if " in the session " in s or " at " in s][:1])
                 for i, p in enumerate(prog.papers, 1)]
        yield text
        t = (time.perf_counter() - t0) * 1000
        yield Answer(question, text, cites, False, hits, "extractive" if isinstance(gen, ExtractiveGenerator) else "records", name,
                     sentences=[AnswerSentence(text, list(range(1, len(hits) + 1)), True, 1.0, origin="records")],
                     timings={"retrieve_ms": t, "plan_ms": 0.0, "generate_ms": 0.0, "first_token_ms": t, "total_ms": t},
                     relevance=1.0, outcome=ANSWERED)
        return
    hits = parts.retrieve(question, k, **filters)
    t_retrieved = time.perf_counter()
    p = plan(parts, question, hits)
    t_planned = time.perf_counter()
    timings = {"retrieve_ms": (t_retrieved - t0) * 1000, "plan_ms": (t_planned - t_retrieved) * 1000}
    first: list[float] = []

    def emit(text: str) -> str:
        if not first:
            first.append(time.perf_counter())
        return text

    def finish(ans: Answer) -> Answer:
        end = time.perf_counter()
        ans.timings = {**timings, "generate_ms": (end - t_planned) * 1000,
                       "first_token_ms": ((first[0] if first else end) - t0) * 1000, "total_ms": (end - t0) * 1000}
        return ans

    if p.outcome != ANSWERED:
        active = any(v not in (None, "", [], ()) for v in given.values())
        outcome = NO_MATCH if not hits and active else p.outcome
        text = (render("no_match").strip() if outcome == NO_MATCH else
                _related_text(p.related) if outcome == RELATED else render("refusal").strip())
        yield emit(text)
        yield finish(Answer(question, text, [], True, hits, gen.name, name, relevance=p.relevance, outcome=outcome,
                            related=[h.paper for h in p.related]))
        return

    asm = Assembly(p.sources)
    checker = Checker(parts.texts, p.sources, p.qterms)
    opened = check_lines(parts.texts, p.sources, opening(p.sources, p.want))
    # the opening lines about the first paper alone (what a model's lead rewrites) and the others (a multi-paper opening)
    lead_src = asked_about(p.sources, p.want)[0]  # the paper the opening, and a model's lead sentence, is about
    others = [ln for ln in opened if set(ln.cites) - {lead_src.n}]
    alone = [ln for ln in opened if ln not in others]
    fallback, failed, used = None, False, gen.name
    task = getattr(settings, "answer_model_task", "auto")
    task = ("lead" if gen.name == "local" else "full") if task == "auto" else task
    model_lines: list[Line] = []
    streamed = False
    messages = None
    if not isinstance(gen, ExtractiveGenerator):
        if task == "full":
            messages = _full_messages(question, p)
        elif not (p.want & METADATA_INTENTS and any(s.meta for s in p.sources)):  # a metadata line needs no rewriting
            messages = _lead_messages(question, lead_src)
    if messages is not None:
        lead_only = task == "lead"
        # a lead sentence the checks reject is asked for again, sampled (a fixed seed per try), up to lead_attempts
        # tries: every try passes the same checks, so a retry can only replace the extractive opening with a checked one
        tries = max(1, getattr(settings, "lead_attempts", 1)) if lead_only else 1
        grammar = None  # the local model's lead keeps to the words it is given (settings lead_grammar)
        if lead_only and gen.name == "local" and getattr(settings, "lead_grammar", False):
            grammar = lead_grammar(lead_src.paper.title, _lead_sentence(lead_src) or "", question)
        first_reason = None  # why the first (greedy) try was rejected: what the warning reports when no try is kept
        for attempt in range(tries):
            fallback, model_lines = None, []
            temperature = settings.llm_temperature if attempt == 0 else max(settings.llm_temperature, LEAD_RETRY_TEMPERATURE)
            stream = gen.stream(messages, max_tokens=LEAD_MAX_TOKENS if lead_only else settings.llm_max_tokens,
                                temperature=temperature, seed=attempt or None, grammar=grammar)
            dropped = 0
            try:
                for raw in sentences_from_stream(stream):
                    if lead_only:  # the opening sentence: no preamble, about the paper rather than "we"; not a bare title
                        polished = polish_lead(raw, lead_src)
                        if polished is not None and invents_words(polished, lead_src, question):
                            # recorded as dropped: the support check scores the whole sentence and can let it through
                            asm.drop(strip_markers(polished), 0.0, "uses words its paper does not")
                            polished = None
                        if polished is None:
                            dropped += 1
                            if dropped >= GIVE_UP_AFTER:
                                break
                            continue
                        raw = polished
                    got = checker.check(raw, only=[lead_src.n] if lead_only else None)
                    if got is None:
                        if checker.repeats >= 2:
                            break
                        continue
                    if got.text is None:
                        asm.drop(got.clean, got.score, got.note)
                        dropped += 1
                    else:
                        line = Line(got.text, got.cites, got.rests_on, origin="model")
                        model_lines.append(line)
                        if not lead_only:  # a whole answer: show each checked sentence as it comes
                            yield emit(asm.separator(line) + asm.add(line, got.score))
                            streamed = True
                    if lead_only or len(model_lines) >= MAX_ANSWER_SENTENCES or (not model_lines and dropped >= GIVE_UP_AFTER):
                        break
            except GeneratorError as e:
                fallback, failed = f"{e}; extractive answer", True
            finally:
                close = getattr(stream, "close", None)
                if close:
                    close()
            if fallback is None and not model_lines:
                fallback = f"no sentence the {gen.name} model wrote is supported by its sources; extractive answer"
            unsupported = fallback is not None
            if not unsupported and lead_only:
                # the opening about the model's paper alone is what its sentence would replace: not if the rewrite loses
                # a name, a number or most of its words (keeps_specifics); after a multi-paper opening, a lead that restates it adds nothing
                if alone and not keeps_specifics(model_lines[0], alone[0], lead_src.paper, question):
                    fallback = f"the {gen.name} model's sentence left out names or words of the opening it would replace; extractive answer"
                elif others and restates(model_lines[0], others):
                    fallback = f"the {gen.name} model's sentence only restated the opening; extractive answer"
            if fallback is None or failed:
                break
            first_reason = first_reason or fallback
        if fallback:
            if not failed and first_reason and tries > 1:
                fallback = f"{first_reason.removesuffix('; extractive answer')} (and in {tries - 1} more tries); extractive answer"
            used, model_lines = "extractive", []
            if unsupported:
                asm.reset()
    # a one-thing answer from its first paper ends with the others, a clause each: their words come off the budget
    related = also_related(p.sources, p.want) if task != "full" or not model_lines else None
    tail = check_lines(parts.texts, p.sources, [related]) if related else []
    budget = MAX_WORDS - sum(len(words(strip_markers(line.text))) for line in tail)
    if not model_lines or task == "lead":
        # with a model lead, the model's sentence opens the answer in place of the code-built opening about its paper
        # (replaced, not repeated); a multi-paper opening that names them all stays before it. The evidence is the
        # extractive answer's: chosen after the code-built opening, which says the paper's own words, not after the
        # model's sentence, which may echo the question's (blind_p bp-l-014 lost its evidence so)
        head = others + model_lines if model_lines else opened
        shown = tuple(model_lines)
        evidence = evidence_lines(p.sources, opened, p.want, budget, qterms=p.qterms, shown=shown)
        if tail:
            # the paper asked about comes first: when its evidence, given the related clause's words too, says question
            # words the answer would not, and the clause says none the answer then lacks, it is shown and the clause on
            # the other papers is not (blind_x bx-l-014: "converges from scratch … on a single RTX-2080 GPU")
            fuller = evidence_lines(p.sources, opened, p.want, MAX_WORDS, qterms=p.qterms, shown=shown)
            before, after = asked_terms(head + evidence + tail, p.qterms), asked_terms(head + fuller, p.qterms)
            if after - before and not before - after:
                evidence, tail = fuller, []
    else:
        head = []  # already shown as it streamed
        evidence = evidence_lines(p.sources, model_lines, p.want, qterms=p.qterms) if settings.answer_quotes else []
    for i, line in enumerate(head + check_lines(parts.texts, p.sources, evidence) + tail):
        sep = "\n\n" if (i == 0 and streamed and not asm.lines) else asm.separator(line)
        yield emit(sep + asm.add(line))
    yield finish(Answer(question, asm.text(), asm.citations(), False, hits, used, name, fallback, asm.sentences,
                        relevance=p.relevance, backend_failed=failed, outcome=ANSWERED))


def answer(parts: AnswerParts, question: str, *, backend: str | None = None, k: int | None = None, **filters) -> Answer:
    """The complete :class:`Answer` (the streamed form, consumed)."""
    result = None
    for item in stream_answer(parts, question, backend=backend, k=k, **filters):
        if isinstance(item, Answer):
            result = item
    assert result is not None
    return result
