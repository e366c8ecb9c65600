"""Self-instruction creation (paper section 2.3, step 1): M_t writes new prompts from an
8-shot prompt of 6 human seed prompts and 2 prompts it generated earlier in the same
iteration; the new instruction is parsed out of its continuation.

The few-shot prompt is plain text that the model continues after ``Task 9:``, as in the
paper (a base-model style completion, no chat template).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

from self_rewarding.core.filters import PromptPool, filter_prompts
from self_rewarding.core.rows import GeneratedPrompt
from self_rewarding.core.seed_data import prompt_id
from self_rewarding.core.types import PromptFilterConfig, SelfInstructConfig

SELF_INSTRUCT_HEADER = (
    "Below are tasks that users gave to an AI assistant. Each task is a complete request "
    "that the assistant can answer in text.\n\n"
)

# Generation stops where the model starts the task after its own.
SELF_INSTRUCT_STOP = ("\nTask ",)

# A new "Task N:" label, or a chat-template marker, ends the generated instruction.
_NEXT_TASK = re.compile(r"\n\s*Task\s*\d+\s*:|<\|im_(?:start|end)\|>|</s>", re.IGNORECASE)
_LEADING_LABEL = re.compile(r"^\s*(?:Task\s*\d+\s*:)\s*", re.IGNORECASE)


def choose_examples(
    rng: random.Random,
    seed_prompts: Sequence[str],
    generated_prompts: Sequence[str],
    config: SelfInstructConfig,
) -> list[str]:
    """Draws the examples of one few-shot prompt: seed prompts first, then earlier
    generated ones (seed prompts fill in while fewer than needed exist)."""
    n_generated = min(config.n_generated_examples, len(generated_prompts))
    n_seed = config.n_seed_examples + config.n_generated_examples - n_generated
    examples = rng.sample(list(seed_prompts), min(n_seed, len(seed_prompts)))
    return examples + rng.sample(list(generated_prompts), n_generated)


def build_self_instruct_prompt(examples: Sequence[str]) -> str:
    """The few-shot prompt: numbered tasks, ending with the label of the next one."""
    tasks = "".join(f"Task {i}: {example.strip()}\n\n" for i, example in enumerate(examples, 1))
    return f"{SELF_INSTRUCT_HEADER}{tasks}Task {len(examples) + 1}:"


def parse_instruction(text: str) -> str | None:
    """Reads the new instruction out of the model's continuation.

    Takes the text up to the next ``Task N:`` label (or chat marker), without a leading
    label of its own; None when nothing is left.
    """
    instruction = _LEADING_LABEL.sub("", text)
    instruction = _NEXT_TASK.split(instruction, maxsplit=1)[0].strip()
    return instruction or None


# Fixed so that every iteration reports the same counts, zeros included.
REJECTION_REASONS = (
    "unparseable",
    "too_short",
    "too_long",
    "blocked_keyword",
    "duplicate",
    "too_similar",
)


def write_prompts(
    seed_prompts: Sequence[str],
    config: SelfInstructConfig,
    filters: PromptFilterConfig,
    rng: random.Random,
    generate_round: Callable[[int, list[str]], Sequence[Sequence[str]]],
) -> list[GeneratedPrompt]:
    """Self-instruction creation, round by round: each round sends
    ``config.prompts_per_round`` few-shot prompts (seed prompts and prompts accepted in
    earlier rounds), filters each new instruction as it comes (length, keywords,
    duplicates, ROUGE-L against the pool), and stops once ``config.n_prompts`` are
    accepted or after ``config.max_rounds``.

    Args:
        seed_prompts: The human seed prompts.
        config: Counts and few-shot composition.
        filters: The prompt filters' thresholds.
        rng: Draws the few-shot examples.
        generate_round: ``(round index, few-shot prompts)`` -> one completion per prompt
            (each a ``str``, with ``finish_reason`` and ``seed`` where it has them).

    Returns:
        Every generated prompt with its verdict, in generation order.
    """
    pool = PromptPool.from_prompts(seed_prompts)
    accepted: list[str] = []
    found: list[GeneratedPrompt] = []
    for round_index in range(config.max_rounds):
        if len(accepted) >= config.n_prompts:
            break
        few_shot = [
            build_self_instruct_prompt(choose_examples(rng, seed_prompts, accepted, config))
            for _ in range(config.prompts_per_round)
        ]
        for (completion,) in generate_round(round_index, few_shot):
            instruction = parse_instruction(str(completion))
            if instruction is None:
                verdict = {"prompt": "", "accepted": False, "reason": "unparseable"}
                verdict["max_rouge_l"] = None
            else:
                (verdict,) = filter_prompts([instruction], pool, filters)
            if verdict["accepted"]:
                accepted.append(verdict["prompt"])
            found.append(
                GeneratedPrompt(
                    prompt_id=prompt_id(verdict["prompt"] or str(completion)),
                    **verdict,
                    round=round_index,
                    generation=str(completion),
                    finish_reason=getattr(completion, "finish_reason", None),
                    seed=getattr(completion, "seed", None),
                )
            )
    return found


def prompt_counts(prompts: Sequence[GeneratedPrompt]) -> dict[str, float | None]:
    """Generated, accepted and rejected (by reason) prompts, and the rounds they took."""
    reasons = [p.reason for p in prompts if p.reason is not None]
    accepted = sum(p.accepted for p in prompts)
    return {
        "generated": float(len(prompts)),
        "accepted": float(accepted),
        "rejected": float(len(reasons)),
        "acceptance_rate": accepted / len(prompts) if prompts else None,
        "rounds": float(len({p.round for p in prompts})),
        **{f"rejected_{reason}": float(reasons.count(reason)) for reason in REJECTION_REASONS},
    }
