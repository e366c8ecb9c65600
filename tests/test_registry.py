"""The MLflow Model Registry holds every model by role, pointing at the DVC-versioned
directory, and a registered version loads through ``mlflow.pyfunc`` (a real sqlite store,
the tiny model)."""

from __future__ import annotations

import re
import shutil

import pytest

from self_rewarding.registry import (
    MLMODEL_FILE,
    NEWEST_ALIAS,
    REGISTERED_MODEL_NAME,
    dvc_md5,
    register_model,
    role_alias,
    write_mlmodel,
)


@pytest.fixture
def store(tmp_path, monkeypatch):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # MLflow's setters also export MLFLOW_*_URI for subprocesses: monkeypatch takes them back.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


@pytest.fixture
def model_dirs(tiny_model_dir, tmp_path):
    copies = {}
    for name in ("M1", "M2", "sft_baseline"):
        copies[name] = shutil.copytree(tiny_model_dir, tmp_path / "models" / name)
    return copies


def _register(client, path, alias):
    import mlflow

    with mlflow.start_run() as run:
        version = register_model(path, alias, run.info.run_id, {"path": str(path)})
    return version, run.info.run_id


def test_role_aliases_follow_the_dataset_names():
    assert role_alias("model_M2") == "m2"
    assert role_alias("model_sft_baseline") == "sft_baseline"


@pytest.mark.slow
def test_every_role_is_an_alias_and_newest_follows_the_last_iteration(store, model_dirs):
    m1, m1_run = _register(store, model_dirs["M1"], "m1")
    m2, _ = _register(store, model_dirs["M2"], "m2")
    baseline, _ = _register(store, model_dirs["sft_baseline"], "sft_baseline")

    def aliased(alias):
        return store.get_model_version_by_alias(REGISTERED_MODEL_NAME, alias).version

    assert (aliased("m1"), aliased("m2"), aliased("sft_baseline")) == (
        m1.version,
        m2.version,
        baseline.version,
    )
    assert aliased(NEWEST_ALIAS) == m2.version  # the baseline is no iteration
    version = store.get_model_version(REGISTERED_MODEL_NAME, m1.version)
    assert version.run_id == m1_run
    assert version.tags["role"] == "m1"
    assert version.source == model_dirs["M1"].resolve().as_uri()

    # M1 made again (a re-run): its alias moves, newest stays on M2.
    again, _ = _register(store, model_dirs["M1"], "m1")
    assert aliased("m1") == again.version != m1.version
    assert aliased(NEWEST_ALIAS) == m2.version


@pytest.mark.slow
def test_a_registered_version_loads_as_a_text_generator(store, model_dirs):
    import mlflow

    _register(store, model_dirs["M2"], "m2")
    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL_NAME}@m2")
    answers = model.predict(["Name a colour.", "Say hello."], params={"max_new_tokens": 4})
    assert len(answers) == 2
    assert all(isinstance(answer, str) for answer in answers)


@pytest.mark.slow
def test_the_mlmodel_file_is_rewritten_to_the_same_bytes(model_dirs):
    path = model_dirs["M1"]
    before = dvc_md5(path)
    write_mlmodel(path)
    first = (path / MLMODEL_FILE).read_bytes()
    with_mlmodel = dvc_md5(path)
    write_mlmodel(path)
    assert (path / MLMODEL_FILE).read_bytes() == first
    assert dvc_md5(path) == with_mlmodel != before
    assert re.fullmatch(r"[0-9a-f]{32}\.dir", with_mlmodel)


@pytest.fixture
def server_store(monkeypatch):
    """A real tracking server on PostgreSQL (scripts/mlflow-server) on free loopback ports."""
    import os
    import socket
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    import mlflow

    if not any(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")) and not shutil.which("pg_ctl"):
        if os.environ.get("SELF_REWARDING_REQUIRE_POSTGRESQL"):
            pytest.fail("PostgreSQL is not installed: apt-get install postgresql")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    script = Path(__file__).parents[1] / "scripts" / "mlflow-server"
    # A folder the `postgres` user can reach when the tests run as root.
    server_dir = Path(tempfile.mkdtemp(prefix="mlflow-server-"))
    server_dir.chmod(0o755)
    port = free_port()
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "SERVER_DIR": str(server_dir),
        "MLFLOW_PORT": str(port),
        "PG_PORT": str(free_port()),
    }
    subprocess.run([str(script), "start"], env=environment, check=True, capture_output=True)
    uri = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        subprocess.run([str(script), "stop"], env=environment, check=False, capture_output=True)
        shutil.rmtree(server_dir, ignore_errors=True)


@pytest.mark.slow
def test_on_a_tracking_server_a_version_points_at_the_dvc_directory_and_loads(
    server_store, model_dirs
):
    import mlflow

    m2, run_id = _register(server_store, model_dirs["M2"], "m2")
    # The server refuses a local directory as the source: the run holds a pointer to it.
    assert m2.source == f"runs:/{run_id}/model"
    assert {a.path for a in server_store.list_artifacts(run_id, "model")} == {
        "model/MLmodel",
        "model/dvc_model.json",
    }
    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL_NAME}@m2")
    assert len(model.predict(["Say hello."], params={"max_new_tokens": 2})) == 1

    # Where the directory is not pulled, loading says what to do.
    shutil.rmtree(model_dirs["M2"])
    with pytest.raises(FileNotFoundError, match="dvc pull"):
        mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL_NAME}@m2")
