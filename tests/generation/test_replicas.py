"""Generation on several engine replicas: where each replica runs, chunks shared out and
merged through the chunk store. The real 2-replica run is in test_vllm_engine.py."""

from __future__ import annotations

import pytest

from self_rewarding.core.types import GenerationConfig, SamplingConfig
from self_rewarding.generation import FakeGenerator, open_engine
from self_rewarding.generation.chunks import ChunkStore, GenerationError, generate_in_chunks
from self_rewarding.generation.replicas import ReplicatedGenerator, replica_placements

SAMPLING = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=8, n=2, seed=5)
PROMPTS = [f"Tell me about the number {i}." for i in range(10)]


def _rows(rows):
    return [[(str(c), c.seed, c.n_tokens) for c in row] for row in rows]


def _echo(prompt: str, index: int) -> str:
    return f"{prompt} #{index}"


def test_cpu_replicas_get_equal_contiguous_core_shares():
    assert replica_placements(2, 1, gpus=[], cpus=[0, 1, 2, 3]) == [
        {"VLLM_CPU_OMP_THREADS_BIND": "0,1", "OMP_NUM_THREADS": "2"},
        {"VLLM_CPU_OMP_THREADS_BIND": "2,3", "OMP_NUM_THREADS": "2"},
    ]
    shared = replica_placements(3, 1, gpus=[], cpus=[4, 5])
    assert [p["VLLM_CPU_OMP_THREADS_BIND"] for p in shared] == ["4", "5", "4"]


def test_gpu_replicas_get_tensor_parallel_groups_of_the_visible_devices():
    placements = replica_placements(2, 2, gpus=["3", "4", "5", "6"], cpus=[0])
    assert placements == [{"CUDA_VISIBLE_DEVICES": "3,4"}, {"CUDA_VISIBLE_DEVICES": "5,6"}]
    with pytest.raises(ValueError, match="needs 6 GPUs; 4 are visible"):
        replica_placements(3, 2, gpus=["0", "1", "2", "3"], cpus=[0])
    with pytest.raises(ValueError, match="needs GPUs"):
        replica_placements(1, 2, gpus=[], cpus=[0, 1])


def test_chunks_shared_out_among_replicas_come_back_in_prompt_order(tmp_path):
    replicas = [FakeGenerator(_echo), FakeGenerator(_echo)]
    store = ChunkStore(tmp_path, {"step": "test"})

    rows, _ = generate_in_chunks(
        ReplicatedGenerator(replicas), PROMPTS, SAMPLING, store, chunk_size=3, description="t"
    )
    single, _ = generate_in_chunks(
        FakeGenerator(_echo),
        PROMPTS,
        SAMPLING,
        ChunkStore(tmp_path / "single", {"step": "test"}),
        chunk_size=3,
        description="t",
    )

    assert _rows(rows) == _rows(single)
    assert sorted(p for r in replicas for call in r.calls for p in call[0]) == sorted(PROMPTS)


def test_a_failed_chunk_is_named_and_the_finished_ones_are_kept(tmp_path):
    def fail_on_seven(prompt: str, index: int) -> str:
        if "number 7" in prompt:
            raise RuntimeError("engine died")
        return _echo(prompt, index)

    store = ChunkStore(tmp_path, {"step": "test"}, description="iteration 1: candidates")
    generator = ReplicatedGenerator([FakeGenerator(fail_on_seven), FakeGenerator(fail_on_seven)])

    with pytest.raises(GenerationError, match=r"iteration 1: candidates: chunk 2 \(3 prompts\)"):
        generate_in_chunks(generator, PROMPTS, SAMPLING, store, chunk_size=3, description="t")

    # Chunks 0 and 1 were handed out before chunk 2 failed; a rerun takes them from disk.
    healthy = ReplicatedGenerator([FakeGenerator(_echo)])
    rerun, _ = generate_in_chunks(healthy, PROMPTS, SAMPLING, store, chunk_size=3, description="t")
    assert store.reused >= 2
    assert len(rerun) == len(PROMPTS)


def test_replicas_need_the_vllm_backend(tiny_model_dir):
    with pytest.raises(ValueError, match="replicas=2 needs the vLLM backend"):
        open_engine(
            tiny_model_dir, GenerationConfig(backend="transformers", precision="fp32", replicas=2)
        )


def test_one_call_is_split_across_the_replicas_and_merged_in_order():
    replicas = [FakeGenerator(_echo), FakeGenerator(_echo), FakeGenerator(_echo)]

    rows = ReplicatedGenerator(replicas).generate(PROMPTS, SAMPLING)

    assert _rows(rows) == _rows(FakeGenerator(_echo).generate(PROMPTS, SAMPLING))
    assert [len(r.calls[0][0]) for r in replicas] == [3, 3, 4]
