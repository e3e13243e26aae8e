"""Disk used by the index per chunk: the shipped corpus and a synthetic 10k-paper corpus.

Builds each corpus into a fresh embedded Chroma store with the real chunker (MiniLM's tokenizer)
and reports bytes on disk per chunk (SQLite file and HNSW folders apart, and the SQLite tables
that hold them). Disk use does not depend on the vectors' values (float32 blobs and a graph of
fixed degree), so ``--vectors hash`` stores deterministic unit vectors derived from each text
instead of running the model (minutes instead of an hour on 2 cores); ``--vectors model`` embeds
for real. The synthetic papers are shipped abstracts' sentences recombined under new titles, with
the shipped corpus' length distribution.

Run: ``.venv/bin/python -m bench.bench_disk [--papers 10000] [--vectors hash|model]`` (writes bench/results_disk.md).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.corpus import load_corpus
from rag.embed import SentenceTransformerEmbedder
from rag.models import Paper, paper_id
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings


class HashVectors:
    """The model's name, dimension and tokenizer (so chunks are the real ones); vectors from a hash of each text."""

    def __init__(self, model: SentenceTransformerEmbedder):
        self.name, self.dim, self.batch_size, self._m = model.name, model.dim, 256, model

    def tokenize(self, text: str) -> list[int]:
        return self._m.tokenize(text)

    def count_tokens(self, text: str) -> int:
        return self._m.count_tokens(text)

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        out = np.stack([np.random.default_rng(int(hashlib.sha1(t.encode()).hexdigest()[:15], 16)).standard_normal(self.dim)
                        for t in texts]).astype(np.float32) if texts else np.zeros((0, self.dim), np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True).clip(1e-9)


def synthetic(shipped: list[Paper], n: int, seed: int = 17) -> list[Paper]:
    """``n`` papers whose abstracts recombine shipped sentences, each as long as a random shipped abstract."""
    rnd = random.Random(seed)
    sents = [s for p in shipped for s in re.split(r"(?<=[.!?])\s+", p.abstract) if len(s) > 20]
    words = sorted({w for p in shipped for w in re.findall(r"[A-Za-z]{4,}", p.title)})
    out = []
    for i in range(n):
        target = len(rnd.choice(shipped).abstract)
        parts: list[str] = []
        while sum(map(len, parts)) < target:
            parts.append(rnd.choice(sents))
        title = " ".join(rnd.choice(words) for _ in range(rnd.randint(5, 11))).capitalize() + f" {i}"
        src = rnd.choice(shipped)
        out.append(Paper(id=paper_id(title), title=title, abstract=" ".join(parts), authors=src.authors, venue=src.venue,
                         year=src.year, type=src.type, sources=src.sources))
    return out


def disk_bytes(path: Path) -> int:
    """Bytes allocated on disk (blocks), as ``du`` counts them."""
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file())


def table_bytes(db: Path) -> dict[str, int]:
    """Bytes per SQLite table (indexes folded into their table), from the dbstat virtual table."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT s.name, m.tbl_name, SUM(s.pgsize) FROM dbstat s LEFT JOIN sqlite_master m ON m.name = s.name "
                           "GROUP BY s.name").fetchall()
    except sqlite3.Error:
        return {}
    finally:
        con.close()
    out: dict[str, int] = {}
    for name, tbl, size in rows:
        key = re.sub(r"_(data|idx|content|docsize|config)$", "", tbl or name)
        out[key] = out.get(key, 0) + int(size)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def measure(label: str, papers: list[Paper], embedder, tmp: Path) -> dict:
    settings = Settings(_env_file=None, index_dir=tmp / label)
    pipe = Pipeline(settings, embedder=embedder)
    t = time.perf_counter()
    from rag.index import build_index

    rep = build_index(pipe.client, settings.index, embedder, papers)
    store = pipe.store()
    chunks = store.chunks.count()
    chroma = Path(settings.index.index_dir) / "chroma"
    db = chroma / "chroma.sqlite3"
    total, sqlite_b = disk_bytes(chroma), db.stat().st_blocks * 512
    return {"label": label, "papers": rep.papers, "chunks": chunks, "seconds": time.perf_counter() - t, "total": total,
            "sqlite": sqlite_b, "hnsw": total - sqlite_b, "per_chunk": total / chunks, "tables": table_bytes(db)}


def main(n: int = 10_000, vectors: str = "hash") -> str:
    model = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    embedder = model if vectors == "model" else HashVectors(model)
    shipped = load_corpus(PROJECT_ROOT / "data" / "sources.toml").papers
    with tempfile.TemporaryDirectory() as d:
        rows = [measure("shipped", shipped, embedder, Path(d)), measure(f"synthetic-{n}", synthetic(shipped, n), embedder, Path(d))]
    lines = [f"# Index disk use per chunk ({time.strftime('%Y-%m-%d')}, vectors: {vectors})", "",
             "| corpus | papers | chunks | on disk | SQLite | HNSW | bytes per chunk | build s |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['papers']} | {r['chunks']} | {r['total'] / 1e6:.1f} MB | {r['sqlite'] / 1e6:.1f} MB | "
                     f"{r['hnsw'] / 1e6:.1f} MB | {r['per_chunk'] / 1e3:.1f} KB | {r['seconds']:.0f} |")
    for r in rows:
        if r["tables"]:
            lines += ["", f"SQLite tables, {r['label']} (bytes per chunk): " +
                      ", ".join(f"{k} {v / r['chunks'] / 1e3:.1f} KB" for k, v in list(r["tables"].items())[:8])]
    text = "\n".join(lines) + "\n"
    (Path(__file__).parent / "results_disk.md").write_text(text)
    return text


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=10_000)
    ap.add_argument("--vectors", choices=["hash", "model"], default="hash")
    a = ap.parse_args()
    print(main(a.papers, a.vectors))
