"""Peak resident memory: the sampler sees the processes a run starts, the hook writes the
stage's metrics file and logs to the stage's MLflow run, and every DVC stage declares the
file the hook writes for it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from self_rewarding.hooks import MemoryHooks
from self_rewarding.memory import GIB, PeakMemorySampler, stage_memory_file

PROJECT = Path(__file__).resolve().parents[1]

ALLOCATE = "import time; block = bytearray({mib} * 2**20); time.sleep({seconds})"


def test_the_sampler_counts_a_child_process_resident_memory():
    sampler = PeakMemorySampler(interval_s=0.05).start()
    baseline, baseline_pss = sampler.peak_tree_bytes, sampler.peak_tree_pss_bytes
    # bytearray zero-fills its block, so all of it is resident while the child sleeps.
    subprocess.run([sys.executable, "-c", ALLOCATE.format(mib=400, seconds=1.0)], check=True)
    peaks = sampler.stop()
    assert peaks["peak_rss_tree_sampled_gb"] * GIB - baseline >= 350 * 2**20
    # The child's block is its own: PSS counts all of it too, and never more than RSS.
    assert peaks["peak_pss_tree_sampled_gb"] * GIB - baseline_pss >= 350 * 2**20
    assert peaks["peak_pss_tree_sampled_gb"] <= peaks["peak_rss_tree_sampled_gb"]
    # getrusage saw the same child once it was reaped.
    assert peaks["peak_rss_largest_child_gb"] >= 0.35
    assert peaks["peak_rss_gb"] == max(
        peaks["peak_rss_tree_sampled_gb"], peaks["peak_rss_process_gb"]
    )


def test_a_stage_name_maps_to_its_file():
    assert stage_memory_file(Path("/p"), "generate@iter1") == Path(
        "/p/data/08_reporting/memory/generate_iter1.json"
    )
    assert stage_memory_file(Path("/p"), "sft_m1") == Path(
        "/p/data/08_reporting/memory/sft_m1.json"
    )


def test_every_dvc_stage_declares_the_memory_file_the_hook_writes():
    stages = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        items = stage.get("foreach")
        body = stage.get("do", stage)
        declared = {next(iter(entry)) for entry in body.get("metrics", [])}
        for key in list(items) if items else [None]:
            dvc_stage = name if key is None else f"{name}@{key}"
            expected = stage_memory_file(Path("."), dvc_stage).as_posix()
            found = {
                path.replace("${item}", str(key)).replace("${key}", str(key)) for path in declared
            }
            assert expected in found, f"{dvc_stage}: no metrics entry {expected}"


def _hooks_through_a_run(project_path, experiment_id, monkeypatch, dvc_stage):
    """MemoryHooks of a DVC stage's run, up to and including its first node."""
    import mlflow

    class Context:
        pass

    Context.project_path = project_path
    monkeypatch.setenv("DVC_STAGE", dvc_stage)
    hooks = MemoryHooks()
    hooks.after_context_created(Context())
    hooks.before_pipeline_run()
    with mlflow.start_run(experiment_id=experiment_id) as run:
        hooks.before_node_run(SimpleNamespace(namespace=None, tags=set()))
    return hooks, run


def test_the_hook_writes_the_stage_file_and_logs_to_the_stage_run(
    mlflow_store, tmp_path, monkeypatch
):
    import mlflow

    hooks, run = _hooks_through_a_run(tmp_path, mlflow_store[1], monkeypatch, "dpo@iter2")
    # After the run ended, as kedro-mlflow ends it before the other hooks' turn.
    hooks.after_pipeline_run()
    written = json.loads((tmp_path / "data/08_reporting/memory/dpo_iter2.json").read_text())
    assert written["peak_rss_gb"] > 0.05
    logged = mlflow.MlflowClient().get_run(run.info.run_id).data.metrics
    assert logged["memory.peak_rss_gb"] == written["peak_rss_gb"]


def test_each_step_of_a_several_step_run_gets_its_own_peak(mlflow_store, tmp_path, monkeypatch):
    import mlflow

    class Context:
        project_path = tmp_path

    monkeypatch.setenv("DVC_STAGE", "iteration")
    hooks = MemoryHooks()
    hooks.after_context_created(Context())
    hooks.before_pipeline_run()
    runs = []
    for step in ("pairs", "dpo"):  # RunContextHooks opens each step's run first
        with mlflow.start_run(experiment_id=mlflow_store[1], run_name=f"iter1.{step}") as run:
            hooks.before_node_run(SimpleNamespace(namespace="iter1", tags={step}))
            runs.append(run.info.run_id)
            if step == "dpo":  # a child holds 300 MB for a few of the sampler's intervals
                subprocess.run(
                    [sys.executable, "-c", "import time; b = b'1' * 300 * 2**20; time.sleep(1.5)"],
                    check=True,
                )
    hooks.after_pipeline_run()

    client = mlflow.MlflowClient()
    logged = [client.get_run(r).data.metrics for r in runs]
    pairs, dpo = (m["memory.peak_rss_tree_sampled_gb"] for m in logged)
    assert dpo > pairs + 0.2
    written = json.loads((tmp_path / "data/08_reporting/memory/iteration.json").read_text())
    assert written["peak_rss_tree_sampled_gb"] == dpo
    assert written["peak_rss_gb"] == max(m["memory.peak_rss_gb"] for m in logged)


def test_a_failed_run_logs_its_peak_but_writes_no_stage_file(mlflow_store, tmp_path, monkeypatch):
    import mlflow

    hooks, run = _hooks_through_a_run(tmp_path, mlflow_store[1], monkeypatch, "sft_m1")
    hooks.on_pipeline_error()
    assert not (tmp_path / "data/08_reporting/memory").exists()
    assert "memory.peak_rss_gb" in mlflow.MlflowClient().get_run(run.info.run_id).data.metrics


def test_stage_wall_times_run_from_each_stages_first_log_line_to_the_next():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "memory_benchmark", Path(__file__).resolve().parents[1] / "benchmarks/memory.py"
    )
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    log = "\n".join(
        [
            "Running stage 'data_processing':",
            "> scripts/kedro-run run --pipelines=data_processing",
            "2026-12-04 18:00:05,120 INFO kedro.framework.session: starting",
            "2026-12-04 18:00:30,000 INFO kedro.runner: done",
            "Stage 'base_model' didn't change, skipping",
            "Running stage 'generate@iter1':",
            "progress bar without a time",
            "2026-12-04 18:01:05,999 INFO kedro.framework.session: starting",
            "2026-12-04 18:03:10,000 INFO kedro.runner: done",
        ]
    )
    assert benchmark.stage_wall_times(log) == {"data_processing": 60.0, "generate_iter1": 125.0}


def test_release_free_heap_hands_freed_heap_pages_back():
    # In a fresh interpreter: 128 MiB in 64 KiB blocks (below glibc's mmap threshold, so
    # on the heap), all freed but the last, which keeps the heap from shrinking by itself.
    script = """
import json, platform, psutil
from self_rewarding.memory import release_free_heap
if platform.libc_ver()[0] != "glibc":
    print(json.dumps(None)); raise SystemExit
rss = lambda: psutil.Process().memory_info().rss
blocks = [bytearray(64 * 1024) for _ in range(2048)]
pinned = blocks[-1]
del blocks
held = rss()
released = release_free_heap()
print(json.dumps({"held": held, "after": rss(), "released": released}))
"""
    result = json.loads(
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout
    )
    if result is None:
        pytest.skip("not glibc: no malloc_trim")
    assert result["released"] is True
    assert result["held"] - result["after"] > 64 * 1024**2
