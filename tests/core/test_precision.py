"""The precision rule: ``auto`` follows the hardware, an explicit precision wins."""

from __future__ import annotations

import pytest

from self_rewarding.core.precision import (
    Hardware,
    check_precision,
    dtype_name,
    lacks_native_bf16,
    resolve_precision,
    trainer_precision_arguments,
    training_block_for,
)

AVX2_CPU = Hardware(device="cpu", cpu_capability="AVX2", cpu_native_bf16=False)
BF16_CPU = Hardware(device="cpu", cpu_capability="AVX512", cpu_native_bf16=True)
H100 = Hardware("cuda", "AVX512", False, cuda_name="NVIDIA H100", cuda_bf16=True)
V100 = Hardware("cuda", "AVX2", False, cuda_name="Tesla V100", cuda_bf16=False)


@pytest.mark.parametrize(
    ("hardware", "expected"),
    [(AVX2_CPU, "fp32"), (BF16_CPU, "bf16"), (H100, "bf16"), (V100, "fp16")],
)
def test_auto_follows_the_hardware(hardware, expected):
    assert resolve_precision("auto", hardware) == expected


@pytest.mark.parametrize("explicit", ["bf16", "fp16", "fp32"])
@pytest.mark.parametrize("hardware", [AVX2_CPU, BF16_CPU, H100, V100])
def test_an_explicit_precision_wins(explicit, hardware):
    assert resolve_precision(explicit, hardware) == explicit


def test_an_unknown_precision_is_named():
    with pytest.raises(ValueError, match=r"sft.precision: unknown precision 'bf32'"):
        check_precision("bf32", "sft.precision")
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("half", AVX2_CPU)


def test_dtype_names():
    assert [dtype_name(p) for p in ("bf16", "fp16", "fp32")] == [
        "bfloat16",
        "float16",
        "float32",
    ]
    with pytest.raises(ValueError, match="not a resolved precision"):
        dtype_name("auto")


def test_trainer_arguments_keep_fp32_master_weights_except_bf16_on_cuda():
    assert trainer_precision_arguments("fp32", "cpu") == {
        "bf16": False,
        "fp16": False,
        "model_init_kwargs": {"dtype": "float32"},
    }
    assert trainer_precision_arguments("bf16", "cpu") == {
        "bf16": True,
        "fp16": False,
        "model_init_kwargs": {"dtype": "float32"},
    }
    assert trainer_precision_arguments("fp16", "cuda")["model_init_kwargs"] == {"dtype": "float32"}
    assert trainer_precision_arguments("bf16", "cuda") == {
        "bf16": True,
        "fp16": False,
        "model_init_kwargs": {"dtype": "bfloat16"},
    }


def test_hardware_describes_itself_as_strings():
    assert H100.describe() == {
        "device": "cuda",
        "cpu_capability": "AVX512",
        "cpu_native_bf16": "false",
        "cuda_name": "NVIDIA H100",
    }


def test_only_a_cpu_without_native_bf16_lacks_it():
    assert lacks_native_bf16(AVX2_CPU)
    assert not any(lacks_native_bf16(h) for h in (BF16_CPU, H100, V100))


def test_a_training_block_takes_its_cpu_trainer_fields_only_where_bf16_is_emulated():
    block = {
        "trainer": {"num_train_epochs": 2, "learning_rate": 1e-4},
        "precision": "auto",
        "on_cpu_without_bf16": {"trainer": {"num_train_epochs": 1}},
    }
    sized = training_block_for(block, AVX2_CPU)
    assert sized == {"trainer": {"num_train_epochs": 1, "learning_rate": 1e-4}, "precision": "auto"}
    assert block["trainer"]["num_train_epochs"] == 2  # the parameters are left as they are
    for hardware in (BF16_CPU, H100):
        assert training_block_for(block, hardware) == {
            "trainer": {"num_train_epochs": 2, "learning_rate": 1e-4},
            "precision": "auto",
        }
    unsized = {"trainer": {"num_train_epochs": 2}, "on_cpu_without_bf16": None}
    assert training_block_for(unsized, AVX2_CPU) == {"trainer": {"num_train_epochs": 2}}
