"""Trainer callbacks: training curves to the MLflow run opened by kedro-mlflow, and the C
heap's free pages handed back after every optimizer step."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from transformers import TrainerCallback

from self_rewarding import memory


def _numeric(logs: Mapping, prefix: str) -> dict[str, float]:
    return {
        f"{prefix}.{name}": float(value)
        for name, value in logs.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


class MlflowCurvesCallback(TrainerCallback):
    """Logs the trainer's numeric logs (loss, learning rate, grad norm, ...) to the active
    MLflow run as ``<prefix>.<name>`` at the global step.

    Used instead of ``report_to="mlflow"``: transformers' callback also logs every
    ``TrainingArguments`` field as a run parameter, and MLflow refuses a second training
    in the same run (``kedro run`` of the whole project) changing those values.
    """

    def __init__(self, prefix: str):
        self.prefix = prefix

    def on_log(self, args, state, control, logs=None, **kwargs):
        import mlflow

        if not logs or mlflow.active_run() is None or not state.is_world_process_zero:
            return
        metrics = _numeric(logs, self.prefix)
        if metrics:
            mlflow.log_metrics(metrics, step=state.global_step)


class ReleaseFreeHeapCallback(TrainerCallback):
    """Hands the C heap's free pages back after every optimizer step
    (``memory.release_free_heap``).

    Gradients (freed by ``zero_grad``) and autocast's weight copies leave about 0.9 GiB of
    free heap between steps under bf16 on a CPU, which glibc keeps resident. Handed back
    once per step it lowered SFT's peak by 0.03-0.13 GiB at no measured cost in time;
    after every forward-backward pass it cost a tenth of the time (benchmarks/README.md,
    free heap pages).
    """

    def on_step_end(self, args, state, control, **kwargs):
        memory.release_free_heap()


def log_curves(prefix: str, log_history: Iterable[Mapping]) -> None:
    """Logs a finished training's ``trainer.state.log_history`` (a training launched in
    other processes) as ``MlflowCurvesCallback`` would have logged it live."""
    import mlflow

    if mlflow.active_run() is None:
        return
    for entry in log_history:
        metrics = _numeric({k: v for k, v in entry.items() if k != "step"}, prefix)
        if metrics:
            mlflow.log_metrics(metrics, step=int(entry.get("step", 0)))
