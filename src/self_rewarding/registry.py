"""Every model the loop makes, as a version of one registered MLflow model.

M0, the SFT baseline, M1, M2, ... each become a version of ``self_rewarding`` in the MLflow
Model Registry with an alias per role (``m0``, ``sft_baseline``, ``m1``, ``m2``, ...) and
``newest`` on the newest M_t. A version is tagged with the model's path, content hash,
precision and DVC stage, and its run is the one that made it, so the registry page links
each model to its metrics.

The weights are not copied: a version's source is the model directory DVC versions,
which holds an ``MLmodel`` file (a ``python_function`` flavour whose loader is this
module), so ``mlflow.pyfunc.load_model("models:/self_rewarding@m2")`` gives a text
generator and ``mlflow.artifacts.download_artifacts`` the transformers directory. A model
directory that DVC has since replaced is what the version points at: the ``sha256`` tag
says which content the version was.

A tracking server (``scripts/mlflow-server``) refuses a local directory as a version's
source, and the directory would mean nothing on a colleague's machine anyway. There the
run gets a ``model`` artifact of two small files, the ``MLmodel`` and a pointer to the
DVC-versioned directory (``dvc_model.json``: path, DVC hash, SHA-256), and the version's
source is that artifact: loading it loads the directory at that path in the project where
it runs, after ``dvc pull``.
"""

from __future__ import annotations

import json
import logging
import platform
import re
import tempfile
from pathlib import Path
from typing import Any

from self_rewarding.records import write_text_atomic

logger = logging.getLogger(__name__)

REGISTERED_MODEL_NAME = "self_rewarding"
# MLflow reserves "latest" (``models:/<name>/latest`` is the highest version number, which
# a re-run of an earlier step would take): the newest M_t is "newest".
NEWEST_ALIAS = "newest"
MLMODEL_FILE = "MLmodel"
POINTER_FILE = "dvc_model.json"
POINTER_ARTIFACT = "model"
_ITERATION_MODEL = re.compile(r"m(\d+)")


def role_alias(dataset_name: str) -> str:
    """The registry alias of a model dataset: ``model_M2`` -> ``m2``,
    ``model_sft_baseline`` -> ``sft_baseline``."""
    return dataset_name.removeprefix("model_").lower()


def write_mlmodel(model_dir: str | Path) -> Path:
    """Writes the ``MLmodel`` file that makes a model directory loadable by
    ``mlflow.pyfunc``; atomic (a reader sees the old file or the new one), and the same
    bytes for the same MLflow and Python, so that DVC's hash of the directory does not
    change with it."""
    import mlflow

    model_dir = Path(model_dir)
    text = (
        "flavors:\n"
        "  python_function:\n"
        "    loader_module: self_rewarding.registry\n"
        "    data: .\n"
        f"    python_version: {platform.python_version()}\n"
        f"mlflow_version: {mlflow.__version__}\n"
    )
    target = model_dir / MLMODEL_FILE
    if not (target.exists() and target.read_text(encoding="utf-8") == text):
        write_text_atomic(target, text)
    return target


def dvc_md5(model_dir: str | Path) -> str:
    """DVC's hash of a directory (``<md5>.dir``, as ``dvc.lock`` will record it)."""
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.local import LocalFileSystem

    fs = LocalFileSystem()
    with tempfile.TemporaryDirectory() as scratch:
        _, _, tree = build(HashFileDB(fs, scratch), str(model_dir), fs, "md5", dry_run=True)
    return tree.hash_info.value


def register_model(
    model_dir: str | Path, alias: str, run_id: str | None, tags: dict[str, str]
) -> Any:
    """Registers a model directory as a new version of ``REGISTERED_MODEL_NAME`` under
    ``alias`` (moved from any earlier version), and ``newest`` when it is the newest M_t.

    Args:
        model_dir: The model directory (its ``MLmodel`` is written here first).
        alias: The role: ``m0``, ``sft_baseline``, ``m1``, ...
        run_id: The MLflow run that made it.
        tags: Version tags (path, hash, precision, DVC stage).

    Returns:
        The ``ModelVersion``.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    model_dir = Path(model_dir).resolve()
    write_mlmodel(model_dir)
    client = MlflowClient()
    try:
        client.get_registered_model(REGISTERED_MODEL_NAME)
    except MlflowException:
        client.create_registered_model(
            REGISTERED_MODEL_NAME,
            description="Every model of the self-rewarding loop; aliases name the roles.",
        )
    source = model_dir.as_uri()
    if run_id is not None and _store_is_remote():
        source = _log_pointer(client, model_dir, run_id, tags)
    version = client.create_model_version(
        REGISTERED_MODEL_NAME,
        source=source,
        run_id=run_id,
        tags={"role": alias, **tags},
    )
    client.set_registered_model_alias(REGISTERED_MODEL_NAME, alias, version.version)
    if _newest_iteration_model(client, alias):
        client.set_registered_model_alias(REGISTERED_MODEL_NAME, NEWEST_ALIAS, version.version)
    logger.info(
        "Registered %s as %s version %s (@%s)",
        model_dir,
        REGISTERED_MODEL_NAME,
        version.version,
        alias,
    )
    return version


def _store_is_remote() -> bool:
    """Whether the registry is a server (which refuses local sources), not a local store."""
    import mlflow

    return mlflow.get_registry_uri().split(":", 1)[0] in {"http", "https", "databricks"}


def _log_pointer(client, model_dir: Path, run_id: str, tags: dict[str, str]) -> str:
    """Logs the ``MLmodel`` and a pointer to the DVC-versioned directory as the run's
    ``model`` artifact; returns it as a version source."""
    pointer = {
        "path": tags.get("path", str(model_dir)),
        "dvc_md5": tags.get("dvc_md5"),
        "sha256": tags.get("sha256"),
    }
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / POINTER_ARTIFACT
        folder.mkdir()
        (folder / MLMODEL_FILE).write_bytes((model_dir / MLMODEL_FILE).read_bytes())
        (folder / POINTER_FILE).write_text(json.dumps(pointer, indent=2), encoding="utf-8")
        client.log_artifacts(run_id, str(folder), POINTER_ARTIFACT)
    return f"runs:/{run_id}/{POINTER_ARTIFACT}"


def resolve_model_directory(data_path: str | Path) -> Path:
    """The transformers directory a registered version loads: ``data_path`` itself, or the
    DVC-versioned directory its pointer names (relative paths from the working directory).

    Raises:
        FileNotFoundError: The pointed-at directory holds no model (not pulled yet).
    """
    pointer = Path(data_path) / POINTER_FILE
    if not pointer.is_file():
        return Path(data_path)
    record = json.loads(pointer.read_text(encoding="utf-8"))
    model_dir = Path(record["path"])
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(
            f"{pointer}: the weights are DVC's, at {model_dir} (DVC hash {record['dvc_md5']}), "
            f"which holds no model here: run `dvc pull {record['path']}` in the project"
        )
    return model_dir


def registered_version(alias: str) -> Any | None:
    """The version of ``REGISTERED_MODEL_NAME`` under ``alias``; None when there is none
    (nothing registered yet, or a run without tracking)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient().get_model_version_by_alias(REGISTERED_MODEL_NAME, alias)
    except MlflowException:
        return None


def _newest_iteration_model(client, alias: str) -> bool:
    """Whether ``alias`` (``m<t>``) is at least as far in the loop as ``newest`` now."""
    from mlflow.exceptions import MlflowException

    match = _ITERATION_MODEL.fullmatch(alias)
    if match is None:
        return False
    try:
        current = client.get_model_version_by_alias(REGISTERED_MODEL_NAME, NEWEST_ALIAS)
    except MlflowException:
        return True
    held = _ITERATION_MODEL.fullmatch(current.tags.get("role", ""))
    return held is None or int(match.group(1)) >= int(held.group(1))


class TextGenerator:
    """The ``python_function`` model: prompts in, greedy chat answers out."""

    def __init__(self, model_dir: str | Path):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir)
        self.model.eval()

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> list[str]:
        """Answers each prompt (a string, a list of strings, or a DataFrame whose
        ``prompt`` column or first column holds them); ``params``: ``max_new_tokens``
        (default 64)."""
        import torch

        prompts = _prompts(model_input)
        max_new_tokens = int((params or {}).get("max_new_tokens", 64))
        answers = []
        for prompt in prompts:
            ids = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}],
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
            )
            with torch.no_grad():
                output = self.model.generate(
                    **ids,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=self.tokenizer.eos_token_id,
                )
            new_tokens = output[0, ids["input_ids"].shape[1] :]
            answers.append(self.tokenizer.decode(new_tokens, skip_special_tokens=True))
        return answers


def _prompts(model_input: Any) -> list[str]:
    if isinstance(model_input, str):
        return [model_input]
    columns = getattr(model_input, "columns", None)
    if columns is not None:
        column = "prompt" if "prompt" in columns else columns[0]
        return [str(p) for p in model_input[column]]
    return [str(p) for p in model_input]


def _load_pyfunc(data_path: str) -> TextGenerator:
    """Called by ``mlflow.pyfunc.load_model`` (the ``loader_module`` of ``MLmodel``)."""
    return TextGenerator(resolve_model_directory(data_path))
