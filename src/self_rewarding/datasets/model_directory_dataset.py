"""``ModelDirectoryDataset``: a model checkpoint directory, handed to nodes as a Path.

Nodes write a model into a staging directory and return its path; saving moves it into
place with renames, so a crash mid-training never replaces a good checkpoint with a
partial one. Loading returns the path: the node decides how (and on which device) to load.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


class ModelDirectoryDataset(AbstractDataset[Path, Path]):
    """A transformers model directory (``config.json``, weights, tokenizer)."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        """Creates the dataset.

        Args:
            path: The model directory.
            metadata: Free-form metadata, ignored by Kedro.
        """
        self._path = Path(path)
        self.metadata = metadata

    @property
    def path(self) -> Path:
        return self._path

    def load(self) -> Path:
        if not (self._path / "config.json").is_file():
            raise DatasetError(f"{self._path}: no model directory (config.json missing)")
        return self._path

    def save(self, data: Path | str) -> None:
        staged = Path(data)
        if staged.resolve() == self._path.resolve():
            return
        if not (staged / "config.json").is_file():
            raise DatasetError(f"{staged}: not a model directory (config.json missing)")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:8]
        incoming = self._path.with_name(f".{self._path.name}.incoming-{token}")
        outgoing = self._path.with_name(f".{self._path.name}.outgoing-{token}")
        shutil.move(str(staged), incoming)
        if self._path.exists():
            self._path.rename(outgoing)
        incoming.rename(self._path)
        shutil.rmtree(outgoing, ignore_errors=True)

    def _exists(self) -> bool:
        return (self._path / "config.json").is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
