"""Kedro datasets of the project: strict JSONL records, model directories, metrics,
read-only credentials."""

from self_rewarding.datasets.credentials_dataset import CredentialsDataset
from self_rewarding.datasets.jsonl_dataset import JSONLinesDataset
from self_rewarding.datasets.metrics_dataset import MetricsDataset
from self_rewarding.datasets.model_directory_dataset import ModelDirectoryDataset

__all__ = ["CredentialsDataset", "JSONLinesDataset", "MetricsDataset", "ModelDirectoryDataset"]
