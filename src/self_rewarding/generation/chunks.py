"""Resumable generation: long jobs are cut into chunks and each finished chunk is written
to disk, so that a run killed midway redoes only the chunk it was in.

A chunk's file name holds a hash of everything that determines it (the job's
fingerprint: model hash, sampling, step; and the chunk's prompts), so a changed job never
reuses stale results. The store is removed once the job's output is complete, or, for a
job of a named ``kind`` (one step of one iteration), kept as that kind's newest finished
job until the next one of the kind finishes: a stage that runs several steps re-runs the
unchanged ones from disk.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

from self_rewarding.core.types import SamplingConfig
from self_rewarding.generation.base import Completion, Generator
from self_rewarding.records import write_text_atomic

logger = logging.getLogger(__name__)


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode("utf-8")).hexdigest()[:16]


# Names a job directory's kind; chunk files are named <index>-<digest>.json.
JOB_FILE = "job.json"


def _kind_of(job: Path) -> str | None:
    try:
        return json.loads((job / JOB_FILE).read_text(encoding="utf-8"))["kind"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


class GenerationError(RuntimeError):
    """A generation chunk failed (engine crash, deadline, API error): names the step,
    the model and the chunk."""


class ChunkStore:
    """Finished chunks of one generation job, in ``root/<job fingerprint hash>/``."""

    def __init__(
        self,
        root: str | Path,
        fingerprint: Mapping,
        description: str = "",
        model: str = "",
        kind: str | None = None,
    ):
        """Args:
        root: Where job directories are made.
        fingerprint: Everything that determines the job's output.
        description: The step, as errors name it.
        model: The model, as errors name it.
        kind: What the job is (``iter1/candidates``), for ``keep_as_newest``.
        """
        self.root = Path(root)
        self.directory = self.root / _digest(dict(fingerprint))
        self.description = description or str(fingerprint.get("step", "generation"))
        self.model = model or str(fingerprint.get("model_sha256", "?"))
        self.kind = kind
        self.reused = 0

    def _path(self, index: int, prompts: Sequence[str]) -> Path:
        return self.directory / f"{index:05d}-{_digest(list(prompts))}.json"

    def load(self, index: int, prompts: Sequence[str]) -> list[list[Completion]] | None:
        """Chunk ``index`` when an earlier run finished it, else None."""
        path = self._path(index, prompts)
        if not path.is_file():
            return None
        self.reused += 1
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [[Completion.from_dict(c) for c in row] for row in rows]

    def save(self, index: int, prompts: Sequence[str], completions: list[list[Completion]]) -> None:
        """Writes a finished chunk (atomically: a kill leaves it whole or absent)."""
        if self.kind is not None and not (self.directory / JOB_FILE).is_file():
            self._write_kind()
        write_text_atomic(
            self._path(index, prompts),
            json.dumps([[c.to_dict() for c in row] for row in completions]),
        )

    def failure(self, index: int, n_prompts: int, error: BaseException) -> GenerationError:
        """The error that names a failed chunk, its step and its model."""
        return GenerationError(
            f"{self.description}: chunk {index} ({n_prompts} prompts) failed on model "
            f"{self.model}: {str(error).rstrip('.')}. Finished chunks are kept in "
            f"{self.directory}; a rerun resumes from them."
        )

    def get_or_generate(
        self,
        index: int,
        prompts: Sequence[str],
        generate: Callable[[Sequence[str]], list[list[Completion]]],
    ) -> list[list[Completion]]:
        """Returns chunk ``index`` from disk when it was finished before, else generates
        and writes it."""
        completions = self.load(index, prompts)
        if completions is not None:
            return completions
        try:
            completions = generate(prompts)
        except Exception as error:
            raise self.failure(index, len(prompts), error) from error
        self.save(index, prompts, completions)
        return completions

    def _write_kind(self) -> None:
        write_text_atomic(self.directory / JOB_FILE, json.dumps({"kind": self.kind}))

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def keep_as_newest(self) -> None:
        """Keeps this finished job's chunks as the newest of its kind and removes the
        other jobs of the kind (older settings, inputs or models, finished or not)."""
        if self.kind is None:
            raise ValueError(f"{self.description}: only a job of a named kind can be kept")
        self._write_kind()
        for job in self.root.iterdir():
            if job != self.directory and _kind_of(job) == self.kind:
                shutil.rmtree(job, ignore_errors=True)


class Throughput:
    """Prompts/s and tokens/s of a job: a progress bar while it runs, figures after."""

    def __init__(self, total: int, description: str):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=description, unit="prompt", dynamic_ncols=True)
        self.started = time.perf_counter()
        self.prompts = 0
        self.tokens = 0

    def update(self, completions: list[list[Completion]]) -> None:
        self.prompts += len(completions)
        self.tokens += sum(c.n_tokens for row in completions for c in row)
        self.bar.update(len(completions))
        self.bar.set_postfix(self.figures(), refresh=False)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def figures(self) -> dict[str, float]:
        seconds = max(self.seconds, 1e-9)
        return {
            "prompts_per_second": round(self.prompts / seconds, 3),
            "tokens_per_second": round(self.tokens / seconds, 1),
        }

    def close(self) -> None:
        self.bar.close()


def generate_in_chunks(
    generator: Generator,
    prompts: Sequence[str],
    sampling: SamplingConfig,
    store: ChunkStore,
    *,
    chunk_size: int,
    description: str,
    chat: bool = True,
    first_index: int = 0,
) -> tuple[list[list[Completion]], dict[str, float]]:
    """Generates for many prompts chunk by chunk, resuming from finished chunks.

    Returns:
        The completions in prompt order, and throughput figures (wall-clock
        ``prompts_per_second`` and ``tokens_per_second``, ``seconds``, ``chunks_reused``,
        and the engine's ``engine_tokens_per_second``).
    """
    chunks = [
        (index, list(prompts[start : start + chunk_size]))
        for index, start in enumerate(range(0, len(prompts), chunk_size), start=first_index)
    ]
    engine_tokens, engine_seconds = generator.tokens_generated, generator.seconds
    progress = Throughput(len(prompts), description)
    try:
        if hasattr(generator, "map_chunks"):
            results = _generate_on_replicas(generator, chunks, sampling, store, progress, chat=chat)
        else:
            results = []
            for index, chunk in chunks:
                completions = store.get_or_generate(
                    index, chunk, lambda p: generator.generate(p, sampling, chat=chat)
                )
                results.extend(completions)
                progress.update(completions)
    finally:
        progress.close()
    if store.reused:
        logger.info("%s: reused %d finished chunk(s) of an earlier run", description, store.reused)
    engine_seconds = generator.seconds - engine_seconds
    figures = {
        **progress.figures(),
        "seconds": progress.seconds,
        "chunks_reused": store.reused,
        # The engine's own figure: generation time only (no engine start, no reused chunk).
        "engine_tokens_per_second": (generator.tokens_generated - engine_tokens)
        / max(engine_seconds, 1e-9),
    }
    return results, figures


class Resumed(NamedTuple):
    """What ``generate_resumably`` made: the completions in prompt order, throughput
    figures, and the job's store (for a caller that clears several jobs together)."""

    completions: list[list[Completion]]
    figures: dict[str, float]
    store: ChunkStore


def generate_resumably(  # noqa: PLR0913 (one job: its engine, key, inputs and chunking)
    generator: Generator,
    step: str,
    fingerprint: Mapping,
    prompts: Sequence[str],
    sampling: SamplingConfig,
    *,
    chunk_dir: str | Path,
    chunk_size: int,
    description: str | None = None,
    model: str | None = None,
    kind: str | None = None,
    finish: Literal["clear", "keep_as_newest", "keep"] = "clear",
    chat: bool = True,
    first_index: int = 0,
) -> Resumed:
    """Generates for ``prompts`` chunk by chunk, each finished chunk on disk: a killed or
    timed-out run resumes from the finished chunks.

    The job's key is ``fingerprint`` (what the caller's step depends on: model hash,
    template, seeds) plus everything of the engine and the request that changes the
    output: the step, the sampling, the backend and its precision, the transformers
    backend's batch size (a padded batch can change the output) and ``max_model_len``.

    Args:
        generator: The engine (``open_engine``).
        step: The step's name, in the key and in errors.
        fingerprint: What else the output depends on.
        prompts: The prompts.
        sampling: Their decoding.
        chunk_dir: Where job directories are made.
        chunk_size: Prompts per chunk: a killed run redoes at most one.
        description: The progress bar's and errors' name of the job (default: ``step``).
        model: The errors' name of the model (default: the generator's ``model_path``).
        kind: What the job is (``iter1/candidates``), for ``finish="keep_as_newest"``.
        finish: Once complete, remove the chunks (``clear``), keep them as the newest
            job of ``kind`` (a stage that re-runs an unchanged step reads them), or
            ``keep`` them for the caller to clear (several jobs of one step).
        chat: Wrap each prompt in the chat template.
        first_index: Index of the first chunk (a job made of rounds numbers its chunks
            on from the round before).
    """
    backend = getattr(generator, "backend", None)
    key = {
        "step": step,
        **fingerprint,
        "sampling": dataclasses.asdict(sampling),
        "backend": backend,
        "precision": getattr(generator, "precision", None),
        "batch_size": getattr(generator, "batch_size", None) if backend == "transformers" else None,
        "max_model_len": getattr(generator, "max_model_len", None),
        "chat": chat,
    }
    store = ChunkStore(
        chunk_dir,
        key,
        description=description or step,
        model=model or str(getattr(generator, "model_path", "")),
        kind=kind,
    )
    completions, figures = generate_in_chunks(
        generator,
        prompts,
        sampling,
        store,
        chunk_size=chunk_size,
        description=description or step,
        chat=chat,
        first_index=first_index,
    )
    if finish == "clear":
        store.clear()
    elif finish == "keep_as_newest":
        store.keep_as_newest()
    return Resumed(completions, figures, store)


def _generate_on_replicas(generator, chunks, sampling, store, progress, *, chat):
    """Shares the unfinished chunks out among the engine replicas of a
    ``RayDataGenerator``, writing each to the store as it finishes; a failed chunk
    stops the handing out, and the chunks in flight are still kept."""
    finished = {index: store.load(index, chunk) for index, chunk in chunks}
    for completions in finished.values():
        if completions is not None:
            progress.update(completions)
    missing = [(index, chunk) for index, chunk in chunks if finished[index] is None]
    prompts_of = dict(missing)
    failure = None
    for index, outcome in generator.map_chunks(missing, sampling, chat=chat):
        if isinstance(outcome, BaseException):
            failure = failure or (index, outcome)
            continue
        store.save(index, prompts_of[index], outcome)
        finished[index] = outcome
        progress.update(outcome)
    if failure is not None:
        index, error = failure
        raise store.failure(index, len(prompts_of[index]), error) from error
    return [completion for index, _ in chunks for completion in finished[index]]
