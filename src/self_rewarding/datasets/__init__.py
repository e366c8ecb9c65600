"""Kedro datasets of the project: strict JSONL records, model directories, metrics,
read-only credentials."""

from self_rewarding.datasets.jsonl_dataset import JSONLinesDataset
from self_rewarding.datasets.metrics_dataset import MetricsDataset
from self_rewarding.datasets.model_directory_dataset import ModelDirectoryDataset
from self_rewarding.datasets.secrets_dataset import CredentialsDataset

__all__ = ["CredentialsDataset", "JSONLinesDataset", "MetricsDataset", "ModelDirectoryDataset"]
