"""Index build benchmark, side by side in one process (the embedding model loaded once):

1. pure embedding of exactly the chunks a build embeds (the floor);
2. our full build into a fresh embedded Chroma store (target ≤ 1.15× the floor);
3. llama-index's default ``VectorStoreIndex.from_documents`` over Chroma with the same model;
4. a no-change rebuild (target < 2 s) and adding 10 papers (target < 3 s).

Run: ``.venv/bin/python -m bench.bench_index`` (writes bench/results_index.md).
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from pathlib import Path

from rag.corpus import load_corpus
from rag.embed import SentenceTransformerEmbedder
from rag.index import Chunker
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings


def llama_embedding(embedder):
    """A llama-index ``BaseEmbedding`` around our embedder, so both builds embed with one model."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class _Adapter(BaseEmbedding):
        _e: object = PrivateAttr()

        def __init__(self, e):
            super().__init__(model_name=e.name, embed_batch_size=64)
            self._e = e

        def _get_query_embedding(self, query):
            return self._e.embed_batch([query])[0].tolist()

        def _get_text_embedding(self, text):
            return self._e.embed_batch([text])[0].tolist()

        def _get_text_embeddings(self, texts):
            return self._e.embed_batch(texts).tolist()

        async def _aget_query_embedding(self, query):
            return self._get_query_embedding(query)

    return _Adapter(embedder)


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> str:
    from llama_index.core.schema import MetadataMode

    settings = Settings(_env_file=None)
    corpus = load_corpus(Path(settings.corpus.manifest))
    papers = corpus.papers
    emb = SentenceTransformerEmbedder(settings.embed.embed_model)
    chunker = Chunker(emb, settings.index.chunk_size, settings.index.chunk_overlap)
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for p in papers for n in chunker.chunks(p)]
    emb.embed_batch(texts[:64])  # warm-up

    t_embed, _ = _timed(lambda: emb.embed_batch(texts))

    with tempfile.TemporaryDirectory() as tmp:
        s = Settings(_env_file=None, index_dir=Path(tmp) / "ours")
        pipe = Pipeline(s, embedder=emb)
        t_build, rep = _timed(pipe.index)
        t_noop, rep0 = _timed(pipe.index)
        extra = Path(tmp) / "extra.jsonl"
        extra.write_text("".join(json.dumps({"title": f"Benchmark paper {i}: {p.title}", "abstract": p.abstract}) + "\n"
                                 for i, p in enumerate(papers[:10])))
        pipe.settings = Settings(_env_file=None, index_dir=s.index.index_dir, manifest=Path(tmp) / "sources.toml")
        (Path(tmp) / "sources.toml").write_text(Path(settings.corpus.manifest).read_text().replace('path = "', f'path = "{PROJECT_ROOT / "data"}/'))
        pipe.add_sources([extra])
        t_add, rep10 = _timed(pipe.index)

        import chromadb
        from llama_index.core import Document, StorageContext, VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        from rag.store import _chroma_settings

        client = chromadb.PersistentClient(path=str(Path(tmp) / "llama"), settings=_chroma_settings())
        col = client.create_collection("default")
        docs = [Document(text=f"{p.title}\n\n{p.abstract}") for p in papers]
        ctx = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=col))
        t_llama, _ = _timed(lambda: VectorStoreIndex.from_documents(docs, storage_context=ctx, embed_model=llama_embedding(emb)))

    rows = [
        ("pure embedding of the same chunks", t_embed, 1.0),
        ("our full build (rag index --full)", t_build, t_build / t_embed),
        ("llama-index VectorStoreIndex.from_documents", t_llama, t_llama / t_embed),
        ("no-change rebuild", t_noop, t_noop / t_embed),
        ("add 10 papers", t_add, t_add / t_embed),
    ]
    lines = [
        f"# Index benchmark ({time.strftime('%Y-%m-%d')}, {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"{__import__('os').cpu_count()} cores, model {emb.name})",
        "",
        f"{len(papers)} papers, {len(texts)} chunks.",
        "",
        "| step | seconds | × pure embedding | papers/s |",
        "|---|---:|---:|---:|",
    ]
    for name, t, ratio in rows:
        lines.append(f"| {name} | {t:.2f} | {ratio:.3f} | {len(papers) / t if 'full' in name or 'from_documents' in name or 'pure' in name else float('nan'):.1f} |")
    lines += [
        "",
        f"Targets: full build ≤ 1.15× pure embedding → {'met' if t_build / t_embed <= 1.15 else 'NOT met'} ({t_build / t_embed:.3f}×); "
        f"no-change rebuild < 2 s → {'met' if t_noop < 2 else 'NOT met'} ({t_noop:.2f} s, {rep0.chunks_embedded} chunks embedded); "
        f"adding 10 papers < 3 s → {'met' if t_add < 3 else 'NOT met'} ({t_add:.2f} s, {rep10.added} added).",
        f"Our build vs llama-index default: {t_build / t_llama:.3f}×.",
    ]
    out = "\n".join(lines)
    (Path(__file__).parent / "results_index.md").write_text(out + "\n")
    return out


if __name__ == "__main__":
    print(main())
