"""The sentence-transformers embedder loads its model on first use: what only reads an index
(comparing or finding papers by id) never loads torch, and the vector size it declares before
loading is the loaded model's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.embed import declared_dim

ROOT = Path(__file__).resolve().parents[1]


def _folder(tmp_path: Path, modules: list[tuple[str, str, dict]]) -> Path:
    """A sentence-transformers folder with the given (type, path, config) modules."""
    rows = []
    for i, (kind, path, cfg) in enumerate(modules):
        rows.append({"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"})
        (tmp_path / path).mkdir(parents=True, exist_ok=True)
        (tmp_path / path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "modules.json").write_text(json.dumps(rows))
    return tmp_path


def test_declared_dim_reads_pooling_and_dense_and_refuses_the_unknown(tmp_path):
    pool = ("Pooling", "1_Pooling", {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True})
    assert declared_dim(_folder(tmp_path / "a", [("Transformer", "", {}), pool, ("Normalize", "2_Normalize", {})])) == 384
    two = ("Pooling", "1_Pooling", {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True,
                                    "pooling_mode_cls_token": True})
    assert declared_dim(_folder(tmp_path / "b", [("Transformer", "", {}), two])) == 768
    dense = ("Dense", "2_Dense", {"in_features": 384, "out_features": 256})
    assert declared_dim(_folder(tmp_path / "c", [("Transformer", "", {}), pool, dense])) == 256
    assert declared_dim(_folder(tmp_path / "d", [("Transformer", "", {}), pool, ("LayerNorm", "3_LN", {})])) is None
    assert declared_dim(tmp_path / "nothing-here") is None


@pytest.mark.slow
def test_the_model_loads_on_first_embedding_and_matches_its_declared_size():
    from rag.embed import SentenceTransformerEmbedder

    e = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    assert e._model is None and e.dim == 384
    v = e.embed_batch(["sparse networks found at initialization", "a recipe for bread"])
    assert e._model is not None and v.shape == (2, e.model.get_embedding_dimension())
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)


def test_comparing_and_finding_papers_by_id_never_load_the_embedding_model(built_index):
    ids = ["p74dc74eafe1c", "p4af5856e813b"]  # Robust Pruning at Initialization and another pruning paper
    code = (f"import json, sys, rag; t = rag.compare({ids!r}); s = rag.similar({ids[0]!r}, k=3); "
            "print(json.dumps([len(t.rows), len(s), 'sentence_transformers' in sys.modules, 'torch' in sys.modules]))")
    env = {**os.environ, "RAG_INDEX_DIR": str(built_index.index.index_dir), "RAG_MANIFEST": str(built_index.corpus.manifest)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == [2, 3, False, False]
