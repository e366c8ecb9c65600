"""Data-parallel generation: several engine replicas share one job.

As in vLLM's data-parallel offline inference, each replica is a whole engine on devices
of its own: ``tensor_parallel_size`` GPUs each on a GPU machine (``CUDA_VISIBLE_DEVICES``),
an equal share of the cores on a CPU. Each replica is a vLLM engine process of its own,
driven by a thread of this process. The transformers backend has no replicas: it samples
from the process-wide torch generator, which replicas in one process would share.

``generate_in_chunks`` hands the unfinished chunks of a job out to the replicas and writes
each to the chunk store as it finishes, so a killed run resumes from them, and the output
does not depend on the number of replicas: vLLM seeds are per request.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from self_rewarding.core.types import GenerationConfig, SamplingConfig
from self_rewarding.generation.base import Completion, Generator

logger = logging.getLogger(__name__)


def visible_gpus() -> list[str]:
    """The CUDA devices this process may use, as ``CUDA_VISIBLE_DEVICES`` names them."""
    import torch

    if not torch.cuda.is_available():
        return []
    named = os.environ.get("CUDA_VISIBLE_DEVICES")
    if named:
        return [name.strip() for name in named.split(",") if name.strip()]
    return [str(index) for index in range(torch.cuda.device_count())]


def replica_placements(
    replicas: int, tensor_parallel_size: int, *, gpus: Sequence[str], cpus: Sequence[int]
) -> list[dict[str, str]]:
    """The environment of each replica's engine: its GPUs, or its share of the cores.

    Raises:
        ValueError: More GPUs asked for than visible, or tensor parallelism on a CPU.
    """
    if replicas < 1 or tensor_parallel_size < 1:
        raise ValueError("generation.replicas and tensor_parallel_size must be at least 1")
    if gpus:
        needed = replicas * tensor_parallel_size
        if needed > len(gpus):
            raise ValueError(
                f"generation.replicas={replicas} x tensor_parallel_size="
                f"{tensor_parallel_size} needs {needed} GPUs; {len(gpus)} are visible"
            )
        return [
            {
                "CUDA_VISIBLE_DEVICES": ",".join(
                    gpus[r * tensor_parallel_size : (r + 1) * tensor_parallel_size]
                )
            }
            for r in range(replicas)
        ]
    if tensor_parallel_size != 1:
        raise ValueError("generation.tensor_parallel_size > 1 needs GPUs; this machine has none")
    cpus = list(cpus)
    if replicas <= len(cpus):  # contiguous, near-equal groups
        groups = [
            cpus[len(cpus) * r // replicas : len(cpus) * (r + 1) // replicas]
            for r in range(replicas)
        ]
    else:  # more replicas than cores: they share
        groups = [[cpus[r % len(cpus)]] for r in range(replicas)]
    return [
        {"VLLM_CPU_OMP_THREADS_BIND": ",".join(map(str, group)), "OMP_NUM_THREADS": str(len(group))}
        for group in groups
    ]


class ReplicatedGenerator:
    """Several generators on one model, used side by side.

    ``map_chunks`` shares chunks out dynamically (a replica takes the next chunk when it
    is free); ``generate`` splits one call across the replicas (seeds are per request).
    """

    def __init__(self, replicas: Sequence[Generator]):
        if not replicas:
            raise ValueError("ReplicatedGenerator needs at least one replica")
        self.replicas = list(replicas)
        first = self.replicas[0]
        self.backend = first.backend
        self.precision = first.precision
        self.model_path = first.model_path
        self.seconds = 0.0  # wall-clock time of the calls: the replicas run side by side

    @property
    def tokens_generated(self) -> int:
        return sum(replica.tokens_generated for replica in self.replicas)

    def generate(
        self, prompts: Sequence[str], sampling: SamplingConfig, chat: bool = True
    ) -> list[list[Completion]]:
        prompts = list(prompts)
        started = time.perf_counter()
        try:
            if len(prompts) < 2:
                return self.replicas[0].generate(prompts, sampling, chat=chat)
            count = len(self.replicas)
            parts = [
                prompts[len(prompts) * r // count : len(prompts) * (r + 1) // count]
                for r in range(count)
            ]
            with ThreadPoolExecutor(count) as pool:
                results = pool.map(
                    lambda replica, part: (
                        replica.generate(part, sampling, chat=chat) if part else []
                    ),
                    self.replicas,
                    parts,
                )
                return [row for result in results for row in result]
        finally:
            self.seconds += time.perf_counter() - started

    def map_chunks(
        self, chunks: Sequence[tuple[int, list[str]]], sampling: SamplingConfig, chat: bool = True
    ) -> Iterator[tuple[int, list[list[Completion]] | BaseException]]:
        """Generates chunks on all replicas at once, yielding ``(index, completions)`` in
        the order they finish, or ``(index, error)`` for a failed chunk (after which no
        replica takes a new chunk; those in flight still finish)."""
        pending: queue.Queue = queue.Queue()
        for chunk in chunks:
            pending.put(chunk)
        finished: queue.Queue = queue.Queue()
        stop = threading.Event()

        def serve(replica: Generator) -> None:
            while not stop.is_set():
                try:
                    index, prompts = pending.get_nowait()
                except queue.Empty:
                    break
                try:
                    finished.put((index, replica.generate(prompts, sampling, chat=chat)))
                except BaseException as error:
                    stop.set()
                    finished.put((index, error))
            finished.put(None)

        started = time.perf_counter()
        threads = [
            threading.Thread(target=serve, args=(replica,), daemon=True)
            for replica in self.replicas
        ]
        for thread in threads:
            thread.start()
        try:
            running = len(threads)
            while running:
                item = finished.get()
                if item is None:
                    running -= 1
                    continue
                yield item
        finally:
            stop.set()
            for thread in threads:
                thread.join()
            self.seconds += time.perf_counter() - started

    def close(self) -> None:
        for replica in self.replicas:
            replica.close()


def make_replicas(
    model_path, generation: GenerationConfig, *, precision: str
) -> ReplicatedGenerator:
    """``generation.replicas`` vLLM engines on one model, each on its own devices.

    Args:
        model_path: The model.
        generation: Replicas, GPUs per engine, the deadline of one request and
            ``max_model_len``.
        precision: A resolved precision.
    """
    from self_rewarding.generation.vllm_backend import VLLMGenerator

    replicas, tensor_parallel_size = generation.replicas, generation.tensor_parallel_size
    placements = replica_placements(
        replicas, tensor_parallel_size, gpus=visible_gpus(), cpus=sorted(os.sched_getaffinity(0))
    )
    made: list[Generator] = []
    for rank, placement in enumerate(placements):
        generator = VLLMGenerator(
            model_path,
            precision=precision,
            max_model_len=generation.max_model_len,
            request_timeout_seconds=generation.request_timeout_seconds,
            tensor_parallel_size=tensor_parallel_size,
            environment=placement,
        )
        generator.backend = "vllm"
        made.append(generator)
        logger.info("Generation replica %d of %d: %s", rank + 1, replicas, placement)
    return ReplicatedGenerator(made)
