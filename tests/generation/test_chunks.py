"""Resumable generation: finished chunks survive a killed run and are not redone; a
changed job never reuses them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from self_rewarding.core.types import SamplingConfig
from self_rewarding.generation import FakeGenerator
from self_rewarding.generation.chunks import ChunkStore, generate_in_chunks, generate_resumably

PROMPTS = [f"prompt {i}" for i in range(10)]
SAMPLING = SamplingConfig(n=2)


def _echo(prompt: str, index: int) -> str:
    return f"{prompt} / answer {index}"


def test_chunks_are_written_as_they_finish_and_reused(tmp_path):
    store = ChunkStore(tmp_path, {"step": "candidates"})
    first = FakeGenerator(_echo)
    completions, figures = generate_in_chunks(
        first, PROMPTS, SAMPLING, store, chunk_size=4, description="test"
    )

    assert [list(map(str, row)) for row in completions] == [
        [_echo(p, 0), _echo(p, 1)] for p in PROMPTS
    ]
    assert len(list(store.directory.glob("*.json"))) == 3
    assert figures["chunks_reused"] == 0

    again = FakeGenerator(_echo)
    store_again = ChunkStore(tmp_path, {"step": "candidates"})
    reused, figures = generate_in_chunks(
        again, PROMPTS, SAMPLING, store_again, chunk_size=4, description="test"
    )
    assert again.calls == []
    assert figures["chunks_reused"] == 3
    assert reused == completions
    assert [c.n_tokens for row in reused for c in row] == [
        c.n_tokens for row in completions for c in row
    ]


def test_a_changed_job_does_not_reuse_chunks(tmp_path):
    generate_in_chunks(
        FakeGenerator(_echo),
        PROMPTS,
        SAMPLING,
        ChunkStore(tmp_path, {"step": "candidates", "temperature": 0.7}),
        chunk_size=4,
        description="test",
    )
    changed = FakeGenerator(_echo)
    generate_in_chunks(
        changed,
        PROMPTS,
        SAMPLING,
        ChunkStore(tmp_path, {"step": "candidates", "temperature": 0.8}),
        chunk_size=4,
        description="test",
    )
    assert len(changed.calls) == 3


def test_the_newest_finished_job_of_a_kind_is_kept_and_older_ones_removed(tmp_path):
    def run(temperature: float, kind: str = "iter1/candidates") -> tuple[ChunkStore, FakeGenerator]:
        fingerprint = {"step": kind, "temperature": temperature}
        store = ChunkStore(tmp_path, fingerprint, kind=kind)
        generator = FakeGenerator(_echo)
        generate_in_chunks(generator, PROMPTS, SAMPLING, store, chunk_size=4, description="t")
        store.keep_as_newest()
        return store, generator

    older, _ = run(0.7)
    other_kind, _ = run(0.7, kind="iter2/candidates")
    # Unchanged: read back, nothing generated.
    same, generator = run(0.7)
    assert same.directory == older.directory and generator.calls == [] and same.reused == 3
    # Changed: generated, and the older job of the kind is gone; other kinds stay.
    newer, generator = run(0.8)
    assert len(generator.calls) == 3
    assert newer.directory.is_dir() and not older.directory.exists()
    assert other_kind.directory.is_dir()
    # A killed job of the kind (chunks, never finished) goes too when a newer one finishes.
    killed = ChunkStore(
        tmp_path, {"step": "iter1/candidates", "temperature": 0.9}, kind="iter1/candidates"
    )
    killed.save(0, PROMPTS[:4], FakeGenerator(_echo).generate(PROMPTS[:4], SAMPLING))
    run(0.8)
    assert not killed.directory.exists() and newer.directory.is_dir()


_SLOW_JOB = textwrap.dedent(
    """
    import json, sys, time
    from self_rewarding.core.types import SamplingConfig
    from self_rewarding.generation import FakeGenerator
    from self_rewarding.generation.chunks import ChunkStore, generate_in_chunks, generate_resumably

    root, calls_log, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])

    def respond(prompt, index):
        with open(calls_log, "a") as log:
            log.write(prompt + "\\n")
        time.sleep(delay)
        return prompt.upper()

    prompts = [f"prompt {i}" for i in range(12)]
    completions, figures = generate_in_chunks(
        FakeGenerator(respond), prompts, SamplingConfig(n=1), ChunkStore(root, {"job": 1}),
        chunk_size=3, description="slow job",
    )
    print(json.dumps({"texts": [row[0] for row in completions], **figures}))
    """
)


def test_a_killed_generation_resumes_without_redoing_finished_chunks(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(_SLOW_JOB)
    root, calls = tmp_path / "chunks", tmp_path / "calls.log"
    command = [sys.executable, str(script), str(root), str(calls)]

    def finished_chunks() -> int:
        # Not the hidden temporary file of a chunk being written when the kill came.
        return len([p for p in root.glob("*/*.json") if not p.name.startswith(".")])

    job = subprocess.Popen([*command, "0.2"], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while finished_chunks() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    finished = finished_chunks()
    assert 2 <= finished < 4, "the job should have been killed midway"
    calls_before = calls.read_text().splitlines()

    resumed = subprocess.run([*command, "0"], capture_output=True, text=True, check=True)

    result = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert result["texts"] == [f"PROMPT {i}" for i in range(12)]
    assert result["chunks_reused"] == finished
    redone = calls.read_text().splitlines()[len(calls_before) :]
    assert len(redone) == 12 - 3 * finished
    assert not set(redone) & {f"prompt {i}" for i in range(3 * finished)}


def _resumably(generator, tmp_path, finish="clear", kind=None, **fingerprint):
    return generate_resumably(
        generator,
        "candidates",
        {"model_sha256": "m", **fingerprint},
        PROMPTS,
        SAMPLING,
        chunk_dir=tmp_path,
        chunk_size=4,
        kind=kind,
        finish=finish,
    )


def _jobs(root) -> list:
    return sorted(p.name for p in root.iterdir())


def test_a_resumable_job_is_keyed_on_what_changes_its_output(tmp_path):
    vllm, transformers = FakeGenerator(_echo), FakeGenerator(_echo)
    vllm.backend, vllm.precision, vllm.max_model_len = "vllm", "fp32", 2048
    transformers.backend, transformers.precision = "transformers", "fp32"
    keys = set()
    for generator, changes in [
        (vllm, {}),
        (vllm, {"max_model_len": 4096}),
        (vllm, {"precision": "bf16"}),
        (transformers, {"batch_size": 8}),
        (transformers, {"batch_size": 16}),
    ]:
        for name, value in changes.items():
            setattr(generator, name, value)
        keys.add(_resumably(generator, tmp_path, finish="keep").store.directory.name)
    assert len(keys) == 5
    # A batch size changes nothing on vLLM (each request is its own): same job.
    vllm.batch_size = 99
    assert _resumably(vllm, tmp_path, finish="keep").store.directory.name in keys


def test_a_finished_job_is_cleared_kept_or_kept_as_the_newest_of_its_kind(tmp_path):
    cleared = _resumably(FakeGenerator(_echo), tmp_path / "a")
    assert [list(map(str, row)) for row in cleared.completions][0] == [
        _echo(PROMPTS[0], 0),
        _echo(PROMPTS[0], 1),
    ]
    assert _jobs(tmp_path / "a") == []

    kept = _resumably(FakeGenerator(_echo), tmp_path / "b", finish="keep")
    assert _jobs(tmp_path / "b") == [kept.store.directory.name]

    older = _resumably(FakeGenerator(_echo), tmp_path / "c", "keep_as_newest", "iter1/c", t=1)
    newer = _resumably(FakeGenerator(_echo), tmp_path / "c", "keep_as_newest", "iter1/c", t=2)
    assert older.store.directory != newer.store.directory
    assert _jobs(tmp_path / "c") == [newer.store.directory.name]
    again = _resumably(FakeGenerator(_echo), tmp_path / "c", "keep_as_newest", "iter1/c", t=2)
    assert again.figures["chunks_reused"] == 3
