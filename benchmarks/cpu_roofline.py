"""How close training runs to this CPU's limit: the matmul rate the CPU reaches on the
model's own shapes, against the rate a finished run's SFT and DPO stages achieved.

Usage::

    python benchmarks/cpu_roofline.py                 # after make run (or dvc repro sft_m1)
    python benchmarks/cpu_roofline.py --tokens 512 --repeats 20

The matmul rate is ``torch.mm`` in the precision ``auto`` chooses here, on the products of
one transformer layer and of the LM head for ``--tokens`` tokens, and on a 2048 x 2048
square (the best case), each in GFLOP/s (2mkn per product). A stage's achieved rate counts
its training tokens from the Trainer's own ``total_flos`` (6 x non-embedding parameters x
tokens) and then counts what that leaves out: the forward pass recomputed under gradient
checkpointing (8 x parameters per token instead of 6) and the tied LM head (recomputed in
the fused head's tiles: 8 x vocabulary x hidden per token). Attention's own products are
not counted, so the achieved rate is a lower bound.
"""

# ruff: noqa: T201 (a benchmark: it prints its results)
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
REPORTING = PROJECT / "data" / "08_reporting"


def _training_metrics() -> dict[str, Path]:
    """Each training stage's metrics file, by stage: both SFTs, then the DPO of every
    iteration the run had (``loop.iterations``)."""
    dpo = sorted(REPORTING.glob("iter*/dpo.json"), key=lambda p: int(p.parent.name[4:]))
    return {
        "sft_baseline": REPORTING / "sft_baseline_metrics.json",
        "sft_m1": REPORTING / "sft_m1_metrics.json",
        **{f"dpo@{path.parent.name}": path for path in dpo},
    }


def _model_sizes(model_dir: Path) -> tuple[int, int, int, int]:
    """Non-embedding parameters, hidden size, intermediate size and vocabulary of a model,
    counted on the meta device (no weights loaded)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return (
        model.num_parameters(exclude_embeddings=True),
        config.hidden_size,
        config.intermediate_size,
        config.vocab_size,
    )


def _matmul_rate(m: int, k: int, n: int, dtype, repeats: int) -> float:
    """GFLOP/s of ``torch.mm`` of (m x k) by (k x n), best of ``repeats`` after a warm-up."""
    import torch

    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n / best / 1e9


def _achieved_rate(metrics: dict, non_embedding: int, hidden: int, vocab: int) -> dict:
    """A training stage's tokens and its achieved GFLOP/s, from its metrics file."""
    tokens = metrics["total_flos"] / (6 * non_embedding)
    flops = tokens * (8 * non_embedding + 8 * vocab * hidden)
    return {
        "tokens": tokens,
        "seconds": metrics["train_runtime"],
        "gflops": flops / metrics["train_runtime"] / 1e9,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=PROJECT / "data" / "06_models" / "M1")
    parser.add_argument("--tokens", type=int, default=512, help="rows of the layer products")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    import torch

    from self_rewarding.core.precision import dtype_name
    from self_rewarding.hardware import resolve

    precision = resolve("auto")
    dtype = getattr(torch, dtype_name(precision))
    non_embedding, hidden, intermediate, vocab = _model_sizes(args.model)
    print(
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"{torch.get_num_threads()} threads, precision {precision}; "
        f"model {args.model.name}: {non_embedding / 1e6:.1f}M non-embedding parameters"
    )
    t = args.tokens
    shapes = {
        f"attention projection ({t} x {hidden} x {hidden})": (t, hidden, hidden),
        f"MLP up ({t} x {hidden} x {intermediate})": (t, hidden, intermediate),
        f"MLP down ({t} x {intermediate} x {hidden})": (t, intermediate, hidden),
        f"LM head tile ({t} x {hidden} x 4096)": (t, hidden, 4096),
        "square (2048 x 2048 x 2048)": (2048, 2048, 2048),
    }
    rates = {name: _matmul_rate(*shape, dtype, args.repeats) for name, shape in shapes.items()}
    print("\n| product | GFLOP/s |\n| --- | --- |")
    for name, rate in rates.items():
        print(f"| {name} | {rate:.1f} |")
    best = max(rates.values())

    rows = []
    for stage, path in _training_metrics().items():
        if path.exists():
            metrics = json.loads(path.read_text())
            rows.append((stage, _achieved_rate(metrics, non_embedding, hidden, vocab)))
    if not rows:
        print(f"\nNo training metrics under {REPORTING}: run `make run` (or dvc repro) first.")
        return
    print(
        "\n| stage | training tokens | train seconds | achieved GFLOP/s (lower bound) "
        "| share of the best matmul rate |\n| --- | --- | --- | --- | --- |"
    )
    for stage, row in rows:
        print(
            f"| {stage} | {row['tokens']:,.0f} | {row['seconds']:.0f} | {row['gflops']:.1f} "
            f"| {row['gflops'] / best:.2f} |"
        )


if __name__ == "__main__":
    main()
