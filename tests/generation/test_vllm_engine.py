"""The vLLM engine, for real on the tiny model: a completion depends only on its prompt,
its index and the sampling seed (not on the batch, the order or what the engine drew
before, nor on the engine being a fresh one, nor on how many engine replicas share the
job); a hung or dead engine is an error that names the model, and the chunk store names
the step and the chunk."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from self_rewarding.core.types import GenerationConfig, SamplingConfig
from self_rewarding.generation import open_engine
from self_rewarding.generation.chunks import ChunkStore, GenerationError, generate_in_chunks
from self_rewarding.generation.replicas import RayDataGenerator
from self_rewarding.generation.vllm_backend import VLLMEngineError, VLLMGenerator

pytestmark = pytest.mark.slow  # starts engines

SAMPLING = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=8, n=2, seed=5)


def _members(group: int) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == group and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return members


def _still_alive(processes: list[psutil.Process], within: float = 10.0) -> list:
    """The processes still alive after ``within`` seconds (SIGKILL takes a moment)."""
    deadline = time.monotonic() + within
    while True:
        alive = []
        for process in processes:
            try:
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def _texts(rows):
    return [[(str(c), c.seed) for c in row] for row in rows]


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    generator = open_engine(tiny_model_dir, GenerationConfig(backend="vllm", precision="fp32"))
    yield generator
    generator.close()


def test_a_completion_depends_only_on_its_prompt_index_and_seed(engine, tiny_model_dir):
    first = _texts(engine.generate(["Name a colour.", "Count to three."], SAMPLING))
    engine.generate(["Something else entirely."], SamplingConfig(n=3, max_new_tokens=8, seed=9))
    swapped = _texts(engine.generate(["Count to three.", "Name a colour."], SAMPLING))
    alone = _texts(engine.generate(["Count to three."], SAMPLING))

    assert swapped == [first[1], first[0]]
    assert alone == [first[1]]
    seeds = [seed for row in first for _, seed in row]
    assert len(set(seeds)) == 4  # every sample has a seed of its own, and records it
    assert engine.precision == "fp32" and engine.backend == "vllm"

    # A fresh engine (a stage run alone under DVC) gives the same completions.
    fresh = open_engine(tiny_model_dir, GenerationConfig(backend="vllm", precision="fp32"))
    try:
        assert _texts(fresh.generate(["Name a colour."], SAMPLING)) == [first[0]]
    finally:
        fresh.close()

    other_seed = _texts(
        engine.generate(
            ["Name a colour."],
            SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=8, n=2, seed=6),
        )
    )
    assert other_seed != [first[0]]


def test_seeded_requests_survive_a_batch_larger_than_one_prefill_step(engine):
    # 40 prompts of about 500 tokens exceed one step's token budget (4,096 tokens).
    prompts = [f"Repeat after me: {'word ' * 480}{i}" for i in range(40)]
    completions = engine.generate(prompts, SamplingConfig(max_new_tokens=4, n=1, seed=1))
    assert [len(row) for row in completions] == [1] * 40
    assert all(row[0].n_tokens >= 1 for row in completions)


def test_an_engine_past_its_deadline_is_stopped_with_an_error(tiny_model_dir):
    # Starting the engine alone takes longer than this deadline.
    generator = VLLMGenerator(tiny_model_dir, precision="fp32", request_timeout_seconds=0.5)
    groups = []
    start = generator._start

    def start_and_record():
        start()
        groups.append(generator._process.pid)  # the engine's own process group

    generator._start = start_and_record
    try:
        with pytest.raises(VLLMEngineError, match=r"did not answer within 0.5 s") as caught:
            generator.generate(["Name a colour."], SAMPLING)
        assert str(tiny_model_dir) in str(caught.value)
        assert generator._process is None  # killed, not left running
        # ... and so is every process vLLM had started.
        assert _still_alive(_members(groups[0])) == []
    finally:
        generator.close()


def test_a_dead_engine_is_an_error_naming_the_step_the_model_and_the_chunk(
    engine, tiny_model_dir, tmp_path
):
    generator = open_engine(tiny_model_dir, GenerationConfig(backend="vllm", precision="fp32"))
    prompts = [f"Say the number {i}." for i in range(4)]
    store = ChunkStore(
        tmp_path, {"step": "candidates"}, "iteration 1: candidates", str(tiny_model_dir)
    )
    calls = []
    engine_processes = []

    def kill_after_first_chunk(chunk_prompts, sampling, chat=True):
        if calls:
            process = psutil.Process(generator._process.pid)
            engine_processes.extend([process, *process.children(recursive=True)])
            os.kill(generator._process.pid, signal.SIGKILL)
        calls.append(chunk_prompts)
        return type(generator).generate(generator, chunk_prompts, sampling, chat)

    generator.generate = kill_after_first_chunk
    try:
        with pytest.raises(GenerationError) as caught:
            generate_in_chunks(
                generator, prompts, SAMPLING, store, chunk_size=2, description="iteration 1"
            )
    finally:
        generator.close()
    message = str(caught.value)
    assert message.startswith("iteration 1: candidates: chunk 1 (2 prompts) failed on model")
    assert str(tiny_model_dir) in message and "exited with code -9" in message
    assert len(list(store.directory.glob("*.json"))) == 1  # chunk 0 is kept
    # The engine and any process vLLM started (a multi-process engine on a GPU) went with
    # it: none is left orphaned.
    assert engine_processes
    assert _still_alive(engine_processes) == []

    # The rerun resumes: chunk 0 from disk, only chunk 1 generated.
    completions, figures = generate_in_chunks(
        engine, prompts, SAMPLING, store, chunk_size=2, description="iteration 1"
    )
    assert figures["chunks_reused"] == 1
    assert [len(row) for row in completions] == [2, 2, 2, 2]


def test_two_ray_data_replicas_give_the_rows_of_one_engine(engine, tiny_model_dir, tmp_path):
    """2 replicas of 1 core each, as Ray Data actors on a local Ray instance: the same
    completions and seeds as one engine, chunk by chunk and in one call; each chunk
    served by a replica's engine; nothing left running after close."""
    prompts = [f"Tell me about the number {i}." for i in range(10)]

    def chunked(generator, name):
        store = ChunkStore(tmp_path / name, {"step": "test"})
        rows, _ = generate_in_chunks(
            generator, prompts, SAMPLING, store, chunk_size=3, description=name
        )
        return _texts(rows)

    replicas = open_engine(
        tiny_model_dir, GenerationConfig(backend="vllm", precision="fp32", replicas=2)
    )
    try:
        assert isinstance(replicas, RayDataGenerator)
        two = chunked(replicas, "two"), _texts(replicas.generate(prompts[:5], SAMPLING))
        engines = set(replicas.engine_pids)
        assert replicas.tokens_generated > 0
    finally:
        replicas.close()
    one = chunked(engine, "one"), _texts(engine.generate(prompts[:5], SAMPLING))
    assert two == one
    # Two replicas served the job's four chunks, each with an engine of its own; the
    # engines exit with their job, and the local Ray instance with close().
    assert len(engines) >= 2
    deadline = time.monotonic() + 10
    while any(psutil.pid_exists(pid) for pid in engines) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(psutil.pid_exists(pid) for pid in engines)


def test_a_chunk_failing_on_a_ray_data_replica_is_named_and_the_others_kept(
    tiny_model_dir, tmp_path
):
    """A prompt longer than max_model_len fails its chunk inside a replica's engine."""
    prompts = ["Name a colour."] * 4 + ["word " * 400] + ["Count to three."]
    generator = open_engine(
        tiny_model_dir,
        GenerationConfig(backend="vllm", precision="fp32", replicas=2, max_model_len=128),
    )
    store = ChunkStore(tmp_path / "chunks", {"step": "test"}, description="iteration 1: judge")
    try:
        with pytest.raises(GenerationError, match=r"iteration 1: judge: chunk 2 \(2 prompts\)"):
            generate_in_chunks(generator, prompts, SAMPLING, store, chunk_size=2, description="t")
    finally:
        generator.close()
    # Chunks 0 and 1 as far as they came back before the job stopped; never chunk 2.
    kept = sorted(path.name[:5] for path in store.directory.glob("0*.json"))
    assert set(kept) <= {"00000", "00001"}
