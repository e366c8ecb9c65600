"""Content hashes that tie every artifact to what made it."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def sample_seed(seed: int, prompt: str, index: int) -> int:
    """The sampling seed of completion ``index`` of ``prompt``: a function of the
    configured seed, the prompt and the index only, so that a completion does not depend
    on the order, batch or earlier draws of the engine that makes it."""
    digest = hashlib.sha256(f"{seed}\0{index}\0{prompt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def file_sha256(path: str | Path) -> str:
    """Returns the SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def directory_sha256(path: str | Path) -> str:
    """Returns one SHA-256 over a directory: relative file names and contents, sorted."""
    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(file.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(file_sha256(file).encode("ascii"))
    return digest.hexdigest()
