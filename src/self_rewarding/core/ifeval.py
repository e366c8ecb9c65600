"""IFEval (Zhou et al., 2023, arXiv:2311.07911): instruction following checked by code.

This module holds what needs no checker: the stratified subset, the four accuracies
(prompt-level and instruction-level, strict and loose), their bootstrap intervals over
prompts and the paired difference of two models on the same prompts. The checkers
themselves (``if-verifiable``, the upstream code) run in
``pipelines/evaluation/ifeval.py``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from self_rewarding.core.intervals import Interval, bootstrap_interval
from self_rewarding.core.topology import BASE_MODEL, SFT_BASELINE

# The four numbers of the IFEval paper, in its order.
IFEVAL_METRICS = ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose")


@dataclass(frozen=True)
class IfevalOutcome:
    """One prompt's checked response.

    Attributes:
        key: The IFEval prompt key.
        strict: Per instruction, whether the raw response follows it.
        loose: Per instruction, whether any of the eight loose variants of the response
            (first/last line removed, ``*`` removed) follows it.
    """

    key: int
    strict: tuple[bool, ...]
    loose: tuple[bool, ...]

    def __post_init__(self):
        if not self.strict or len(self.strict) != len(self.loose):
            raise ValueError(
                f"IFEval prompt {self.key}: strict and loose need one result per instruction "
                f"(got {len(self.strict)} and {len(self.loose)})"
            )


def stratified_subset(prompts: Sequence[Mapping], size: int | None, seed: int) -> list[Mapping]:
    """A fixed subset whose instruction kinds keep their shares in the full set.

    Prompts are stratified by their first instruction id; each stratum gets its share of
    ``size`` (largest remainders, at least one prompt per stratum while ``size`` allows),
    drawn with a seeded sampler.

    Args:
        prompts: IFEval rows with ``key`` and ``instruction_id_list``.
        size: Prompts to keep; None (or at least the set's size) keeps all.
        seed: Seed of the draw.

    Returns:
        The chosen rows, sorted by key.
    """
    rows = sorted(prompts, key=lambda row: int(row["key"]))
    if size is None or size >= len(rows):
        return rows
    if size < 1:
        raise ValueError(f"ifeval.prompts: must be at least 1 or null, got {size}")
    strata: dict[str, list[Mapping]] = defaultdict(list)
    for row in rows:
        strata[row["instruction_id_list"][0]].append(row)
    names = sorted(strata)
    quotas = {name: size * len(strata[name]) / len(rows) for name in names}
    taken = {name: int(quotas[name]) for name in names}
    # Largest remainders first; on a tie the smaller stratum first, so rare kinds stay in.
    by_remainder = sorted(
        names, key=lambda n: (taken[n] > 0, -(quotas[n] - taken[n]), len(strata[n]), n)
    )
    for name in by_remainder[: size - sum(taken.values())]:
        taken[name] += 1
    generator = random.Random(seed)
    chosen = [row for name in names for row in generator.sample(strata[name], taken[name])]
    return sorted(chosen, key=lambda row: int(row["key"]))


def ifeval_accuracy(outcomes: Sequence[IfevalOutcome]) -> dict[str, float | None]:
    """The four IFEval accuracies; None without prompts.

    Prompt-level: the share of prompts whose every instruction passes. Instruction-level:
    passed instructions over all instructions.
    """
    outcomes = list(outcomes)
    if not outcomes:
        return dict.fromkeys(IFEVAL_METRICS)
    instructions = sum(len(o.strict) for o in outcomes)
    return {
        "prompt_strict": sum(all(o.strict) for o in outcomes) / len(outcomes),
        "prompt_loose": sum(all(o.loose) for o in outcomes) / len(outcomes),
        "instruction_strict": sum(sum(o.strict) for o in outcomes) / instructions,
        "instruction_loose": sum(sum(o.loose) for o in outcomes) / instructions,
    }


def ifeval_intervals(
    outcomes: Sequence[IfevalOutcome], *, n_resamples: int = 2000, seed: int = 0
) -> dict[str, Interval | None]:
    """95 % percentile-bootstrap intervals of the four accuracies, resampling prompts
    (an instruction-level accuracy keeps each prompt's instructions together)."""
    return {
        metric: bootstrap_interval(
            list(outcomes),
            lambda sample, metric=metric: ifeval_accuracy(sample)[metric],
            n_resamples=n_resamples,
            seed=seed,
        )
        for metric in IFEVAL_METRICS
    }


def ifeval_paired_difference(
    outcomes_a: Sequence[IfevalOutcome],
    outcomes_b: Sequence[IfevalOutcome],
    metric: str = "prompt_loose",
    *,
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict:
    """Model A's accuracy minus model B's on the same prompts, with a paired interval.

    Returns:
        ``n_prompts``, ``a``, ``b``, ``difference``, ``interval`` (None when undefined)
        and ``significant`` (the interval excludes 0).

    Raises:
        ValueError: On an unknown metric, or when the two models answered different
            prompts (the keys only one has are named).
    """
    if metric not in IFEVAL_METRICS:
        raise ValueError(f"Unknown IFEval metric {metric!r}; known: {IFEVAL_METRICS}")
    by_key_a = {o.key: o for o in outcomes_a}
    by_key_b = {o.key: o for o in outcomes_b}
    if by_key_a.keys() != by_key_b.keys():
        only_a = sorted(by_key_a.keys() - by_key_b.keys())[:10]
        only_b = sorted(by_key_b.keys() - by_key_a.keys())[:10]
        raise ValueError(
            f"IFEval: the two models answered different prompts: only A has {only_a}, "
            f"only B has {only_b}"
        )
    paired = [(by_key_a[key], by_key_b[key]) for key in sorted(by_key_a)]

    def difference(sample: list) -> float | None:
        a = ifeval_accuracy([x for x, _ in sample])[metric]
        b = ifeval_accuracy([y for _, y in sample])[metric]
        return None if a is None or b is None else a - b

    interval = bootstrap_interval(paired, difference, n_resamples=n_resamples, seed=seed)
    return {
        "n_prompts": len(paired),
        "a": ifeval_accuracy([x for x, _ in paired])[metric],
        "b": ifeval_accuracy([y for _, y in paired])[metric],
        "difference": difference(paired),
        "interval": interval,
        "significant": interval is not None and (interval[0] > 0 or interval[1] < 0),
    }


def ifeval_steps(models: Sequence[str]) -> list[tuple[str, str]]:
    """The paired IFEval comparisons: M1 against the SFT baseline, each later loop model
    against the one before, and the last against M1 (when the loop made two or more)."""
    loop = sorted(
        (m for m in models if m[:1] == "M" and m[1:].isdigit() and m != BASE_MODEL),
        key=lambda m: int(m[1:]),
    )
    steps = [(loop[0], SFT_BASELINE)] if loop and SFT_BASELINE in models else []
    steps += list(zip(loop[1:], loop[:-1], strict=True))
    if len(loop) > 2:
        steps.append((loop[-1], loop[0]))
    return steps
