"""Self-instruction creation (paper section 2.3, step 1): M_t writes new prompts from an
8-shot prompt of 6 human seed prompts and 2 prompts it generated earlier in the same
iteration; the new instruction is parsed out of its continuation.

The few-shot prompt is plain text that the model continues after ``Task 9:``, as in the
paper (a base-model style completion, no chat template).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from self_rewarding.core.types import SelfInstructConfig

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
