"""Generation on several engine replicas: what Ray reserves for each, and chunks that come
back out of order or fail, merged through the chunk store. The real run (2 Ray Data
replicas of the vLLM engine on the tiny model) is in test_vllm_engine.py."""

from __future__ import annotations

import pytest

from self_rewarding.core.types import GenerationConfig, SamplingConfig
from self_rewarding.generation import FakeGenerator, open_engine
from self_rewarding.generation.chunks import ChunkStore, GenerationError, generate_in_chunks
from self_rewarding.generation.replicas import replica_resources

SAMPLING = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=8, n=2, seed=5)
PROMPTS = [f"Tell me about the number {i}." for i in range(10)]


def _rows(rows):
    return [[(str(c), c.seed, c.n_tokens) for c in row] for row in rows]


def _echo(prompt: str, index: int) -> str:
    return f"{prompt} #{index}"


class ReversedReplicas(FakeGenerator):
    """A replica pool whose chunks come back last first, as a pool's may; a chunk with a
    prompt about seven fails and stops the job."""

    def map_chunks(self, chunks, sampling, chat=True):
        for index, prompts in reversed(chunks):
            try:
                yield index, self.generate(prompts, sampling, chat=chat)
            except RuntimeError as error:
                yield index, error
                return


def test_cpu_replicas_get_an_equal_share_of_the_cores():
    assert replica_resources(2, 1, gpus=0, cpus=4) == {"num_cpus": 2}
    assert replica_resources(3, 1, gpus=0, cpus=2) == {"num_cpus": 1}  # they share


def test_gpu_replicas_get_their_tensor_parallel_gpus_from_the_cluster():
    assert replica_resources(2, 2, gpus=4, cpus=16) == {"num_gpus": 2, "num_cpus": 1}
    with pytest.raises(ValueError, match="needs 6 GPUs; the Ray cluster has 4"):
        replica_resources(3, 2, gpus=4, cpus=16)
    with pytest.raises(ValueError, match="needs GPUs"):
        replica_resources(1, 2, gpus=0, cpus=2)
    with pytest.raises(ValueError, match="at least 1"):
        replica_resources(0, 1, gpus=0, cpus=2)


def test_chunks_that_come_back_out_of_order_are_merged_in_prompt_order(tmp_path):
    pool = ReversedReplicas(_echo)
    rows, _ = generate_in_chunks(
        pool, PROMPTS, SAMPLING, ChunkStore(tmp_path, {"step": "t"}), chunk_size=3, description="t"
    )
    single, _ = generate_in_chunks(
        FakeGenerator(_echo),
        PROMPTS,
        SAMPLING,
        ChunkStore(tmp_path / "single", {"step": "t"}),
        chunk_size=3,
        description="t",
    )
    assert [call[0][0] for call in pool.calls] == [PROMPTS[9], PROMPTS[6], PROMPTS[3], PROMPTS[0]]
    assert _rows(rows) == _rows(single)


def test_a_failed_chunk_is_named_and_the_finished_ones_are_kept(tmp_path):
    def fail_on_seven(prompt: str, index: int) -> str:
        if "number 7" in prompt:
            raise RuntimeError("engine died")
        return _echo(prompt, index)

    store = ChunkStore(tmp_path, {"step": "test"}, description="iteration 1: candidates")
    with pytest.raises(GenerationError, match=r"iteration 1: candidates: chunk 2 \(3 prompts\)"):
        generate_in_chunks(
            ReversedReplicas(fail_on_seven), PROMPTS, SAMPLING, store, chunk_size=3, description="t"
        )

    # Chunk 3 came back before chunk 2 failed; a rerun takes it from disk.
    rerun, _ = generate_in_chunks(
        ReversedReplicas(_echo), PROMPTS, SAMPLING, store, chunk_size=3, description="t"
    )
    assert store.reused == 1
    assert _rows(rerun) == _rows(FakeGenerator(_echo).generate(PROMPTS, SAMPLING))


def test_replicas_need_the_vllm_backend(tiny_model_dir):
    with pytest.raises(ValueError, match="replicas=2 needs the vLLM backend"):
        open_engine(
            tiny_model_dir, GenerationConfig(backend="transformers", precision="fp32", replicas=2)
        )
