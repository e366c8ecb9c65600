"""Shared fixtures: a tiny random Llama with the embedded model's tokenizer, and a real
MLflow tracking store."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# No run in the test suite may reach a hub or send telemetry.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved tiny model directory (2 layers, hidden 128) sharing SmolLM2's tokenizer
    and chat template, built from a config: no weights downloaded."""
    from self_rewarding.core.types import BaseModelConfig, TinyModelConfig
    from self_rewarding.models.base_model import save_base_model

    path = tmp_path_factory.mktemp("models") / "tiny"
    return save_base_model(BaseModelConfig(base="embedded", tiny=TinyModelConfig()), path)


@pytest.fixture(scope="session")
def empty_mlflow_db(tmp_path_factory) -> Path:
    """An MLflow sqlite store with its schema made (MLflow's migrations take a second or
    two), for each test to start from a copy of."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-schema") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch, empty_mlflow_db):
    """A real MLflow sqlite tracking store in tmp_path with one experiment: yields its URI
    and the experiment id; restores MLflow afterwards."""
    import mlflow
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    previous = mlflow.get_tracking_uri()
    shutil.copy(empty_mlflow_db, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment_id = client.create_experiment(
        "tests", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    try:
        yield uri, experiment_id
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)
