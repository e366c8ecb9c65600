"""Prompt templates shipped as package data, and their rendering.

The judge template is the verbatim additive 5-point prompt of the paper (Figure 2,
arXiv:2401.10020). Its hash is recorded next to every dataset built with it.
"""

from __future__ import annotations

import hashlib
import string
from functools import cache
from importlib import resources

JUDGE_TEMPLATE_NAME = "judge_additive_5pt.txt"
JUDGE_PLACEHOLDERS = frozenset({"instruction", "response"})


@cache
def load_template(name: str) -> str:
    """Returns the text of a template from ``self_rewarding/core/templates``."""
    return (resources.files(__package__) / "templates" / name).read_text(encoding="utf-8")


def template_placeholders(template: str) -> set[str]:
    """Returns the ``{named}`` placeholders of a ``str.format`` template."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def template_sha256(name: str) -> str:
    """Returns the SHA-256 of a template's text, recorded as provenance."""
    return hashlib.sha256(load_template(name).encode("utf-8")).hexdigest()


def render_judge_prompt(instruction: str, response: str) -> str:
    """Fills the verbatim judge prompt with a user instruction and a candidate response.

    Args:
        instruction: The user's question.
        response: The response to be judged.

    Returns:
        The judge prompt, to be sent as the user turn of a chat.
    """
    template = load_template(JUDGE_TEMPLATE_NAME)
    if template_placeholders(template) != JUDGE_PLACEHOLDERS:
        raise ValueError(
            f"{JUDGE_TEMPLATE_NAME} must have exactly the placeholders "
            f"{sorted(JUDGE_PLACEHOLDERS)}, found {sorted(template_placeholders(template))}"
        )
    return template.format(instruction=instruction, response=response).rstrip("\n")


def render_fastchat_prompt(judge_prompt: dict, **fields: str) -> str:
    """Fills a FastChat judge prompt (a row of MT-Bench's ``judge_prompts.jsonl``: its
    ``system_prompt`` and ``prompt_template``) into one user turn.

    Args:
        judge_prompt: The row (``pair-v2``, ``single-v1``, ...).
        fields: ``question``, ``answer`` or ``answer_a``/``answer_b``, as the template
            asks.
    """
    body = judge_prompt["prompt_template"].format(**fields)
    return f"{judge_prompt['system_prompt']}\n\n{body}"


def split_hh_dialogue(dialogue: str) -> tuple[str, str]:
    """Splits an HH-RLHF dialogue into the conversation so far and the last assistant
    reply (what the human preference is about).

    Raises:
        ValueError: When the dialogue has no ``Assistant:`` turn.
    """
    marker = "\n\nAssistant:"
    if marker not in dialogue:
        raise ValueError("HH-RLHF dialogue without an 'Assistant:' turn")
    context, reply = dialogue.rsplit(marker, 1)
    return context.strip(), reply.strip()
