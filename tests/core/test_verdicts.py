"""The verdict-probability referee (core.verdicts) on hand-computed log-probabilities."""

import math

import pytest

from self_rewarding.core.verdicts import position_averaged_verdict, verdict_distribution


def logs(a: float, b: float, c: float) -> dict[str, float]:
    """Log-probabilities whose exponentials are ``a``, ``b`` and ``c``."""
    return {"A": math.log(a), "B": math.log(b), "C": math.log(c)}


def test_distribution_renormalises_over_the_three_labels():
    # The labels hold 0.5 of the mass; the rest was other tokens.
    found = verdict_distribution(logs(0.3, 0.1, 0.1))
    assert found == pytest.approx({"A": 0.6, "B": 0.2, "C": 0.2})


def test_missing_or_infinite_label_is_named():
    with pytest.raises(ValueError, match=r"\['C'\]"):
        verdict_distribution({"A": -1.0, "B": -2.0})
    with pytest.raises(ValueError, match=r"\['B'\]"):
        verdict_distribution({"A": -1.0, "B": -math.inf, "C": -2.0})


def test_position_bias_is_averaged_out():
    # A referee that leans to A: with the answer first it says A at 0.7; with the answer
    # second it still says A at 0.5 but B (the answer) at 0.4.
    # In the answer's perspective: first (win 0.7, tie 0.1, loss 0.2), second (win 0.4,
    # tie 0.1, loss 0.5); averaged: win 0.55, tie 0.1, loss 0.35.
    verdict = position_averaged_verdict(logs(0.7, 0.2, 0.1), logs(0.5, 0.4, 0.1))
    assert (verdict.win, verdict.tie, verdict.loss) == pytest.approx((0.55, 0.1, 0.35))
    assert verdict.outcome == "win"
    assert verdict.consistent is False  # first order: win; second order: loss


def test_a_consistent_loss():
    verdict = position_averaged_verdict(logs(0.1, 0.8, 0.1), logs(0.8, 0.1, 0.1))
    assert (verdict.win, verdict.tie, verdict.loss) == pytest.approx((0.1, 0.1, 0.8))
    assert verdict.outcome == "loss" and verdict.consistent is True


def test_pure_position_bias_is_a_tie():
    # Always A at 0.6: win and loss are equally likely once the orders are averaged.
    verdict = position_averaged_verdict(logs(0.6, 0.3, 0.1), logs(0.6, 0.3, 0.1))
    assert verdict.win == pytest.approx(verdict.loss)
    assert verdict.outcome == "tie"


def test_tie_label_wins_when_most_probable():
    verdict = position_averaged_verdict(logs(0.2, 0.2, 0.6), logs(0.25, 0.15, 0.6))
    assert verdict.outcome == "tie" and verdict.consistent is True
