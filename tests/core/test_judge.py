"""Tests for ``self_rewarding.core.judge``: reading ``Score: X`` from realistic judge
answers, averaging repeated judgments and summarising a batch of scores."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from self_rewarding.core.judge import (
    aggregate_scores,
    constrained_answer_regex,
    digit_logprobs,
    expected_digit,
    judge_samples,
    parse_score,
    sample_score,
    score_summary,
    score_token_index,
)

JUSTIFICATION = (
    "The response is relevant and addresses most of the question, but it misses "
    "the second part of the request and could be more concise."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Score: 4", 4.0),
        ("Score: 0", 0.0),
        ("Score: 5", 5.0),
        (f"{JUSTIFICATION}\nScore: 4", 4.0),
        (f"{JUSTIFICATION}\n\n**Score:** 3", 3.0),
        (f"{JUSTIFICATION}\n**Score: 2**", 2.0),
        ("Score: **4**", 4.0),
        (f"{JUSTIFICATION}\nScore: 4/5", 4.0),
        ("Score: 5 / 5", 5.0),
        ("Score: 3.5", 3.5),
        ("score: 2", 2.0),
        ("SCORE: 1", 1.0),
        ("Score = 2", 2.0),
        ("Score - 3.5", 3.5),
        ("Score:\n4", 4.0),
        ("Score: 4.", 4.0),
        ("Score: 3 out of 5 points.", 3.0),
        ("(Score: 3)", 3.0),
        ("Final score: 4", 4.0),
        ("My Underscore: 1 is noise.\nScore: 4", 4.0),
    ],
)
def test_parse_score_reads_a_valid_score(text, expected):
    assert parse_score(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The last valid score wins.
        ("First impression. Score: 2\nOn reflection, it deserves more.\nScore: 4", 4.0),
        ("Score: 1 ... Score: 3/5 ... Score: 5", 5.0),
        # An out-of-range later score is skipped, the earlier valid one is kept.
        ("Score: 4\nIf it cited sources I would give Score: 9", 4.0),
        ("Score: 3\nOn a ten-point scale, Score: 7/10", 3.0),
    ],
)
def test_parse_score_takes_the_last_valid_score(text, expected):
    assert parse_score(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Score: 6",
        "Score: 10",
        "Score: 5.5",
        "Score: 3/10",
        "Score: 2/3",
        f"{JUSTIFICATION}\nI would rate it four points.",
        "The response is excellent.",
        "",
        "   \n  ",
        "Score:",
        "Score: -1",
        "Score: -0.5",
        # "score" inside a longer word is no score
        "Underscore: 3",
        "underscore = 2",
        "Subscore: 4",
        "my_score: 4",
    ],
)
def test_parse_score_refuses_invalid_answers(text):
    assert parse_score(text) is None


@pytest.mark.parametrize("value", [None, 4, 4.0, b"Score: 4", ["Score: 4"]])
def test_parse_score_never_raises_on_non_strings(value):
    assert parse_score(value) is None


def test_aggregate_scores_averages_valid_scores_only():
    assert aggregate_scores([4.0, None, 2.0, float("nan"), 3.0]) == pytest.approx(3.0)
    assert aggregate_scores([5.0]) == 5.0
    assert aggregate_scores(iter([1.0, 2.0])) == pytest.approx(1.5)


@pytest.mark.parametrize("scores", [[], [None], [None, None], [float("nan"), None]])
def test_aggregate_scores_is_none_without_a_valid_score(scores):
    assert aggregate_scores(scores) is None


def test_score_summary_hand_computed():
    summary = score_summary([4.0, 2.0, None, 2.5, 5.0])
    # parsed = [4, 2, 2.5, 5]; mean = 13.5 / 4; squared deviations sum to 5.6875.
    assert summary["n_answers"] == 5.0
    assert summary["n_parsed"] == 4.0
    assert summary["parse_rate"] == pytest.approx(0.8)
    assert summary["score_mean"] == pytest.approx(3.375)
    assert summary["score_std"] == pytest.approx(math.sqrt(5.6875 / 4))
    # Shares use half-up rounding: 2.5 counts as 3 (not banker's rounding to 2).
    shares = {k: summary[f"score_share_{k}"] for k in range(6)}
    assert shares == pytest.approx({0: 0.0, 1: 0.0, 2: 0.25, 3: 0.25, 4: 0.25, 5: 0.25})
    assert set(summary) == {
        "n_answers",
        "n_parsed",
        "parse_rate",
        "score_mean",
        "score_std",
        *(f"score_share_{k}" for k in range(6)),
    }


def test_score_summary_shares_sum_to_one_over_parsed_answers():
    summary = score_summary([0.0, 0.4, 1.5, 3.0, 3.49, None, None])
    shares = [summary[f"score_share_{k}"] for k in range(6)]
    assert sum(shares) == pytest.approx(1.0)
    assert summary["score_share_0"] == pytest.approx(2 / 5)
    assert summary["score_share_2"] == pytest.approx(1 / 5)
    assert summary["score_share_3"] == pytest.approx(2 / 5)
    assert summary["parse_rate"] == pytest.approx(5 / 7)


@pytest.mark.parametrize("scores", [[], [None, None, None]])
def test_score_summary_without_parsed_scores_is_undefined_not_zero(scores):
    summary = score_summary(scores)
    assert summary == {
        "n_answers": float(len(scores)),
        "n_parsed": 0.0,
        "parse_rate": 0.0 if scores else None,
        "score_mean": None,
        "score_std": None,
        **{f"score_share_{k}": None for k in range(6)},
    }


def _real_outputs():
    path = Path(__file__).parents[1] / "data" / "judge_outputs_real.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("row", _real_outputs(), ids=lambda r: r["model"][:2])
def test_parse_score_on_real_model_outputs(row):
    assert parse_score(row["judge_text"]) == row["expected_score"]


def test_real_outputs_cover_both_models_and_several_scores():
    rows = _real_outputs()
    assert sum(r["expected_score"] is None for r in rows) >= 10
    assert len({r["expected_score"] for r in rows if r["expected_score"] is not None}) >= 4


@pytest.mark.parametrize("max_new_tokens", [16, 128])
def test_constrained_regex_accepts_scored_answers_within_the_token_budget(max_new_tokens):
    pattern = re.compile(constrained_answer_regex(max_new_tokens))
    budget = max_new_tokens - len("\nScore: 5")

    assert pattern.fullmatch("Score: 3")
    assert pattern.fullmatch("x" * budget + "\nScore: 0")
    assert len("x" * budget + "\nScore: 0") == max_new_tokens
    assert not pattern.fullmatch("x" * (budget + 1) + "\nScore: 0")
    assert not pattern.fullmatch("Good answer.\nScore: 6")
    assert not pattern.fullmatch("Good answer.")
    # The score starts a line, so that parse_score's word boundary always holds.
    assert not pattern.fullmatch("xScore: 0")
    answer = "Relevant and helpful.\nScore: 4"[-max_new_tokens:]
    assert pattern.fullmatch(answer)
    assert parse_score(answer) == 4.0


# --- Scoring modes ------------------------------------------------------------------------


def test_expected_digit_is_the_renormalised_probability_weighted_digit():
    # p(3) = 0.2, p(4) = 0.6, p(5) = 0.2 before renormalisation over the digits (a
    # non-digit token took the rest): 3 * 0.2 + 4 * 0.6 + 5 * 0.2 = 4.0.
    logprobs = {"3": math.log(0.1), "4": math.log(0.3), "5": math.log(0.1), "A": -0.1}
    assert expected_digit(logprobs) == pytest.approx(4.0)
    # One digit only: the score is that digit.
    assert expected_digit({"2": -7.0}) == pytest.approx(2.0)
    # 6 to 9 are no scores on the 0-5 scale.
    assert expected_digit({"0": math.log(0.5), "9": math.log(0.5)}) == pytest.approx(0.0)


@pytest.mark.parametrize("logprobs", [None, {}, {"A": -0.1}, {"4": float("-inf")}])
def test_expected_digit_is_none_without_a_digit(logprobs):
    assert expected_digit(logprobs) is None


def test_digit_logprobs_keeps_digits_and_merges_duplicates():
    merged = digit_logprobs([("4", math.log(0.2)), ("x", -0.5), ("4", math.log(0.3)), ("7", -1)])
    assert merged == {"4": pytest.approx(math.log(0.5))}


@pytest.mark.parametrize(
    ("text_before", "tokens", "index"),
    [
        ("", ["Good", " answer", ".", "\n", "Score", ":", " ", "4"], 7),
        # The last valid score is the one parse_score reads.
        ("", ["Score", ":", " ", "2", " then", " Score", ":", " ", "5"], 8),
        # "Score: 9" is refused, so the earlier valid score counts.
        ("", ["Score", ":", " ", "3", ".", " Score", ":", " ", "9"], 3),
        # score_first: the prefill ends where the digit goes; token 0, whatever it is.
        ("Score: ", ["4"], 0),
        ("Score: ", ["**"], 0),
        # The digit shares a token with other text: no single digit token to read.
        ("", ["Score", ":", " 4"], None),
        ("", ["No", " score", " here"], None),
        ("Score: ", [], None),
    ],
)
def test_score_token_index(text_before, tokens, index):
    assert score_token_index(text_before, tokens) == index


def test_sampled_mode_reads_the_text_and_expected_modes_the_digits():
    logprobs = {"4": math.log(0.5), "2": math.log(0.5)}
    assert sample_score("Score: 5", logprobs, "sampled") == 5.0
    assert sample_score("Score: 5", logprobs, "expected") == pytest.approx(3.0)
    assert sample_score("4", logprobs, "score_first", "Score: ") == pytest.approx(3.0)
    assert sample_score("4", None, "sampled", "Score: ") == 4.0
    assert sample_score("Score: 5", None, "expected") is None
    with pytest.raises(ValueError, match="scoring mode"):
        sample_score("Score: 5", None, "greedy")


def test_judge_samples_sampled_mode_means_and_top_score():
    judgment = judge_samples(
        [("Score: 5", None), ("no score", None), ("Score: 5", None)], "sampled"
    )
    assert judgment.sample_scores == (5.0, None, 5.0)
    assert judgment.score == 5.0 and judgment.top_score
    mixed = judge_samples([("Score: 5", None), ("Score: 4", None)], "sampled")
    assert mixed.score == 4.5 and not mixed.top_score


def test_judge_samples_expected_mode_top_score_is_the_rounded_mean():
    # Expected scores 4.6 and 4.4 (p(5) = 0.6 / 0.4, rest on 4): mean 4.5 rounds to 5.
    high = {"5": math.log(0.6), "4": math.log(0.4)}
    low = {"5": math.log(0.4), "4": math.log(0.6)}
    judgment = judge_samples([("Score: 5", high), ("Score: 4", low)], "expected")
    assert judgment.sample_scores == (pytest.approx(4.6), pytest.approx(4.4))
    assert judgment.score == pytest.approx(4.5) and judgment.top_score
    assert not judge_samples([("Score: 4", low)], "expected").top_score


def test_a_constant_judge_gives_equal_scores_and_all_unparseable_gives_none():
    constant = [judge_samples([("Score: 3", None)] * 3, "sampled") for _ in range(4)]
    assert {j.score for j in constant} == {3.0}
    unparseable = judge_samples([("I cannot judge.", None), ("", None)], "sampled")
    assert unparseable.sample_scores == (None, None)
    assert unparseable.score is None and not unparseable.top_score
    no_digits = judge_samples([("x", None)], "score_first", "Score: ")
    assert no_digits.score is None
