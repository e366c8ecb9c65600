"""DPO through TRL on the tiny model: real training steps against the starting model as
reference, reward statistics, MLflow curves, and the GPU recipe parsed by the real
``DPOConfig``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from self_rewarding.core.intervals import heldout_preference_metrics
from self_rewarding.train.dpo import (
    make_parser,
    preference_margins,
    response_logprob,
    to_conversational_preference,
    train_dpo,
)

PAIRS = [
    {"prompt": "Name a colour.", "chosen": "Blue is a colour.", "rejected": "No."},
    {"prompt": "Say hello.", "chosen": "Hello! Nice to meet you.", "rejected": "Bye."},
    {"prompt": "What is 2 + 2?", "chosen": "2 + 2 = 4.", "rejected": "5"},
    {"prompt": "Capital of Italy?", "chosen": "Rome.", "rejected": "Paris, I think."},
]
TRAINER_CONFIG = {
    "beta": 0.1,
    "max_steps": 3,
    "per_device_train_batch_size": 2,
    "learning_rate": 1e-3,
    "max_length": 128,
    "logging_steps": 1,
    "save_strategy": "no",
    "report_to": "none",
    "bf16": False,
    "use_cpu": True,
}
RECIPES = sorted((Path(__file__).parents[2] / "recipes" / "dpo").glob("*.yaml"))


def test_rows_become_conversational_preferences():
    (row,) = to_conversational_preference([{"prompt": "Hi", "chosen": "Hello", "rejected": "-"}])
    assert row == {
        "prompt": [{"role": "user", "content": "Hi"}],
        "chosen": [{"role": "assistant", "content": "Hello"}],
        "rejected": [{"role": "assistant", "content": "-"}],
    }


@pytest.mark.slow
def test_dpo_moves_the_policy_towards_chosen_responses(tiny_model_dir, tmp_path):
    output = tmp_path / "M2"
    metrics = train_dpo(tiny_model_dir, PAIRS, output, TRAINER_CONFIG)

    assert metrics["train_steps"] == 3.0
    assert metrics["train_pairs"] == 4.0
    # After two updates against the frozen reference, chosen beats rejected.
    assert metrics["rewards_margins"] > 0
    # The reported statistics are those of one batch of 2 pairs: the margin is the
    # chosen reward minus the rejected one, the accuracy a share of 2 pairs.
    assert metrics["rewards_margins"] == pytest.approx(
        metrics["rewards_chosen"] - metrics["rewards_rejected"], rel=1e-4, abs=1e-6
    )
    assert metrics["rewards_accuracies"] in {0.0, 0.5, 1.0}
    # The first step's loss is log 2 (policy = reference); later steps are lower.
    assert metrics["train_loss"] < math.log(2)
    before = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    after = AutoModelForCausalLM.from_pretrained(output)
    # The saved model itself prefers the chosen replies more than the reference does:
    # DPO's implicit reward margin, recomputed independently of TRL.
    tokenizer = AutoTokenizer.from_pretrained(output)
    margins = []
    for pair in PAIRS:
        chosen, rejected = (
            response_logprob(after, tokenizer, pair["prompt"], pair[key])
            - response_logprob(before, tokenizer, pair["prompt"], pair[key])
            for key in ("chosen", "rejected")
        )
        margins.append(TRAINER_CONFIG["beta"] * (chosen - rejected))
    assert sum(margins) / len(margins) > 0, margins
    # preference_margins computes the same margins from the saved directories.
    assert preference_margins(output, tiny_model_dir, PAIRS, TRAINER_CONFIG["beta"]) == (
        pytest.approx(margins, rel=1e-4, abs=1e-5)
    )
    changed = [
        not torch.equal(a, b)
        for a, b in zip(before.state_dict().values(), after.state_dict().values(), strict=True)
    ]
    assert any(changed)
    assert (output / "tokenizer_config.json").is_file()


@pytest.mark.slow
def test_a_policy_against_itself_has_no_margin(tiny_model_dir):
    margins = preference_margins(tiny_model_dir, tiny_model_dir, PAIRS, beta=0.1)
    metrics = heldout_preference_metrics(margins)
    assert margins == [0.0] * len(PAIRS)
    # TRL's convention: a zero margin is not a success; the loss is log 2.
    assert metrics["reward_accuracy"] == 0.0
    assert metrics["loss"] == pytest.approx(math.log(2))


@pytest.mark.slow
def test_dpo_curves_go_to_the_active_mlflow_run(tiny_model_dir, tmp_path):
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run() as run:
            train_dpo(tiny_model_dir, PAIRS, tmp_path / "M2", TRAINER_CONFIG, "dpo")
        logged = MlflowClient(uri).get_run(run.info.run_id).data.metrics
    finally:
        mlflow.set_tracking_uri(None)
    assert {"dpo.loss", "dpo.rewards/margins", "dpo.rewards/accuracies"} <= set(logged)


def test_dpo_refuses_no_pairs(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="at least one preference pair"):
        train_dpo(tiny_model_dir, [], tmp_path / "M2", TRAINER_CONFIG)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipes_parse_into_dpo_config(recipe):
    on_cpu = [] if torch.cuda.is_available() else ["--use_cpu", "true"]
    script_args, training_args = make_parser().parse_args_and_config(
        ["--config", str(recipe), "--output_dir", "out", "--model_name_or_path", "m", *on_cpu]
    )
    assert training_args.beta == 0.1
    assert training_args.learning_rate == 1e-6
    assert script_args.model_name_or_path == "m"
