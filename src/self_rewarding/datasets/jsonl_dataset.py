"""``JSONLinesDataset``: JSON Lines <-> pandas DataFrame, strict on load, atomic on save.

Unlike ``pandas.JSONDataset``, a bad line fails with the file, the line and the field,
and a failed save leaves the previous file untouched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from self_rewarding.records import read_jsonl, write_text_atomic


class JSONLinesDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Loads and saves a DataFrame as JSON Lines.

    Example catalog entry::

        ift_candidates:
          type: self_rewarding.datasets.JSONLinesDataset
          filepath: data/01_raw/oasst2_partial/oasst_en_ift_candidates_no_alpacaeval.jsonl
          non_empty_fields: [prompt, response]
    """

    def __init__(
        self,
        filepath: str,
        required_fields: list[str] | None = None,
        non_empty_fields: list[str] | None = None,
        *,
        unique_fields: list[str] | None = None,
        min_rows: int = 0,
        metadata: dict[str, Any] | None = None,
    ):
        """Creates the dataset.

        Args:
            filepath: The ``.jsonl`` file.
            required_fields: Fields every row must have, checked on load.
            non_empty_fields: Fields that must hold non-blank text, checked on load.
            unique_fields: Id fields whose values must not repeat, checked on load.
            min_rows: Fewest rows a load accepts (1 for seed data: an empty file is an
                error, not an empty run).
            metadata: Free-form metadata, ignored by Kedro.
        """
        self._filepath = Path(filepath)
        self._required_fields = list(required_fields or [])
        self._non_empty_fields = list(non_empty_fields or [])
        self._unique_fields = list(unique_fields or [])
        self._min_rows = min_rows
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        rows = read_jsonl(
            self._filepath,
            self._required_fields,
            self._non_empty_fields,
            unique_fields=self._unique_fields,
            min_rows=self._min_rows,
        )
        return pd.DataFrame(rows)

    def save(self, data: pd.DataFrame | list[dict]) -> None:
        if isinstance(data, pd.DataFrame):
            if not data.columns.is_unique:
                raise DatasetError(f"{self._filepath}: duplicate columns {list(data.columns)}")
            # pandas' NaN for a missing value is written as null.
            data = data.astype(object).where(data.notna(), None).to_dict(orient="records")
        try:
            text = "".join(
                json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n" for row in data
            )
            text.encode("utf-8")
        except (TypeError, ValueError) as error:
            raise DatasetError(
                f"{self._filepath}: rows are not JSON-serialisable: {error}"
            ) from error
        write_text_atomic(self._filepath, text)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "required_fields": self._required_fields,
            "non_empty_fields": self._non_empty_fields,
        }
