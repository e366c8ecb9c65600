"""SFT and DPO on two processes through ``accelerate launch`` (gloo on the CPU): real
training of the tiny model, in the precision the node resolved (a block's ``auto``
follows the run-wide precision, which the ranks do not know on their own)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psutil
import pytest
import torch
from transformers import AutoModelForCausalLM

from self_rewarding import hardware
from self_rewarding.core.types import LauncherConfig
from self_rewarding.hardware import PROVENANCE_FILE
from self_rewarding.train.dpo import train_dpo
from self_rewarding.train.launcher import DistributedTrainingError, launch_command
from self_rewarding.train.sft import train_sft

EXAMPLES = [
    {"prompt": f"Question {i}: what is {i} plus {i}?", "response": f"It is {2 * i}."}
    for i in range(8)
]
PAIRS = [
    {"prompt": f"Say {i}.", "chosen": f"{i}.", "rejected": f"I will not say {i}."} for i in range(8)
]
COMMON = {
    "max_steps": 2,
    "per_device_train_batch_size": 2,
    "learning_rate": 1e-3,
    "logging_steps": 1,
    "save_strategy": "no",
    "report_to": "none",
    "gradient_checkpointing": False,
    "seed": 7,
}
TWO_PROCESSES = LauncherConfig(num_processes=2)


def _provenance(model_dir) -> dict:
    return json.loads((model_dir / PROVENANCE_FILE).read_text())


def _same_weights(model_a, model_b) -> bool:
    a, b = (AutoModelForCausalLM.from_pretrained(m).state_dict() for m in (model_a, model_b))
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_launch_command_uses_ddp_or_the_given_accelerate_config(tmp_path):
    ddp = launch_command(TWO_PROCESSES, tmp_path / "spec.json")
    assert "--multi_gpu" in ddp
    assert ddp[ddp.index("--num_processes") + 1] == "2"
    assert ddp[-3:] == ["-m", "self_rewarding.train.rank", str(tmp_path / "spec.json")]

    zero3 = LauncherConfig(num_processes=4, accelerate_config="conf/base/accelerate/zero3.yaml")
    command = launch_command(zero3, tmp_path / "spec.json")
    assert command[command.index("--config_file") + 1] == "conf/base/accelerate/zero3.yaml"
    assert command[command.index("--num_processes") + 1] == "4"
    assert "--multi_gpu" not in command


def test_launcher_config_rejects_zero_processes():
    with pytest.raises(ValueError, match="num_processes"):
        LauncherConfig(num_processes=0)
    assert not LauncherConfig().launches
    assert LauncherConfig(accelerate_config="conf/base/accelerate/zero2.yaml").launches


@pytest.mark.slow
def test_sft_on_two_processes_trains_in_the_run_wide_fp32(tiny_model_dir, tmp_path, monkeypatch):
    # precision=fp32 for the run; the block says auto, as conf/base does.
    monkeypatch.setattr(hardware, "_run_precision", "fp32")
    output = tmp_path / "M1"

    metrics = train_sft(
        tiny_model_dir,
        EXAMPLES,
        output,
        {**COMMON, "max_length": 64},
        precision="auto",
        launcher=TWO_PROCESSES,
    )

    provenance = _provenance(output)
    assert metrics["num_processes"] == 2
    assert metrics["train_steps"] == 2
    # Both ranks reported fp32 from their trainer's arguments, or the launch would fail.
    assert provenance["precision_requested"] == "auto"
    assert provenance["precision"] == "fp32"
    assert provenance["num_processes"] == 2
    assert not _same_weights(output, tiny_model_dir)
    assert (output / "tokenizer_config.json").is_file()


@pytest.mark.slow
def test_dpo_on_two_processes_trains_in_the_run_wide_bf16(tiny_model_dir, tmp_path, monkeypatch):
    # Where the hardware would choose fp32 (an AVX2 CPU), ranks resolving `auto` on their
    # own would train in fp32 and fail the node's check.
    monkeypatch.setattr(hardware, "_run_precision", "bf16")
    output = tmp_path / "M2"

    metrics = train_dpo(
        tiny_model_dir,
        PAIRS,
        output,
        {**COMMON, "beta": 0.1, "max_length": 64},
        precision="auto",
        launcher=TWO_PROCESSES,
    )

    assert metrics["num_processes"] == 2
    assert _provenance(output)["precision"] == "bf16"
    assert "rewards_margins" in metrics
    assert not _same_weights(output, tiny_model_dir)


@pytest.mark.slow
def test_a_failed_launch_names_the_processes_and_leaves_no_model(tmp_path):
    missing_model = tmp_path / "no-model"
    missing_model.mkdir()
    output = tmp_path / "M1"

    with pytest.raises(DistributedTrainingError, match="on 2 processes failed"):
        train_sft(
            missing_model,
            EXAMPLES,
            output,
            {**COMMON, "max_length": 64},
            precision="fp32",
            launcher=TWO_PROCESSES,
        )
    assert not (output / PROVENANCE_FILE).exists()


@pytest.mark.slow
def test_killing_the_launching_process_stops_every_rank(tiny_model_dir, tmp_path):
    # A training far longer than the test: only the kill can end it.
    script = f"""
from self_rewarding.core.types import LauncherConfig
from self_rewarding.train.sft import train_sft
examples = [{{"prompt": f"Question {{i}}", "response": "Answer."}} for i in range(16)]
config = {{**{COMMON!r}, "max_steps": 100000, "logging_steps": 1000, "max_length": 32}}
train_sft({str(tiny_model_dir)!r}, examples, {str(tmp_path / "M1")!r}, config,
          precision="fp32", launcher=LauncherConfig(num_processes=2))
"""
    node = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 180
        ranks: list[psutil.Process] = []
        while len(ranks) < 2 and time.monotonic() < deadline:
            time.sleep(1.0)
            ranks = [
                child
                for child in psutil.Process(node.pid).children(recursive=True)
                if "self_rewarding.train.rank" in child.cmdline()
                and "accelerate.commands.launch" not in child.cmdline()
            ]
        assert len(ranks) == 2, "the two ranks never started"
        launched = psutil.Process(node.pid).children(recursive=True)
    finally:
        node.kill()
        node.wait()

    _, alive = psutil.wait_procs(launched, timeout=60)
    for process in alive:
        process.kill()
    assert alive == []
