"""Trainer callbacks that report to the MLflow run opened by kedro-mlflow."""

from __future__ import annotations

from transformers import TrainerCallback


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
        metrics = {
            f"{self.prefix}.{name}": float(value)
            for name, value in logs.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        if metrics:
            mlflow.log_metrics(metrics, step=state.global_step)
