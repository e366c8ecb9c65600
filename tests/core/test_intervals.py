"""Bootstrap intervals over prompts, paired differences between models and win-rate
intervals, on cases whose intervals can be reasoned out by hand."""

from __future__ import annotations

import math

import pytest

from self_rewarding.core.intervals import (
    ALIGNMENT_INTERVAL_KEYS,
    bootstrap_interval,
    format_interval,
    heldout_preference_metrics,
    judge_alignment_intervals,
    paired_difference,
    win_rate_interval,
)
from self_rewarding.core.metrics import judge_alignment

# Judge scores of one prompt's three replies (human ranks 0, 1, 2).
PATTERNS = (
    (5.0, 3.0, 1.0),  # agrees, top score on the best
    (4.0, 4.0, 2.0),  # a tie
    (1.0, 3.0, 5.0),  # reversed, top score on the worst
    (3.0, 4.0, 2.0),  # one pair wrong
    (3.0, 3.0, 3.0),  # constant judge
)


def _prompt(prompt_id, scores, ranks=(0, 1, 2)):
    return [
        {
            "prompt_id": prompt_id,
            "response_id": f"{prompt_id}-r{rank}",
            "human_rank": rank,
            "score": s,
        }
        for rank, s in zip(ranks, scores, strict=True)
    ]


def _realistic(n_prompts=20):
    return [row for k in range(n_prompts) for row in _prompt(f"p{k}", PATTERNS[k % len(PATTERNS)])]


def _mean(values):
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def test_mean_of_zero_and_one_spans_zero_to_one():
    # resampled means are 0, 0.5, 1 with chances 1/4, 1/2, 1/4: 2.5 % and 97.5 % quantiles
    # fall on 0 and 1
    assert bootstrap_interval([0.0, 1.0], _mean) == (0.0, 1.0)


def test_resamples_where_the_statistic_is_undefined_are_dropped():
    # a resample of [None, None] (chance 1/4) has no mean; every other one has mean 1
    assert bootstrap_interval([None, 1.0], _mean) == (1.0, 1.0)


def test_no_groups_or_an_undefined_statistic_give_no_interval():
    assert bootstrap_interval([], _mean) is None
    assert bootstrap_interval([None, None], _mean) is None
    assert bootstrap_interval([1.0, 2.0], lambda groups: float("nan")) is None


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_interval([1.0], _mean, confidence=1.0)
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_interval([1.0], _mean, n_resamples=0)


def test_intervals_contain_the_estimates_on_a_realistic_case():
    replies = _realistic()
    point = judge_alignment(replies)
    intervals = judge_alignment_intervals(replies)
    assert set(intervals) == set(ALIGNMENT_INTERVAL_KEYS)
    for key, (lower, upper) in intervals.items():
        assert lower <= point[key] <= upper, key
        assert lower < upper, key  # prompts disagree, so resamples do


def test_same_seed_same_intervals_other_seed_other_intervals():
    replies = _realistic()
    assert judge_alignment_intervals(replies, seed=3) == judge_alignment_intervals(replies, seed=3)
    assert judge_alignment_intervals(replies, seed=3) != judge_alignment_intervals(replies, seed=4)


def test_a_single_prompt_gives_degenerate_intervals():
    replies = _prompt("only", (5.0, 3.0, 4.0))
    point = judge_alignment(replies)
    assert point["spearman"] == pytest.approx(0.5)  # ranks 3, 2, 1 against 3, 1, 2
    for key, interval in judge_alignment_intervals(replies).items():
        assert interval == (point[key], point[key]), key


def test_undefined_metrics_have_no_interval():
    # no reply gets the top score: five_best is undefined
    replies = [row for k in range(5) for row in _prompt(f"p{k}", (3.0, 2.0, 1.0))]
    assert judge_alignment_intervals(replies)["five_best"] is None
    assert judge_alignment_intervals([]) == dict.fromkeys(ALIGNMENT_INTERVAL_KEYS)


def test_summaries_resample_as_rerunning_judge_alignment_with_copies_counted_twice():
    replies = _realistic(12)
    prompts = [[row for row in replies if row["prompt_id"] == f"p{k}"] for k in range(12)]

    def relabelled_alignment(sample):
        # a prompt drawn twice gets distinct ids, so it counts twice
        relabelled = [
            {**row, "prompt_id": (copy, row["prompt_id"])}
            for copy, rows in enumerate(sample)
            for row in rows
        ]
        return judge_alignment(relabelled)

    cache = {}  # every key sees the same resamples: run judge_alignment once per resample

    def rerun(key):
        def statistic(sample):
            drawn = tuple(id(rows) for rows in sample)
            if drawn not in cache:
                cache[drawn] = relabelled_alignment(sample)
            return cache[drawn][key]

        return statistic

    intervals = judge_alignment_intervals(replies, n_resamples=100, seed=7)
    for key in ALIGNMENT_INTERVAL_KEYS:
        expected = bootstrap_interval(prompts, rerun(key), n_resamples=100, seed=7)
        assert intervals[key] == pytest.approx(expected), key


def test_unknown_metric_is_rejected():
    with pytest.raises(ValueError, match="accuracy_typo"):
        judge_alignment_intervals(_realistic(), keys=["accuracy_typo"])


def test_a_model_against_itself_differs_by_exactly_zero():
    replies = _realistic()
    result = paired_difference(replies, list(reversed(replies)))  # row order is irrelevant
    assert result["n_prompts"] == 20
    assert result["a"] == result["b"] == judge_alignment(replies)["pairwise_accuracy"]
    assert result["difference"] == 0.0
    assert result["interval"] == (0.0, 0.0)
    assert result["significant"] is False


def test_a_judge_right_on_every_prompt_beats_one_wrong_on_every_prompt():
    right = [row for k in range(30) for row in _prompt(f"p{k}", (5.0, 1.0), ranks=(0, 1))]
    wrong = [row for k in range(30) for row in _prompt(f"p{k}", (1.0, 5.0), ranks=(0, 1))]
    better = paired_difference(right, wrong)
    assert (better["a"], better["b"], better["difference"]) == (1.0, 0.0, 1.0)
    assert better["interval"] == (1.0, 1.0) and better["significant"] is True
    worse = paired_difference(wrong, right)
    assert worse["interval"] == (-1.0, -1.0) and worse["significant"] is True


def test_models_right_on_different_prompts_do_not_differ_significantly():
    # A right on prompts 0-9, B on 5-14: equal accuracy, per-prompt differences
    # +1 (5 prompts), -1 (5) and 0 (10) -> a resample's mean difference spreads around 0
    def judge(right_on):
        return [
            row
            for k in range(20)
            for row in _prompt(f"p{k}", (5.0, 1.0) if k in right_on else (1.0, 5.0), (0, 1))
        ]

    result = paired_difference(judge(range(10)), judge(range(5, 15)))
    assert result["difference"] == 0.0
    lower, upper = result["interval"]
    assert lower < 0 < upper and result["significant"] is False


def test_a_paired_difference_of_an_undefined_metric_is_none():
    replies = [row for k in range(5) for row in _prompt(f"p{k}", (3.0, 2.0, 1.0))]
    result = paired_difference(replies, replies, metric="five_best")
    assert result["difference"] is None and result["interval"] is None
    assert result["significant"] is False


def test_models_judged_on_different_items_are_named():
    a = _prompt("p1", (5.0,), ranks=(0,)) + _prompt("p2", (5.0,), ranks=(1,))
    b = _prompt("p1", (5.0,), ranks=(0,)) + _prompt("p3", (5.0,), ranks=(1,))
    with pytest.raises(ValueError, match=r"only A has \[\('p2', 'p2-r1'\)\].*\('p3', 'p3-r1'\)"):
        paired_difference(a, b)


def test_rows_without_response_id_are_rejected():
    replies = [{"prompt_id": "p", "human_rank": 0, "score": 1.0}]
    with pytest.raises(ValueError, match="response_id"):
        paired_difference(replies, replies)


def test_win_rate_interval_resamples_the_items():
    half = ["win"] * 10 + ["loss"] * 10
    lower, upper = win_rate_interval(half)
    assert lower < 0.5 < upper
    assert win_rate_interval(["win"] * 8) == (1.0, 1.0)
    assert win_rate_interval(["tie"] * 8) == (0.5, 0.5)
    assert win_rate_interval(["tie"] * 8, key="strict_win_rate") == (0.0, 0.0)
    assert win_rate_interval([]) is None
    with pytest.raises(ValueError, match="wins_typo"):
        win_rate_interval(half, key="wins_typo")


def test_format_interval():
    assert format_interval(0.4583, (0.36, 0.5601)) == "0.458 [0.360, 0.560]"
    assert format_interval(0.5, (0.25, 0.75), digits=2) == "0.50 [0.25, 0.75]"
    assert format_interval(0.5, None) == "0.500"
    assert format_interval(None, None) == "n/a"
    assert format_interval(float("nan"), (0.1, 0.2)) == "n/a"


def test_heldout_preference_metrics_from_margins():
    metrics = heldout_preference_metrics([2.0, -1.0, 0.5, 0.0])
    assert metrics["pairs"] == 4
    assert metrics["reward_accuracy"] == 0.5  # a zero margin is not a success
    expected_loss = sum(math.log1p(math.exp(-m)) for m in (2.0, -1.0, 0.5, 0.0)) / 4
    assert metrics["loss"] == pytest.approx(expected_loss)
    assert metrics["margin_mean"] == pytest.approx(0.375)
    low, high = metrics["reward_accuracy_ci"]
    assert 0.0 <= low <= 0.5 <= high <= 1.0


def test_heldout_preference_metrics_stay_finite_and_undefined_without_pairs():
    assert heldout_preference_metrics([-1000.0])["loss"] == pytest.approx(1000.0)
    empty = heldout_preference_metrics([])
    assert empty["reward_accuracy"] is None
    assert empty["reward_accuracy_ci"] is None
    assert empty["loss"] is None
