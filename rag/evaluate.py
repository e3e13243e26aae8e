"""The evaluation harness: scores retrieval (and, with a backend, answers) on a question file in
the format of ``eval/dev_questions.jsonl``.

Retrieval is scored at paper level: Recall@5 and MRR@10 over questions with gold titles, overall
and per question type, for the hybrid retriever and, in the same run, its baselines: keyword only
(BM25), dense only (the index's model) and rank fusion of the two (``rrf``, reciprocal rank fusion
of BM25 and dense, no feedback pass), so every figure can be read as a ratio to a plain baseline.
Recall@5 of a question with more than five gold papers (a topic question) counts the gold papers
in the top 5 out of five: ``|gold ∩ top5| / min(|gold|, 5)``. Questions without gold titles
(``unanswerable``) are counted, not scored: retrieval always returns papers. Gold titles are
matched to papers by normalized title.
"""

from __future__ import annotations

import functools
import json
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .compose import RELATED_HEAD
from .errors import ConfigError
from .models import normalize_title

MODES = ("hybrid", "keyword", "dense", "rrf")
BASELINES = ("keyword", "dense", "rrf")


@dataclass
class Question:
    id: str
    type: str
    question: str
    gold_titles: list[str] = field(default_factory=list)
    answer_facts: list[str] = field(default_factory=list)


def read_records(path: Path, what: str, make) -> list:
    """``make(record, line number)`` for every JSON line of ``path``; a line that is not JSON or that
    ``make`` rejects is a :class:`ConfigError` naming the file and line, and so is a file with none."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {what} file {path}: {e}") from e
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(make(json.loads(line), n))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            raise ConfigError(f"{path}:{n}: not a {what} record ({e})") from e
    if not out:
        raise ConfigError(f"{path}: no {what}s")
    return out


def load_questions(path: Path) -> list[Question]:
    return read_records(path, "question", lambda d, n: Question(
        id=str(d.get("id", n)), type=str(d.get("type", "lookup")), question=str(d["question"]),
        gold_titles=list(d.get("gold_titles") or []), answer_facts=list(d.get("answer_facts") or [])))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def score_ranking(ranked_titles: list[str], gold: list[str]) -> tuple[float, float]:
    """(Recall@5, MRR@10) of a ranked list of titles against gold titles; recall is out of
    ``min(|gold|, 5)``, what a top 5 can hold."""
    g = {normalize_title(t) for t in gold}
    r = [normalize_title(t) for t in ranked_titles]
    recall = len(g & set(r[:5])) / min(len(g), 5)
    mrr = next((1.0 / i for i, t in enumerate(r[:10], 1) if t in g), 0.0)
    return recall, mrr


def eval_retrieval(retriever, questions: list[Question], modes=MODES, searchers: dict | None = None) -> dict:
    """Per mode: overall and per-type Recall@5 / MRR@10, latency p50/p95 (ms), and per-question ranks.

    ``searchers``: mode name → ``f(question, k) -> hits`` used instead of ``retriever.search(question,
    k, mode=name)`` (e.g. the pipeline's hybrid search, which also reads filters from the question);
    its names are scored first, then the other ``modes``."""
    answerable = [q for q in questions if q.gold_titles]
    searchers = dict(searchers or {})
    for mode in modes:
        if mode not in searchers:
            searchers[mode] = (lambda m: lambda text, k: retriever.search(text, k, mode=m))(mode)
    out = {}
    for mode, search in searchers.items():
        per_type: dict[str, list[tuple[float, float]]] = defaultdict(list)
        lat, rows = [], []
        search(questions[0].question, 10)  # warm-up
        for q in answerable:
            t = time.perf_counter()
            hits = search(q.question, 10)
            lat.append((time.perf_counter() - t) * 1000)
            rec, mrr = score_ranking([h.paper.title for h in hits], q.gold_titles)
            per_type[q.type].append((rec, mrr))
            rows.append({"id": q.id, "recall@5": rec, "mrr@10": mrr, "top": [h.paper.title for h in hits[:3]]})
        allv = [v for vs in per_type.values() for v in vs]
        out[mode] = {
            "recall@5": statistics.fmean(v[0] for v in allv) if allv else 0.0,
            "mrr@10": statistics.fmean(v[1] for v in allv) if allv else 0.0,
            "n": len(allv),
            "by_type": {t: {"recall@5": statistics.fmean(v[0] for v in vs), "mrr@10": statistics.fmean(v[1] for v in vs), "n": len(vs)}
                        for t, vs in sorted(per_type.items())},
            "latency_ms": {"p50": percentile(lat, 0.5), "p95": percentile(lat, 0.95)},
            "unscored": sum(1 for q in questions if not q.gold_titles),
            "questions": rows,
        }
    return out


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else ("=" if a == b else "inf")


def _by_type(t: str, metric: str, m: dict) -> float:
    return m["by_type"].get(t, {}).get(metric, float("nan"))


def format_retrieval(res: dict) -> str:
    """A plain-text table of :func:`eval_retrieval`'s result: one row per retriever, then, for each
    baseline, hybrid's figures divided by the baseline's (1.00x: no better than the baseline)."""
    types = sorted({t for m in res.values() for t in m["by_type"]})
    cols: list[tuple[str, Callable[[dict], float]]] = [("R@5", lambda m: m["recall@5"]), ("MRR@10", lambda m: m["mrr@10"])]
    for t in types:
        cols.append((f"{t[:8]} R@5", functools.partial(_by_type, t, "recall@5")))
        cols.append((f"{t[:8]} MRR", functools.partial(_by_type, t, "mrr@10")))
    width = max(16, *(len(m) + 9 for m in res))
    head = f"{'retriever':<{width}} " + " ".join(f"{c:>13}" for c, _ in cols) + f" {'p50 ms':>7} {'p95 ms':>7}"
    lines = [head, "-" * len(head)]
    for mode, m in res.items():
        lines.append(f"{mode:<{width}} " + " ".join(f"{f(m):>13.3f}" for _, f in cols)
                     + f" {m['latency_ms']['p50']:>7.1f} {m['latency_ms']['p95']:>7.1f}")
    if "hybrid" in res:
        h = res["hybrid"]
        for base in (b for b in res if b != "hybrid"):
            b = res[base]
            lines.append(f"{'hybrid ÷ ' + base:<{width}} " + " ".join(f"{_ratio(f(h), f(b)):>13}" for _, f in cols))
    counts = ", ".join(f"{t} {res[next(iter(res))]['by_type'][t]['n']}" for t in types)
    first: dict = next(iter(res.values()), {})
    unscored = first.get("unscored", 0)
    lines.append(f"scored: {counts}" + (f"; not scored (no gold papers): {unscored}" if unscored else ""))
    return "\n".join(lines)


# ---------------------------------------------------------------- answers

def _has_fact(text: str, fact: str) -> bool:
    """Whether the answer states ``fact``, as written or as shown: a fact copied with the abstract's LaTeX
    ("O(1/(n\\beta))") is found in its display form ("O(1/(nβ))", :func:`rag.text.clean_source_text`)."""
    from .text import clean_source_text

    low = text.lower()
    return fact.lower() in low or clean_source_text(fact).lower() in low


def _shown_sentences(a) -> list:
    return [x for x in a.sentences if x.supported]


# what comes before the clauses of a multi-paper line: the opening's count, or the "Also related" line after a one-thing answer
_OPENING_COUNT = re.compile(rf"^(?:\d+ papers address this:|{re.escape(RELATED_HEAD.strip())})\s*")
# where the next paper's clause starts in a multi-paper opening: before its quoted title and marker ("; and “Title”
# (ICLR 2021) [2]"), not at a quote inside a clause or an "and" inside a title
_OPENING_ITEM = re.compile(r"(?:;\s+(?:and\s+)?|\s+and\s+)(?=“[^”]+”(?: \([^)]*\))? \[\d+\])")


def recheck(parts, a) -> int:
    """Shown sentences that fail the support check when checked again on their own, each against the
    papers its markers cite (an independent count of "unsupported sentences shown")."""
    from .support import check_support, parse_markers, strip_markers

    by_n = {c.n: c.paper for c in a.citations}
    bad = 0
    for sent in _shown_sentences(a):
        if sent.origin == "records":
            continue  # a program answer: built from the session/time records (room, moderator), not from an abstract
        papers = [by_n[n] for n in parse_markers(sent.text) if n in by_n]
        if not papers:
            bad += 1
            continue
        pieces = [(sent.text, papers)]
        if sent.origin == "evidence" and (len(papers) > 1 or _OPENING_COUNT.match(sent.text)):  # a multi-paper line: clause by clause
            body = _OPENING_COUNT.sub("", sent.text)
            pieces = [(seg, [by_n[n] for n in parse_markers(seg) if n in by_n]) for seg in _OPENING_ITEM.split(body)
                      if parse_markers(seg)]
        for text, cited in pieces:
            texts = parts.texts.get_many(cited)
            clean = strip_markers(text).strip(" ;:,")
            vec = parts.texts.embed(texts, extra=[clean])[0]
            if not cited or not check_support(clean, vec, texts).supported:
                bad += 1
                break
    return bad


def _answers_question(sentence: str, qterms: set[str], facts: list[str]) -> bool:
    """The proxy for "this sentence answers what was asked": it contains a content word of the
    question or one of the answer facts."""
    from .text import content_terms

    low = sentence.lower()
    return bool(set(content_terms(sentence)) & qterms) or any(f.lower() in low for f in facts)


def eval_answers(pipeline, questions: list[Question], backend: str) -> dict:
    """Answer every question with ``backend`` and score the answers.

    - ``facts``: share of answer facts found in the answer text (case-insensitive substring), over
      answerable questions; ``all_facts``: share of those questions with every fact found;
    - ``on_question``: share of shown sentences that contain a content word of the question or an
      answer fact (a proxy for "answers the question"); ``median_words``: median answer length;
    - ``model_kept``: share of answered questions in which a model-written sentence is shown;
      ``model_dropped``: model sentences dropped by the check / all it wrote;
    - ``unsupported_shown``: shown sentences that fail the support check when re-checked on their own;
    - ``refusal``: share of unanswerable questions declined (not covered, or only related papers
      named) citing nothing; ``false_refusal``: share of answerable questions declined;
    - ``citation_precision``: cited papers that are gold / all cited; ``gold_recall``: gold papers
      cited / gold papers present in the retrieved top k;
    - latency p50/p95 and first-piece p50 (ms), and how many answers fell back to extractive.
    """
    import statistics as st

    from .answering import answer as answer_fn
    from .text import question_terms, words

    parts = pipeline.answer_parts()
    gold_of = {q.id: {normalize_title(t) for t in q.gold_titles} for q in questions}
    lat, first, rows, lengths = [], [], [], []
    facts = found = all_found = with_facts = 0
    cited = cited_gold = gold_present = gold_cited = 0
    model_written = model_dropped = answered = with_model = 0
    shown = on_question = unsupported_shown = 0
    unans = unans_ok = ans = ans_refused = fallbacks = 0
    for q in questions:
        t = time.perf_counter()
        a = answer_fn(parts, q.question, backend=backend)
        lat.append((time.perf_counter() - t) * 1000)
        first.append(a.timings.get("first_token_ms", lat[-1]))
        model_sents = [s for s in a.sentences if s.origin == "model"]
        model_written += len(model_sents)
        model_dropped += sum(1 for s in model_sents if not s.supported)
        fallbacks += a.fallback is not None
        titles = [normalize_title(c.paper.title) for c in a.citations]
        row = {"id": q.id, "type": q.type, "refused": a.refused, "outcome": a.outcome, "backend": a.backend, "fallback": a.fallback,
               "cited": [c.paper.title for c in a.citations], "answer": a.text, "ms": round(lat[-1]),
               "timings": {k: round(v) for k, v in a.timings.items()},
               "sentences": [x.to_dict() for x in a.sentences if x.origin == "model"]}
        if not a.refused:
            answered += 1
            with_model += any(s.supported for s in model_sents)
            lengths.append(len(words(a.text)))
            qterms = question_terms(q.question)
            for s in _shown_sentences(a):
                shown += 1
                on_question += _answers_question(s.text, qterms, q.answer_facts)
            bad = recheck(parts, a)
            unsupported_shown += bad
            row["unsupported_shown"] = bad
        if q.gold_titles:
            ans += 1
            ans_refused += a.refused
            cited += len(titles)
            cited_gold += sum(1 for t in titles if t in gold_of[q.id])
            present = {normalize_title(h.paper.title) for h in a.retrieved} & gold_of[q.id]
            gold_present += len(present)
            gold_cited += len(present & set(titles))
            if q.answer_facts:
                hits = [f for f in q.answer_facts if _has_fact(a.text, f)]
                facts += len(q.answer_facts)
                found += len(hits)
                with_facts += 1
                all_found += len(hits) == len(q.answer_facts)
                row["missing_facts"] = [f for f in q.answer_facts if f not in hits]
        else:
            unans += 1
            unans_ok += a.refused and not a.citations
        rows.append(row)
    return {
        "backend": backend,
        "n": len(questions),
        "facts": found / facts if facts else 0.0,
        "all_facts": all_found / with_facts if with_facts else 0.0,
        "on_question": on_question / shown if shown else 0.0,
        "median_words": st.median(lengths) if lengths else 0,
        "model_kept": with_model / answered if answered else 0.0,
        "model_sentences": model_written,
        "model_dropped": model_dropped,
        "unsupported_shown": unsupported_shown,
        "citation_precision": cited_gold / cited if cited else 0.0,
        "gold_recall": gold_cited / gold_present if gold_present else 0.0,
        "citations": cited,
        "refusal": unans_ok / unans if unans else 0.0,
        "false_refusal": ans_refused / ans if ans else 0.0,
        "fallbacks": fallbacks,
        "latency_ms": {"p50": percentile(lat, 0.5), "p95": percentile(lat, 0.95)},
        "first_token_ms": {"p50": percentile(first, 0.5)},
        "questions": rows,
    }


def format_answers(res_by_backend: dict) -> str:
    """A plain-text table of :func:`eval_answers` results, one row per backend."""
    head = (f"{'backend':<11} {'facts':>6} {'all':>6} {'on-q':>6} {'words':>6} {'model':>6} {'unsup':>6} {'refuse':>7} "
            f"{'false R':>8} {'cite P':>7} {'gold R':>7} {'p50 ms':>8} {'1st ms':>8}")
    lines = [head, "-" * len(head)]
    for name, r in res_by_backend.items():
        lines.append(f"{name:<11} {r['facts']:>6.3f} {r['all_facts']:>6.3f} {r['on_question']:>6.3f} {r['median_words']:>6.0f} "
                     f"{r['model_kept']:>6.3f} {r['unsupported_shown']:>6d} {r['refusal']:>7.3f} {r['false_refusal']:>8.3f} "
                     f"{r['citation_precision']:>7.3f} {r['gold_recall']:>7.3f} {r['latency_ms']['p50']:>8.0f} "
                     f"{r['first_token_ms']['p50']:>8.0f}")
    lines.append("facts/all: answer facts found / questions with all facts; on-q: shown sentences with a question term or fact; "
                 "words: median answer length; model: answered questions with a kept model sentence; unsup: shown sentences "
                 "failing the support check; refuse: unanswerable declined; false R: answerable declined; cite P: cited papers "
                 "that are gold; gold R: gold papers in the top k that are cited")
    return "\n".join(lines)
