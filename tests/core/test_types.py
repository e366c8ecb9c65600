"""The typed configs: what Kedro's parameter blocks (nested mappings, lists) become, and
what they refuse."""

from __future__ import annotations

import dataclasses

import pytest

from self_rewarding.core.types import (
    EvaluationConfig,
    IterationConfig,
    JudgeConfig,
    LauncherConfig,
    SamplingConfig,
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
