# ruff: noqa: B905, SIM115, SIM222, UP031, E702
"""Dump raw per-question material for refusal feature exploration (tune files only)."""
import json
import sys
from pathlib import Path

from rag.evaluate import load_questions
from rag.evidence import intents
from rag.models import normalize_title
from rag.pipeline import Pipeline
from rag.relevance import embed_sorted, score_hits
from rag.settings import Settings
from rag.text import content_terms, question_terms, words

out_path = Path(sys.argv[1])
files = [Path(f) for f in sys.argv[2:]]
pipe = Pipeline(Settings())
parts = pipe.answer_parts()
stats = parts.stats
rows = []
for path in files:
    for q in load_questions(path):
        hits = pipe.retrieve(q.question, pipe.settings.retrieval.k)
        gold = {normalize_title(t) for t in q.gold_titles}
        qterms = question_terms(q.question)
        # ordered question content words (stemmed), and the raw words for segmentation
        row = {"id": q.id, "type": q.type, "file": path.name, "question": q.question,
               "several": "several" in intents(q.question), "qterms": {t: stats.idf(t) for t in qterms},
               "qwords": words(q.question), "hits": []}
        if hits:
            sc = score_hits(parts.embedder, parts.texts, parts.stats, q.question, qterms, hits)
            row["features"] = sc.features()
            top = sc.texts[:3]
            pieces = []
            for t in top:
                pieces += list(t.sentences) + [t.paper.title]
            vecs = embed_sorted(parts.embedder, pieces)
            cos = vecs @ sc.qvec
            at = 0
            for i, (h, c, v) in enumerate(zip(hits, sc.closeness, sc.coverage, strict=True)):
                d = {"gold": normalize_title(h.paper.title) in gold, "closeness": c, "coverage": v, "title": h.paper.title, "dense": h.dense, "keyword": h.keyword, "score": h.score}
                if i < 3:
                    t = sc.texts[i]
                    n = len(t.sentences)
                    d["sent_cos"] = [float(x) for x in cos[at:at + n]]
                    d["title_cos"] = float(cos[at + n])
                    d["paper_cos"] = h.dense if h.dense is not None else 0.0
                    at += n + 1
                    d["sentences"] = t.sentences
                    d["sent_terms"] = [content_terms(s) for s in t.sentences]
                    d["title_terms"] = content_terms(t.paper.title)
                    d["terms"] = sorted(t.terms)
                row["hits"].append(d)
        rows.append(row)
        print(path, len(rows), flush=True)
    out_path.write_text(json.dumps(rows))
