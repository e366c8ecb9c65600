"""The loop's topology from one number: how many self-rewarding iterations follow M1.

Iteration t (namespace ``iter<t>``) trains M(t+1) from M(t) on AIFT(M(t)). Everything that
names models or iterations (Kedro's namespaces, DVC's stages, the judge probe, the
evaluation and its head-to-head comparisons) is derived here, so that ``iterations: 3``
gives M4 with no other edit.
"""

from __future__ import annotations

from dataclasses import dataclass

BASE_MODEL = "M0"
SFT_BASELINE = "sft_baseline"
# The model the loop starts from: SFT on IFT + EFT.
FIRST_MODEL = "M1"


@dataclass(frozen=True)
class Iteration:
    """One self-rewarding iteration: its namespace and the model it starts from and makes."""

    name: str
    t: int
    model: str
    next_model: str


def check_iterations(value: object, key: str = "loop.iterations") -> int:
    """``value`` as a number of iterations (a whole number >= 1), or a ValueError naming
    ``key``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key}: must be a whole number >= 1, got {value!r}")
    return value


def iterations(count: int) -> list[Iteration]:
    """The iterations ``iter1`` ... ``iter<count>``."""
    check_iterations(count)
    return [Iteration(f"iter{t}", t, f"M{t}", f"M{t + 1}") for t in range(1, count + 1)]


def loop_models(count: int) -> list[str]:
    """M1 and the model of every iteration: ``M1`` ... ``M<count + 1>``."""
    return [FIRST_MODEL] + [it.next_model for it in iterations(count)]


def probed_models(count: int) -> list[str]:
    """The models whose judge the probe measures: the base model and every loop model."""
    return [BASE_MODEL, *loop_models(count)]


def evaluated_models(count: int) -> list[str]:
    """The models of the evaluation, in loop order."""
    return [BASE_MODEL, SFT_BASELINE, *loop_models(count)]


def default_comparisons(models: list[str]) -> list[tuple[str, str]]:
    """Head to head, each step of the loop against the one before (M1 against the SFT
    baseline), then every later loop model against the SFT baseline; only models in
    ``models`` take part."""
    loop = sorted(
        (m for m in models if m != BASE_MODEL and m[:1] == "M" and m[1:].isdigit()),
        key=lambda m: int(m[1:]),
    )
    steps = []
    if SFT_BASELINE in models and loop:
        steps.append((loop[0], SFT_BASELINE))
    steps += list(zip(loop[1:], loop[:-1], strict=True))
    if SFT_BASELINE in models:
        steps += [(model, SFT_BASELINE) for model in loop[1:]]
    return steps
