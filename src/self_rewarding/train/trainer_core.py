"""The trainer core that SFT and DPO share: the script's arguments and command line, the
training run, saving the model with its tokenizer, and the final metrics. A method
(``train/sft.py``, ``train/dpo.py``) adds the format of its rows, its TRL trainer and the
metrics of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

# TRL's fused LM head (SFT, DPO, DPO's reference log-probabilities) scores tokens against
# the vocabulary in tiles of 32,768 columns, and off GPU its torch fallback holds several
# fp32 temporaries of a tile's size: the short peaks of a training step. 4,096-column tiles
# lower SFT's peak by 0.55 GiB and DPO's by 1.0 GiB (benchmarks/README.md#memorypy); the
# log-probabilities are the same up to summation order (tests/train/test_lm_head_tiles.py).
LM_HEAD_VOCAB_TILE = 4096


@dataclass
class ScriptArguments:
    """Arguments of the training scripts beside TRL's ``SFTConfig``/``DPOConfig``.

    Attributes:
        model_name_or_path: The model to train (a directory or hub id).
        dataset_files: JSONL files of training rows, concatenated.
    """

    model_name_or_path: str | None = None
    dataset_files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TrainingMethod:
    """What one training method adds to the core.

    Attributes:
        kind: ``sft`` or ``dpo``: the TRL config class and the trainer's name.
        row_fields: The fields a training row must hold as non-blank text.
        build_trainer: ``(model_path, rows, args, callbacks)`` -> a TRL trainer.
        method_metrics: ``(trainer, rows)`` -> the method's own final metrics.
    """

    kind: str
    row_fields: tuple[str, ...]
    build_trainer: Callable[..., Any]
    method_metrics: Callable[[Any, Sequence[Mapping]], dict[str, float]]


def fit(
    method: TrainingMethod, model_path, rows: Sequence[Mapping], args, output_dir, *, callbacks=()
) -> tuple[dict[str, float], Any]:
    """Trains, saves the model and tokenizer to ``output_dir`` (from the main process when
    there are several) and returns the final metrics with the trainer. Every optimizer
    step ends by handing the C heap's free pages back (``ReleaseFreeHeapCallback``)."""
    from self_rewarding.train.callbacks import ReleaseFreeHeapCallback

    size_lm_head_tiles(LM_HEAD_VOCAB_TILE)
    callbacks = [*callbacks, ReleaseFreeHeapCallback()]
    trainer = method.build_trainer(model_path, rows, args, callbacks)
    result = trainer.train()
    trainer.save_model(str(output_dir))  # on the main process only
    if trainer.is_world_process_zero():
        trainer.processing_class.save_pretrained(str(output_dir))
    metrics = {k: float(v) for k, v in result.metrics.items() if isinstance(v, int | float)}
    metrics["train_steps"] = float(result.global_step)
    metrics.update(method.method_metrics(trainer, rows))
    logger.info("%s done: %s", method.kind.upper(), metrics)
    return metrics, trainer


def size_lm_head_tiles(columns: int) -> None:
    """Sets the vocabulary columns of TRL's fused-LM-head tiles (a module constant of
    ``trl.trainer.utils`` that its fused forward reads on every call)."""
    from trl.trainer import utils as trl_utils

    if not hasattr(trl_utils, "_CHUNKED_LOGPROB_CHUNK_SIZE"):
        logger.warning("This TRL has no fused-LM-head tile size: training keeps its default")
        return
    trl_utils._CHUNKED_LOGPROB_CHUNK_SIZE = columns


def make_parser(kind: str):
    """The script's command line: ``ScriptArguments`` and the method's TRL config."""
    from trl import DPOConfig, SFTConfig, TrlParser

    return TrlParser((ScriptArguments, {"sft": SFTConfig, "dpo": DPOConfig}[kind]))


def run_script(
    method: TrainingMethod, script_args: ScriptArguments, training_args
) -> dict[str, float]:
    """Trains from parsed script arguments and a TRL config; the model is saved to
    ``training_args.output_dir``."""
    from self_rewarding.records import read_jsonl

    rows = [
        row
        for path in script_args.dataset_files
        for row in read_jsonl(path, non_empty_fields=method.row_fields)
    ]
    model = script_args.model_name_or_path
    return fit(method, model, rows, training_args, training_args.output_dir)[0]


def main(method: TrainingMethod) -> dict[str, float]:
    """``python -m self_rewarding.train.<kind>``."""
    script_args, training_args = make_parser(method.kind).parse_args_and_config()
    return run_script(method, script_args, training_args)
