"""How large must an iteration be to move the model, and does the move repeat?

Runs iteration 1 (M1 -> M2) as the pipeline runs it, ``kedro run --pipelines=iteration
--namespaces=iter1``, in a scratch copy of the project per setting (the shipped data and
M1 linked in, its own MLflow store and chunk folder), for each number of prompts per
iteration (``iteration.self_instruct.n_prompts``) and each seed (the self-instruct,
sampling and DPO seeds). For each run it records what the iteration made (accepted
prompts, pairs, their score margin, chosen/rejected words, score-length correlation),
how DPO fitted (final training loss and reward accuracy; loss and reward accuracy on
held-out pairs that M1 made from other prompts, with a 95 % interval over pairs), the
precision of the pairs against the referee (the pipeline's ``pair_precision`` step) and
M2 - M1, paired on the same items: IFEval (prompt-level loose) and the judge's strict
accuracy on the OASST1-validation replies. Wall time per run and per evaluation.

The referee's win rate M2 against M1 is not measured: the default referee's agreement
with the MT-Bench human pairs has an interval containing 0.5 (``benchmarks/referees.py``).

Each finished run is one line of ``--results`` (JSON lines), with its M2's IFEval
outcomes; a second call skips the runs already there, so that a long matrix survives a
kill. Runs of two settings at the same size and seed share M1 and the generation seeds,
and in one ``--scratch`` the second reuses the first's generation (the chunks): the
summary pairs their M2s on the same IFEval prompts, each setting against the first in
order (no ``--set`` sorts first)::

    python benchmarks/iteration_sizing.py --sizes 32 128 256 --seeds 0
    python benchmarks/iteration_sizing.py --sizes 128 --seeds 0 1 2
    python benchmarks/iteration_sizing.py --sizes 128 --set dpo.trainer.learning_rate=5e-5
    python benchmarks/iteration_sizing.py --sizes 32 --set length_control_rho=0.4
    python benchmarks/iteration_sizing.py --summarise

``--reevaluate --ifeval-prompts 160`` answers a larger IFEval subset with M1 and the M2s a
matrix left in ``--scratch``, without training again (a narrower interval on the same
runs), and writes the rows to ``<results>_ifeval160.jsonl``.
"""

# ruff: noqa: T201 (a benchmark: it prints its results)

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))

HELDOUT_SEED = 1000  # prompts no training run of the matrix draws from
RESULTS = PROJECT / "benchmarks/results/iteration_sizing.jsonl"


def scratch_project(work: Path, model: Path) -> Path:
    """A copy of the project's configuration with the shipped data and M1 linked in:
    what ``kedro run`` reads, nothing it writes shared with the project."""
    chunks = work / "data/07_model_output/generation_chunks"
    kept = work.parent / f".{work.name}-chunks"
    if chunks.is_dir():  # finished generations of a killed run: resumed, not redone
        chunks.rename(kept)
    if work.exists():
        shutil.rmtree(work)
    (work / "data/05_model_input").mkdir(parents=True)
    (work / "data/06_models").mkdir(parents=True)
    shutil.copytree(PROJECT / "conf", work / "conf", ignore=shutil.ignore_patterns("local"))
    (work / "conf/local").mkdir()
    for name in ("pyproject.toml", "params.yaml"):
        shutil.copy(PROJECT / name, work / name)
    # Kedro wants the source folder inside the project (it resolves links)
    shutil.copytree(PROJECT / "src", work / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (work / "data/01_raw").symlink_to(PROJECT / "data/01_raw")
    ift = PROJECT / "data/05_model_input/ift_train.jsonl"
    (work / "data/05_model_input/ift_train.jsonl").symlink_to(ift)
    (work / "data/06_models/M1").symlink_to(model.resolve())
    if kept.is_dir():
        (work / "data/07_model_output").mkdir(parents=True)
        kept.rename(chunks)
    return work


def iteration_params(size: int, seed: int, settings: list[str]) -> list[str]:
    """Kedro ``--params`` overrides of one run."""
    rounds = 3 * math.ceil(size / 16)  # room for rejected prompts at 16 per round
    params = [
        f"iteration.self_instruct.n_prompts={size}",
        f"iteration.self_instruct.max_rounds={rounds}",
        f"iteration.self_instruct.seed={seed}",
        f"iteration.self_instruct.sampling.seed={seed}",
        f"iteration.candidates.seed={seed}",
        f"iteration.judge.sampling.seed={seed}",
        f"dpo.trainer.seed={42 + seed}",
    ]
    return params + list(settings)


def run_iteration(work: Path, params: list[str], tags: list[str] | None = None) -> float:
    """``kedro run`` of iteration 1 in the scratch project; returns its wall seconds."""
    # This interpreter's kedro, so that an unactivated .venv/bin/python finds it.
    kedro = Path(sys.executable).with_name("kedro")
    command = [
        str(kedro) if kedro.exists() else "kedro",
        "run",
        "--pipelines=iteration",
        "--namespaces=iter1",
        f"--params={','.join(params)}",
    ]
    if tags:
        command.append(f"--tags={','.join(tags)}")
    started = time.perf_counter()
    with open(work / "kedro.log", "w", encoding="utf-8") as log:
        subprocess.run(command, cwd=work, check=True, stdout=log, stderr=subprocess.STDOUT)
    return time.perf_counter() - started


def read_metrics(work: Path, step: str) -> dict:
    path = work / "data/08_reporting/iter1" / f"{step}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def read_pairs(work: Path) -> list[dict]:
    from self_rewarding.records import read_jsonl

    return read_jsonl(work / "data/05_model_input/iter1/preference_pairs.jsonl")


def evaluate_model(
    model: Path, chunk_dir: Path, out: Path, judge_prompts: int | None, ifeval_prompts: int | None
) -> None:
    """In a fresh process: the model's IFEval outcomes (a stratified subset of
    ``ifeval_prompts``, the evaluation's default size if None) and its scores of the
    OASST1 replies (``score_first``; a seeded sample of ``judge_prompts``, all if None,
    none if negative), as the evaluation computes them."""
    import dataclasses

    import pandas as pd
    from judge_modes import measure_modes, ranked_replies

    from self_rewarding.core.types import EvaluationConfig
    from self_rewarding.pipelines.evaluation.ifeval import evaluate_ifeval

    evaluation = EvaluationConfig()
    evaluation = dataclasses.replace(
        evaluation,
        generation=dataclasses.replace(evaluation.generation, chunk_dir=str(chunk_dir)),
        ifeval=dataclasses.replace(
            evaluation.ifeval, prompts=ifeval_prompts or evaluation.ifeval.prompts
        ),
    )
    prompts = pd.read_json(PROJECT / "data/01_raw/ifeval/input_data.jsonl", lines=True)
    started = time.perf_counter()
    responses, _ = evaluate_ifeval(model, prompts, evaluation)
    responses["words"] = responses["response"].map(lambda text: len(str(text).split()))
    ifeval_seconds = time.perf_counter() - started
    started = time.perf_counter()
    judged = None
    if judge_prompts is None or judge_prompts >= 0:
        replies = ranked_replies(PROJECT / "data/05_model_input/eft_eval.jsonl", judge_prompts)
        judged = measure_modes(model, replies, ["score_first"])["modes"]["score_first"]["rows"]
    out.write_text(
        json.dumps(
            {
                "ifeval": responses[["key", "strict", "loose", "finish_reason", "words"]].to_dict(
                    orient="records"
                ),
                "ifeval_seconds": ifeval_seconds,
                "judge_rows": judged,
                "judge_seconds": time.perf_counter() - started,
            }
        )
    )


def evaluated(
    model: Path, chunk_dir: Path, out: Path, judge_prompts: int | None, ifeval_prompts: int | None
) -> dict:
    """``evaluate_model``'s output, from ``out`` when an earlier call wrote it."""
    if not out.is_file():
        command = [sys.executable, __file__, "--evaluate", str(model), "--chunk-dir"]
        command += [str(chunk_dir), "--out", str(out), "--judge-prompts", str(judge_prompts or 0)]
        command += ["--ifeval-prompts", str(ifeval_prompts or 0)]
        subprocess.run(command, check=True, cwd=PROJECT)
    return json.loads(out.read_text())


def evaluation_file(
    folder: Path, name: str, ifeval_prompts: int | None, *, judged: bool = True
) -> Path:
    """Where a model's evaluation is kept: one file per IFEval subset size, and apart
    when the judge was not measured."""
    sized = f"{name}-ifeval{ifeval_prompts}" if ifeval_prompts else name
    return folder / f"{sized}{'' if judged else '-only'}.json"


def paired_steps(m2: dict, m1: dict) -> dict:
    """M2 - M1 on IFEval (prompt-level loose) and on the judge's strict accuracy."""
    from self_rewarding.core.intervals import paired_difference

    # M1 may have been judged on more replies than M2: pair them on M2's
    judged = {(r["prompt_id"], r["response_id"]) for r in m2["judge_rows"]}
    m1_rows = [r for r in m1["judge_rows"] if (r["prompt_id"], r["response_id"]) in judged]
    judge = paired_difference(m2["judge_rows"], m1_rows)
    return {
        **ifeval_step_fields(m2, m1),
        "judge_prompts": judge["n_prompts"],
        "judge_m2": judge["a"],
        "judge_m1": judge["b"],
        "judge_step": judge["difference"],
        "judge_step_ci": judge["interval"],
    }


def ifeval_step_fields(m2: dict, m1: dict) -> dict:
    """M2 - M1 on IFEval (prompt-level loose), paired on the same prompts."""
    from self_rewarding.core.ifeval import (
        IfevalOutcome,
        ifeval_accuracy,
        ifeval_paired_difference,
    )

    def outcomes(found):
        return [IfevalOutcome(r["key"], tuple(r["strict"]), tuple(r["loose"])) for r in found]

    ifeval = ifeval_paired_difference(outcomes(m2["ifeval"]), outcomes(m1["ifeval"]))
    cut = sum(r["finish_reason"] == "length" for r in m2["ifeval"]) / len(m2["ifeval"])

    def words_mean(found):  # evaluations written before answers' words were kept: None
        words = [r["words"] for r in found if "words" in r]
        return statistics.fmean(words) if words and len(words) == len(found) else None

    return {
        "ifeval_prompts": ifeval["n_prompts"],
        "ifeval_m2": ifeval_accuracy(outcomes(m2["ifeval"]))["prompt_loose"],
        "ifeval_m1": ifeval["b"],
        "ifeval_step": ifeval["difference"],
        "ifeval_step_ci": ifeval["interval"],
        "ifeval_cut_share": cut,
        "ifeval_words_m2": words_mean(m2["ifeval"]),
        "ifeval_words_m1": words_mean(m1["ifeval"]),
        # M2's outcomes, so that two settings' M2s of one seed can be paired
        "ifeval_m2_outcomes": [
            {"key": r["key"], "strict": r["strict"], "loose": r["loose"]} for r in m2["ifeval"]
        ],
    }


def heldout_pairs(scratch: Path, model: Path, size: int) -> list[dict]:
    """Pairs M1 makes, as iteration 1 does, from prompts of a seed no run trains on."""
    work = scratch / f"heldout-{size}"
    if not (work / "data/05_model_input/iter1/preference_pairs.jsonl").is_file():
        scratch_project(work, model)
        tags = ["self_instruct", "candidates", "judge", "pairs"]
        run_iteration(work, iteration_params(size, HELDOUT_SEED, []), tags)
    return read_pairs(work)


def measure_run(args, size: int, seed: int, heldout: list[dict], m1: dict) -> dict:
    from self_rewarding.core.intervals import heldout_preference_metrics
    from self_rewarding.core.seed_data import normalise_prompt
    from self_rewarding.train.dpo import preference_margins

    work = scratch_project(args.scratch / f"n{size}-s{seed}", args.model)
    seconds = run_iteration(work, iteration_params(size, seed, args.set))
    pairs, dpo = read_metrics(work, "pairs"), read_metrics(work, "dpo")
    trained = {normalise_prompt(p["prompt"]) for p in read_pairs(work)}
    unseen = [p for p in heldout if normalise_prompt(p["prompt"]) not in trained]
    started = time.perf_counter()
    beta = float(
        next((s.split("=")[1] for s in args.set if s.startswith("dpo.trainer.beta=")), 0.1)
    )
    margins = preference_margins(work / "data/06_models/M2", args.model, unseen, beta)
    held = heldout_preference_metrics(margins)
    held_seconds = time.perf_counter() - started
    m2 = evaluated(
        work / "data/06_models/M2",
        work / "data/07_model_output/generation_chunks",
        evaluation_file(work, "evaluation", args.ifeval_prompts),
        args.judge_prompts,
        args.ifeval_prompts,
    )
    precision = read_metrics(work, "pair_precision")
    return {
        "size": size,
        "seed": seed,
        "settings": args.set,
        "accepted_prompts": read_metrics(work, "self_instruct").get("accepted"),
        "pairs": pairs.get("pairs"),
        "margin_mean": pairs.get("margin_mean"),
        "chosen_words": pairs.get("chosen_words_mean"),
        "rejected_words": pairs.get("rejected_words_mean"),
        "score_length_correlation": pairs.get("score_length_correlation"),
        "dpo_steps": dpo.get("train_steps"),
        "dpo_train_loss": dpo.get("train_loss"),
        "dpo_train_reward_accuracy": dpo.get("rewards_accuracies"),
        "heldout_pairs": held["pairs"],
        "heldout_loss": held["loss"],
        "heldout_reward_accuracy": held["reward_accuracy"],
        "heldout_reward_accuracy_ci": held["reward_accuracy_ci"],
        "pair_precision": precision.get("precision"),
        "pair_precision_ci": [
            precision.get("precision.ci_low"),
            precision.get("precision.ci_high"),
        ],
        "pair_precision_pairs": precision.get("pairs"),
        **paired_steps(m2, m1),
        "iteration_seconds": round(seconds, 1),
        "evaluation_seconds": round(m2["ifeval_seconds"] + m2["judge_seconds"] + held_seconds, 1),
    }


def _cell(value, interval=None, digits=3, *, signed=False) -> str:
    from self_rewarding.core.intervals import format_interval

    if interval is not None and None in interval:
        interval = None
    return format_interval(value, tuple(interval) if interval else None, digits, signed=signed)


def summarise(rows: list[dict]) -> None:
    print(
        "| prompts | seed | pairs | DPO steps | train loss | held-out loss | held-out reward "
        "acc. [95% CI] | pair precision [95% CI] | IFEval M2 - M1 [95% CI] | judge M2 - M1 "
        "[95% CI] | chosen/rejected words | iteration min | effect per CPU-min |"
    )
    print("| " + " | ".join(["---"] * 13) + " |")
    for r in sorted(rows, key=lambda r: (r["size"], r["seed"])):
        minutes = (r["iteration_seconds"]) / 60
        effect = None if r["ifeval_step"] is None else r["ifeval_step"] / minutes
        print(
            f"| {r['size']}{' ' + ' '.join(r['settings']) if r['settings'] else ''} "
            f"| {r['seed']} | {r['pairs']:.0f} | {r['dpo_steps']:.0f} "
            f"| {_cell(r['dpo_train_loss'])} | {_cell(r['heldout_loss'])} "
            f"| {_cell(r['heldout_reward_accuracy'], r['heldout_reward_accuracy_ci'])} "
            f"(n={r['heldout_pairs']}) "
            f"| {_cell(r['pair_precision'], r['pair_precision_ci'])} "
            f"| {_cell(r['ifeval_step'], r['ifeval_step_ci'], signed=True)} "
            f"(n={r['ifeval_prompts']}) "
            f"| {_cell(r['judge_step'], r['judge_step_ci'], signed=True)} "
            f"(n={r['judge_prompts']}) "
            f"| {r['chosen_words']:.0f}/{r['rejected_words']:.0f} "
            f"| {minutes:.1f} | {_cell(effect, digits=4, signed=True)} |"
        )
    by_setting: dict = {}
    for r in rows:
        by_setting.setdefault((r["size"], tuple(r["settings"])), []).append(r)
    for (size, settings), runs in sorted(by_setting.items()):
        if len(runs) < 2:
            continue
        described = " ".join([f"{size} prompts", *settings])
        print(f"\nAcross {len(runs)} seeds at {described}:")
        # A step is against 0; an accuracy or a precision against a coin.
        nulls = {
            "ifeval_step": 0.0,
            "judge_step": 0.0,
            "heldout_reward_accuracy": 0.5,
            "pair_precision": 0.5,
        }
        for key, null in nulls.items():
            values = [r[key] for r in runs if r[key] is not None]
            intervals = [r.get(f"{key}_ci") for r in runs]
            above = sum(1 for i in intervals if i and i[0] is not None and i[0] > null)
            below = sum(1 for i in intervals if i and i[1] is not None and i[1] < null)
            print(
                f"- {key}: mean {statistics.fmean(values):+.3f}, across-seed sd "
                f"{statistics.stdev(values):.3f} (values {', '.join(f'{v:+.3f}' for v in values)})"
                f"; interval above {null} in {above}, below {null} in {below} of {len(runs)}"
            )
    between_settings(rows)


def between_settings(rows: list[dict]) -> None:
    """Two settings' M2s of the same size and seed, paired on the same IFEval prompts
    (prompt-level loose), with their answers' length: what a setting changes in the next
    model, M1 and the generation seeds held fixed."""
    from self_rewarding.core.ifeval import IfevalOutcome, ifeval_paired_difference

    def outcomes(row):
        return [
            IfevalOutcome(r["key"], tuple(r["strict"]), tuple(r["loose"]))
            for r in row["ifeval_m2_outcomes"]
        ]

    kept = [r for r in rows if r.get("ifeval_m2_outcomes")]
    runs: dict = {}
    for r in kept:
        runs.setdefault((r["size"], r["seed"]), []).append(r)
    lines = []
    for (size, seed), unsorted in sorted(runs.items()):
        # Each setting against the first in order: no settings (base's) where it ran.
        first, *others = sorted(unsorted, key=lambda r: r["settings"])
        for later in others:
            step = ifeval_paired_difference(outcomes(later), outcomes(first))
            words = [r.get("ifeval_words_m2") for r in (later, first)]
            lines.append(
                f"| {size} | {seed} | {' '.join(later['settings']) or '(none)'} "
                f"| {' '.join(first['settings']) or '(none)'} "
                f"| {_cell(step['difference'], step['interval'], signed=True)} "
                f"(n={step['n_prompts']}) "
                f"| {_cell(words[0], digits=0)} / {_cell(words[1], digits=0)} "
                f"| {later['ifeval_cut_share']:.2f} / {first['ifeval_cut_share']:.2f} |"
            )
    if not lines:
        return
    print(
        "\nM2 of one setting against M2 of another, same prompts per iteration and seed "
        "(IFEval prompt loose, paired):\n"
    )
    print(
        "| prompts | seed | setting | against | IFEval M2 - M2 [95% CI] "
        "| M2 IFEval answer words | M2 answers cut |"
    )
    print("| " + " | ".join(["---"] * 7) + " |")
    for line in lines:
        print(line)


def reevaluate(args, done: list[dict]) -> int:
    """Finished runs with M2 - M1 on IFEval measured again at ``--ifeval-prompts``: the
    same trained M2s, more prompts (a narrower interval); every other field as the run
    measured it. Written to ``<results>_ifeval<N>.jsonl``."""
    if not args.ifeval_prompts:
        raise SystemExit("--reevaluate needs --ifeval-prompts")
    out = args.results.with_name(f"{args.results.stem}_ifeval{args.ifeval_prompts}.jsonl")
    again = [json.loads(line) for line in out.read_text().splitlines()] if out.is_file() else []
    m1 = evaluated(
        args.model,
        PROJECT / "data/07_model_output/generation_chunks",
        evaluation_file(args.scratch, "M1", args.ifeval_prompts, judged=False),
        -1,  # no judge: its step is kept from the run
        args.ifeval_prompts,
    )
    for row in done:
        key = (row["size"], row["seed"], row["settings"])
        work = args.scratch / f"n{row['size']}-s{row['seed']}"
        chosen = row["size"] in args.sizes and row["seed"] in args.seeds
        if not chosen or row["settings"] != args.set:
            continue
        if any((r["size"], r["seed"], r["settings"]) == key for r in again):
            continue
        if not (work / "data/06_models/M2").is_dir():
            print(f"No M2 in {work}: run {key} is not re-evaluated", flush=True)
            continue
        m2 = evaluated(
            work / "data/06_models/M2",
            work / "data/07_model_output/generation_chunks",
            evaluation_file(work, "evaluation", args.ifeval_prompts, judged=False),
            -1,
            args.ifeval_prompts,
        )
        remeasured = {**row, **ifeval_step_fields(m2, m1)}
        with out.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(remeasured) + "\n")
        again.append(remeasured)
        print(json.dumps(remeasured), flush=True)
    summarise(again)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=PROJECT / "data/06_models/M1")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 128, 256])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--set", nargs="*", default=[], help="further Kedro parameters, dotted.key=value"
    )
    parser.add_argument("--heldout-prompts", type=int, default=64)
    parser.add_argument(
        "--judge-prompts", type=int, default=60, help="OASST1-val prompts M2 is judged on (0: all)"
    )
    parser.add_argument(
        "--ifeval-prompts",
        type=int,
        help="IFEval prompts M1 and each M2 answer (a stratified subset; default: the "
        "evaluation's)",
    )
    parser.add_argument(
        "--reevaluate",
        action="store_true",
        help="IFEval again, at --ifeval-prompts, for the finished runs of --sizes and --seeds "
        "whose M2 is still in --scratch (no training); rows go to a results file of their own",
    )
    parser.add_argument("--scratch", type=Path, default=PROJECT / "data/09_benchmarks/sizing")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--summarise", action="store_true", help="print the results only")
    parser.add_argument("--evaluate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--chunk-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(PROJECT / "benchmarks"))
    if args.evaluate:
        evaluate_model(
            args.evaluate,
            args.chunk_dir,
            args.out,
            args.judge_prompts or None,
            args.ifeval_prompts or None,
        )
        return 0
    done = (
        [json.loads(line) for line in args.results.read_text().splitlines()]
        if args.results.is_file()
        else []
    )
    if args.summarise:
        summarise(done)
        return 0

    import torch

    print(
        f"{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"torch CPU capability {torch.backends.cpu.get_cpu_capability()}",
        flush=True,
    )
    args.scratch.mkdir(parents=True, exist_ok=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    if args.reevaluate:
        return reevaluate(args, done)
    m1 = evaluated(
        args.model,
        PROJECT / "data/07_model_output/generation_chunks",
        evaluation_file(args.scratch, "M1", args.ifeval_prompts),
        None,  # every reply once; each M2 is paired on its sample
        args.ifeval_prompts,
    )
    heldout = heldout_pairs(args.scratch, args.model, args.heldout_prompts)
    for size in args.sizes:
        for seed in args.seeds:
            if any((r["size"], r["seed"], r["settings"]) == (size, seed, args.set) for r in done):
                continue
            row = measure_run(args, size, seed, heldout, m1)
            with args.results.open("a", encoding="utf-8") as stream:
                stream.write(json.dumps(row) + "\n")
            done.append(row)
            print(json.dumps(row), flush=True)
    summarise(done)
    return 0


if __name__ == "__main__":
    sys.exit(main())
