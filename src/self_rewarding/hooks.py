"""Project hooks (small extras beside kedro-mlflow's own hook).

- ``ModelLineageHooks`` links every saved model directory to the MLflow run that made it:
  tags ``model.<dataset>.path`` and ``model.<dataset>.sha256``, and registers it as a
  version of the ``self_rewarding`` registered model with its role as alias (``m1``,
  ``sft_baseline``, ...; ``registry.py``). Weights are DVC's to version; the registry
  points at the DVC-versioned directory, not a second copy of it.
- ``RunContextHooks`` tags the MLflow run with what it ran: ``namespaces`` and
  ``iteration`` (``iter2`` -> 2), ``pipeline``, and ``dvc_stage`` when DVC runs it; and
  logs typed parameters (dataclasses, which kedro-mlflow logs as one string) flattened:
  ``iteration.candidates.temperature``, ...; nests each iteration's step runs under one
  parent run per iteration (``iteration 1``, ...) and tags the experiment as model
  training, so that the MLflow UI opens on runs that compare iterations.
- ``ConfigCheckHooks`` checks every parameter block against its schema (core dataclasses)
  as the run starts, before any data or model loads, and the trainer blocks (TRL's
  configs) before a pipeline that trains runs; it sets the run-wide ``precision`` that
  the blocks' ``precision: auto`` follow.
- ``MemoryHooks`` measures the run's peak resident memory, with the processes it starts
  (``memory.py``), for its MLflow run and, under DVC, the stage's metrics file.
- ``GenerationEngineHooks`` stops the generation engines shared between nodes when the
  run ends or fails, so that no engine outlives its run.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from self_rewarding.datasets.metrics_dataset import GROUP_TAG

logger = logging.getLogger(__name__)


class ModelLineageHooks:
    def __init__(self):
        self._catalog = None

    @hook_impl
    def after_catalog_created(self, catalog) -> None:
        self._catalog = catalog

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node) -> None:
        from self_rewarding.datasets import ModelDirectoryDataset

        dataset = self._catalog.get(dataset_name) if self._catalog is not None else None
        if not isinstance(dataset, ModelDirectoryDataset):
            return
        import mlflow

        from self_rewarding.core.provenance import directory_sha256
        from self_rewarding.hardware import read_provenance
        from self_rewarding.registry import dvc_md5, register_model, role_alias, write_mlmodel

        # Before hashing: the MLmodel file is part of the versioned directory.
        write_mlmodel(dataset.path)
        run = mlflow.active_run()
        if run is None:
            return
        digest = directory_sha256(dataset.path)
        mlflow.set_tags(
            {
                f"model.{dataset_name}.path": str(dataset.path),
                f"model.{dataset_name}.sha256": digest,
            }
        )
        logger.info(
            "Linked %s (%s, sha256 %s) to the MLflow run", dataset_name, dataset.path, digest[:12]
        )
        provenance = read_provenance(dataset.path)
        register_model(
            dataset.path,
            role_alias(dataset_name),
            run.info.run_id,
            tags={
                "path": str(dataset.path),
                "sha256": digest,
                "dvc_md5": dvc_md5(dataset.path),
                "precision": str(provenance.get("precision", "unknown")),
                "dvc_stage": os.environ.get("DVC_STAGE", ""),
            },
        )


# The steps of an iteration that DVC runs as one stage, hence one MLflow run each
# (``iter1.generate``, ``iter1.pairs``, ...): node tag -> step run.
STEP_RUNS = {
    "self_instruct": "generate",
    "candidates": "generate",
    "judge": "generate",
    "pairs": "pairs",
    "pair_precision": "pair_precision",
    "dpo": "dpo",
}


def step_run_of(node) -> tuple[str, str] | None:
    """``(iter<t>, step run)`` of an iteration node; None for any other node."""
    namespace = node.namespace or ""
    if not re.fullmatch(r"iter\d+", namespace):
        return None
    step = next((STEP_RUNS[tag] for tag in sorted(node.tags) if tag in STEP_RUNS), None)
    return (namespace, step) if step else None


class RunContextHooks:
    """Tags each MLflow run with what it ran, logs typed parameters flattened, and nests
    the steps of iteration t under the parent run ``iteration t``.

    A ``kedro run`` that spans several step runs (``kedro run --pipeline=iteration``: every
    iteration, every step, one process) is split as DVC splits it: each step of each
    iteration gets its own run (``iter2.pairs``), so that no metric key or artifact of
    one iteration overwrites another's. kedro-mlflow follows: its hook is pointed at the
    run that is active, so the node parameters it logs land there too.
    """

    def __init__(self):
        self._tags: dict[str, str] | None = None
        self._split = False
        self._steps_only = False
        self._pipeline_run: str | None = None
        self._step_runs: dict[tuple[str, str], str] = {}
        self._current: tuple[str, str] | None = None

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline) -> None:
        namespaces = run_params.get("namespaces") or []
        tags = {
            "pipeline": str(run_params.get("pipeline_names") or run_params.get("pipeline_name")),
            "namespaces": ",".join(namespaces),
        }
        iterations = [m.group(1) for ns in namespaces if (m := re.fullmatch(r"iter(\d+)", ns))]
        if len(iterations) == 1:
            tags["iteration"] = iterations[0]
        if os.environ.get("DVC_STAGE"):
            tags["dvc_stage"] = os.environ["DVC_STAGE"]
        self._tags = tags
        steps = {step_run_of(node) for node in pipeline.nodes}
        self._split = len(steps - {None}) > 1
        self._steps_only = None not in steps
        self._pipeline_run, self._step_runs, self._current = None, {}, None

    @hook_impl(tryfirst=True)  # before kedro-mlflow's, which logs the node's parameters
    def before_node_run(self, node, inputs: dict[str, Any]) -> None:
        import mlflow

        # kedro-mlflow opens the run in its own before_pipeline_run.
        if mlflow.active_run() is None:
            return
        if self._split:
            self._enter_step_run(step_run_of(node))
        elif self._tags is not None:
            mlflow.set_tags(self._tags)
            _group_run(self._tags)
            self._tags = None
        flattened = {}
        for name, value in inputs.items():
            if name.startswith("params:") and dataclasses.is_dataclass(value):
                prefix = name.removeprefix("params:")
                flattened.update(_flatten(dataclasses.asdict(value), prefix))
        if flattened:
            mlflow.log_params(flattened)

    def _enter_step_run(self, step: tuple[str, str] | None) -> None:
        """Makes the run of ``step`` (None: the pipeline's own run) the active one."""
        import mlflow
        from kedro_mlflow.framework.hooks.mlflow_hook import mlflow_hook

        active = mlflow.active_run()
        if self._pipeline_run is None:
            self._pipeline_run = active.info.run_id
            if self._tags is not None and not self._steps_only:
                mlflow.set_tags(self._tags)
        if step == self._current and self._step_runs:
            return
        if step is None:
            target = self._pipeline_run
        elif step in self._step_runs:
            target = self._step_runs[step]
        elif self._steps_only and not self._step_runs:
            target = self._pipeline_run  # a run of steps only: the first step takes it
        else:
            target = None
        if target != active.info.run_id:
            # kedro-mlflow (tracking.run.nested) re-enters its run at every node: the
            # stack holds it once per node so far
            while mlflow.active_run() is not None:
                mlflow.end_run()
            started = mlflow.start_run(
                run_id=target,
                experiment_id=None if target else active.info.experiment_id,
            )
            target = started.info.run_id
        self._current = step
        mlflow_hook.run_id = target
        if step is None:
            return
        namespace, name = step
        self._step_runs[step] = target
        tags = {
            **(self._tags or {}),
            "namespaces": namespace,
            "iteration": namespace.removeprefix("iter"),
            "mlflow.runName": f"{namespace}.{name}",
        }
        mlflow.set_tags(tags)
        _group_run(tags)


# The MLflow UI opens an experiment of this kind on its runs (model training) view rather
# than its GenAI traces view.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def _group_run(tags: dict[str, str]) -> None:
    """Tags the experiment as model training, and nests the active run under its group's
    parent run (``iteration 1``: every step of iter1), made on first use, so that the runs
    view lists one row per iteration with its steps folded in, and charts compare
    iterations side by side (``MetricsDataset`` also logs each step's metrics to it)."""
    import mlflow

    run = mlflow.active_run()
    client = mlflow.MlflowClient()
    for key, value in EXPERIMENT_KIND.items():
        client.set_experiment_tag(run.info.experiment_id, key, value)
    group = run_group(tags)
    if group is None:
        return
    parents = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.`{GROUP_TAG}` = '{group}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if parents:
        parent_id = parents[0].info.run_id
    else:
        parent = client.create_run(run.info.experiment_id, run_name=group, tags={GROUP_TAG: group})
        client.set_terminated(parent.info.run_id)
        parent_id = parent.info.run_id
    mlflow.set_tag("mlflow.parentRunId", parent_id)


def run_group(tags: dict[str, str]) -> str | None:
    """The group a run belongs to: ``iteration <t>`` for the steps of one iteration;
    None for the rest (data, SFT, probes, the evaluation, which nests a run per model)."""
    return f"iteration {tags['iteration']}" if "iteration" in tags else None


def _flatten(value: Any, prefix: str) -> dict[str, str]:
    if isinstance(value, dict):
        return {
            k: v
            for key, item in value.items()
            for k, v in _flatten(item, f"{prefix}.{key}").items()
        }
    return {prefix: str(value)[:500]}


class ConfigCheckHooks:
    """Checks the parameters before any work: every block when the context is created,
    except the trainer blocks, which are checked before a pipeline that trains runs
    (their schema is TRL's, and importing TRL is too slow for every stage)."""

    def __init__(self):
        self._context = None

    def _check(self, parameters, **kwargs) -> None:
        from self_rewarding.config_check import check_parameters

        config_loader = self._context.config_loader
        check_parameters(
            parameters,
            config_loader.conf_source,
            self._context.env,
            config_loader.runtime_params,
            **kwargs,
        )

    @hook_impl
    def after_context_created(self, context) -> None:
        from self_rewarding.config_check import SCHEMAS, TRAINING_BLOCKS
        from self_rewarding.hardware import set_run_precision

        self._context = context
        if os.environ.get("DVC_STAGE"):
            from self_rewarding.loop_topology import check_dvc_yaml

            # A stage of a dvc.yaml written for another loop.iterations would run models
            # that the Kedro pipelines do not have, or miss ones they do.
            check_dvc_yaml(Path(context.project_path))
        # The raw parameters: Kedro's own typed-parameter validation (context.params) runs
        # later and names neither the file nor the key's full path.
        parameters = context.config_loader["parameters"]
        self._check(parameters, blocks=[n for n in SCHEMAS if n not in TRAINING_BLOCKS])
        set_run_precision(parameters.get("precision", "auto"))

    @hook_impl
    def before_pipeline_run(self, pipeline) -> None:
        from self_rewarding.config_check import TRAINING_BLOCKS

        inputs = pipeline.inputs()
        training = [name for name in TRAINING_BLOCKS if f"params:{name}" in inputs]
        if training and self._context is not None:
            parameters = self._context.config_loader["parameters"]
            self._check(parameters, blocks=training, run_wide=False)


class GenerationEngineHooks:
    """Stops the shared generation engine before training (its memory goes back) and
    when the run ends."""

    @hook_impl
    def before_node_run(self, node) -> None:
        if "training" in node.tags:
            from self_rewarding.generation import close_shared_generators

            close_shared_generators()

    @hook_impl
    def after_pipeline_run(self) -> None:
        from self_rewarding.generation import close_shared_generators

        close_shared_generators()

    @hook_impl
    def on_pipeline_error(self) -> None:
        from self_rewarding.generation import close_shared_generators

        close_shared_generators()


class MemoryHooks:
    """Samples the run's peak resident memory: logged to each step run of an iteration
    (``memory.peak_rss_gb``, ...) or to the stage's run, and, under DVC, written to the
    stage's metrics file (the peak over the whole run)."""

    def __init__(self):
        self._sampler = None
        self._run_id: str | None = None
        self._step: tuple[str, str] | None = None
        self._overall: dict[str, float] = {}
        self._project_path: Path | None = None

    @hook_impl
    def after_context_created(self, context) -> None:
        self._project_path = Path(context.project_path)

    @hook_impl
    def before_pipeline_run(self) -> None:
        from self_rewarding.memory import PeakMemorySampler

        self._run_id, self._step, self._overall = None, None, {}
        self._sampler = PeakMemorySampler().start()

    @hook_impl
    def before_node_run(self, node) -> None:
        import mlflow

        step = step_run_of(node)
        if step is not None and self._step not in (None, step) and self._sampler is not None:
            # RunContextHooks (first) has opened the next step's run: the last one's peak
            # goes to its own run, and sampling starts again.
            from self_rewarding.memory import PeakMemorySampler

            self._log(self._sampler.stop())
            self._sampler, self._run_id = PeakMemorySampler().start(), None
        self._step = step or self._step
        # The stage's own run; the evaluation nests runs per model beneath it later.
        if self._run_id is None and (run := mlflow.active_run()) is not None:
            self._run_id = run.info.run_id

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._finish(write_file=True)

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._finish(write_file=False)

    def _log(self, peaks: dict[str, float]) -> None:
        logger.info("Peak resident memory: %.2f GiB (%s)", peaks["peak_rss_gb"], peaks)
        self._overall = {k: max(v, self._overall.get(k, v)) for k, v in peaks.items()}
        if self._run_id is not None:
            import mlflow

            client = mlflow.MlflowClient()
            for name, value in peaks.items():
                # kedro-mlflow may have ended the run already: log to it by id.
                client.log_metric(self._run_id, f"memory.{name}", value)

    def _finish(self, *, write_file: bool) -> None:
        if self._sampler is None:
            return
        from self_rewarding.memory import stage_memory_file, write_stage_memory

        self._log(self._sampler.stop())
        self._sampler = None
        stage = os.environ.get("DVC_STAGE")
        if write_file and stage and self._project_path is not None:
            write_stage_memory(stage_memory_file(self._project_path, stage), self._overall)
