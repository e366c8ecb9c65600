"""``MetricsDataset``: a flat ``{name: number or null}`` JSON file (DVC metrics), also logged to
the active MLflow run and its parent (group) run (null, an undefined metric, is left out
there), so ``dvc metrics diff`` and the MLflow UI show the same numbers."""

from __future__ import annotations

import json
import math
import numbers
import time
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from self_rewarding.records import write_text_atomic

GROUP_TAG = "self_rewarding.group"  # hooks.py: the tag of a group (parent) run


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

        run = mlflow.active_run()
        if run is None:
            return
        prefix = f"{self._prefix}." if self._prefix else ""
        # An undefined metric (null) is absent from MLflow rather than logged as 0.
        metrics = {f"{prefix}{k}": float(v) for k, v in data.items() if v is not None}
        mlflow.log_metrics(metrics)
        # The group run (an iteration's parent, see hooks) gets them too, so that charts
        # put iteration 1 and iteration 2 side by side under the same keys.
        client = mlflow.MlflowClient()
        parent = client.get_run(run.info.run_id).data.tags.get("mlflow.parentRunId")
        if parent and metrics and GROUP_TAG in client.get_run(parent).data.tags:
            client.log_batch(
                parent,
                metrics=[
                    mlflow.entities.Metric(key, value, int(time.time() * 1000), 0)
                    for key, value in metrics.items()
                ],
            )

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "prefix": self._prefix}
