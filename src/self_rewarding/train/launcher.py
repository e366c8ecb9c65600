"""Where SFT and DPO train: in the node's process, or on several processes, where the
node starts ``accelerate launch`` on ``train.rank`` and waits; every rank trains (DDP, or
DeepSpeed through an accelerate config), the main rank saves the model and writes a
result file that the node reads back.

The node resolves the precision (a block's ``auto`` follows the run-wide one) and sends
the resolved one: every rank trains in it, reports it, and the node refuses a training
whose ranks report another. On a machine without a GPU the ranks are CPU processes
talking through gloo (``use_cpu`` in the trainer arguments).

Run by hand (the node writes the spec)::

    accelerate launch --multi_gpu --num_processes 2 -m self_rewarding.train.rank spec.json
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from self_rewarding.core.types import LauncherConfig
from self_rewarding.records import write_jsonl, write_text_atomic

if TYPE_CHECKING:
    from self_rewarding.train.trainer_core import TrainingMethod

logger = logging.getLogger(__name__)

ROWS_FILE = "rows.jsonl"
SPEC_FILE = "launch_spec.json"
RESULT_FILE = "launch_result.json"


class DistributedTrainingError(RuntimeError):
    """A launched training failed, or its ranks trained in another precision."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_command(launcher: LauncherConfig, spec_path: Path) -> list[str]:
    """The ``accelerate launch`` command line that trains the spec on every process."""
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(launcher.num_processes),
        "--num_machines",
        "1",
        "--main_process_port",
        str(_free_port()),
        # The trainer arguments carry the precision (bf16/fp16 flags), not the launcher.
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    ]
    if launcher.accelerate_config:
        command += ["--config_file", str(launcher.accelerate_config)]
    else:
        command += ["--multi_gpu"]  # DDP (torchrun); on a CPU the ranks use gloo
    return [*command, "-m", "self_rewarding.train.rank", str(spec_path)]


def launch_training(
    kind: str,
    model_path: str | Path,
    rows: Sequence[Mapping],
    output_dir: str | Path,
    *,
    trainer_config: Mapping[str, Any],
    precision: str,
    launcher: LauncherConfig,
    scratch: Path,
) -> tuple[dict[str, float], list[dict]]:
    """Trains with ``accelerate launch`` on ``launcher.num_processes`` processes and waits.

    Args:
        kind: ``sft`` or ``dpo``.
        model_path: The model to start from.
        rows: The training rows (as ``train_sft``/``train_dpo`` take them).
        output_dir: Where the main rank saves the trained model.
        trainer_config: The block's trainer fields.
        precision: The resolved precision (``bf16``, ``fp16`` or ``fp32``) every rank
            trains in.
        launcher: Processes and accelerate config.
        scratch: An empty directory for the spec, the rows and the trainer's files.

    Returns:
        The final metrics (with ``num_processes``) and the main rank's training logs
        (``trainer.state.log_history``).

    Raises:
        DistributedTrainingError: The launch failed, or a rank trained in another
            precision.
    """
    scratch = Path(scratch)
    write_jsonl(scratch / ROWS_FILE, [dict(row) for row in rows])
    spec = {
        "kind": kind,
        "model_path": str(model_path),
        "rows_file": str(scratch / ROWS_FILE),
        "output_dir": str(output_dir),
        "trainer_dir": str(scratch / "trainer"),
        "trainer_config": dict(trainer_config),
        "precision": precision,
        "result_file": str(scratch / RESULT_FILE),
        "node_pid": os.getpid(),
    }
    spec_path = scratch / SPEC_FILE
    write_text_atomic(spec_path, json.dumps(spec, indent=2))
    command = launch_command(launcher, spec_path)
    logger.info("%s on %d processes: %s", kind.upper(), launcher.num_processes, " ".join(command))
    completed = subprocess.run(command, check=False, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    result_file = scratch / RESULT_FILE
    if completed.returncode != 0 or not result_file.is_file():
        raise DistributedTrainingError(
            f"{kind.upper()} launched on {launcher.num_processes} processes failed "
            f"(exit status {completed.returncode}); the ranks' logs are above. "
            f"Command: {' '.join(command)}"
        )
    result = json.loads(result_file.read_text(encoding="utf-8"))
    other = [found for found in result["rank_precisions"] if found != precision]
    if other:
        raise DistributedTrainingError(
            f"{kind.upper()}: ranks trained in {result['rank_precisions']}, not {precision}; "
            f"the model in {output_dir} is not used."
        )
    return result["metrics"], result["log_history"]


def train(
    method: TrainingMethod,
    model_path: str | Path,
    rows: Sequence[Mapping],
    output_dir: str | Path,
    *,
    trainer_config: Mapping[str, Any],
    metrics_prefix: str | None,
    precision: str,
    launcher: LauncherConfig | None,
) -> dict[str, float]:
    """What ``train_sft`` and ``train_dpo`` share: trains in this process or, when the
    launcher asks for it, on several; records the precision (and the processes) in the
    model directory and the curves in the active MLflow run."""
    import shutil
    import tempfile

    from self_rewarding.hardware import log_precision, precision_record, write_provenance
    from self_rewarding.train.arguments import training_arguments
    from self_rewarding.train.callbacks import MlflowCurvesCallback, log_curves
    from self_rewarding.train.trainer_core import fit

    kind = method.kind
    scratch = Path(tempfile.mkdtemp(prefix=f"{kind}-trainer-"))
    try:
        args, resolved = training_arguments(kind, trainer_config, precision, str(scratch))
        provenance = {"trainer": kind, **precision_record(precision, resolved)}
        if launcher is not None and launcher.launches:
            metrics, log_history = launch_training(
                kind,
                model_path,
                rows,
                output_dir,
                trainer_config=trainer_config,
                precision=resolved,  # a rank's own `auto` would not know the run's
                launcher=launcher,
                scratch=scratch,
            )
            provenance.update(num_processes=launcher.num_processes)
            if metrics_prefix:
                log_curves(metrics_prefix, log_history)
        else:
            callbacks = [MlflowCurvesCallback(metrics_prefix)] if metrics_prefix else []
            metrics, _ = fit(method, model_path, rows, args, output_dir, callbacks=callbacks)
        write_provenance(output_dir, provenance)
        if metrics_prefix:
            log_precision(metrics_prefix, precision, resolved)
        return metrics
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
