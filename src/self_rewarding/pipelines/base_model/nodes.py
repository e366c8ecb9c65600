"""Nodes of the ``base_model`` pipeline."""

from __future__ import annotations

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
    from self_rewarding.models.base_model import save_base_model

    return save_base_model(model, tempfile.mkdtemp(prefix="self-rewarding-M0-"))
