"""One rank of a launched training, run by ``accelerate launch`` (``train.launcher``):
trains the spec the node wrote in the precision the node resolved, and reports back from
the main rank the metrics, the logs and the precision every rank trained in.

Each rank watches the node's process and exits when it is gone (a kill -9 of the run),
instead of training for nobody."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from self_rewarding.records import process_alive, read_jsonl, write_text_atomic
from self_rewarding.train import dpo, sft
from self_rewarding.train.arguments import training_arguments
from self_rewarding.train.trainer_core import fit

logger = logging.getLogger(__name__)

METHODS = {method.kind: method for method in (sft.METHOD, dpo.METHOD)}


def exit_with_node(node_pid: int) -> None:
    """Ends this rank when the process that launched the training is gone; the launcher
    then stops the other ranks and exits."""

    def watch() -> None:
        while process_alive(node_pid):
            time.sleep(1.0)
        logger.error("The launching process %d is gone; this rank exits", node_pid)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def trainer_precision(args) -> str:
    """The precision a TRL/transformers trainer's arguments train in."""
    return "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32"


def train_rank(spec: Mapping[str, Any]) -> None:
    """One rank's training."""
    from accelerate.utils import gather_object

    exit_with_node(spec["node_pid"])
    method = METHODS[spec["kind"]]
    args, _ = training_arguments(
        method.kind, spec["trainer_config"], spec["precision"], spec["trainer_dir"]
    )
    rows = read_jsonl(spec["rows_file"])
    metrics, trainer = fit(method, spec["model_path"], rows, args, spec["output_dir"])
    # What the trainer ran in, read off its own arguments.
    precisions = gather_object([trainer_precision(trainer.args)])
    if trainer.is_world_process_zero():
        metrics["num_processes"] = float(trainer.accelerator.num_processes)
        result = {
            "metrics": metrics,
            "log_history": trainer.state.log_history,
            "rank_precisions": list(precisions),
        }
        write_text_atomic(Path(spec["result_file"]), json.dumps(result))
    trainer.accelerator.wait_for_everyone()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    train_rank(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")))
