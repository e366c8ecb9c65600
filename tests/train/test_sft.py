"""SFT through TRL on the tiny model: real training steps, completion-only loss, MLflow
curves, and the GPU recipe parsed by the real ``SFTConfig``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from self_rewarding.train.sft import build_trainer, to_prompt_completion, train_sft

EXAMPLES = [
    {"prompt": "What is the capital of France?", "response": "Paris is the capital."},
    {"prompt": "Name a primary colour.", "response": "Red is a primary colour."},
    {"prompt": "Judge this reply. Score it.", "response": "It is relevant.\nScore: 1"},
    {"prompt": "Say hello.", "response": "Hello!"},
]
TRAINER_CONFIG = {
    "max_steps": 2,
    "per_device_train_batch_size": 2,
    "learning_rate": 1e-3,
    "max_length": 128,
    "logging_steps": 1,
    "save_strategy": "no",
    "report_to": "none",
    "bf16": False,
    "gradient_checkpointing": False,
    "use_cpu": True,
}
RECIPES = sorted((Path(__file__).parents[2] / "recipes" / "sft").glob("*.yaml"))


def test_to_prompt_completion_makes_conversational_rows():
    rows = to_prompt_completion([{"prompt": "Hi", "response": "Hello"}])
    assert rows == [
        {
            "prompt": [{"role": "user", "content": "Hi"}],
            "completion": [{"role": "assistant", "content": "Hello"}],
        }
    ]


@pytest.mark.slow
def test_sft_changes_parameters_and_saves_a_loadable_model(tiny_model_dir, tmp_path):
    before = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    output = tmp_path / "M1"

    metrics = train_sft(tiny_model_dir, EXAMPLES, output, TRAINER_CONFIG)

    after = AutoModelForCausalLM.from_pretrained(output)
    changed = [
        name
        for (name, old), (_, new) in zip(
            before.named_parameters(), after.named_parameters(), strict=True
        )
        if not torch.equal(old, new)
    ]
    assert len(changed) == len(list(before.parameters()))
    assert metrics["train_steps"] == 2
    assert metrics["train_loss"] > 0
    tokenizer = AutoTokenizer.from_pretrained(output)
    assert tokenizer.chat_template is not None


@pytest.mark.slow
def test_the_free_heap_is_handed_back_after_every_optimizer_step(
    tiny_model_dir, tmp_path, monkeypatch
):
    from self_rewarding import memory

    released = []
    monkeypatch.setattr(memory, "release_free_heap", lambda: released.append(True) or True)

    metrics = train_sft(tiny_model_dir, EXAMPLES, tmp_path / "M1", TRAINER_CONFIG)

    assert len(released) == metrics["train_steps"] == 2


@pytest.mark.slow
def test_loss_is_computed_on_the_assistant_turn_only(tiny_model_dir, tmp_path):
    from trl import SFTConfig

    args = SFTConfig(output_dir=str(tmp_path), **TRAINER_CONFIG)
    trainer = build_trainer(tiny_model_dir, EXAMPLES[2:3], args)
    batch = trainer.data_collator([trainer.train_dataset[0]])
    labels = batch["labels"][0]
    trained = labels[labels != -100]
    text = trainer.processing_class.decode(trained)

    assert text.startswith("It is relevant.\nScore: 1")
    assert "Judge this reply" not in text
    # Every prompt token (system, user turn, assistant header) is masked.
    assert (labels == -100).sum() > 10


@pytest.mark.slow
def test_curves_are_logged_to_the_active_mlflow_run(tiny_model_dir, tmp_path):
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run() as run:
            train_sft(
                tiny_model_dir,
                EXAMPLES,
                tmp_path / "M1",
                TRAINER_CONFIG,
                "sft_m1",
                precision="fp32",
            )
        client = MlflowClient(uri)
        history = client.get_metric_history(run.info.run_id, "sft_m1.loss")
        params = client.get_run(run.info.run_id).data.params
    finally:
        mlflow.set_tracking_uri(None)
    assert [m.step for m in history] == [1, 2]
    assert params["sft_m1.resolved_precision"] == "fp32"
    assert params["sft_m1.requested_precision"] == "fp32"
    assert params["hardware.cpu_capability"] == torch.backends.cpu.get_cpu_capability()


@pytest.mark.slow
def test_the_model_directory_records_its_precision_and_hardware(tiny_model_dir, tmp_path):
    import json

    from self_rewarding.hardware import PROVENANCE_FILE, detect_hardware, resolve

    train_sft(tiny_model_dir, EXAMPLES, tmp_path / "M1", TRAINER_CONFIG)

    record = json.loads((tmp_path / "M1" / PROVENANCE_FILE).read_text())
    assert record["trainer"] == "sft"
    assert record["precision_requested"] == "auto"
    assert record["precision"] == resolve("auto")
    assert record["hardware_cpu_capability"] == detect_hardware().cpu_capability
    assert record["hardware_device"] == ("cuda" if torch.cuda.is_available() else "cpu")


def test_sft_refuses_an_empty_dataset(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="at least one example"):
        train_sft(tiny_model_dir, [], tmp_path / "M1", TRAINER_CONFIG)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipes_parse_into_sft_config(recipe):
    from self_rewarding.train.sft import make_parser

    # GPU recipes ask for bf16, which the CPU accepts only with use_cpu.
    on_cpu = [] if torch.cuda.is_available() else ["--use_cpu", "true"]
    script_args, training_args = make_parser().parse_args_and_config(
        ["--config", str(recipe), "--output_dir", "out", "--model_name_or_path", "m", *on_cpu]
    )
    assert training_args.learning_rate > 0
    assert script_args.model_name_or_path == "m"


@pytest.mark.slow
def test_examples_longer_than_max_length_are_left_out_not_cut(tiny_model_dir, tmp_path):
    long_example = {"prompt": "word " * 200, "response": "Too long.\nScore: 3"}
    config = {**TRAINER_CONFIG, "max_length": 64}

    metrics = train_sft(tiny_model_dir, [*EXAMPLES, long_example], tmp_path / "M1", config)

    assert metrics["train_examples"] == len(EXAMPLES)
    assert metrics["train_examples_too_long"] == 1
