"""95 % bootstrap confidence intervals of the evaluation's metrics, and paired
differences between two models judged on the same items.

The bootstrap resamples prompts (clusters), not replies or pairs: a prompt's replies are
judged together, so their errors are not independent. It is a percentile bootstrap with
a small numpy implementation rather than ``scipy.stats.bootstrap``, whose data model
(arrays resampled along an axis, a statistic defined on every resample) suits neither
clusters of varying size nor statistics that are undefined (None) on some resamples;
those resamples are dropped here. Seeded, hence deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import astuple
from typing import Any

import numpy as np

from self_rewarding.core.metrics import (
    AlignmentCounts,
    alignment_metrics,
    group_by_prompt,
    prompt_alignment,
    win_rate,
)

Interval = tuple[float, float]

# The judge metrics that get an interval by default.
ALIGNMENT_INTERVAL_KEYS = (
    "pairwise_accuracy",
    "pairwise_accuracy_ties_half",
    "tie_share",
    "five_best",
    "spearman",
    "kendall_tau",
)


def _undefined(value: float | None) -> bool:
    return value is None or math.isnan(value)


def _check_settings(n_resamples: int, confidence: float) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")


def _check_keys(keys: Sequence[str], known: Mapping[str, Any]) -> None:
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise ValueError(f"Unknown metrics {unknown}; known: {sorted(known)}")


def _draws(n_groups: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The indices of each resample: ``n_groups`` draws with replacement."""
    rng = np.random.default_rng(seed)
    for _ in range(n_resamples):
        yield rng.integers(0, n_groups, size=n_groups)


def _percentile_interval(values: Sequence[float | None], confidence: float) -> Interval | None:
    """The central ``confidence`` range of the defined values; None when none is defined."""
    defined = [float(v) for v in values if not _undefined(v)]
    if not defined:
        return None
    tail = (1 - confidence) / 2
    lower, upper = np.quantile(defined, [tail, 1 - tail])
    return float(lower), float(upper)


def bootstrap_interval(
    groups: Sequence[Any],
    statistic: Callable[[list], float | None],
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval | None:
    """Percentile bootstrap interval of a statistic over groups (clusters).

    Args:
        groups: One item per cluster (a prompt's replies, one outcome, ...).
        statistic: The statistic of a list of groups; None (or NaN) when undefined.
        n_resamples: Resamples of ``len(groups)`` groups drawn with replacement.
        confidence: Coverage of the interval.
        seed: Seed of ``numpy.random.default_rng``.

    Returns:
        ``(lower, upper)`` percentiles of the statistic over the resamples where it is
        defined; None when there are no groups or the statistic is undefined on them.
    """
    _check_settings(n_resamples, confidence)
    groups = list(groups)
    if not groups or _undefined(statistic(groups)):
        return None
    return _percentile_interval(
        [
            statistic([groups[i] for i in indices])
            for indices in _draws(len(groups), n_resamples, seed)
        ],
        confidence,
    )


def _resampled_counts(
    parts: Sequence[AlignmentCounts], n_resamples: int, seed: int
) -> Iterator[AlignmentCounts]:
    """The pooled counts of each resample of the prompts (the draws of
    :func:`bootstrap_interval` with the same seed): how often each prompt is drawn
    times its counts, summed as one product instead of a loop over the prompts."""
    table = np.array([astuple(part) for part in parts], dtype=float)
    for indices in _draws(len(parts), n_resamples, seed):
        multiplicity = np.bincount(indices, minlength=len(parts))
        yield AlignmentCounts(*(multiplicity @ table).tolist())


def judge_alignment_intervals(
    replies: Sequence[Mapping],
    keys: Sequence[str] = ALIGNMENT_INTERVAL_KEYS,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval | None]:
    """Bootstrap intervals of :func:`~self_rewarding.core.metrics.judge_alignment`'s
    metrics, resampling prompts.

    Each prompt is counted once and the counts are resampled: the same as re-running
    ``judge_alignment`` on the resampled prompts with a prompt drawn twice counted twice,
    without recomputing its rank statistics on every resample.

    Args:
        replies: Reply rows as for ``judge_alignment``.
        keys: The metrics to give an interval.
        n_resamples: Resamples of the prompts.
        confidence: Coverage of the intervals.
        seed: Seed of the resampling.

    Returns:
        Per key, ``(lower, upper)``, or None where the metric is undefined.

    Raises:
        ValueError: On a key ``judge_alignment`` does not return.
    """
    _check_keys(keys, alignment_metrics(AlignmentCounts()))
    _check_settings(n_resamples, confidence)
    parts = [prompt_alignment(rows) for rows in group_by_prompt(replies).values()]
    if not parts:
        return dict.fromkeys(keys)
    full = alignment_metrics(sum(parts, AlignmentCounts()))
    resampled = [alignment_metrics(c) for c in _resampled_counts(parts, n_resamples, seed)]
    return {
        key: None
        if _undefined(full[key])
        else _percentile_interval([metrics[key] for metrics in resampled], confidence)
        for key in keys
    }


def _items_by_key(replies: Sequence[Mapping], name: str) -> dict[tuple, Mapping]:
    """Rows keyed by ``(prompt_id, response_id)``, each key once."""
    rows: dict[tuple, Mapping] = {}
    for row in replies:
        if "response_id" not in row:
            raise ValueError(f"A reply of {name} has no response_id: {dict(row)}")
        key = (row["prompt_id"], row["response_id"])
        if key in rows:
            raise ValueError(f"Reply {key} appears twice in {name}")
        rows[key] = row
    return rows


def _name_items(keys: set, limit: int = 10) -> str:
    listed = sorted(keys, key=str)
    more = f" and {len(listed) - limit} more" if len(listed) > limit else ""
    return ", ".join(map(str, listed[:limit])) + more


def paired_difference(
    replies_a: Sequence[Mapping],
    replies_b: Sequence[Mapping],
    metric: str = "pairwise_accuracy",
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """A judge metric of model A minus model B on the same items, with a paired interval.

    Both models' prompts are resampled jointly, so the interval reflects how the models
    differ on the same prompts rather than how the prompts differ.

    Args:
        replies_a: Model A's reply rows as for ``judge_alignment``, each with a
            ``response_id``.
        replies_b: Model B's rows for the same ``(prompt_id, response_id)`` items.
        metric: A metric of ``judge_alignment``.
        n_resamples: Resamples of the prompts.
        confidence: Coverage of the interval.
        seed: Seed of the resampling.

    Returns:
        ``n_prompts``; ``a`` and ``b``, the metric of each model; ``difference``
        (``a - b``, None when either is undefined); ``interval`` of the difference
        (``(lower, upper)`` or None); ``significant``: whether the interval excludes 0.

    Raises:
        ValueError: On an unknown metric, a row without ``response_id``, a repeated item,
            items only one model has (named), or items whose human ranks differ.
    """
    _check_keys([metric], alignment_metrics(AlignmentCounts()))
    rows_a = _items_by_key(replies_a, "model A")
    rows_b = _items_by_key(replies_b, "model B")
    only_a, only_b = rows_a.keys() - rows_b.keys(), rows_b.keys() - rows_a.keys()
    if only_a or only_b:
        raise ValueError(
            "The two models were judged on different items: "
            f"only A has [{_name_items(only_a)}]; only B has [{_name_items(only_b)}]"
        )
    reranked = {
        key for key, row in rows_a.items() if row["human_rank"] != rows_b[key]["human_rank"]
    }
    if reranked:
        raise ValueError(f"Items with different human ranks: [{_name_items(reranked)}]")

    _check_settings(n_resamples, confidence)
    groups_b = group_by_prompt(replies_b)
    parts_a, parts_b = [], []
    for prompt_id, rows in group_by_prompt(replies_a).items():
        parts_a.append(prompt_alignment(rows))
        parts_b.append(prompt_alignment(groups_b[prompt_id]))

    def difference(counts_a: AlignmentCounts, counts_b: AlignmentCounts) -> float | None:
        a = alignment_metrics(counts_a)[metric]
        b = alignment_metrics(counts_b)[metric]
        return None if _undefined(a) or _undefined(b) else a - b

    total_a, total_b = sum(parts_a, AlignmentCounts()), sum(parts_b, AlignmentCounts())
    point = difference(total_a, total_b)
    interval = None
    if parts_a and point is not None:
        # the same seed draws the same prompts for both models: the resamples are paired
        resampled = zip(
            _resampled_counts(parts_a, n_resamples, seed),
            _resampled_counts(parts_b, n_resamples, seed),
        )
        interval = _percentile_interval([difference(a, b) for a, b in resampled], confidence)
    return {
        "n_prompts": len(parts_a),
        "a": alignment_metrics(total_a)[metric],
        "b": alignment_metrics(total_b)[metric],
        "difference": point,
        "interval": interval,
        "significant": interval is not None and (interval[0] > 0 or interval[1] < 0),
    }


def win_rate_interval(
    outcomes: Sequence[str],
    key: str = "win_rate",
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval | None:
    """Bootstrap interval of a win rate, resampling the items (one outcome each).

    Args:
        outcomes: ``win``, ``tie`` or ``loss`` per item.
        key: A rate of :func:`~self_rewarding.core.metrics.win_rate`.
        n_resamples: Resamples of the items.
        confidence: Coverage of the interval.
        seed: Seed of the resampling.

    Returns:
        ``(lower, upper)``, or None without outcomes.

    Raises:
        ValueError: On a key ``win_rate`` does not return.
    """
    _check_keys([key], win_rate([]))
    return bootstrap_interval(
        list(outcomes),
        lambda sample: win_rate(sample)[key],
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )


def format_interval(
    value: float | None, interval: Interval | None, digits: int = 3, *, signed: bool = False
) -> str:
    """A value and its interval for a report table: ``0.458 [0.360, 0.560]``.

    Args:
        value: The point estimate; None (or NaN) when undefined.
        interval: ``(lower, upper)``; None to print the value alone.
        digits: Decimals shown.
        signed: Show the sign of every number (a difference: ``+0.050 [-0.010, +0.110]``).

    Returns:
        The text; ``n/a`` for an undefined value.
    """
    if _undefined(value):
        return "n/a"
    spec = f"{'+' if signed else ''}.{digits}f"
    text = format(value, spec)
    if interval is None:
        return text
    lower, upper = interval
    return f"{text} [{format(lower, spec)}, {format(upper, spec)}]"


def heldout_preference_metrics(margins: Sequence[float], *, seed: int = 0) -> dict:
    """DPO's fit on pairs it did not train on, from each pair's implicit reward margin
    ``beta * ((log pi - log ref)(chosen) - (log pi - log ref)(rejected))``.

    Returns:
        ``pairs``; ``reward_accuracy``, the share of pairs whose margin is above 0 (as
        TRL's ``rewards/accuracies``: a margin of exactly 0 is not a success), with its
        95 % bootstrap ``reward_accuracy_ci`` over pairs; ``loss``, the mean sigmoid DPO
        loss ``-log sigmoid(margin)`` (log 2 when the policy is the reference); and
        ``margin_mean``. Accuracy, interval and loss are None without pairs.
    """

    def accuracy(sample: Sequence[float]) -> float | None:
        return sum(m > 0 for m in sample) / len(sample) if sample else None

    margins = [float(m) for m in margins]
    # -log sigmoid(m) = log(1 + e^-m), written to stay finite for large |m|
    losses = [max(-m, 0.0) + math.log1p(math.exp(-abs(m))) for m in margins]
    return {
        "pairs": len(margins),
        "reward_accuracy": accuracy(margins),
        "reward_accuracy_ci": bootstrap_interval(margins, accuracy, seed=seed),
        "loss": sum(losses) / len(losses) if losses else None,
        "margin_mean": sum(margins) / len(margins) if margins else None,
    }
