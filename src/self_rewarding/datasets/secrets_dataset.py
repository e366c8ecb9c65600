"""``CredentialsDataset``: one entry of ``conf/local/credentials.yml`` (git-ignored), read
at load time, so that a missing file or entry is an empty dict (a local evaluator needs
no key) rather than an error when the catalog is built. Never saved, never logged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kedro.io import AbstractDataset, DatasetError


class CredentialsDataset(AbstractDataset[None, dict]):
    """Loads ``{key: value}`` from one top-level entry of a credentials YAML file."""

    def __init__(self, filepath: str, entry: str, metadata: dict[str, Any] | None = None):
        self._filepath = Path(filepath)
        self._entry = entry
        self.metadata = metadata

    def load(self) -> dict:
        if not self._filepath.is_file():
            return {}
        try:
            content = yaml.safe_load(self._filepath.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise DatasetError(f"{self._filepath} is not valid YAML: {error}") from error
        entry = content.get(self._entry) or {}
        if not isinstance(entry, dict):
            raise DatasetError(f"{self._filepath}: '{self._entry}' must be a mapping")
        return dict(entry)

    def save(self, data: None) -> None:
        raise DatasetError("Credentials are read-only")

    def _describe(self) -> dict[str, Any]:
        # The path and entry only: never the values.
        return {"filepath": str(self._filepath), "entry": self._entry}
