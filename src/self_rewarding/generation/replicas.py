"""Data-parallel generation: several vLLM engine replicas share one job, as Ray Data actors.

Each replica is a Ray actor of a Ray Data ``map_batches`` actor pool of ``replicas`` actors
that drives one of this project's vLLM engines (``VLLMGenerator``, the same code as a
single engine): ``tensor_parallel_size`` GPUs each, assigned by Ray, or an equal share of
the cores on a CPU. Ray schedules the actors on one node or across a cluster
(``RAY_ADDRESS``); without one, a local Ray instance starts with the first job and stops
at ``close``.

``generate_in_chunks`` hands the unfinished chunks of a job to the pool, one chunk a
block, and writes each to the chunk store as it comes back, so a killed run resumes from
them. The output does not depend on the number of replicas: vLLM seeds are per request.
The transformers backend has no replicas: it samples from the process-wide torch
generator, which replicas in one process would share.

Ray Data's own vLLM processor (``ray.data.llm``) runs on a CPU too (one CPU bundle per
replica), but it returns no finish reason and would apply the chat template and the
score-digit log-probabilities its own way; the actors here run the one engine code.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from self_rewarding.core.types import GenerationConfig, SamplingConfig
from self_rewarding.generation.base import Completion

logger = logging.getLogger(__name__)

# Ray's shared-memory object store holds only chunks of prompts and completions here.
_OBJECT_STORE_BYTES = 256 * 1024**2


def replica_resources(
    replicas: int, tensor_parallel_size: int, *, gpus: int, cpus: int
) -> dict[str, float]:
    """What Ray reserves for each replica's actor: its GPUs, or its share of the cores.

    Raises:
        ValueError: More GPUs asked for than the cluster has, or tensor parallelism
            without GPUs.
    """
    if replicas < 1 or tensor_parallel_size < 1:
        raise ValueError("generation.replicas and tensor_parallel_size must be at least 1")
    if gpus:
        needed = replicas * tensor_parallel_size
        if needed > gpus:
            raise ValueError(
                f"generation.replicas={replicas} x tensor_parallel_size="
                f"{tensor_parallel_size} needs {needed} GPUs; the Ray cluster has {gpus}"
            )
        return {"num_gpus": tensor_parallel_size, "num_cpus": 1}
    if tensor_parallel_size != 1:
        raise ValueError("generation.tensor_parallel_size > 1 needs GPUs; this machine has none")
    return {"num_cpus": max(1, cpus // replicas)}


class EngineReplica:
    """One replica: a Ray Data actor holding a vLLM engine for the whole job."""

    def __init__(self, model_path: str, generation: dict, sampling: dict, chat: bool, cores):
        from self_rewarding.generation import open_engine

        if cores:
            # On a CPU each engine uses its share of threads, placed by the OS: Ray
            # reserves the cores but does not name them, and two engines bound by
            # vLLM's "auto" would take the same ones. The actor's process is its own.
            os.environ.update(
                {"OMP_NUM_THREADS": str(cores), "VLLM_CPU_OMP_THREADS_BIND": "nobind"}
            )
        self.generator = open_engine(model_path, GenerationConfig(**generation))
        self.sampling = SamplingConfig(**sampling)
        self.chat = chat

    def __call__(self, batch: dict) -> dict:
        completions, errors, tokens = [], [], []
        for prompts in batch["prompts"]:
            before = self.generator.tokens_generated
            try:
                rows = self.generator.generate(json.loads(prompts), self.sampling, chat=self.chat)
            except Exception as error:  # the chunk's failure is data for the driver
                completions.append("")
                errors.append(f"{type(error).__name__}: {error}")
            else:
                completions.append(json.dumps([[c.to_dict() for c in row] for row in rows]))
                errors.append("")
            tokens.append(self.generator.tokens_generated - before)
        return {
            "index": batch["index"],
            "completions": completions,
            "error": errors,
            "tokens": tokens,
            "engine_pid": [self.generator.pid or -1] * len(completions),
        }


class ReplicaChunkError(RuntimeError):
    """A chunk failed on one of the replicas (the replica's error text)."""


class RayDataGenerator:
    """``replicas`` vLLM engines on one model, as a Ray Data actor pool per job.

    ``map_chunks`` streams a job's chunks through the pool and yields each as it comes
    back; ``generate`` splits one call into a chunk per replica.
    """

    def __init__(self, model_path, generation: GenerationConfig, *, precision: str):
        path = Path(model_path).expanduser()
        self.model_path = str(path.resolve() if path.exists() else model_path)
        self.backend = "vllm"
        self.precision = precision
        self.generation = generation
        self.max_model_len = generation.max_model_len  # in the chunk fingerprint
        self.tokens_generated = 0
        self.seconds = 0.0  # wall-clock time of the calls: the replicas run side by side
        self.engine_pids: set[int] = set()  # the engines that served chunks
        self._started_ray = False

    def _ray(self):
        import ray

        if not ray.is_initialized():
            # RAY_ADDRESS names a running cluster; without it a local instance starts.
            local = "RAY_ADDRESS" not in os.environ
            ray.init(
                **(
                    {
                        "num_cpus": len(os.sched_getaffinity(0)),
                        "object_store_memory": _OBJECT_STORE_BYTES,
                    }
                    if local
                    else {}
                ),
                include_dashboard=False,
                logging_level=logging.WARNING,
                configure_logging=False,
            )
            self._started_ray = True
            ray.data.DataContext.get_current().enable_progress_bars = False
        return ray

    def _resources(self, ray) -> dict[str, float]:
        total = ray.cluster_resources()
        return replica_resources(
            self.generation.replicas,
            self.generation.tensor_parallel_size,
            gpus=int(total.get("GPU", 0)),
            cpus=int(total.get("CPU", 1)),
        )

    def map_chunks(
        self, chunks: Sequence[tuple[int, list[str]]], sampling: SamplingConfig, chat: bool = True
    ) -> Iterator[tuple[int, list[list[Completion]] | BaseException]]:
        """Generates chunks on all replicas at once, yielding ``(index, completions)`` in
        the order they come back, or ``(index, error)`` for a failed chunk (after which
        the job stops)."""
        if not chunks:
            return
        ray = self._ray()
        resources = self._resources(ray)
        # One engine per actor, in the precision this process resolved.
        engine = dataclasses.replace(
            self.generation, backend="vllm", precision=self.precision, replicas=1
        )
        cores = None if "num_gpus" in resources else int(resources["num_cpus"])
        items = [{"index": index, "prompts": json.dumps(prompts)} for index, prompts in chunks]
        dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            EngineReplica,
            fn_constructor_kwargs={
                "model_path": self.model_path,
                "generation": dataclasses.asdict(engine),
                "sampling": dataclasses.asdict(sampling),
                "chat": chat,
                "cores": cores,
            },
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(
                size=min(self.generation.replicas, len(items)), max_tasks_in_flight_per_actor=1
            ),
            **resources,
        )
        started = time.perf_counter()
        unfinished = [index for index, _ in chunks]
        try:
            rows = iter(dataset.iter_rows())
            while True:
                try:
                    row = next(rows)
                except StopIteration:
                    return
                except Exception as error:  # an actor died: the first unfinished chunk is named
                    yield unfinished[0], error
                    return
                index = int(row["index"])
                unfinished.remove(index)
                self.tokens_generated += int(row["tokens"])
                if row["engine_pid"] > 0:
                    self.engine_pids.add(int(row["engine_pid"]))
                if row["error"]:
                    yield index, ReplicaChunkError(row["error"])
                    return
                completed = json.loads(row["completions"])
                yield index, [[Completion.from_dict(c) for c in r] for r in completed]
        finally:
            self.seconds += time.perf_counter() - started

    def generate(
        self, prompts: Sequence[str], sampling: SamplingConfig, chat: bool = True
    ) -> list[list[Completion]]:
        prompts = list(prompts)
        count = min(self.generation.replicas, len(prompts)) or 1
        parts = [
            (r, prompts[len(prompts) * r // count : len(prompts) * (r + 1) // count])
            for r in range(count)
        ]
        finished = {}
        for index, outcome in self.map_chunks([p for p in parts if p[1]], sampling, chat=chat):
            if isinstance(outcome, BaseException):
                raise outcome
            finished[index] = outcome
        return [row for index, part in parts if part for row in finished[index]]

    def close(self) -> None:
        """Leaves Ray: stops the local instance this generator started, or disconnects
        from the cluster at ``RAY_ADDRESS`` (the actors and their engines went with
        their job)."""
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False
