"""The evaluation harness: scores retrieval (and, with a backend, answers) on a question file in
the format of ``eval/dev_questions.jsonl``.

Retrieval is scored at paper level: Recall@5 and MRR@10 over questions with gold titles, overall
and per question type, for the hybrid retriever and, in the same run, dense-only and keyword-only.
Gold titles are matched to papers by normalized title.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .models import normalize_title

MODES = ("hybrid", "dense", "keyword")


@dataclass
class Question:
    id: str
    type: str
    question: str
    gold_titles: list[str] = field(default_factory=list)
    answer_facts: list[str] = field(default_factory=list)


def load_questions(path: Path) -> list[Question]:
    out = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read question file {path}: {e}") from e
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(Question(id=str(d.get("id", n)), type=str(d.get("type", "lookup")), question=str(d["question"]),
                                gold_titles=list(d.get("gold_titles") or []), answer_facts=list(d.get("answer_facts") or [])))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ConfigError(f"{path}:{n}: not a question record ({e})") from e
    if not out:
        raise ConfigError(f"{path}: no questions")
    return out


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def score_ranking(ranked_titles: list[str], gold: list[str]) -> tuple[float, float]:
    """(Recall@5, MRR@10) of a ranked list of titles against gold titles."""
    g = {normalize_title(t) for t in gold}
    r = [normalize_title(t) for t in ranked_titles]
    recall = len(g & set(r[:5])) / len(g)
    mrr = next((1.0 / i for i, t in enumerate(r[:10], 1) if t in g), 0.0)
    return recall, mrr


def eval_retrieval(retriever, questions: list[Question], modes=MODES) -> dict:
    """Per mode: overall and per-type Recall@5 / MRR@10, latency p50/p95 (ms), and per-question ranks."""
    answerable = [q for q in questions if q.gold_titles]
    out = {}
    for mode in modes:
        per_type: dict[str, list[tuple[float, float]]] = defaultdict(list)
        lat, rows = [], []
        retriever.search(questions[0].question, 10, mode=mode)  # warm-up
        for q in answerable:
            t = time.perf_counter()
            hits = retriever.search(q.question, 10, mode=mode)
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
            "questions": rows,
        }
    return out


def format_retrieval(res: dict) -> str:
    """A plain-text table of :func:`eval_retrieval`'s result."""
    types = sorted({t for m in res.values() for t in m["by_type"]})
    head = f"{'retriever':<10} {'R@5':>6} {'MRR@10':>7} " + " ".join(f"{t[:8] + ' R@5':>13}" for t in types) + f" {'p50 ms':>7} {'p95 ms':>7}"
    lines = [head, "-" * len(head)]
    for mode, m in res.items():
        per = " ".join(f"{m['by_type'].get(t, {}).get('recall@5', float('nan')):>13.3f}" for t in types)
        lines.append(f"{mode:<10} {m['recall@5']:>6.3f} {m['mrr@10']:>7.3f} {per} {m['latency_ms']['p50']:>7.1f} {m['latency_ms']['p95']:>7.1f}")
    return "\n".join(lines)
