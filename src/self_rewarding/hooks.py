"""Project hooks (small extras beside kedro-mlflow's own hook).

``ModelLineageHooks`` links every saved model directory to the MLflow run that made it:
tags ``model.<dataset>.path`` and ``model.<dataset>.sha256``. Weights are DVC's to
version; MLflow records which checkpoint a run produced, not a second copy of it.
"""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)


class ModelLineageHooks:
    def __init__(self):
        self._catalog = None

    @hook_impl
    def after_catalog_created(self, catalog) -> None:
        self._catalog = catalog

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node) -> None:
        from self_rewarding.datasets import ModelDirectoryDataset

        dataset = self._catalog.get(dataset_name) if self._catalog is not None else None
        if not isinstance(dataset, ModelDirectoryDataset):
            return
        import mlflow

        from self_rewarding.core.provenance import directory_sha256

        if mlflow.active_run() is None:
            return
        digest = directory_sha256(dataset.path)
        mlflow.set_tags(
            {
                f"model.{dataset_name}.path": str(dataset.path),
                f"model.{dataset_name}.sha256": digest,
            }
        )
        logger.info(
            "Linked %s (%s, sha256 %s) to the MLflow run", dataset_name, dataset.path, digest[:12]
        )
