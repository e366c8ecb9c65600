"""Peak resident memory, per DVC stage and per SFT and DPO batching.

``stages`` (the default) prints every stage's peak from the metrics files that the stages
write (``data/08_reporting/memory/<stage>.json``, ``MemoryHooks``), in ``dvc.yaml`` order,
against a budget::

    python benchmarks/memory.py                 # after make run (or any dvc repro)
    python benchmarks/memory.py --budget-gb 4
    make run 2>&1 | tee run.log; python benchmarks/memory.py --log run.log   # + wall times

With ``--log``, each stage's wall time comes from the timestamps of that output: from its
first log line to the next stage's first (the last stage: to the last timestamped line), so
a stage's own interpreter start-up (a few seconds) is counted in the stage before it.

``sft`` trains the same longest IFT + EFT examples (the M1 stage's data; the longest, so
that the peak is the stage's worst batch; ``--examples shuffled``: a seeded shuffle, the
lengths one after another as a stage meets them) under each batching, one fresh process each,
alternating, and prints peak memory and seconds per optimizer step with paired ratios;
``dpo`` does the same with pairs made of the longest IFT answers::

    python benchmarks/memory.py sft --steps 2 --repeats 2
    python benchmarks/memory.py dpo --steps 2

``engine`` answers the same IFT prompts (4 samples each, as the candidates step) with the
CPU vLLM engine under each KV cache size (``generation.cpu_kv_cache_gib``), one fresh process
each, alternating, and prints peak memory (RSS and PSS of the tree) and tokens per second::

    python benchmarks/memory.py engine --kv-cache-gib 1 0.5 0.25 --repeats 2

``verdicts`` reads the referee's verdict probabilities (``generation.verdicts``, as the
referee and pair-precision stages do) on the same judge prompts of many lengths (the
OASST1 replies of ``eft_eval``; 400 by default, as many as the referee stage reads for the
200 MT-Bench human pairs), with each prompt's length rounded up to each multiple (1:
unpadded), one fresh process each, alternating, and prints peak memory and seconds per
verdict::

    python benchmarks/memory.py verdicts --pad-to-multiple-of 64 1 --repeats 2
"""

# ruff: noqa: T201 (a benchmark: it prints its results)

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "src"))

# The same effective batch (8 examples per optimizer step) split differently: the
# step's activations and full-vocabulary logits scale with the micro-batch.
SFT_VARIANTS = {
    "batch8": {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 1},
    "batch2x4": {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 4},
    "batch1x8": {"per_device_train_batch_size": 1, "gradient_accumulation_steps": 8},
    # Activations recomputed in the backward pass instead of kept.
    "batch2x4_checkpointing": {
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 4,
        "gradient_checkpointing": True,
    },
    "batch1x8_checkpointing": {
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 8,
        "gradient_checkpointing": True,
    },
    # The optimizer step in one kernel, without the per-parameter temporaries.
    "batch1x8_fused_adamw": {
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 8,
        "optim": "adamw_torch_fused",
    },
    # As the default, with TRL's own fused-LM-head tiles (32,768 vocabulary columns)
    # instead of the project's 4,096 (train/trainer_core.py: LM_HEAD_VOCAB_TILE).
    "batch1x8_checkpointing_trl_tiles": {
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 8,
        "gradient_checkpointing": True,
        "lm_head_vocab_tile": 32768,
    },
    # As the default, without rounding each example's length up to a multiple of 64: every
    # new length builds new oneDNN kernels under bf16 (run it with --examples shuffled).
    "batch1x8_checkpointing_unpadded": {
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 8,
        "gradient_checkpointing": True,
        "pad_to_multiple_of": None,
    },
    # As the default, lengths rounded up to 128: half as many shapes for oneDNN under
    # bf16 (6 up to 768 tokens), at the cost of more padded positions.
    "batch1x8_checkpointing_pad128": {
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 8,
        "gradient_checkpointing": True,
        "pad_to_multiple_of": 128,
    },
    # The default above is the fused kernel (transformers' default with torch >= 2.8);
    # this is AdamW's plain loop over the parameters, one at a time.
    "batch1x8_checkpointing_adamw_loop": {
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 8,
        "gradient_checkpointing": True,
        "optim": "adamw_torch",
    },
}
# DPO: 4 pairs per optimizer step, each pair two sequences (chosen, rejected).
DPO_VARIANTS = {
    "batch4": {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 1},
    "batch1x4": {"per_device_train_batch_size": 1, "gradient_accumulation_steps": 4},
    "batch1x4_checkpointing": {
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 4,
        "gradient_checkpointing": True,
    },
    # The reference log-probabilities computed once, by the policy before training: no
    # reference model in memory, no reference forward pass per step.
    "batch1x4_checkpointing_precomputed_reference": {
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 4,
        "gradient_checkpointing": True,
        "precompute_ref_log_probs": True,
    },
    "batch1x4_checkpointing_precomputed_reference_unpadded": {
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 4,
        "gradient_checkpointing": True,
        "precompute_ref_log_probs": True,
        "pad_to_multiple_of": None,
    },
    "batch1x4_checkpointing_precomputed_reference_trl_tiles": {
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 4,
        "gradient_checkpointing": True,
        "precompute_ref_log_probs": True,
        "lm_head_vocab_tile": 32768,
    },
}
VARIANTS = {"sft": SFT_VARIANTS, "dpo": DPO_VARIANTS}


LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ ")
STAGE_START = re.compile(r"^Running stage '([^']+)':")


def stage_wall_times(log: str) -> dict[str, float]:
    """Seconds per stage of a ``dvc repro`` output, by memory-file name
    (``generate@iter1`` -> ``generate_iter1``)."""
    starts: list[tuple[str, datetime.datetime | None]] = []
    last = None
    for line in log.splitlines():
        if found := STAGE_START.match(line):
            starts.append((found.group(1).replace("@", "_"), None))
        elif (stamp := LOG_TIME.match(line)) and starts:
            last = datetime.datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S")
            if starts[-1][1] is None:
                starts[-1] = (starts[-1][0], last)
    timed = [(stage, start) for stage, start in starts if start is not None]
    ends = [start for _, start in timed[1:]] + [last]
    return {
        stage: (end - start).total_seconds()
        for (stage, start), end in zip(timed, ends, strict=True)
    }


def print_stages(budget_gb: float, log: Path | None = None) -> int:
    import yaml

    from self_rewarding.memory import MEMORY_DIR

    stages = yaml.safe_load((PROJECT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    order = []
    for name, stage in stages.items():
        items = stage.get("foreach")
        keys = list(items) if isinstance(items, dict | list) else [None]
        order += [name if key is None else f"{name}_{key}" for key in keys]
    rows = []
    for stage in order:
        path = PROJECT / MEMORY_DIR / f"{stage}.json"
        if path.is_file():
            rows.append((stage, json.loads(path.read_text(encoding="utf-8"))))
    if not rows:
        print(f"No stage has written {MEMORY_DIR}/ yet: run `make run` (or dvc repro) first.")
        return 1
    times = stage_wall_times(log.read_text(encoding="utf-8", errors="replace")) if log else {}
    print(
        "| stage | peak GiB (process tree, RSS) | tree PSS | own process | largest child "
        f"| over {budget_gb} GiB |" + (" wall time |" if log else "")
    )
    print("| --- | --- | --- | --- | --- | --- |" + (" --- |" if log else ""))
    for stage, peaks in rows:
        over = "yes" if peaks["peak_rss_gb"] > budget_gb else "no"
        wall = f" {_minutes(times[stage])} |" if stage in times else " not run |" if log else ""
        # Files written before PSS was sampled have none.
        pss = peaks.get("peak_pss_tree_sampled_gb")
        print(
            f"| {stage} | {peaks['peak_rss_gb']:.2f} | {'-' if pss is None else f'{pss:.2f}'} "
            f"| {peaks['peak_rss_process_gb']:.2f} "
            f"| {peaks['peak_rss_largest_child_gb']:.2f} | {over} |" + wall
        )
    worst = max(rows, key=lambda row: row[1]["peak_rss_gb"])
    print(f"\nLargest: {worst[0]} at {worst[1]['peak_rss_gb']:.2f} GiB; {len(rows)} stages.")
    if times:
        print(f"Stages run: {len(times)}, {_minutes(sum(times.values()))} in all.")
    return 0


def _minutes(seconds: float) -> str:
    return (
        f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
        if seconds >= 60
        else f"{seconds:.0f} s"
    )


def in_order(rows: list[dict], order: str) -> list[dict]:
    """The rows longest first (prompt and response), or in a seeded shuffle
    (``shuffled``: lengths one after another, as a stage meets them)."""
    import random

    if order == "shuffled":
        rows = list(rows)
        random.Random(0).shuffle(rows)
        return rows
    return sorted(rows, key=lambda row: len(row["prompt"]) + len(row["response"]), reverse=True)


def sft_examples(count: int, order: str = "longest") -> list[dict]:
    """``count`` IFT + EFT examples (prompt and response), ``in_order``."""
    from self_rewarding.records import read_jsonl

    rows = [
        {"prompt": row["prompt"], "response": row["response"]}
        for name in ("ift_train", "eft_candidates")
        for row in read_jsonl(PROJECT / f"data/05_model_input/{name}.jsonl")
    ]
    return in_order(rows, order)[:count]


def dpo_pairs(count: int, order: str = "longest") -> list[dict]:
    """``count`` pairs of IFT answers, ``in_order``: each prompt's own answer against the
    next one's (what DPO learns does not matter here, only the lengths)."""
    from self_rewarding.records import read_jsonl

    rows = in_order(read_jsonl(PROJECT / "data/05_model_input/ift_train.jsonl"), order)
    return [
        {"prompt": row["prompt"], "chosen": row["response"], "rejected": other["response"]}
        for row, other in zip(rows[:count], rows[1 : count + 1], strict=True)
    ]


def run_variant(
    kind: str, variant: str, steps: int, model: str, precision: str, *, order: str = "longest"
) -> dict:
    """One variant, in this process: trains ``steps`` optimizer steps, returns its numbers."""
    from kedro.config import OmegaConfigLoader

    from self_rewarding.memory import PeakMemorySampler
    from self_rewarding.train import trainer_core
    from self_rewarding.train.dpo import train_dpo
    from self_rewarding.train.sft import train_sft

    loader = OmegaConfigLoader(str(PROJECT / "conf"), base_env="base", default_run_env="local")
    trainer = dict(loader["parameters"][kind]["trainer"])
    settings = dict(VARIANTS[kind][variant])
    # Not a TRL setting: the tile size the trainer core gives TRL's fused LM head
    trainer_core.LM_HEAD_VOCAB_TILE = settings.pop(
        "lm_head_vocab_tile", trainer_core.LM_HEAD_VOCAB_TILE
    )
    trainer.update(settings, num_train_epochs=1, logging_steps=1000)
    trainer["report_to"] = "none"
    examples = sft_examples(8 * steps, order) if kind == "sft" else dpo_pairs(4 * steps, order)
    train = train_sft if kind == "sft" else train_dpo
    sampler = PeakMemorySampler(interval_s=0.1).start()
    with tempfile.TemporaryDirectory() as scratch:
        metrics = train(
            PROJECT / model, examples, Path(scratch) / "model", trainer, precision=precision
        )
    peaks = sampler.stop()
    return {
        "variant": variant,
        "steps": metrics["train_steps"],
        "seconds_per_step": round(metrics["train_runtime"] / metrics["train_steps"], 2),
        "train_loss": round(metrics["train_loss"], 4),
        "peak_rss_gb": peaks["peak_rss_gb"],
    }


def run_alternating(commands: dict[str, list[str]], repeats: int) -> dict[str, list[dict]]:
    """Runs each variant's ``memory.py`` command in a fresh process, the variants in turn
    (so that drift hits every one alike), ``repeats`` times; the JSON each printed last."""
    results: dict[str, list[dict]] = {name: [] for name in commands}
    for repeat in range(repeats):
        for name, arguments in commands.items():
            completed = subprocess.run(
                [sys.executable, __file__, *arguments], capture_output=True, text=True, check=False
            )
            if completed.returncode != 0:
                raise SystemExit(f"{name} failed:\n{completed.stderr[-3000:]}")
            result = json.loads(completed.stdout.strip().splitlines()[-1])
            results[name].append(result)
            print(json.dumps({"repeat": repeat + 1, **result}), flush=True)
    return results


def listed(runs: list[dict], key: str, digits: int) -> str:
    """One field of every repeat, comma-separated."""
    return ", ".join(f"{run[key]:.{digits}f}" for run in runs)


def paired_ratios(runs: list[dict], reference: list[dict], key: str) -> str:
    """Each repeat's ``key`` over the reference variant's in the same repeat."""
    return ", ".join(
        f"{run[key] / base[key]:.2f}x" for run, base in zip(runs, reference, strict=True)
    )


def compare(
    kind: str,
    variants: list[str],
    *,
    steps: int,
    repeats: int,
    model: str,
    precision: str,
    order: str = "longest",
) -> None:
    import torch

    print(
        f"# {platform.machine()}, "
        f"torch CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"{torch.get_num_threads()} threads, precision {precision}, {time.strftime('%Y-%m-%d')}"
    )
    options = ["--steps", str(steps), "--model", model, "--precision", precision]
    options += ["--examples", order]
    results = run_alternating(
        {variant: [f"{kind}-one", variant, *options] for variant in variants}, repeats
    )
    reference = variants[0]
    examples = (
        f"{8 * steps} {order} IFT + EFT examples"
        if kind == "sft"
        else (f"{4 * steps} pairs of the {order} IFT answers")
    )
    print(
        f"\n| {kind.upper()} batching ({examples}, {steps} steps) "
        f"| peak GiB | s/step | time vs {reference} (paired, per repeat) |"
    )
    print("| --- | --- | --- | --- |")
    for variant in variants:
        runs = results[variant]
        print(
            f"| {variant} | {listed(runs, 'peak_rss_gb', 2)} "
            f"| {listed(runs, 'seconds_per_step', 1)} "
            f"| {paired_ratios(runs, results[reference], 'seconds_per_step')} |"
        )


def run_engine(kv_cache_gib: str, prompts: int, model: str) -> dict:
    """Answers ``prompts`` IFT prompts, 4 samples each, in this process's vLLM engine."""
    from self_rewarding.core.types import GenerationConfig, SamplingConfig
    from self_rewarding.generation import open_engine
    from self_rewarding.memory import PeakMemorySampler
    from self_rewarding.records import read_jsonl

    rows = read_jsonl(PROJECT / "data/05_model_input/ift_train.jsonl")[:prompts]
    sampling = SamplingConfig(temperature=0.7, top_p=0.9, max_new_tokens=192, n=4, seed=1)
    sampler = PeakMemorySampler(interval_s=0.1).start()
    started = time.perf_counter()
    engine = open_engine(
        PROJECT / model,
        GenerationConfig(
            backend="vllm",
            precision="auto",
            max_model_len=4096,
            cpu_kv_cache_gib=float(kv_cache_gib),
        ),
    )
    try:
        completions = engine.generate([row["prompt"] for row in rows], sampling)
    finally:
        engine.close()
    seconds = time.perf_counter() - started
    peaks = sampler.stop()
    return {
        "variant": f"kv{kv_cache_gib}",
        "seconds": round(seconds, 1),
        "tokens_per_second": round(engine.tokens_generated / engine.seconds, 1),
        "peak_rss_gb": peaks["peak_rss_gb"],
        "peak_pss_gb": peaks["peak_pss_tree_sampled_gb"],
        # The same text under every cache size, or the size changed the output.
        "completions_sha256": hashlib.sha256(
            json.dumps([[str(c) for c in row] for row in completions]).encode()
        ).hexdigest()[:12],
    }


def compare_engine(sizes: list[str], *, prompts: int, repeats: int, model: str) -> None:
    import torch

    print(
        f"# {platform.machine()}, torch CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, {model}, {prompts} prompts x 4 samples, "
        f"{time.strftime('%Y-%m-%d')}"
    )
    options = ["--prompts", str(prompts), "--model", model]
    results = run_alternating({size: ["engine-one", size, *options] for size in sizes}, repeats)
    reference = sizes[0]
    print(
        f"\n| KV cache GiB | peak GiB (tree RSS) | tree PSS | tokens/s "
        f"| throughput vs {reference} (paired) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for size in sizes:
        runs = results[size]
        print(
            f"| {size} | {listed(runs, 'peak_rss_gb', 2)} | {listed(runs, 'peak_pss_gb', 2)} "
            f"| {listed(runs, 'tokens_per_second', 0)} "
            f"| {paired_ratios(runs, results[reference], 'tokens_per_second')} |"
        )


def run_verdicts(pad_to_multiple_of: int, prompts: int, model: str, precision: str) -> dict:
    """Reads ``prompts`` judge prompts' verdict probabilities in this process."""
    from self_rewarding.core.prompts import render_judge_prompt
    from self_rewarding.generation.verdicts import VerdictReader
    from self_rewarding.hardware import resolve
    from self_rewarding.memory import PeakMemorySampler
    from self_rewarding.records import read_jsonl

    rows = read_jsonl(PROJECT / "data/05_model_input/eft_eval.jsonl")[:prompts]
    texts = [render_judge_prompt(row["prompt"], row["response"]) for row in rows]
    sampler = PeakMemorySampler(interval_s=0.1).start()
    reader = VerdictReader(
        str(PROJECT / model), resolve(precision), pad_to_multiple_of=pad_to_multiple_of
    )
    reader.read(texts)
    peaks = sampler.stop()
    return {
        "variant": f"pad{pad_to_multiple_of}",
        "precision": reader.precision,
        "seconds_per_verdict": round(reader.seconds / reader.verdicts, 3),
        "peak_rss_gb": peaks["peak_rss_gb"],
    }


def compare_verdicts(
    multiples: list[str], *, prompts: int, repeats: int, model: str, precision: str
) -> None:
    import torch

    print(
        f"# {platform.machine()}, torch CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, {model}, {prompts} judge prompts, "
        f"precision {precision}, {time.strftime('%Y-%m-%d')}"
    )
    options = ["--prompts", str(prompts), "--model", model, "--precision", precision]
    results = run_alternating(
        {multiple: ["verdicts-one", multiple, *options] for multiple in multiples}, repeats
    )
    reference = multiples[0]
    print(f"\n| length rounded up to | peak GiB | s/verdict | time vs {reference} (paired) |")
    print("| --- | --- | --- | --- |")
    for multiple in multiples:
        runs = results[multiple]
        print(
            f"| {multiple} | {listed(runs, 'peak_rss_gb', 2)} "
            f"| {listed(runs, 'seconds_per_verdict', 3)} "
            f"| {paired_ratios(runs, results[reference], 'seconds_per_verdict')} |"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("stages", help="every stage's peak from its metrics file (the default)")
    parser.add_argument("--budget-gb", type=float, default=4.0, help="stages over it are marked")
    parser.add_argument("--log", type=Path, help="a dvc repro output: adds each stage's wall time")
    for kind, variants in VARIANTS.items():
        for name in (kind, f"{kind}-one"):
            command = sub.add_parser(name)
            if name.endswith("-one"):
                command.add_argument("variant", choices=variants)
            else:
                command.add_argument("--variants", nargs="+", default=list(variants))
                command.add_argument("--repeats", type=int, default=1)
            command.add_argument("--steps", type=int, default=2)
            command.add_argument("--model", default="data/06_models/M0")
            command.add_argument("--precision", default="auto")
            command.add_argument(
                "--examples",
                choices=["longest", "shuffled"],
                default="longest",
                help="the longest examples (the worst batch) or a seeded shuffle (the "
                "lengths a stage meets, one after another)",
            )
    for name in ("engine", "engine-one"):
        command = sub.add_parser(name)
        if name == "engine":
            command.add_argument("--kv-cache-gib", nargs="+", default=["1", "0.5"])
            command.add_argument("--repeats", type=int, default=1)
        else:
            command.add_argument("kv_cache_gib")
        command.add_argument("--prompts", type=int, default=24)
        command.add_argument("--model", default="data/06_models/M1")
    for name in ("verdicts", "verdicts-one"):
        command = sub.add_parser(name)
        if name == "verdicts":
            command.add_argument("--pad-to-multiple-of", nargs="+", default=["64", "1"])
            command.add_argument("--repeats", type=int, default=1)
        else:
            command.add_argument("pad_to_multiple_of", type=int)
        command.add_argument("--prompts", type=int, default=400)
        command.add_argument("--model", default="data/06_models/M1")
        command.add_argument("--precision", default="auto")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.command == "verdicts":
        compare_verdicts(
            args.pad_to_multiple_of,
            prompts=args.prompts,
            repeats=args.repeats,
            model=args.model,
            precision=args.precision,
        )
    elif args.command == "verdicts-one":
        print(
            json.dumps(
                run_verdicts(args.pad_to_multiple_of, args.prompts, args.model, args.precision)
            )
        )
    elif args.command == "engine":
        compare_engine(
            args.kv_cache_gib, prompts=args.prompts, repeats=args.repeats, model=args.model
        )
    elif args.command == "engine-one":
        print(json.dumps(run_engine(args.kv_cache_gib, args.prompts, args.model)))
    elif args.command in VARIANTS:
        compare(
            args.command,
            args.variants,
            steps=args.steps,
            repeats=args.repeats,
            model=args.model,
            precision=args.precision,
            order=args.examples,
        )
    elif args.command and args.command.endswith("-one"):
        kind = args.command.removesuffix("-one")
        result = run_variant(
            kind, args.variant, args.steps, args.model, args.precision, order=args.examples
        )
        print(json.dumps(result))
    else:
        raise SystemExit(print_stages(args.budget_gb, args.log))


if __name__ == "__main__":
    main()
