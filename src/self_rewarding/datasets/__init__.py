"""Kedro datasets of the project: strict JSONL records, model directories, metrics,
read-only credentials, and atomic versions of kedro-datasets' JSON, text and matplotlib
datasets (loaded on first use: the matplotlib one imports matplotlib)."""

from self_rewarding.datasets.jsonl_dataset import JSONLinesDataset
from self_rewarding.datasets.metrics_dataset import MetricsDataset
from self_rewarding.datasets.model_directory_dataset import (
    ModelDirectoryDataset,
    model_staging_directory,
)
from self_rewarding.datasets.secrets_dataset import CredentialsDataset

_ATOMIC = ("JSONDataset", "MatplotlibDataset", "TextDataset")

__all__ = [
    "CredentialsDataset",
    "JSONDataset",
    "JSONLinesDataset",
    "MatplotlibDataset",
    "MetricsDataset",
    "ModelDirectoryDataset",
    "TextDataset",
    "model_staging_directory",
]


def __getattr__(name: str):
    if name in _ATOMIC:
        from self_rewarding.datasets import atomic_datasets

        return getattr(atomic_datasets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
