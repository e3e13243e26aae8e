# ruff: noqa: B905, E501, E701, E702, SIM115, I001, E401
"""Tune-file rows (as bench.calibrate.features) plus token-level alignment of the question with the top 3 papers."""
import json, sys
from pathlib import Path
import numpy as np
from sentence_transformers import SentenceTransformer
from rag.embed import resolve_model_path
from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.evaluate import load_questions
from rag.evidence import intents
from rag.models import normalize_title
from rag.relevance import score_hits
from rag.text import question_terms, content_terms

out = Path(sys.argv[1]); files = [Path(f) for f in sys.argv[2:]]
pipe = Pipeline(Settings())
parts = pipe.answer_parts()
st = SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu")
tok = st.tokenizer
cache = {}
def words_vecs(texts):
    """For each text: list of (word, vector) with word pieces averaged, contextual."""
    todo = [t for t in texts if t not in cache]
    if todo:
        embs = st.encode(todo, output_value="token_embeddings", convert_to_numpy=False, batch_size=16)
        for t, e in zip(todo, embs):
            e = e.numpy()
            ids = tok(t, truncation=True, max_length=st.max_seq_length)["input_ids"]
            pieces = tok.convert_ids_to_tokens(ids)
            ws, vs = [], []
            for p, v in zip(pieces, e):
                if p in ("[CLS]", "[SEP]"): continue
                if p.startswith("##") and ws:
                    ws[-1] += p[2:]; vs[-1].append(v)
                else:
                    ws.append(p); vs.append([v])
            V = np.array([np.mean(x, 0) for x in vs]) if vs else np.zeros((0, e.shape[1]))
            V = V / (np.linalg.norm(V, axis=1, keepdims=True) + 1e-9)
            cache[t] = (ws, V)
    return [cache[t] for t in texts]
rows = []
for f in files:
    for q in load_questions(f):
        hits = pipe.retrieve(q.question, pipe.settings.retrieval.k)
        gold = {normalize_title(t) for t in q.gold_titles}
        row = {"id": q.id, "type": q.type, "gold": len(gold), "file": f.name, "several": "several" in intents(q.question), "hits": []}
        if hits:
            sc = score_hits(parts.embedder, parts.texts, parts.stats, q.question, question_terms(q.question), hits)
            row["features"] = sc.features(); row["values"] = sc.feature_values()
            row["hits"] = [{"gold": normalize_title(h.paper.title) in gold, "closeness": c, "coverage": v, "id": h.paper.id}
                           for h, c, v in zip(hits, sc.closeness, sc.coverage, strict=True)]
            (qw, qv), = words_vecs([q.question])
            keep = [i for i, w in enumerate(qw) if w.isalnum() and content_terms(w)]
            row["qwords"] = [qw[i] for i in keep]
            row["qidf"] = [max((parts.stats.idf(t) for t in content_terms(qw[i])), default=0.0) for i in keep]
            row["align"] = []  # per top-3 paper: max cosine of each kept question word over the paper's words
            for t in sc.texts[:3]:
                units = [t.paper.title, *t.sentences]
                vs = [v for _, v in words_vecs(units) if len(v)]
                P = np.concatenate(vs) if vs else np.zeros((1, qv.shape[1]))
                sims = qv[keep] @ P.T if keep else np.zeros((0, 1))
                row["align"].append(sims.max(1).tolist() if keep else [])
        rows.append(row)
    print(f, len(rows), flush=True)
out.write_text(json.dumps(rows))
