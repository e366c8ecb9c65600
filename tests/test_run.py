"""End to end on the test environment: a real DVC repro of every stage (real Kedro runs,
real TRL training of the tiny model, real vLLM generation, real MLflow sqlite store, real
GX suites) in a fresh git clone of the project: M0 -> M1 -> M2 -> M3; then what DVC
re-runs when the environment or an evaluation module changes, a DVC experiment that
changes one sampling parameter, and bad seed data stopping a run before training.

Marked ``slow`` (several minutes on two cores); run with ``pytest -m slow``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT_ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _run(args, cwd, check=True, **env):
    # No MLflow setting of this test process (an earlier test's store) reaches the project's runs.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    environment = {
        **inherited,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "KEDRO_ENV": "test",
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    result = subprocess.run(
        args, cwd=cwd, env=environment, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{args} failed ({result.returncode}):\n{result.stdout[-4000:]}\n"
            f"{result.stderr[-4000:]}"
        )
    return result


def _set_kedro_env(root: Path, env: str) -> None:
    """Chooses the Kedro environment of every DVC stage, as `dvc exp run -S` would."""
    params = root / "params.yaml"
    text = re.sub(r"(?m)^kedro_env: .*$", f"kedro_env: {env}", params.read_text())
    params.write_text(text)


def _changed_stages(root: Path) -> set[str]:
    """The stages `dvc repro` would run now."""
    return set(json.loads(_run(["dvc", "status", "--json"], root).stdout))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A fresh copy of the committed and working-tree project files in its own git
    repository (no data outputs, no MLflow store, no virtual environment)."""
    root = tmp_path_factory.mktemp("clone") / "self-rewarding"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        source = PROJECT_ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    for name in ("dvc.lock",):
        (root / name).unlink(missing_ok=True)
    _set_kedro_env(root, "test")
    _run(["git", "init", "-q"], root)
    _run(["git", "add", "-A"], root)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], root)
    return root


REPRO_LOG = "repro.log"


@pytest.fixture(scope="module")
def reproduced(project) -> Path:
    result = _run(["dvc", "repro"], project)
    # Beside the project, not in it: what each stage printed, for the tests below.
    (project.parent / REPRO_LOG).write_text(result.stdout + result.stderr, encoding="utf-8")
    return project


def _stage_logs(reproduced: Path) -> dict[str, str]:
    """What each stage of the first `dvc repro` printed, by stage name."""
    log = (reproduced.parent / REPRO_LOG).read_text(encoding="utf-8")
    parts = re.split(r"Running stage '([^']+)'", log)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_dvc_repro_produces_a_loadable_m1(reproduced):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = reproduced / "data/06_models/M1"
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 128
    assert tokenizer.chat_template is not None
    lock = (reproduced / "dvc.lock").read_text()
    for out in ("data/06_models/M0", "data/06_models/sft_baseline", "data/06_models/M1"):
        assert out in lock
    for model in ("M0", "M1", "M2", "M3"):
        probe = json.loads((reproduced / f"data/08_reporting/{model}/judge_probe.json").read_text())
        assert probe["n_answers"] == 6


def test_mlflow_store_holds_sft_curves_and_model_links(reproduced):
    connection = sqlite3.connect(reproduced / "mlflow.db")
    runs = dict(
        connection.execute(
            "select r.run_uuid, t.value from runs r join tags t on r.run_uuid = t.run_uuid "
            "where t.key = 'mlflow.runName'"
        ).fetchall()
    )
    by_name = {name: run for run, name in runs.items()}
    expected = {"data_processing", "base_model", "sft_baseline", "sft_m1"}
    assert expected | {f"judge_probe_M{t}" for t in range(4)} <= set(by_name)
    metrics = {
        key
        for (key,) in connection.execute(
            "select key from metrics where run_uuid = ?", (by_name["sft_m1"],)
        )
    }
    assert {"sft_m1.loss", "sft_m1.learning_rate", "train.train_loss"} <= metrics
    probe_metrics = {
        key
        for (key,) in connection.execute(
            "select key from metrics where run_uuid = ?", (by_name["judge_probe_M1"],)
        )
    }
    assert {"judge_probe.parse_rate", "judge_probe.tokens_per_second"} <= probe_metrics
    tags = dict(
        connection.execute(
            "select key, value from tags where run_uuid = ?", (by_name["sft_m1"],)
        ).fetchall()
    )
    assert len(tags["model.model_M1.sha256"]) == 64
    seed_metrics = {
        key
        for (key,) in connection.execute(
            "select key from metrics where run_uuid = ?", (by_name["data_processing"],)
        )
    }
    assert "seed_data.eft_examples" in seed_metrics


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_loop_reaches_m3_and_dvc_locks_every_aift_dataset(reproduced):
    from transformers import AutoModelForCausalLM

    lock = yaml.safe_load((reproduced / "dvc.lock").read_text())["stages"]

    def locked(stage: str, path: str) -> str:
        (out,) = [o for o in lock[stage]["outs"] if o["path"] == path]
        return out["md5"]

    for t, (model_out) in ((1, "M2"), (2, "M3")):
        assert re.fullmatch(
            r"[0-9a-f]{32}",
            locked(f"pairs@iter{t}", f"data/05_model_input/iter{t}/preference_pairs.jsonl"),
        )
        assert locked(f"dpo@iter{t}", f"data/06_models/{model_out}").endswith(".dir")
        prompts = _read_jsonl(reproduced / f"data/03_primary/iter{t}/generated_prompts.jsonl")
        assert any(row["accepted"] for row in prompts)
        assert _read_jsonl(reproduced / f"data/07_model_output/iter{t}/candidates.jsonl")
        judgments = _read_jsonl(reproduced / f"data/07_model_output/iter{t}/judgments.jsonl")
        assert all(row["constrained"] for row in judgments)
        pairs = _read_jsonl(reproduced / f"data/05_model_input/iter{t}/preference_pairs.jsonl")
        assert pairs
        for pair in pairs:
            assert {"prompt", "chosen", "rejected", "chosen_score", "rejected_score"} <= set(pair)
            assert pair["chosen_score"] > pair["rejected_score"]
            assert pair["iteration"] == t
    m2 = AutoModelForCausalLM.from_pretrained(reproduced / "data/06_models/M2")
    m3 = AutoModelForCausalLM.from_pretrained(reproduced / "data/06_models/M3")
    assert any(not a.equal(b) for a, b in zip(m2.parameters(), m3.parameters(), strict=True))


def test_the_second_iterations_judgments_are_checked_for_drift_from_the_first(reproduced):
    kl = "expect_column_kl_divergence_to_be_less_than"
    validation = reproduced / "data/08_reporting"
    reports = {
        t: json.loads((validation / f"iter{t}/validation/judgments.json").read_text())
        for t in (1, 2)
    }
    assert kl not in {r["expectation_config"]["type"] for r in reports[1]["results"]}
    assert any("no previous iteration" in reason for reason in reports[1]["not_applicable"])
    (drift,) = [r for r in reports[2]["results"] if r["expectation_config"]["type"] == kl]
    assert drift["result"]["observed_value"] >= 0
    assert drift["expectation_config"]["kwargs"]["threshold"] == 100.0


def test_the_meta_judge_compares_the_tiny_judgments_and_feeds_dpo(reproduced):
    for t in (1, 2):
        reports = reproduced / f"data/08_reporting/iter{t}"
        meta = json.loads((reports / "meta_judge.json").read_text())
        dpo = json.loads((reports / "dpo.json").read_text())
        rows = _read_jsonl(reproduced / f"data/07_model_output/iter{t}/meta_judgments.jsonl")
        assert meta["pool"] == 4 and len(rows) == meta["compared"] <= 2
        # Constrained like the judge, every verdict is readable.
        assert meta["unparseable_verdicts"] == 0
        assert meta["consistent"] + meta["order_flipped"] == meta["compared"]
        # At a 50 % share, as many judge pairs as answer pairs fit.
        assert dpo["judge_pairs"] == min(meta["consistent"], dpo["answer_pairs"])


def test_the_registry_holds_every_model_by_role_with_its_dvc_hash(reproduced):
    import mlflow

    uri = f"sqlite:///{reproduced / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    lock = yaml.safe_load((reproduced / "dvc.lock").read_text())["stages"]
    made_by = {
        "m0": ("base_model", "M0"),
        "sft_baseline": ("sft_baseline", "sft_baseline"),
        "m1": ("sft_m1", "M1"),
        "m2": ("dpo@iter1", "M2"),
        "m3": ("dpo@iter2", "M3"),
    }
    for alias, (stage, folder) in made_by.items():
        version = client.get_model_version_by_alias("self_rewarding", alias)
        (out,) = [o for o in lock[stage]["outs"] if o["path"] == f"data/06_models/{folder}"]
        assert version.tags["dvc_md5"] == out["md5"]
        assert version.tags["dvc_stage"] == stage
        assert version.tags["precision"] in {"bf16", "fp32"}
        assert version.source == (reproduced / "data/06_models" / folder).resolve().as_uri()
        assert client.get_run(version.run_id).data.tags["dvc_stage"] == stage
    newest = client.get_model_version_by_alias("self_rewarding", "newest")
    assert newest.tags["role"] == "m3"


def test_every_iteration_step_is_an_mlflow_run_with_the_same_metric_keys(reproduced):
    connection = sqlite3.connect(reproduced / "mlflow.db")

    def run_of(name: str) -> str:
        ((run,),) = connection.execute(
            "select run_uuid from tags where key = 'mlflow.runName' and value = ?", (name,)
        ).fetchall()
        return run

    def keys(run: str) -> set[str]:
        return {
            k for (k,) in connection.execute("select key from metrics where run_uuid = ?", (run,))
        }

    def tags(run: str) -> dict[str, str]:
        return dict(connection.execute("select key, value from tags where run_uuid = ?", (run,)))

    for step in ("generate", "pairs", "pair_precision", "dpo"):
        first, second = run_of(f"iter1.{step}"), run_of(f"iter2.{step}")
        assert keys(first) == keys(second)
        assert tags(first)["iteration"] == "1" and tags(second)["iteration"] == "2"
        assert tags(second)["dvc_stage"] == f"{step}@iter2"
        # Nested in the UI: one parent run per iteration.
        assert tags(tags(first)["mlflow.parentRunId"])["mlflow.runName"] == "iteration 1"
        assert tags(tags(second)["mlflow.parentRunId"])["mlflow.runName"] == "iteration 2"
    generate_keys = keys(run_of("iter1.generate"))
    assert {"judge.parse_rate", "judge.score_std", "judge.score_share_5"} <= generate_keys
    assert {"judge.tokens_per_second", "judge.prompts_per_second"} <= generate_keys
    assert {"self_instruct.accepted", "candidates.tokens_per_second"} <= generate_keys
    precision_keys = keys(run_of("iter1.pair_precision"))
    assert {"pair_precision.precision", "pair_precision.position_consistency"} <= precision_keys
    assert {"pairs.pairs", "pairs.tie_rate", "pairs.score_length_correlation"} <= keys(
        run_of("iter1.pairs")
    )
    assert {"dpo.loss", "dpo.rewards/margins", "dpo.rewards_accuracies"} <= keys(
        run_of("iter2.dpo")
    )
    assert len(tags(run_of("iter2.dpo"))["model.model_M3.sha256"]) == 64
    dpo_run = run_of("iter2.dpo")
    params = dict(
        connection.execute("select key, value from params where run_uuid = ?", (dpo_run,))
    )
    # The parameter as configured, and what it resolved to on this machine.
    assert params["dpo.precision"] == "auto"
    provenance = json.loads(
        (reproduced / "data/06_models/M3/self_rewarding_provenance.json").read_text()
    )
    assert params["dpo.resolved_precision"] == provenance["precision"]
    assert provenance["precision"] in {"bf16", "fp32"}
    assert params["hardware.cpu_capability"] == provenance["hardware_cpu_capability"]


def test_the_design_cards_command_nests_each_iteration_under_its_own_parent(reproduced, tmp_path):
    """``kedro run --pipeline=iteration`` exactly as the design card writes it (the
    singular spelling, no namespace): every iteration in one process, each step of each
    iteration its own MLflow run under ``iteration t``, no key or artifact shared."""
    from mlflow.tracking import MlflowClient

    card = tmp_path / "card"
    shutil.copytree(
        reproduced, card, ignore=shutil.ignore_patterns("mlflow.db", "mlruns", "mlartifacts")
    )
    _run(["kedro", "run", "--pipeline=iteration"], card)

    client = MlflowClient(f"sqlite:///{card / 'mlflow.db'}")
    runs = {
        run.info.run_name: run
        for experiment in client.search_experiments()
        for run in client.search_runs([experiment.experiment_id])
    }
    steps = ("generate", "pairs", "pair_precision", "dpo")
    expected = {f"iter{t}.{step}" for t in (1, 2) for step in steps}
    assert set(runs) == expected | {"iteration 1", "iteration 2"}, sorted(runs)
    for t in (1, 2):
        parent = runs[f"iteration {t}"]
        for step in steps:
            run = runs[f"iter{t}.{step}"]
            assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
            assert run.data.tags["iteration"] == str(t)
            assert run.data.tags["namespaces"] == f"iter{t}"
            assert run.info.status == "FINISHED"
    # The same key in each iteration's own run, each with that iteration's value.
    for key, step in (("judge.parse_rate", "generate"), ("pairs.pairs", "pairs")):
        for t in (1, 2):
            written = json.loads(
                (
                    card / f"data/08_reporting/iter{t}/{step.replace('generate', 'judge')}.json"
                ).read_text()
            )
            metric = key.split(".", 1)[1]
            assert runs[f"iter{t}.{step}"].data.metrics[key] == pytest.approx(written[metric])
    assert "judge.parse_rate" not in runs["iter1.pairs"].data.metrics
    # Each iteration's validation reports and sample pairs stay in its own runs.
    for t in (1, 2):
        generate = {a.path for a in client.list_artifacts(runs[f"iter{t}.generate"].info.run_id)}
        assert "validation" in generate
        validation = {
            a.path
            for a in client.list_artifacts(runs[f"iter{t}.generate"].info.run_id, "validation")
        }
        assert "validation/judgments.json" in validation
        # The gates' Data Docs, with this iteration's validations in them.
        assert "data_docs" in generate
        pairs = {a.path for a in client.list_artifacts(runs[f"iter{t}.pairs"].info.run_id)}
        assert {"validation", "samples"} <= pairs
    # Each model is linked to the step run that trained it.
    assert len(runs["iter1.dpo"].data.tags["model.model_M2.sha256"]) == 64
    assert len(runs["iter2.dpo"].data.tags["model.model_M3.sha256"]) == 64
    assert "model.model_M3.sha256" not in runs["iter1.dpo"].data.tags


EVALUATED = ("M0", "sft_baseline", "M1", "M2", "M3")


def test_each_iteration_and_each_evaluated_model_starts_one_engine(reproduced):
    logs = _stage_logs(reproduced)
    stages = [*(f"generate@iter{t}" for t in (1, 2)), *(f"evaluate_model@{m}" for m in EVALUATED)]
    for stage in stages:
        assert logs[stage].count("Generating with ") == 1, stage
    # Self-instruct, candidates and judge of one iteration, on that engine.
    for node in ("generate_prompts_node", "generate_candidates_node", "judge_candidates_node"):
        assert f"Running node: {node}" in logs["generate@iter1"]


def test_evaluation_writes_metrics_and_per_reply_scores_for_every_model(reproduced):
    for model in EVALUATED:
        folder = reproduced / "data/08_reporting" / model
        metrics = json.loads((folder / "judge_evaluation.json").read_text())
        assert metrics["judge_alignment.replies"] > 0
        scores = _read_jsonl(folder / "judge_alignment_scores.jsonl")
        assert {"prompt_id", "response_id", "human_rank", "score"} <= set(scores[0])
        assert any(row["score"] is not None for row in scores)  # constrained in the test env
        # An independent implementation (pandas + scipy) gives the same Table-4 numbers.
        _run([sys.executable, "scripts/recompute_table4.py", str(folder)], reproduced)
        answers = _read_jsonl(reproduced / "data/07_model_output" / model / "eval_answers.jsonl")
        assert {row["benchmark"] for row in answers} == {"alpaca_eval", "mt_bench"}
        # MT-Bench in two turns: every question's second turn is answered
        mt_bench = [row for row in answers if row["benchmark"] == "mt_bench"]
        assert all(isinstance(row["answer_turn2"], str) for row in mt_bench)
        # IFEval, checked by code: the test profile's 4 prompts, every instruction checked.
        ifeval = json.loads((folder / "ifeval.json").read_text())
        responses = _read_jsonl(
            reproduced / "data/07_model_output" / model / "ifeval_responses.jsonl"
        )
        assert ifeval["ifeval.prompts"] == len(responses) == 4
        assert ifeval["ifeval.instructions"] == sum(len(r["strict"]) for r in responses)
        assert 0 <= ifeval["ifeval.prompt_loose"] <= 1
        # The scores' great-expectations validation: contract checks and health warnings.
        validation = json.loads((folder / "validation/judge_alignment_scores.json").read_text())
        severities = {
            r["expectation_config"]["type"]: r["expectation_config"]["severity"]
            for r in validation["results"]
        }
        assert severities["expect_compound_columns_to_be_unique"] == "critical"
        assert severities["expect_column_stdev_to_be_between"] == "warning"
    docs = reproduced / "data/08_reporting/data_docs/gx/uncommitted/data_docs/local_site"
    assert "judge_alignment_scores" in (docs / "index.html").read_text()
    table = (reproduced / "data/08_reporting/evaluation_table.md").read_text()
    assert "IFEval, checked by code" in table and "| M3 - M1 |" in table
    summary = json.loads((reproduced / "data/08_reporting/evaluation_summary.json").read_text())
    assert all("ifeval.prompt_loose" in row for row in summary)
    for t in (1, 2):
        precision = json.loads(
            (reproduced / f"data/08_reporting/iter{t}/pair_precision.json").read_text()
        )
        verdicts = _read_jsonl(reproduced / f"data/07_model_output/iter{t}/pair_verdicts.jsonl")
        assert precision["pairs"] == len(verdicts) > 0
        assert {row["outcome"] for row in verdicts} <= {"win", "tie", "loss"}
    following = json.loads(
        (reproduced / "data/08_reporting/instruction_following.json").read_text()
    )
    assert "M3.vs_M2.win_rate" in following and "M2.mt_bench.score" in following
    assert {"M2.mt_bench.score_turn2", "M3.vs_M2.mt_bench_turn2.wins"} <= set(following)
    assert (reproduced / "data/08_reporting/evaluation_table.md").read_text().count("| M") >= 5
    assert (reproduced / "data/08_reporting/plots/by_model.png").stat().st_size > 1000
    shown = _run(["dvc", "metrics", "show", "--json"], reproduced)
    assert "instruction_following.json" in shown.stdout
    plots = _run(["dvc", "plots", "show", "--json"], reproduced)
    assert "judge_by_model" in plots.stdout


def test_each_model_has_an_evaluation_run_with_the_same_keys(reproduced):
    connection = sqlite3.connect(reproduced / "mlflow.db")
    runs = dict(
        connection.execute(
            "select t.value, r.run_uuid from runs r join tags t on r.run_uuid = t.run_uuid "
            "where t.key = 'mlflow.runName' and t.value like 'evaluation.%'"
        ).fetchall()
    )
    assert set(runs) == {f"evaluation.{m}" for m in EVALUATED}
    keys = {
        name: {
            k for (k,) in connection.execute("select key from metrics where run_uuid = ?", (run,))
        }
        for name, run in runs.items()
    }
    assert keys["evaluation.M2"] == keys["evaluation.M3"]
    assert "judge_alignment.pairwise_accuracy" in keys["evaluation.M0"]
    assert "vs_gpt4_1106_preview.win_rate" in keys["evaluation.M2"]


def test_second_repro_has_nothing_to_do(reproduced):
    status = _run(["dvc", "status"], reproduced)
    assert "up to date" in status.stdout
    again = _run(["dvc", "repro"], reproduced)
    assert "Running stage" not in again.stdout


def test_every_stage_records_its_peak_memory_in_its_metrics_file_and_run(reproduced):
    lock = yaml.safe_load((reproduced / "dvc.lock").read_text())["stages"]
    connection = sqlite3.connect(reproduced / "mlflow.db")
    for stage in lock:
        path = reproduced / "data/08_reporting/memory" / f"{stage.replace('@', '_')}.json"
        peaks = json.loads(path.read_text())
        assert 0.1 < peaks["peak_rss_gb"] < 16, (stage, peaks)
    (logged,) = connection.execute(
        "select m.value from metrics m join tags t on m.run_uuid = t.run_uuid "
        "where t.key = 'mlflow.runName' and t.value = 'sft_m1' and m.key = 'memory.peak_rss_gb'"
    ).fetchone()
    assert (
        logged
        == json.loads((reproduced / "data/08_reporting/memory/sft_m1.json").read_text())[
            "peak_rss_gb"
        ]
    )


def test_dvc_push_then_pull_restores_every_model_and_aift_dataset_in_a_fresh_clone(
    reproduced, tmp_path
):
    remote = tmp_path / "remote"
    # The project's default remote `storage`, pointed at a folder of this test's, for
    # this clone only (.dvc/config.local), as a user points it at a shared one.
    _run(["dvc", "remote", "modify", "--local", "storage", "url", str(remote)], reproduced)
    _run(["dvc", "push"], reproduced)
    _run(["git", "add", "-A"], reproduced)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "run"], reproduced)

    clone = tmp_path / "clone"
    _run(["git", "clone", "-q", str(reproduced), str(clone)], tmp_path)
    _run(["dvc", "remote", "modify", "--local", "storage", "url", str(remote)], clone)
    _run(["dvc", "pull"], clone)

    restored = [
        *(f"data/06_models/{model}/model.safetensors" for model in ("M1", "M2", "M3")),
        *(f"data/05_model_input/iter{t}/preference_pairs.jsonl" for t in (1, 2)),
        *(f"data/07_model_output/iter{t}/judgments.jsonl" for t in (1, 2)),
        *(f"data/03_primary/iter{t}/generated_prompts.jsonl" for t in (1, 2)),
    ]
    for path in restored:
        assert (clone / path).read_bytes() == (reproduced / path).read_bytes(), path
    # Everything is in place: nothing to re-run.
    assert _changed_stages(clone) == set()
    assert "Running stage" not in _run(["dvc", "repro", "--dry"], clone).stdout


EVALUATION_STAGES = {
    *(f"evaluate_model@{m}" for m in EVALUATED),
    "evaluate_instruction_following",
    "evaluation_report",
}


def test_another_environment_reruns_every_stage_instead_of_reusing_outputs(reproduced):
    stages = _changed_stages(reproduced)
    assert stages == set()
    _set_kedro_env(reproduced, "local")
    try:
        changed = _changed_stages(reproduced)
        # A KEDRO_ENV that disagrees with the tracked one stops the stage, naming both.
        mismatch = _run(["scripts/kedro-run", "run"], reproduced, check=False, KEDRO_ENV="test")
    finally:
        _set_kedro_env(reproduced, "test")
    lock = yaml.safe_load((reproduced / "dvc.lock").read_text())["stages"]
    assert changed == set(lock)  # every stage, none "up to date"
    assert mismatch.returncode == 2
    assert "KEDRO_ENV=test, but params.yaml says kedro_env: local" in mismatch.stderr
    assert "dvc exp run -S kedro_env=test" in mismatch.stderr
    assert _changed_stages(reproduced) == set()


def test_engine_placement_reruns_nothing_and_length_control_only_pairs_onwards(reproduced):
    params = reproduced / "conf/base/parameters_iteration.yml"
    original = params.read_text()
    params.write_text(original.replace("    replicas: 1\n", "    replicas: 2\n", 1))
    try:
        placement = _changed_stages(reproduced)
        params.write_text(
            original.replace(
                "\nlength_control_rho: 0.0\n", "\nlength_control_rho: {default: 0.0, iter2: 0.2}\n"
            )
        )
        rho = _changed_stages(reproduced)
    finally:
        params.write_text(original)
    assert placement == set()
    # Only the pairs steps (seconds each) track rho; pairs@iter1 makes the same pairs
    # again, so nothing after it re-runs.
    assert rho == {"pairs@iter1", "pairs@iter2"}


def test_editing_an_evaluation_module_reruns_only_the_measurements(reproduced):
    metrics = reproduced / "src/self_rewarding/core/metrics.py"
    original = metrics.read_text()
    metrics.write_text(original + "\n# an edit\n")
    try:
        changed = _changed_stages(reproduced)
    finally:
        metrics.write_text(original)
    # The evaluation, and the pairs' precision (a measurement, with the same statistics).
    assert changed == EVALUATION_STAGES | {"pair_precision@iter1", "pair_precision@iter2"}
    assert _changed_stages(reproduced) == set()


def test_a_third_iteration_makes_m4_and_going_back_reruns_nothing(reproduced):
    import mlflow
    from transformers import AutoModelForCausalLM

    loop_topology = [sys.executable, "-m", "self_rewarding.loop_topology"]
    _run([*loop_topology, "--iterations", "3"], reproduced)
    try:
        # The loop to M4 and M4's probe; the evaluation's stages (M4's, and the report of
        # three iterations) are what a plain `dvc repro` would run next, asked of DVC.
        third = _run(["dvc", "repro", "dpo@iter3", "judge_probe@M4"], reproduced)
        pending = _changed_stages(reproduced)
        lock = yaml.safe_load((reproduced / "dvc.lock").read_text())["stages"]
    finally:
        _run([*loop_topology, "--iterations", "2"], reproduced)
    back = _run(["dvc", "repro"], reproduced)

    ran = set(re.findall(r"Running stage '([^']+)'", third.stdout))
    assert ran == {
        *(f"{step}@iter3" for step in ("generate", "pairs", "dpo")),
        "judge_probe@M4",
    }
    assert pending == {
        "pair_precision@iter3",
        "evaluate_model@M4",
        "evaluate_instruction_following",
        "evaluation_report",
    }
    assert AutoModelForCausalLM.from_pretrained(reproduced / "data/06_models/M4") is not None
    assert "data/05_model_input/iter3/preference_pairs.jsonl" in {
        out["path"] for out in lock["pairs@iter3"]["outs"]
    }
    uri = f"sqlite:///{reproduced / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    m4 = client.get_model_version_by_alias("self_rewarding", "m4")
    (out,) = [o for o in lock["dpo@iter3"]["outs"] if o["path"] == "data/06_models/M4"]
    assert m4.tags["dvc_md5"] == out["md5"]
    # Back at two iterations: nothing runs, and the evaluation is the two iterations' one.
    assert "Running stage" not in back.stdout
    assert _changed_stages(reproduced) == set()
    assert "| M4 " not in (reproduced / "data/08_reporting/evaluation_table.md").read_text()


def test_a_sampling_change_reruns_only_the_steps_downstream_of_it(reproduced):
    prompts = reproduced / "data/03_primary/iter1/generated_prompts.jsonl"
    candidates = reproduced / "data/07_model_output/iter1/candidates.jsonl"
    prompts_before, candidates_before = prompts.read_bytes(), candidates.read_bytes()
    # Up to AIFT(M1) only, to keep the suite short; everything downstream of pairs@iter1
    # would follow in a plain `dvc exp run`.
    result = _run(
        [
            "dvc",
            "exp",
            "run",
            "-S",
            "conf/base/parameters_iteration.yml:iteration.candidates.temperature=0.9",
            "pairs@iter1",
        ],
        reproduced,
    )
    ran = set(re.findall(r"Running stage '([^']+)'", result.stdout))
    assert ran == {"generate@iter1", "pairs@iter1"}
    skipped = set(re.findall(r"Stage '([^']+)' didn't change, skipping", result.stdout))
    assert {"data_processing", "base_model", "sft_m1"} <= skipped
    # In the generate stage, self-instruct was read back from its kept chunks: same
    # prompts; the candidates were sampled again.
    assert prompts.read_bytes() == prompts_before
    self_instruct = json.loads(
        (reproduced / "data/08_reporting/iter1/self_instruct.json").read_text()
    )
    assert self_instruct["chunks_reused"] == self_instruct["rounds"] > 0
    assert candidates.read_bytes() != candidates_before
    shown = _run(["dvc", "exp", "show", "--json"], reproduced)
    assert "0.9" in shown.stdout


def test_a_bad_seed_line_stops_the_run_before_training(reproduced):
    raw = reproduced / "data/01_raw/oasst2_partial/oasst_en_ift_candidates_no_alpacaeval.jsonl"
    ift_train = reproduced / "data/05_model_input/ift_train.jsonl"
    produced_before = ift_train.read_bytes()
    model_before = (reproduced / "data/06_models/M1/model.safetensors").stat().st_mtime_ns
    lines = raw.read_text(encoding="utf-8").splitlines(keepends=True)
    broken = json.loads(lines[4])
    broken["response"] = "   "
    lines[4] = json.dumps(broken) + "\n"
    raw.write_text("".join(lines), encoding="utf-8")

    result = _run(["kedro", "run"], reproduced, check=False)

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "oasst_en_ift_candidates_no_alpacaeval.jsonl, line 5, field 'response'" in output
    assert "Running node: train_" not in output
    assert ift_train.read_bytes() == produced_before
    assert (reproduced / "data/06_models/M1/model.safetensors").stat().st_mtime_ns == (model_before)


def test_a_collapsed_judge_stops_a_real_kedro_run_with_a_message(reproduced):
    # The tiny model's constrained judge spreads its scores over 0-5; asking for a spread
    # no judge reaches makes this one count as collapsed.
    result = _run(
        [
            "kedro",
            "run",
            "--pipelines=iteration",
            "--namespaces=iter1",
            "--tags=judge",
            "--params=iteration.gates.min_score_std=9.0",
        ],
        reproduced,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "The judge collapsed" in output
    report = json.loads(
        (reproduced / "data/08_reporting/iter1/validation/judgments.json").read_text()
    )
    assert report["success"] is False
    assert (reproduced / "data/08_reporting/iter1/validation/judgments.html").is_file()


def _postgresql_installed() -> bool:
    return any(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")) or bool(shutil.which("pg_ctl"))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_shared_tracking_server_on_postgresql_holds_runs_groups_registry_and_artifacts(
    reproduced,
):
    if not _postgresql_installed():
        # CI installs Debian's postgresql and asks for this test (.ci/run).
        if os.environ.get("SELF_REWARDING_REQUIRE_POSTGRESQL"):
            pytest.fail("PostgreSQL is not installed: apt-get install postgresql")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    import tempfile

    import mlflow

    # A folder the `postgres` user can reach when the tests run as root.
    server_dir = Path(tempfile.mkdtemp(prefix="mlflow-server-"))
    server_dir.chmod(0o755)
    port = _free_port()
    settings = {
        "SERVER_DIR": str(server_dir),
        "MLFLOW_PORT": str(port),
        "PG_PORT": str(_free_port()),
    }
    uri = f"http://127.0.0.1:{port}"
    _run(["scripts/mlflow-server", "start"], reproduced, **settings)
    try:
        # One iteration's pairs and DPO (the test environment's second one): a run group,
        # its nested step runs, artifacts and a registered model version.
        _run(
            ["kedro", "run", "--pipelines=iteration", "--namespaces=iter2", "--tags=pairs,dpo"],
            reproduced,
            MLFLOW_TRACKING_URI=uri,
        )
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment = client.get_experiment_by_name("self_rewarding")
        runs = {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])}
        parent = runs["iteration 2"]
        steps = [run for run in runs.values() if run.data.tags.get("iteration") == "2"]
        assert steps and all(
            run.data.tags["mlflow.parentRunId"] == parent.info.run_id for run in steps
        )
        # `--tags=pairs,dpo` spans two steps: each gets its own run under the group.
        assert sorted(run.info.run_name for run in steps) == ["iter2.dpo", "iter2.pairs"]
        step = runs["iter2.dpo"]
        assert any(key.startswith("dpo.") for key in step.data.metrics)
        assert step.data.metrics["memory.peak_rss_gb"] > 0
        # Artifacts go through the server to its artifact root (the pairs step's samples).
        assert client.list_artifacts(runs["iter2.pairs"].info.run_id, "samples")
        assert any((server_dir / "artifacts").rglob("sample_pairs.json"))
        version = client.get_model_version_by_alias("self_rewarding", "m3")
        assert version.run_id == step.info.run_id
        # A pointer to the DVC-versioned directory, not a local path the server refuses.
        assert version.source == f"runs:/{step.info.run_id}/model"
        assert version.tags["dvc_stage"] == ""  # a kedro run, not a DVC stage
        # The store is PostgreSQL's, not a file beside the project.
        assert (server_dir / "postgres" / "PG_VERSION").is_file()
    finally:
        _run(["scripts/mlflow-server", "stop"], reproduced, check=False, **settings)
        shutil.rmtree(server_dir, ignore_errors=True)
