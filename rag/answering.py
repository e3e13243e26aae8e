"""Answers with checked citations.

The flow of one question:

1. **Retrieve** papers; decide whether they are relevant enough (else **refuse**). A hit's relevance is
   the best cosine between the question and the paper's title or its best-matching sentences
   (embedded here, so it does not depend on how the retriever scores) plus ``COVERAGE_WEIGHT`` ×
   the IDF-weighted share of the question's content words that the paper contains. The question's
   relevance takes the two parts over the top ``RELEVANCE_DEPTH`` hits separately (the closest
   meaning, plus the best word coverage, possibly of another of those papers): a short paraphrase
   spreads its words over the papers that answer it, while an off-topic question is neither close
   to nor covered by any of them. It is refused below the threshold (``settings.refuse_threshold``
   overrides).
2. **Select sources**: the hits whose fused score is at least ``CITE_RATIO`` of the top hit's and
   which are relevant themselves, numbered 1..m. For each, code picks the abstract sentence(s)
   (and, when the question asks for authors, presentation type, venue or schedule, the metadata)
   that best match the question: the *evidence*.
3. **Generate** (local / openai backends): the model gets the numbered evidence between
   ``<paper id=N>`` delimiters and writes a short answer with ``[n]`` markers.
4. **Check** every sentence as it streams in (:mod:`rag.support`): markers naming no source are
   removed; a sentence is kept only if the paper(s) it cites support it; an uncited sentence gets
   the source that supports it best, or is dropped. Kept sentences are streamed to the caller;
   dropped ones are listed in ``Answer.unsupported`` and never shown as answer text.
   With ``settings.answer_quotes`` (the default) the model's sentences are followed by the
   evidence sentences of the sources that they do not already state, quoted and cited as in the
   extractive answer: the names, numbers and details a small model leaves out of its summary stay
   in the answer, and a source the model did not use is still shown.
5. **Fall back** to the extractive answer (the evidence sentences, each cited) when the backend
   fails or nothing the model wrote is supported, saying why in ``Answer.fallback``.

Citations are renumbered in order of first use, so ``Citation.n`` always matches the text's markers.
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .errors import ConfigError, GeneratorError
from .generate import ExtractiveGenerator
from .models import Hit, Paper
from .prompts import answer_messages, evidence_block, render
from .support import (
    MIN_CONTENT,
    PaperText,
    PaperTexts,
    TermStats,
    check_support,
    content_terms,
    key_tokens,
    paper_details,
    parse_markers,
    question_terms,
    strip_markers,
    with_markers,
    words,
)

# Calibrated on eval/dev_questions.jsonl (bench/bench_answer.py --calibrate); see the module docstring.
REFUSE_THRESHOLD = 0.64
COVERAGE_WEIGHT = 0.4
RELEVANCE_DEPTH = 3
CITE_RATIO = 0.8
MAX_SOURCES = 6
# evidence sentences per source, by backend and number of sources, 1 where not listed (a small model
# reads a short prompt faster: its first token comes after the whole prompt is processed)
EVIDENCE_SENTENCES = {"extractive": {1: 3, 2: 2}, "local": {1: 2}}
DEFAULT_EVIDENCE = {1: 5, 2: 4, 0: 3}  # any other (stronger) model; key 0: any other number of sources
MAX_ANSWER_SENTENCES = 8
CONTRIBUTION_BONUS = 0.1  # a sentence that names the paper's contribution ("we propose X") is preferred
_CONTRIBUTION = re.compile(r"\b(?:we|this paper|this work)\s+(?:\w+\s+)?(?:propose|present|introduce|call|dub|develop|name)", re.I)
GIVE_UP_AFTER = 2  # unsupported sentences, with none supported yet, after which the model is abandoned
MIN_NEW_TERMS = 2  # a sentence must say something the question does not already say

_INTENTS = {
    "authors": re.compile(r"\b(?:who|authors?|wrote|written|writers?|co-?authors?)\b", re.I),
    "type": re.compile(r"\b(?:oral|spotlight|poster|presentation type|presented as)\b", re.I),
    "venue": re.compile(r"\b(?:conference|venue|which year|what year|published|appeared|accepted)\b", re.I),
    "name": re.compile(r"\b(?:which|what)\s+(?:\w+\s+){0,2}?(?:method|algorithm|model|approach|technique|framework|architecture|"
                       r"loss|objective|estimator|benchmark|dataset|system|procedure|scheme|metric|optimizer|network|layer)s?\b"
                       r"|\b(?:called|named|name of)\b", re.I),
    "when": re.compile(r"\b(?:what|which) (?:day|time)\b|\b(?:time slot|slot|session|scheduled?)\b|\bwhen (?:was|is|were|will)\b", re.I),
}


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
                "type": p.type, "url": p.url, "evidence": list(self.evidence)}


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
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
        }


# ---------------------------------------------------------------- per-pipeline caches

_caches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cached(owner, key: str, make):
    with _caches_lock:
        slot = _caches.setdefault(owner, {})
        if key not in slot:
            slot[key] = make()
        return slot[key]


def paper_texts(pipeline) -> PaperTexts:
    return _cached(pipeline.embedder, "texts", lambda: PaperTexts(pipeline.embedder))


def term_stats(pipeline, hits: list[Hit]) -> TermStats:
    retriever = pipeline.retriever
    papers = getattr(retriever, "papers", None)
    if papers is None:  # a retriever without a paper list: statistics of what was retrieved
        return TermStats([h.paper for h in hits])
    return _cached(retriever, "terms", lambda: TermStats(list(papers)))


# ---------------------------------------------------------------- planning: relevance, sources, evidence

@dataclass
class Source:
    """A selected paper, numbered as in the prompt, with its evidence: the metadata sentences the
    question asks for and the best abstract sentences (``ranked``, best first)."""

    n: int
    hit: Hit
    text: PaperText
    relevance: float
    ranked: list[str]
    meta: list[str] = field(default_factory=list)

    def quote(self, n: int | None = None) -> list[str]:
        """The metadata sentences, then the best ``n`` abstract sentences in abstract order."""
        best = set(self.ranked[:n] if n is not None else self.ranked)
        return self.meta + [s for s in self.text.sentences if s in best]

    @property
    def evidence(self) -> list[str]:
        return self.quote()


@dataclass
class Plan:
    question: str
    qvec: np.ndarray | None
    hits: list[Hit]
    relevance: float
    threshold: float
    sources: list[Source]
    qterms: set[str] = field(default_factory=set)

    @property
    def refused(self) -> bool:
        return not self.sources

    def source(self, n: int) -> Source | None:
        return next((s for s in self.sources if s.n == n), None)


def intents(question: str) -> set[str]:
    """Which metadata the question asks for: authors, type, venue, when."""
    return {k for k, rx in _INTENTS.items() if rx.search(question)}


def _ratio(hit: Hit, top: Hit) -> float:
    if top.score <= 0:
        return 1.0 if hit is top else 0.0
    return hit.score / top.score


def _lexical(sentence: str, qterms: set[str], stats: TermStats) -> float:
    total = sum(stats.idf(t) for t in qterms)
    return sum(stats.idf(t) for t in set(content_terms(sentence)) & qterms) / total if total > 0 else 0.0


@dataclass
class _Candidates:
    """A paper's sentences worth embedding for this question (the best few by word overlap, plus
    the first) and its title."""

    text: PaperText
    items: list[tuple[str, float]]  # (sentence, lexical score)
    vectors: np.ndarray | None = None  # of the items, then the title

    def _vecs(self) -> np.ndarray | None:
        if self.text.vectors is not None:  # every unit already embedded (cached): use those
            idx = {u: i for i, u in enumerate(self.text.units)}
            return self.text.vectors[[idx[s] for s, _ in self.items] + [idx[self.text.paper.title]]]
        return self.vectors

    def cosines(self, qvec: np.ndarray) -> np.ndarray:
        """Cosine of each item with the question."""
        v = self._vecs()
        return v[:len(self.items)] @ qvec if v is not None else np.zeros(len(self.items))

    def closeness(self, qvec: np.ndarray) -> float:
        """The best cosine between the question and the paper's title or candidate sentences."""
        v = self._vecs()
        return float(np.max(v @ qvec)) if v is not None and len(v) else 0.0


def _candidates(text: PaperText, qterms: set[str], stats: TermStats, n: int = 3) -> _Candidates:
    scored = [(s, _lexical(s, qterms, stats) + (CONTRIBUTION_BONUS if _CONTRIBUTION.search(s) else 0.0))
              for _, s in text.evidence_candidates()]
    # keep the n best by overlap, plus the first sentence (which often states the contribution)
    keep = sorted(scored, key=lambda x: -x[1])[:n]
    if scored and scored[0] not in keep:
        keep.append(scored[0])
    return _Candidates(text, keep)


def embed_sorted(embedder, texts: list[str], group: int = 8) -> np.ndarray:
    """``embedder.embed_batch`` over groups of similar length: short texts are not padded to the
    longest one (several times faster for a mix of titles and long abstract sentences)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), 0), dtype=np.float32)
    parts = [np.asarray(embedder.embed_batch([texts[i] for i in order[j:j + group]]), dtype=np.float32)
             for j in range(0, len(order), group)]
    if parts:
        out = np.zeros((len(texts), parts[0].shape[1]), dtype=np.float32)
        out[order] = np.concatenate(parts)
    return out


def _embed_candidates(pipeline, cands: list[_Candidates], question: str | None = None) -> np.ndarray | None:
    """One embedding batch for the candidates that lack vectors (and the question); returns the question's vector."""
    todo = [c for c in cands if c.text.vectors is None and c.vectors is None]
    pieces = [x for c in todo for x in [s for s, _ in c.items] + [c.text.paper.title]] + ([question] if question else [])
    if not pieces:
        return None
    vecs = embed_sorted(pipeline.embedder, pieces)
    at = 0
    for c in todo:
        n = len(c.items) + 1
        c.vectors = vecs[at:at + n]
        at += n
    return vecs[at] if question else None


def hit_relevance(cand: _Candidates, qvec: np.ndarray, qterms: set[str], stats: TermStats) -> tuple[float, float]:
    """How well a paper answers the question, in two parts: the best cosine between the question and
    the paper's title or best sentences, and the IDF-weighted share of the question's content words
    the paper contains. Its relevance is ``closeness + COVERAGE_WEIGHT × coverage``."""
    return cand.closeness(qvec), stats.coverage(qterms, cand.text.terms)


def _wanted_meta(text: PaperText, want: set[str]) -> list[str]:
    out = []
    for m in text.meta:
        low = m.lower()
        if ("authors" in want and " is by " in low) \
                or (want & {"type", "venue"} and (" presented as " in low or " appeared at " in low)) \
                or ("when" in want and " in the session " in low):
            out.append(m)
    return out


_NAMING = re.compile(r"\b(?:we\s+(?:\w+\s+)?(?:propose|present|introduce|call|dub|develop|name|term)|called|dubbed|named|termed|coined)\b", re.I)


def _new_names(sentence: str, question: str) -> set[str]:
    """Names (acronyms, capitalized words, alphanumeric tokens) in ``sentence`` that ``question`` does not use."""
    return {t for t in key_tokens(sentence) - key_tokens(question) - set(words(question)) if any(c.isalpha() for c in t)}


def _names_method(sentence: str, question: str) -> bool:
    """Whether ``sentence`` gives something a name ("we propose X", "called X") the question does not say."""
    return bool(_NAMING.search(sentence)) and bool(_new_names(sentence, question))


def naming_sentence(text: PaperText, question: str) -> str | None:
    """The sentence of the paper that gives its method a name the question does not say ("we
    propose REDQ", "called the tilt"), the one sharing most of the question's words; None if none."""
    qwords = set(content_terms(question))
    best = None
    for _, sent in text.evidence_candidates():
        if _names_method(sent, question):
            score = len(qwords & set(content_terms(sent)))
            if best is None or score > best[0]:
                best = (score, sent)
    return best[1] if best else None


def choose_evidence(cand: _Candidates, qvec: np.ndarray, n: int, want: set[str], question: str = "") -> tuple[list[str], list[str]]:
    """The ``n`` sentences that best match the question (cosine + 0.3 × word overlap), best first,
    and the metadata sentences the question asks for. A question that asks for a name ("which
    algorithm…") also gets the sentence that names the paper's method, when the chosen ones do not."""
    cos = cand.cosines(qvec)
    scored = [(float(c) + 0.3 * lex + (CONTRIBUTION_BONUS / 2 if _CONTRIBUTION.search(s) else 0.0), s)
              for (s, lex), c in zip(cand.items, cos, strict=True)]
    ranked = [s for _, s in sorted(scored, reverse=True)[:n]]
    if "name" in want and question and not any(_names_method(s, question) for s in ranked):
        named = naming_sentence(cand.text, question)
        if named and named not in ranked:
            ranked.append(named)
    return ranked, _wanted_meta(cand.text, want)


@dataclass
class Scored:
    """The hits considered for an answer (the top ``RELEVANCE_DEPTH`` and any close to the top
    by fused score) with their relevance to the question."""

    pool: list[Hit]
    relevance: list[float]
    ratio: list[float]
    cands: list[_Candidates]
    qvec: np.ndarray
    qterms: set[str]
    closeness: list[float]
    coverage: list[float]

    @property
    def best(self) -> float:
        """The question's relevance: the best closeness plus ``COVERAGE_WEIGHT`` × the best coverage
        among the top ``RELEVANCE_DEPTH`` hits, each part taken on its own (measured on the dev, user,
        holdout and tune question files: the same refusals as the best single paper's relevance on the
        long development questions, half the false refusals on the short paraphrased ones)."""
        if not self.closeness:
            return 0.0
        return max(self.closeness[:RELEVANCE_DEPTH]) + COVERAGE_WEIGHT * max(self.coverage[:RELEVANCE_DEPTH])


def score_hits(pipeline, question: str, hits: list[Hit]) -> Scored:
    """Relevance of the leading hits (see the module docstring)."""
    top = hits[0]
    pool = [h for i, h in enumerate(hits) if i < RELEVANCE_DEPTH or _ratio(h, top) >= CITE_RATIO][:max(MAX_SOURCES, RELEVANCE_DEPTH)]
    texts = paper_texts(pipeline).get_many([h.paper for h in pool])
    stats = term_stats(pipeline, hits)
    qterms = question_terms(question)
    cands = [_candidates(t, qterms, stats) for t in texts]
    qvec = _embed_candidates(pipeline, cands, question)
    parts = [hit_relevance(c, qvec, qterms, stats) for c in cands]
    rel = [clos + COVERAGE_WEIGHT * cov for clos, cov in parts]
    return Scored(pool, rel, [_ratio(h, top) for h in pool], cands, qvec, qterms,
                  [clos for clos, _ in parts], [cov for _, cov in parts])


def select_sources(sc: Scored, threshold: float, cite_ratio: float = CITE_RATIO) -> list[int]:
    """Indexes into ``sc.pool`` of the papers to use as sources; empty means refuse."""
    if not sc.pool or sc.best < threshold:
        return []
    chosen = [i for i in range(len(sc.pool)) if sc.ratio[i] >= cite_ratio and sc.relevance[i] >= threshold][:MAX_SOURCES]
    return chosen or [int(np.argmax(sc.relevance[:RELEVANCE_DEPTH]))]


def _per_source(table: dict[int, int], n_sources: int) -> int:
    return table.get(n_sources, table.get(0, 1))


def plan(pipeline, question: str, hits: list[Hit], *, evidence_sentences: dict[int, int] | None = None,
         threshold: float | None = None) -> Plan:
    """Decide relevance, refusal and the numbered sources with their evidence."""
    threshold = pipeline.settings.refuse_threshold if threshold is None else threshold
    threshold = REFUSE_THRESHOLD if threshold is None else float(threshold)
    if not hits:
        return Plan(question, None, hits, 0.0, threshold, [], question_terms(question))
    sc = score_hits(pipeline, question, hits)
    chosen = select_sources(sc, threshold)
    if not chosen:
        return Plan(question, sc.qvec, hits, sc.best, threshold, [], sc.qterms)
    _embed_candidates(pipeline, [sc.cands[i] for i in chosen])
    want = intents(question)
    per = max(_per_source(evidence_sentences or {}, len(chosen)), _per_source(EVIDENCE_SENTENCES["extractive"], len(chosen)))
    sources = [Source(n, sc.pool[i], sc.cands[i].text, sc.relevance[i], *choose_evidence(sc.cands[i], sc.qvec, per, want, question))
               for n, i in enumerate(chosen, 1)]
    return Plan(question, sc.qvec, hits, sc.best, threshold, sources, sc.qterms)


# ---------------------------------------------------------------- composing answers

STATED_SHARE = 0.6  # an evidence sentence whose content words the model's answer mostly states is not quoted again


def _is_stated(sentence: str, said: set[str]) -> bool:
    terms = set(content_terms(sentence))
    return bool(terms) and len(terms & said) >= STATED_SHARE * len(terms)


class Composer:
    """Checks sentences against the plan's sources and assembles the answer text and citations."""

    def __init__(self, pipeline, p: Plan):
        self.pipeline, self.plan = pipeline, p
        self.number: dict[int, int] = {}  # source n → answer n
        self.sentences: list[AnswerSentence] = []
        self.kept: list[str] = []
        self.evidence: dict[int, list[str]] = {}
        self.seen: set[str] = set()
        self.processed = 0
        self.repeats = 0

    def _cite(self, src: Source, sentence: str | None = None) -> int:
        if src.n not in self.number:
            self.number[src.n] = len(self.number) + 1
        if sentence:
            self.evidence.setdefault(src.n, [])
            if sentence not in self.evidence[src.n]:
                self.evidence[src.n].append(sentence)
        return self.number[src.n]

    def _best_unit(self, src: Source, vec: np.ndarray) -> str:
        units = src.text.units
        if src.text.vectors is None or not units:
            return src.evidence[0] if src.evidence else ""
        return units[int(np.argmax(src.text.vectors @ vec))]

    def check(self, raw: str) -> str | None:
        """Check one model sentence; the display text if it is kept, else None."""
        claimed = parse_markers(raw)
        valid = [self.plan.source(n) for n in claimed]
        valid = [s for s in valid if s is not None]
        clean = strip_markers(raw).strip(" -*•:")
        clean = re.sub(r"^\d+[.)]\s*", "", clean).strip()
        key = re.sub(r"\W+", " ", clean.lower()).strip()
        if len(set(content_terms(clean))) < MIN_CONTENT:
            return None  # a fragment ("The answer is:", "1.") states nothing
        self.processed += 1
        if key in self.seen:
            self.repeats += 1
            return None
        self.seen.add(key)
        if len(set(content_terms(clean)) - self.plan.qterms) < MIN_NEW_TERMS:
            self.sentences.append(AnswerSentence(clean, [], False, 0.0, note="only restates the question"))
            return None
        vec = paper_texts(self.pipeline).embed([s.text for s in (valid or self.plan.sources)], extra=[clean])[0]
        keep: list[Source] = []
        score = 0.0
        if valid:
            for s in valid:
                sup = check_support(clean, vec, [s.text])
                score = max(score, sup.score)
                if sup.supported:
                    keep.append(s)
            if not keep and len(valid) > 1:
                sup = check_support(clean, vec, [s.text for s in valid])
                score = max(score, sup.score)
                if sup.supported:
                    keep = valid
        else:
            best = None
            for s in self.plan.sources:
                sup = check_support(clean, vec, [s.text])
                score = max(score, sup.score)
                if sup.supported and (best is None or sup.score > best[0]):
                    best = (sup.score, s)
            if best:
                keep = [best[1]]
        if not keep or len(self.kept) >= MAX_ANSWER_SENTENCES:
            note = "beyond the answer's length limit" if keep else (
                "its cited source does not support it" if valid else "no source supports it")
            self.sentences.append(AnswerSentence(clean, [], False, score, note=note))
            return None
        nums = [self._cite(s, self._best_unit(s, vec)) for s in keep]
        text = with_markers(clean, nums)
        self.sentences.append(AnswerSentence(text, nums, True, score))
        self.kept.append(text)
        return text

    def extractive(self, stated: str | None = None) -> list[str]:
        """The evidence answer: per source, its title and evidence sentences, each cited. With
        ``stated`` (the model's kept text), the evidence sentences whose content words it already
        states (``STATED_SHARE`` of them) are left out, and so are sources left with none."""
        said = set(content_terms(stated)) if stated else set()
        lines = []
        order = sorted(self.plan.sources, key=lambda src: (self.number.get(src.n, len(self.plan.sources) + src.n), src.n))
        for src in order:
            todo = [s for s in src.evidence if not stated or not _is_stated(s, said)]
            if not todo:
                continue
            n = self._cite(src)
            parts = []
            for j, sent in enumerate(todo):
                self._cite(src, sent)
                shown = sent if (j > 0 or sent.startswith(src.hit.paper.title)) else f"{src.hit.paper.title}: {sent}"
                text = with_markers(shown, [n])
                self.sentences.append(AnswerSentence(text, [n], True, 1.0, origin="evidence"))
                parts.append(text)
            lines.append(" ".join(parts))
        return lines

    def citations(self) -> list[Citation]:
        out = []
        for src_n, ans_n in sorted(self.number.items(), key=lambda kv: kv[1]):
            src = self.plan.source(src_n)
            out.append(Citation(ans_n, src.hit.paper, self.evidence.get(src_n) or list(src.evidence)))
        return out

    def reset(self) -> None:
        """Forget the model's kept sentences before falling back (its unsupported ones stay on record)."""
        self.number.clear()
        self.evidence.clear()
        self.sentences = [s for s in self.sentences if not s.supported]
        self.kept.clear()


# ---------------------------------------------------------------- streaming the model's sentences

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


# ---------------------------------------------------------------- public API

def _refusal_text() -> str:
    return render("refusal").strip()


def stream_answer(pipeline, question: str, *, backend: str | None = None, k: int | None = None,
                  **filters) -> Iterator[str | Answer]:
    """Yields the answer text in pieces as it is checked, then the final :class:`Answer`.

    The pieces are provisional display text; the final ``Answer.text`` is authoritative (after a
    mid-answer fallback the pieces end with the extractive answer that replaces the partial one).
    """
    t0 = time.perf_counter()
    question = re.sub(r"\s+", " ", question or "").strip()
    if not question:
        raise ConfigError("the question is empty")
    limit = pipeline.settings.max_question_chars
    if len(question) > limit:
        raise ConfigError(f"the question is {len(question)} characters long; the limit is {limit}")
    name = backend or pipeline.settings.backend
    gen = pipeline.generator(name)
    hits = pipeline.retrieve(question, k, **filters)
    t_retrieved = time.perf_counter()
    extractive = isinstance(gen, ExtractiveGenerator)
    per_source = EVIDENCE_SENTENCES.get(gen.name, DEFAULT_EVIDENCE)
    p = plan(pipeline, question, hits, evidence_sentences=per_source)
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

    if p.refused:
        text = _refusal_text()
        yield emit(text)
        yield finish(Answer(question, text, [], True, hits, gen.name, name, relevance=p.relevance))
        return

    comp = Composer(pipeline, p)
    fallback, failed = None, False
    used = gen.name
    streamed = False
    if not extractive:
        sources = p.sources
        want = intents(question)
        shown = _per_source(per_source, len(sources))
        blocks = [evidence_block(s.n, s.hit.paper.title, paper_details(s.hit.paper, want), " ".join(s.quote(shown))) for s in sources]
        max_sent = min(4, max(2, len(sources) + 1))
        messages = answer_messages(question, blocks, [s.n for s in sources], max_sentences=max_sent)
        stream = gen.stream(messages, max_tokens=pipeline.settings.llm_max_tokens, temperature=pipeline.settings.llm_temperature)
        seen: dict[str, int] = {}
        try:
            for raw in sentences_from_stream(stream):
                key = re.sub(r"\W+", " ", raw.lower()).strip()
                seen[key] = seen.get(key, 0) + 1
                shown = comp.check(raw)
                if shown is not None:
                    yield emit((" " if streamed else "") + shown)
                    streamed = True
                if len(comp.kept) >= max_sent or comp.repeats >= 2 or seen[key] >= 3 or sum(seen.values()) >= 2 * max_sent + 4:
                    break  # enough, or the model is looping
                if not comp.kept and len(comp.sentences) >= GIVE_UP_AFTER:
                    break  # its first claims all failed the check: fall back now rather than after the whole answer
        except GeneratorError as e:
            fallback, failed = f"{e}; extractive answer", True
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()
        if fallback is None and not comp.kept:
            fallback = f"no sentence of the {gen.name} model's answer is supported by its sources; extractive answer"
        if fallback:
            comp.reset()
            used = "extractive"
    if extractive or fallback:
        lines = comp.extractive()
        for i, line in enumerate(lines):
            lead = "\n\n" if (i == 0 and streamed) else ("\n" if i else "")
            yield emit(lead + line)
        text = "\n".join(lines)
    else:
        text = " ".join(comp.kept)
        if pipeline.settings.answer_quotes:  # what the model left out of its sources' evidence, quoted
            lines = comp.extractive(stated=text)
            for i, line in enumerate(lines):
                yield emit(("\n\n" if i == 0 else "\n") + line)
            if lines:
                text += "\n\n" + "\n".join(lines)
    yield finish(Answer(question, text, comp.citations(), False, hits, used, name, fallback, comp.sentences,
                        relevance=p.relevance, backend_failed=failed))


def answer(pipeline, question: str, *, backend: str | None = None, k: int | None = None, **filters) -> Answer:
    """The complete :class:`Answer` (the streamed form, consumed)."""
    result = None
    for item in stream_answer(pipeline, question, backend=backend, k=k, **filters):
        if isinstance(item, Answer):
            result = item
    assert result is not None
    return result
