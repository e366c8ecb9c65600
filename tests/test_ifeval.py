"""IFEval: the upstream checkers (if-verifiable) on hand-made responses, and the pure
accuracies, subset and paired difference of core.ifeval."""

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from self_rewarding.core.ifeval import (
    IfevalOutcome,
    ifeval_accuracy,
    ifeval_intervals,
    ifeval_paired_difference,
    ifeval_steps,
    stratified_subset,
)
from self_rewarding.core.types import EvaluationConfig, IfevalConfig
from self_rewarding.pipelines.evaluation.ifeval import (
    check_response,
    ifeval_metrics,
    outcomes_of,
    prepare_checkers,
)

ROOT = Path(__file__).resolve().parents[1]
IFEVAL_FILE = ROOT / "data/01_raw/ifeval/input_data.jsonl"


@pytest.fixture(scope="module", autouse=True)
def checkers():
    prepare_checkers(IfevalConfig(nltk_data=str(ROOT / "data/01_raw/nltk_data")))


def prompt(instruction_id: str, kwargs: dict | None = None, text: str = "Write.") -> dict:
    return {
        "key": 1,
        "prompt": text,
        "instruction_id_list": [instruction_id],
        "kwargs": [kwargs or {}],
    }


def strict(instruction_id: str, response: str, kwargs: dict | None = None, **extra) -> bool:
    outcome = check_response(prompt(instruction_id, kwargs, **extra), response)
    return outcome.strict[0]


# (instruction id, kwargs, a response that follows it, one that does not)
CASES = [
    ("punctuation:no_comma", {}, "Plain words and no pause.", "Plain words, a pause."),
    (
        "change_case:english_lowercase",
        {},
        "this answer is written in lowercase english from start to end.",
        "This Answer Has Capitals In English.",
    ),
    (
        "detectable_format:number_bullet_lists",
        {"num_bullets": 2},
        "* first point\n* second point",
        "* only one point",
    ),
    ("keywords:existence", {"keywords": ["banana"]}, "I ate a banana today.", "I ate an apple."),
    (
        "length_constraints:number_sentences",  # NLTK Punkt, from the shipped punkt_tab
        {"relation": "at least", "num_sentences": 3},
        "The sun rose. Birds sang. We left early.",
        "The sun rose.",
    ),
    (
        "detectable_content:postscript",
        {"postscript_marker": "P.S."},
        "Dear Ann, see you soon.\nP.S. Bring the map.",
        "Dear Ann, see you soon.",
    ),
    ("startend:quotation", {}, '"All of this is quoted."', "Nothing is quoted here."),
    (
        "length_constraints:number_words",
        {"relation": "less than", "num_words": 5},
        "Four words are here.",
        "These are clearly more than five words in total.",
    ),
    (
        "language:response_language",  # langdetect, seeded
        {"language": "de"},
        "Das ist ein kurzer Satz auf Deutsch, und er bleibt auch auf Deutsch.",
        "This is a short sentence in English, and it stays in English.",
    ),
]


@pytest.mark.parametrize(("instruction_id", "kwargs", "follows", "breaks"), CASES)
def test_checker_passes_and_fails(instruction_id, kwargs, follows, breaks):
    assert strict(instruction_id, follows, kwargs) is True
    assert strict(instruction_id, breaks, kwargs) is False


def test_repeat_prompt_checker_reads_the_prompt():
    text = "Repeat this request word for word, then answer: what is 2 + 2?"
    kwargs = {"prompt_to_repeat": "what is 2 + 2?"}
    assert strict("combination:repeat_prompt", "what is 2 + 2? It is 4.", kwargs, text=text)
    assert not strict("combination:repeat_prompt", "It is 4.", kwargs, text=text)


def test_loose_forgives_a_trailing_line_strict_does_not():
    kwargs = {"end_phrase": "Any other questions?"}
    outcome = check_response(
        prompt("startend:end_checker", kwargs), "Here is my answer.\nAny other questions?\n---"
    )
    assert outcome.strict == (False,)
    assert outcome.loose == (True,)


def test_empty_response_fails_every_instruction():
    row = {
        "key": 7,
        "prompt": "Write.",
        "instruction_id_list": ["punctuation:no_comma", "keywords:existence"],
        "kwargs": [{}, {"keywords": ["x"]}],
    }
    for response in ("", "   \n"):
        outcome = check_response(row, response)
        assert outcome == IfevalOutcome(7, (False, False), (False, False))


def test_unknown_instruction_is_named():
    with pytest.raises(ValueError, match=r"prompt 1: no checker for \['keywords:nonexistent'\]"):
        check_response(prompt("keywords:nonexistent"), "Some answer.")


def test_missing_punkt_data_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="punkt_tab"):
        prepare_checkers(IfevalConfig(nltk_data=str(tmp_path)))


def test_every_shipped_prompt_has_a_checker():
    rows = [json.loads(line) for line in IFEVAL_FILE.read_text().splitlines()]
    assert len(rows) == 541
    outcomes = [check_response(row, "A short answer. It has two sentences.") for row in rows]
    assert sum(len(o.strict) for o in outcomes) == 834


def test_accuracies_by_hand():
    outcomes = [
        IfevalOutcome(1, (True, True), (True, True)),
        IfevalOutcome(2, (True, False), (True, True)),
        IfevalOutcome(3, (False,), (False,)),
    ]
    assert ifeval_accuracy(outcomes) == {
        "prompt_strict": 1 / 3,
        "prompt_loose": 2 / 3,
        "instruction_strict": 3 / 5,
        "instruction_loose": 4 / 5,
    }
    assert ifeval_accuracy([]) == dict.fromkeys(ifeval_accuracy(outcomes))
    low, high = ifeval_intervals(outcomes, n_resamples=500)["prompt_loose"]
    assert 0 <= low <= 2 / 3 <= high <= 1


def test_outcome_needs_one_result_per_instruction():
    with pytest.raises(ValueError, match="prompt 4"):
        IfevalOutcome(4, (True,), (True, False))
    with pytest.raises(ValueError, match="prompt 5"):
        IfevalOutcome(5, (), ())


def test_paired_difference_on_the_same_prompts():
    better = [IfevalOutcome(k, (True,), (True,)) for k in range(40)]
    worse = [IfevalOutcome(k, (k % 2 == 0,), (k % 2 == 0,)) for k in range(40)]
    found = ifeval_paired_difference(better, worse, "prompt_loose", n_resamples=500)
    assert found["n_prompts"] == 40
    assert found["difference"] == pytest.approx(0.5)
    assert found["significant"] is True
    same = ifeval_paired_difference(better, better, "prompt_strict", n_resamples=200)
    assert same["difference"] == 0 and same["significant"] is False
    with pytest.raises(ValueError, match=r"only A has \[39\]"):
        ifeval_paired_difference(better, worse[:-1])
    with pytest.raises(ValueError, match="Unknown IFEval metric"):
        ifeval_paired_difference(better, worse, "accuracy")


def test_stratified_subset_keeps_the_kinds_and_is_fixed():
    rows = [json.loads(line) for line in IFEVAL_FILE.read_text().splitlines()]
    chosen = stratified_subset(rows, 80, seed=0)
    assert len(chosen) == 80
    assert chosen == stratified_subset(list(reversed(rows)), 80, seed=0)
    assert [r["key"] for r in chosen] == sorted(r["key"] for r in chosen)
    full = Counter(r["instruction_id_list"][0] for r in rows)
    kept = Counter(r["instruction_id_list"][0] for r in chosen)
    for kind, count in full.items():
        assert abs(kept[kind] - 80 * count / len(rows)) < 1.5, kind
    assert stratified_subset(rows, None, seed=0) == sorted(rows, key=lambda r: r["key"])
    with pytest.raises(ValueError, match="ifeval.prompts"):
        stratified_subset(rows, 0, seed=0)


def test_steps_pair_each_model_with_the_one_before_and_the_last_with_m1():
    models = ["M0", "sft_baseline", "M1", "M2", "M3"]
    assert ifeval_steps(models) == [
        ("M1", "sft_baseline"),
        ("M2", "M1"),
        ("M3", "M2"),
        ("M3", "M1"),
    ]
    assert ifeval_steps(["M0", "sft_baseline", "M1", "M2"]) == [
        ("M1", "sft_baseline"),
        ("M2", "M1"),
    ]


def test_metrics_round_trip_through_the_responses_table():
    frame = pd.DataFrame(
        {"key": [1, 2], "strict": [[True], [False, True]], "loose": [[True], [True, True]]}
    )
    metrics = ifeval_metrics(outcomes_of(frame), EvaluationConfig(bootstrap_resamples=100))
    assert metrics["ifeval.prompt_strict"] == 0.5
    assert metrics["ifeval.instruction_loose"] == 1.0
    assert metrics["ifeval.prompt_strict.ci_low"] <= 0.5 <= metrics["ifeval.prompt_strict.ci_high"]
