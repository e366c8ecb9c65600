"""One iteration's generation as DVC runs it now (one ``kedro run``, one engine, for
self-instruct, candidates and judge) against one ``kedro run`` per step (three processes,
three engines): wall time of each, and the ratio.

Both ways run on the same model and settings, each with an empty chunk folder of its own,
so nothing is read back from an earlier run. They write the iteration's outputs and
metrics (and MLflow runs named ``benchmark.*``); ``dvc checkout --force`` puts the outputs back,
and git the metrics (``cache: false``).

Usage (after ``make run``)::

    python benchmarks/stage_split.py --namespace iter1 --repeats 2
    dvc checkout --force && git checkout data/08_reporting/iter1
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time

STEPS = ("self_instruct", "candidates", "judge")


def _kedro_run(namespace: str, tags: str, chunk_dir: str, name: str) -> float:
    command = [
        "scripts/kedro-run",
        "run",
        "--pipelines=iteration",
        f"--namespaces={namespace}",
        f"--tags={tags}",
        f"--params=iteration.generation.chunk_dir={chunk_dir},mlflow_run_name={name}",
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def _per_step(namespace: str, chunk_dir: str) -> dict[str, float]:
    """One ``kedro run`` per step, in order."""
    return {
        step: _kedro_run(namespace, step, chunk_dir, f"benchmark.{namespace}.{step}")
        for step in STEPS
    }


def _together(namespace: str, chunk_dir: str) -> float:
    """One ``kedro run`` of the three steps, as the ``generate`` stage runs them."""
    return _kedro_run(namespace, ",".join(STEPS), chunk_dir, f"benchmark.{namespace}.generate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespace", default="iter1")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as split_dir, tempfile.TemporaryDirectory() as one_dir:
            # Alternate which goes first, so that warm file caches favour neither.
            if repeat % 2 == 0:
                per_step = _per_step(args.namespace, split_dir)
                together = _together(args.namespace, one_dir)
            else:
                together = _together(args.namespace, one_dir)
                per_step = _per_step(args.namespace, split_dir)
        split_total = sum(per_step.values())
        steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in per_step.items())
        print(  # noqa: T201
            f"repeat {repeat + 1}: one process per step: {split_total:.1f} s ({steps}); "
            f"one process, one engine: {together:.1f} s; "
            f"saved {split_total - together:.1f} s ({split_total / together:.2f}x)",
            flush=True,
        )


if __name__ == "__main__":
    main()
