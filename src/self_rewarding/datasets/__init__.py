"""Kedro datasets of the project: strict JSONL records, model directories, metrics."""

from self_rewarding.datasets.jsonl_dataset import JSONLinesDataset
from self_rewarding.datasets.metrics_dataset import MetricsDataset
from self_rewarding.datasets.model_directory_dataset import ModelDirectoryDataset

__all__ = ["JSONLinesDataset", "MetricsDataset", "ModelDirectoryDataset"]
