# ruff: noqa: T201 (a script: it prints what it checked)
"""Opens the MLflow UI and kedro-viz of a finished run in headless Chromium, saves their
screenshots and checks what a user sees first:

- MLflow: the experiment is tagged as model training, and its runs view (the UI's
  model-training side) lists one parent run per iteration (``iteration 1``, ...) with
  the steps nested; the chart view of those parents shows the iterations side by side;
- kedro-viz: the pipeline graph with the iterations as namespaces (``iter1``, ...);
- great-expectations Data Docs of the iteration gates: the validations of every gate by
  iteration (``iter1``, ...), opened from ``data/08_reporting/data_docs``.

Usage (after ``make run`` or a test-environment ``dvc repro``; needs ``chromium``, e.g.
``apt-get install chromium``)::

    python scripts/ui_check.py --project . --out docs
    python scripts/ui_check.py --project . --out docs --checks data_docs
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

EXPERIMENT = "self_rewarding"
MLFLOW_RUNS_VIEW = "workflowType=machine_learning"


def _free_port(first: int = 4141) -> int:
    """A free local port from ``first`` up (kedro-viz refuses ports above 49151)."""
    for port in range(first, 49152):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free local port from {first} to 49151")


@contextlib.contextmanager
def _server(args: list[str], url: str, cwd: Path, timeout: float = 180.0):
    """Runs a server until the block ends; waits until ``url`` answers."""
    log = open(cwd / f".ui_check-{Path(args[0]).name}.log", "w")  # noqa: SIM115
    process = subprocess.Popen(args, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{' '.join(args)} exited with {process.returncode}; see {log.name}"
                )
            try:
                with urllib.request.urlopen(url, timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s") from None
                time.sleep(1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _browse(chromium: str, url: str, screenshot: Path, height: int = 1000) -> str:
    """Renders ``url`` (JavaScript given time to settle), saves a screenshot, and returns
    the rendered DOM's text."""
    common = [
        chromium,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size=1600,{height}",
        "--virtual-time-budget=20000",
    ]
    subprocess.run([*common, f"--screenshot={screenshot}", url], check=True, capture_output=True)
    dom = subprocess.run(
        [*common, "--dump-dom", url], check=True, capture_output=True, text=True
    ).stdout
    return dom


def _mlflow_server_command(uri: str, port: int) -> list[str]:
    return [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def check_mlflow(project: Path, out: Path, chromium: str) -> list[str]:
    import mlflow

    # A shared tracking server (scripts/mlflow-server) when MLFLOW_TRACKING_URI names one,
    # else the project's embedded store, served here for the browser.
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return [f"no experiment {EXPERIMENT!r} in {uri}"]
    problems = []
    if experiment.tags.get("mlflow.experimentKind") != "custom_model_development":
        problems.append("the experiment is not tagged as model training")
    groups = sorted(
        run.info.run_name
        for run in client.search_runs(
            [experiment.experiment_id], filter_string="tags.`self_rewarding.group` != ''"
        )
    )
    if not groups:
        problems.append("no iteration parent runs")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    if uri.startswith(("http://", "https://")):
        base, serving = uri.rstrip("/"), contextlib.nullcontext()
    else:
        serving = _server(_mlflow_server_command(uri, port), f"{base}/health", project)
    with serving:
        # The UI opens on its GenAI side until the user switches (kept in the browser's
        # local storage); the link that opens the model-training side is `MLFLOW_RUNS_VIEW`.
        page = f"{base}/#/experiments/{experiment.experiment_id}/runs?{MLFLOW_RUNS_VIEW}"
        runs_dom = _browse(chromium, page, out / "mlflow_runs.png")
        # The chart view of the iteration parents alone: their steps' metrics, side by side.
        parents = urllib.parse.quote("tags.`self_rewarding.group` != ''")
        _browse(
            chromium,
            f"{page}&compareRunsMode=CHART&searchFilter={parents}",
            out / "mlflow_charts.png",
        )
    for group in groups:
        if group not in runs_dom:
            problems.append(f"runs view does not list {group!r}")
    print(f"MLflow: experiment {experiment.experiment_id}, iteration runs {groups}")
    return problems


def check_kedro_viz(project: Path, out: Path, chromium: str, env: str) -> list[str]:
    port = _free_port()
    command = [
        str(Path(sys.executable).parent / "kedro"),
        "viz",
        "run",
        "--no-browser",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--env",
        env,
    ]
    url = f"http://127.0.0.1:{port}"
    with _server(command, f"{url}/api/main", project, timeout=300):
        dom = _browse(chromium, url, out / "kedro_viz.png")
    # kedro-viz prettifies names (iter1 -> Iter1).
    problems = [
        f"kedro-viz graph has no {ns!r}" for ns in ("iter1", "iter2") if ns not in dom.lower()
    ]
    print(f"kedro-viz: {len(dom)} characters of rendered page")
    return problems


def check_data_docs(project: Path, out: Path, chromium: str) -> list[str]:
    """The gates' Data Docs: the front page lists every gate's validations, and the
    newest validation of the judgments gate shows its expectations and run name. Data
    Docs load their styles from CDNs: offline, the pages render unstyled."""
    site = project / "data/08_reporting/data_docs/gx/uncommitted/data_docs/local_site"
    if not (site / "index.html").is_file():
        return [f"no Data Docs at {site.relative_to(project)}: run an iteration first"]
    dom = _browse(chromium, (site / "index.html").as_uri(), out / "data_docs.png")
    wanted = ("generated_prompts", "judgments", "preference_pairs", "iter1")
    problems = [f"Data Docs front page has no {name!r}" for name in wanted if name not in dom]
    pages = sorted(site.glob("validations/judgments/iter*/*/*.html"))
    if not pages:
        return [*problems, "Data Docs hold no validation of the judgments gate"]
    newest = pages[-1]
    page = _browse(chromium, newest.as_uri(), out / "data_docs_validation.png", height=2400)
    problems += [
        f"{newest.name} has no {name!r}"
        for name in ("Expectation Validation Result", newest.parts[-3], "score")
        if name not in page
    ]
    print(f"Data Docs: {len(dom)} characters of front page; {newest.relative_to(site)}")
    return problems


CHECKS = ("mlflow", "kedro_viz", "data_docs")
SCREENSHOTS = {
    "mlflow": ("mlflow_runs.png", "mlflow_charts.png"),
    "kedro_viz": ("kedro_viz.png",),
    "data_docs": ("data_docs.png", "data_docs_validation.png"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path("."))
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--env", default=os.environ.get("KEDRO_ENV", "local"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--checks", nargs="+", choices=CHECKS, default=list(CHECKS))
    args = parser.parse_args()
    project = args.project.resolve()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    problems = []
    if "mlflow" in args.checks:
        problems += check_mlflow(project, out, args.chromium)
    if "kedro_viz" in args.checks:
        problems += check_kedro_viz(project, out, args.chromium, args.env)
    if "data_docs" in args.checks:
        problems += check_data_docs(project, out, args.chromium)
    for check in args.checks:
        for name in SCREENSHOTS[check]:
            print(f"saved {args.out / name}")
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
