"""A minimal OpenAI-compatible embeddings server (``POST /v1/embeddings``, ``GET /v1/models``) that
serves a local sentence-transformers model through :class:`rag.embed.SentenceTransformerEmbedder`.

For benchmarks only: it lets ``embed_backend=openai`` be measured against local embedding of the
*same* model on the same machine, so the ratio is the cost of the remote path itself (HTTP, JSON,
batching). In production, point ``RAG_EMBED_BASE_URL`` at text-embeddings-inference, vLLM, Infinity
or Ollama instead.

    .venv/bin/python -m bench.embed_server --port 8081 [--model all-MiniLM-L6-v2] [--threads 2]
"""

from __future__ import annotations

import argparse
import os

from pydantic import BaseModel


class EmbeddingsRequest(BaseModel):
    input: str | list[str]
    model: str = ""


def create_app(embedder):
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": embedder.name, "object": "model"}]}

    @app.post("/v1/embeddings")
    def embeddings(req: EmbeddingsRequest):  # a plain def: FastAPI runs it in a thread, one batch after another
        texts = [req.input] if isinstance(req.input, str) else req.input
        vecs = embedder.embed_batch(texts)
        return {"object": "list", "model": embedder.name,
                "data": [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)],
                "usage": {"prompt_tokens": 0, "total_tokens": 0}}

    return app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    import uvicorn

    from rag.embed import SentenceTransformerEmbedder

    torch.set_num_threads(args.threads)
    uvicorn.run(create_app(SentenceTransformerEmbedder(args.model)), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
