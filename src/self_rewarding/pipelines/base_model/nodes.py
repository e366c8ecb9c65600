"""Nodes of the ``base_model`` pipeline."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from self_rewarding.core.types import BaseModelConfig


def prepare_base_model(model: BaseModelConfig) -> Path:
    """Saves M0 (the embedded GGUF default, or ``model.base``) as a model directory.

    Args:
        model: Which base model, and whether to make it tiny (tests).

    Returns:
        A staged model directory; the catalog moves it into ``data/06_models/M0``.
    """
    from self_rewarding.datasets.model_directory_dataset import model_staging_directory
    from self_rewarding.hardware import precision_record, write_provenance
    from self_rewarding.models.base_model import save_base_model

    # The node does not know where M0 goes: the catalog copies it beside the models
    # first when this is another filesystem, then renames it into place. Staging
    # directories that killed runs left here are removed on the way.
    staging = model_staging_directory(tempfile.gettempdir(), "self-rewarding-M0")
    try:
        saved = save_base_model(model, staging)
        # M0 is converted, not trained: its weights are saved in fp32.
        write_provenance(saved, {"made_by": "base_model", **precision_record("fp32", "fp32")})
        return saved
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
