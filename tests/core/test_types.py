"""The typed configs: what Kedro's parameter blocks (nested mappings, lists) become, and
what they refuse."""

from __future__ import annotations

import dataclasses

import pytest

from self_rewarding.core.precision import Hardware
from self_rewarding.core.types import (
    EFTConfig,
    EvaluationConfig,
    IterationConfig,
    JudgeConfig,
    JudgeProbeConfig,
    LauncherConfig,
    SamplingConfig,
    SelfInstructConfig,
)


def test_nested_blocks_become_typed_configs_and_lists_become_tuples():
    config = IterationConfig(
        judge={"mode": "expected", "sampling": {"n": 2, "stop": ["\n\n"]}},
        filters={"blocklist": ["image"]},
        meta_judge={"max_share": 0.25, "verdict": {"temperature": 0}},
    )
    assert config.judge == JudgeConfig(
        mode="expected", sampling=SamplingConfig(n=2, stop=("\n\n",))
    )
    assert config.filters.blocklist == ("image",)
    assert isinstance(config.meta_judge.verdict, SamplingConfig)
    assert config.meta_judge.verdict.temperature == 0.0
    # Untouched blocks keep their defaults.
    assert config.candidates == SamplingConfig(n=4, max_new_tokens=256)
    evaluation = EvaluationConfig(comparisons=[["M2", "M1"]], evaluator={"name": "fixed"})
    assert evaluation.comparisons == (("M2", "M1"),)
    assert evaluation.evaluator.name == "fixed"


def test_configs_are_frozen_hashable_and_replace_revalidates():
    sampling = SamplingConfig(n=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sampling.n = 4
    assert hash(sampling) == hash(SamplingConfig(n=3))
    assert dataclasses.replace(sampling, n=5).n == 5
    with pytest.raises(ValueError, match="valid integer"):
        dataclasses.replace(sampling, n="five")


@pytest.mark.parametrize(
    ("block", "location", "message"),
    [
        ({"judge": {"mod": "sampled"}}, "judge.mod", "Unexpected keyword argument"),
        ({"judge": {"mode": "best"}}, "judge.mode", "'sampled', 'expected' or 'score_first'"),
        ({"candidates": {"n": "four"}}, "candidates.n", "valid integer"),
        ({"generation": {"precision": "int4"}}, "generation.precision", "'auto'"),
    ],
)
def test_an_unknown_key_or_a_wrong_value_names_the_nested_field(block, location, message):
    with pytest.raises(ValueError) as raised:
        IterationConfig(**block)
    assert location in str(raised.value)
    assert message in str(raised.value)


def test_a_launcher_needs_a_process():
    with pytest.raises(ValueError, match="num_processes must be at least 1"):
        LauncherConfig(num_processes=0)


AVX2_CPU = Hardware(device="cpu", cpu_capability="AVX2", cpu_native_bf16=False)
BF16_CPU = Hardware(device="cpu", cpu_capability="AVX512", cpu_native_bf16=True)
GPU_ON_AVX2 = Hardware("cuda", "AVX2", False, cuda_name="NVIDIA H100", cuda_bf16=True)


def test_a_cpu_without_native_bf16_takes_the_smaller_evaluation_sets():
    evaluation = EvaluationConfig(
        judge_alignment_prompts=None,
        mt_bench_human_pairs=None,
        hh_harmless_pairs=200,
        ifeval={"prompts": 80, "sampling": {"max_new_tokens": 640}},
        on_cpu_without_bf16={
            "judge_alignment_prompts": 30,
            "mt_bench_human_pairs": 60,
            "hh_harmless_pairs": 30,
            "ifeval_prompts": 40,
        },
    )
    sized = evaluation.sized_for(AVX2_CPU)
    assert (sized.judge_alignment_prompts, sized.mt_bench_human_pairs) == (30, 60)
    assert (sized.hh_harmless_pairs, sized.ifeval.prompts) == (30, 40)
    assert sized.ifeval.sampling.max_new_tokens == 640  # only the sizes change
    assert sized.on_cpu_without_bf16 is None and sized.sized_for(AVX2_CPU) == sized
    assert evaluation.sized_for(BF16_CPU) is evaluation
    assert evaluation.sized_for(GPU_ON_AVX2) is evaluation


def test_the_answer_sets_shrink_only_where_a_smaller_size_is_given():
    sets = {"judge_alignment_prompts": 10, "ifeval_prompts": 20}
    evaluation = EvaluationConfig(
        alpaca_prompts=16, mt_bench_questions=16, on_cpu_without_bf16=sets
    )
    assert (
        evaluation.sized_for(AVX2_CPU).alpaca_prompts,
        evaluation.sized_for(AVX2_CPU).mt_bench_questions,
    ) == (16, 16)
    sets = {**sets, "alpaca_prompts": 8, "mt_bench_questions": 8}
    evaluation = EvaluationConfig(
        alpaca_prompts=16, mt_bench_questions=16, on_cpu_without_bf16=sets
    )
    sized = evaluation.sized_for(AVX2_CPU)
    assert (sized.alpaca_prompts, sized.mt_bench_questions) == (8, 8)
    assert evaluation.sized_for(BF16_CPU).alpaca_prompts == 16


def test_the_judge_probe_self_instruction_and_eft_shrink_on_a_cpu_without_bf16():
    probe = JudgeProbeConfig(n_items=50, on_cpu_without_bf16={"n_items": 20})
    assert probe.sized_for(AVX2_CPU) == dataclasses.replace(
        probe, n_items=20, on_cpu_without_bf16=None
    )
    assert probe.sized_for(BF16_CPU) is probe and probe.sized_for(GPU_ON_AVX2) is probe
    self_instruct = SelfInstructConfig(n_prompts=32, on_cpu_without_bf16={"n_prompts": 16})
    sized = self_instruct.sized_for(AVX2_CPU)
    assert (sized.n_prompts, sized.on_cpu_without_bf16, sized.max_rounds) == (
        16,
        None,
        self_instruct.max_rounds,
    )
    assert self_instruct.sized_for(BF16_CPU) is self_instruct
    eft = EFTConfig(max_examples=72, on_cpu_without_bf16={"max_examples": 48})
    assert eft.sized_for(AVX2_CPU).max_examples == 48 and eft.sized_for(GPU_ON_AVX2) is eft
    assert SelfInstructConfig(n_prompts=32).sized_for(AVX2_CPU).n_prompts == 32


def test_without_smaller_sets_every_machine_runs_the_same_ones():
    evaluation = EvaluationConfig(judge_alignment_prompts=None, on_cpu_without_bf16=None)
    assert evaluation.sized_for(AVX2_CPU) is evaluation
