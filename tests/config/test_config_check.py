"""Every environment's parameters build every config, trainer configs included; a bad
parameter stops ``kedro run`` before any work, naming the file and the key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader

from self_rewarding.config_check import ConfigError, check_parameters
from self_rewarding.core.types import (
    BaseModelConfig,
    EFTConfig,
    EvaluationConfig,
    IFTConfig,
    IterationConfig,
    JudgeProbeConfig,
    LauncherConfig,
)

PROJECT = Path(__file__).resolve().parents[2]
CONF = PROJECT / "conf"
ENVIRONMENTS = ["local", "test", "paper", "cpu_long"]  # local: base alone


def _parameters(env: str, runtime_params: dict | None = None) -> dict:
    loader = OmegaConfigLoader(
        str(CONF),
        base_env="base",
        default_run_env="local",
        env=env,
        runtime_params=runtime_params,
        merge_strategy={"parameters": "soft"},
    )
    return loader["parameters"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_environment_builds_every_config(env, tmp_path):
    from self_rewarding.train.arguments import training_arguments

    parameters = _parameters(env)
    check_parameters(parameters, CONF, env)
    BaseModelConfig(**parameters["model"])
    JudgeProbeConfig(**parameters["judge_probe"])
    IFTConfig(**parameters["ift"])
    EFTConfig(**parameters["eft"])
    iteration = IterationConfig(**parameters["iteration"])
    evaluation = EvaluationConfig(**parameters["evaluation"])
    assert iteration.generation.precision == "auto"
    assert evaluation.generation.precision == "auto"
    # The test and paper environments run the same sizes on every CPU; cpu_long trains
    # and self-instructs at its own size on every CPU too.
    assert (evaluation.on_cpu_without_bf16 is None) == (env in ("test", "paper"))
    fixed_training = env in ("test", "paper", "cpu_long")
    assert (parameters["sft"].get("on_cpu_without_bf16") is None) == fixed_training
    assert (JudgeProbeConfig(**parameters["judge_probe"]).on_cpu_without_bf16 is None) == (
        fixed_training
    )
    assert (iteration.self_instruct.on_cpu_without_bf16 is None) == fixed_training
    assert (EFTConfig(**parameters["eft"]).on_cpu_without_bf16 is None) == fixed_training
    for kind in ("sft", "dpo"):
        block = parameters[kind]
        assert block["precision"] == "auto"
        args, resolved = training_arguments(
            kind, block["trainer"], block["precision"], str(tmp_path / kind)
        )
        assert resolved in {"bf16", "fp16", "fp32"}
        assert args.bf16 == (resolved == "bf16")
        assert args.learning_rate == block["trainer"]["learning_rate"]
        LauncherConfig(**block["launcher"])


@pytest.mark.parametrize("config", sorted((CONF / "base/accelerate").glob("*.yaml")))
def test_every_shipped_accelerate_config_launches_through_the_launcher(config, tmp_path):
    import yaml

    from self_rewarding.train.launcher import launch_command

    relative = config.relative_to(PROJECT).as_posix()
    command = launch_command(
        LauncherConfig(num_processes=2, accelerate_config=relative), tmp_path / "spec.json"
    )
    assert command[command.index("--config_file") + 1] == relative
    assert yaml.safe_load(config.read_text())["distributed_type"]


def test_the_run_wide_precision_rules_every_auto_block(monkeypatch):
    from self_rewarding import hardware

    monkeypatch.setattr(hardware, "_run_precision", "auto")
    parameters = _parameters("local", {"precision": "fp32"})
    assert parameters["precision"] == "fp32"
    blocks = [
        parameters["sft"],
        parameters["dpo"],
        parameters["iteration"]["generation"],
        parameters["evaluation"]["generation"],
        parameters["judge_probe"],
    ]
    assert {block["precision"] for block in blocks} == {"auto"}
    native = hardware.resolve("auto")
    hardware.set_run_precision(parameters["precision"])
    assert hardware.resolve("auto") == "fp32"  # every auto block follows the run
    assert hardware.resolve("bf16") == "bf16"  # an explicit block still wins
    hardware.set_run_precision("auto")
    assert hardware.resolve("auto") == native
    with pytest.raises(ValueError, match="precision: unknown precision 'half'"):
        hardware.set_run_precision("half")


def _problems(parameters: dict, env: str = "local", runtime: dict | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        check_parameters(parameters, CONF, env, runtime)
    return str(caught.value)


def test_a_misspelt_trainer_key_is_named_with_its_file():
    parameters = _parameters("test")
    parameters["sft"]["trainer"]["learnin_rate"] = 1e-4
    message = _problems(parameters, "test", {"sft.trainer.learnin_rate": 1e-4})
    assert "--params: sft.trainer.learnin_rate: unknown key: not a field of trl.SFTConfig" in (
        message
    )


def test_the_trainer_fields_for_a_cpu_without_bf16_are_checked_like_the_trainers():
    parameters = _parameters("local")
    parameters["sft"]["on_cpu_without_bf16"]["trainer"]["num_train_epoch"] = 1
    parameters["sft"]["on_cpu_without_bf16"]["trainer"]["bf16"] = False
    parameters["sft"]["on_cpu_without_bf16"]["epochs"] = 1
    message = _problems(parameters)
    assert (
        "sft.on_cpu_without_bf16.trainer.num_train_epoch: unknown key: not a field of "
        "trl.SFTConfig" in message
    )
    assert "sft.on_cpu_without_bf16.trainer.bf16: set sft.precision (auto" in message
    assert "sft.on_cpu_without_bf16.epochs: unknown key (known: trainer)" in message


def test_a_wrong_type_is_named_with_the_file_that_sets_it():
    parameters = _parameters("test")
    parameters["dpo"]["trainer"]["max_steps"] = "two"
    parameters["iteration"]["generation"]["chunk_size"] = "big"
    message = _problems(parameters, "test")
    assert "conf/test/parameters_dpo.yml: dpo.trainer.max_steps: Input should be a valid " in (
        message
    )
    assert "conf/test/parameters_iteration.yml: iteration.generation.chunk_size:" in message


def test_unknown_precisions_and_precision_flags_in_trainer_blocks_are_refused():
    parameters = _parameters("local")
    parameters["precision"] = "fp8"
    parameters["sft"]["precision"] = "bf32"
    parameters["iteration"]["generation"]["precision"] = "half"
    parameters["dpo"]["trainer"]["bf16"] = True
    parameters["dpo"]["trainer"]["model_init_kwargs"] = {"dtype": "bfloat16"}
    message = _problems(parameters)
    assert "conf/base/parameters_sft.yml: sft.precision: Input should be 'auto'" in message
    assert "conf/base/parameters.yml: precision: Input should be 'auto'" in message
    assert "iteration.generation.precision: Input should be 'auto'" in message
    assert "dpo.trainer.bf16: set dpo.precision (auto, bf16, fp16, fp32) instead" in message
    assert "dpo.trainer.model_init_kwargs.dtype: set dpo.precision instead" in message


def test_nested_core_blocks_are_checked_key_by_key():
    parameters = _parameters("local")
    parameters["iteration"]["judge"]["sampling"]["tempreature"] = 0.7
    parameters["evaluation"]["evaluator"]["kind"] = "anthropic"
    message = _problems(parameters)
    assert (
        "iteration.judge.sampling.tempreature: unknown key (known: assistant_prefix, max_new"
        in message
    )
    assert "evaluation.evaluator.kind: Input should be 'local' or 'openai'" in message


def test_a_bad_model_path_is_named(tmp_path):
    parameters = _parameters("local")
    parameters["model"]["base"] = str(tmp_path / "no-such-model")
    message = _problems(parameters)
    assert f"model.base: no model directory at {tmp_path / 'no-such-model'}" in message


def _kedro_run(tmp_path, *args: str) -> subprocess.CompletedProcess:
    kedro = Path(sys.executable).with_name("kedro")
    return subprocess.run(
        [str(kedro), "run", "--env=test", *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"},
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("pipeline", "bad", "message"),
    [
        ("data_processing", "ift.max_exampels=3", "--params: ift.max_exampels: unknown key"),
        # Trainer blocks are checked before a pipeline that trains (TRL's schema).
        ("sft", "sft.trainer.learning_rat=0.1", "--params: sft.trainer.learning_rat: unknown key"),
    ],
)
@pytest.mark.slow
def test_kedro_run_stops_before_any_work_on_a_bad_parameter(pipeline, bad, message, tmp_path):
    """A real ``kedro run``: the error names the key and nothing is written."""
    before = {p for p in (PROJECT / "data").rglob("*") if p.is_file()}
    result = _kedro_run(tmp_path, f"--pipelines={pipeline}", f"--params={bad}")
    assert result.returncode != 0
    assert message in result.stderr + result.stdout
    assert "Running node" not in result.stderr + result.stdout
    after = {p for p in (PROJECT / "data").rglob("*") if p.is_file()}
    assert after == before
