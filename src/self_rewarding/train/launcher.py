"""SFT and DPO on several processes: the node side starts ``accelerate launch`` on this
module and waits; every rank trains (DDP, or DeepSpeed through an accelerate config),
the main rank saves the model and writes a result file that the node reads back.

Each rank hashes its trained weights and the hashes are gathered: the node refuses a
model whose ranks ended on different weights. Each rank also watches the node's process
and exits when it is gone (a kill -9 of the run), instead of training for nobody. On a
machine without a GPU the ranks are CPU processes talking through gloo (``use_cpu`` in
the trainer arguments).

Run by hand (the node writes the spec)::

    accelerate launch --multi_gpu --num_processes 2 -m self_rewarding.train.launcher spec.json
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from self_rewarding.core.records import read_jsonl, write_jsonl, write_text_atomic
from self_rewarding.core.types import LauncherConfig

logger = logging.getLogger(__name__)

ROWS_FILE = "rows.jsonl"
SPEC_FILE = "launch_spec.json"
RESULT_FILE = "launch_result.json"


class DistributedTrainingError(RuntimeError):
    """A launched training failed, or its ranks ended on different weights."""


def weights_digest(model) -> str:
    """SHA-256 of a model's parameters (names, dtypes, shapes and values), tied ones once."""
    import torch

    digest = hashlib.sha256()
    for name, parameter in sorted(model.named_parameters(), key=lambda item: item[0]):
        tensor = parameter.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


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
    return [*command, "-m", "self_rewarding.train.launcher", str(spec_path)]


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
) -> tuple[dict[str, float], list[dict], str]:
    """Trains with ``accelerate launch`` on ``launcher.num_processes`` processes and waits.

    Args:
        kind: ``sft`` or ``dpo``.
        model_path: The model to start from.
        rows: The training rows (as ``train_sft``/``train_dpo`` take them).
        output_dir: Where the main rank saves the trained model.
        trainer_config: The block's trainer fields.
        precision: The block's precision (each rank resolves it on its own hardware).
        launcher: Processes and accelerate config.
        scratch: An empty directory for the spec, the rows and the trainer's files.

    Returns:
        The final metrics (with ``num_processes``), the main rank's training logs
        (``trainer.state.log_history``) and the SHA-256 of the weights every rank holds.

    Raises:
        DistributedTrainingError: The launch failed, or the ranks disagree.
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
    digests = result["rank_weights_sha256"]
    if len(set(digests)) != 1:
        raise DistributedTrainingError(
            f"{kind.upper()}: the {len(digests)} ranks ended on different weights "
            f"({', '.join(d[:12] for d in digests)}); the model in {output_dir} is not used."
        )
    logger.info("%s: all %d ranks hold weights %s", kind.upper(), len(digests), digests[0][:12])
    return result["metrics"], result["log_history"], digests[0]


def train(
    kind: str,
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
    launcher asks for it, on several; records the precision (and the processes and the
    weights' hash) in the model directory and the curves in the active MLflow run."""
    import shutil
    import tempfile

    from self_rewarding.hardware import log_precision, precision_record, write_provenance
    from self_rewarding.train.arguments import training_arguments
    from self_rewarding.train.callbacks import MlflowCurvesCallback, log_curves
    from self_rewarding.train.trainer_core import fit, method_of

    scratch = Path(tempfile.mkdtemp(prefix=f"{kind}-trainer-"))
    try:
        args, resolved = training_arguments(kind, trainer_config, precision, str(scratch))
        provenance = {"trainer": kind, **precision_record(precision, resolved)}
        if launcher is not None and launcher.launches:
            metrics, log_history, weights_sha256 = launch_training(
                kind,
                model_path,
                rows,
                output_dir,
                trainer_config=trainer_config,
                precision=precision,
                launcher=launcher,
                scratch=scratch,
            )
            provenance.update(num_processes=launcher.num_processes, weights_sha256=weights_sha256)
            if metrics_prefix:
                log_curves(metrics_prefix, log_history)
        else:
            callbacks = [MlflowCurvesCallback(metrics_prefix)] if metrics_prefix else []
            metrics, _ = fit(
                method_of(kind), model_path, rows, args, output_dir, callbacks=callbacks
            )
        write_provenance(output_dir, provenance)
        if metrics_prefix:
            log_precision(metrics_prefix, precision, resolved)
        return metrics
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _exit_with_node(node_pid: int) -> None:
    """Ends this rank when the process that launched the training is gone; the launcher
    then stops the other ranks and exits."""
    import threading
    import time

    from self_rewarding.core.records import process_alive

    def watch() -> None:
        while process_alive(node_pid):
            time.sleep(1.0)
        logger.error("The launching process %d is gone; this rank exits", node_pid)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _train_rank(spec: Mapping[str, Any]) -> None:
    """One rank's training (run under ``accelerate launch``)."""
    _exit_with_node(spec["node_pid"])
    from accelerate.utils import gather_object

    from self_rewarding.train.arguments import training_arguments
    from self_rewarding.train.trainer_core import fit, method_of

    kind = spec["kind"]
    args, _ = training_arguments(
        kind, spec["trainer_config"], spec["precision"], spec["trainer_dir"]
    )
    rows = read_jsonl(spec["rows_file"])
    metrics, trainer = fit(method_of(kind), spec["model_path"], rows, args, spec["output_dir"])
    model = trainer.accelerator.unwrap_model(trainer.model)
    digests = gather_object([weights_digest(model)])
    if trainer.is_world_process_zero():
        metrics["num_processes"] = float(trainer.accelerator.num_processes)
        result = {
            "metrics": metrics,
            "log_history": trainer.state.log_history,
            "rank_weights_sha256": list(digests),
        }
        write_text_atomic(Path(spec["result_file"]), json.dumps(result))
    trainer.accelerator.wait_for_everyone()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    _train_rank(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")))
