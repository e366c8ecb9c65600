"""``MetricsDataset``: a flat ``{name: number or null}`` JSON file (DVC metrics), also logged to
the active MLflow run (null, an undefined metric, is left out there), so ``dvc metrics
diff`` and the MLflow UI show the same numbers."""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from self_rewarding.core.records import write_text_atomic


class MetricsDataset(AbstractDataset[dict, dict]):
    """Numeric metrics saved as JSON and logged to MLflow under an optional prefix."""

    def __init__(
        self, filepath: str, prefix: str | None = None, metadata: dict[str, Any] | None = None
    ):
        """Creates the dataset.

        Args:
            filepath: The ``.json`` file (declare it under ``metrics`` in ``dvc.yaml``).
            prefix: Prepended to each MLflow metric key as ``<prefix>.<name>``; keep it
                constant across runs so MLflow compares like with like.
            metadata: Free-form metadata, ignored by Kedro.
        """
        self._filepath = Path(filepath)
        self._prefix = prefix
        self.metadata = metadata

    def load(self) -> dict:
        return json.loads(self._filepath.read_text(encoding="utf-8"))

    def save(self, data: dict) -> None:
        bad = [
            k
            for k, v in data.items()
            if v is not None
            and (not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(v))
        ]
        if bad:
            raise DatasetError(f"{self._filepath}: metrics must be finite numbers or null: {bad}")
        data = {k: v if v is None or isinstance(v, int) else float(v) for k, v in data.items()}
        write_text_atomic(self._filepath, json.dumps(data, indent=2, sort_keys=True) + "\n")
        self._log_to_mlflow(data)

    def _log_to_mlflow(self, data: dict) -> None:
        import mlflow

        if mlflow.active_run() is None:
            return
        prefix = f"{self._prefix}." if self._prefix else ""
        # An undefined metric (null) is absent from MLflow rather than logged as 0.
        mlflow.log_metrics({f"{prefix}{k}": float(v) for k, v in data.items() if v is not None})

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "prefix": self._prefix}
