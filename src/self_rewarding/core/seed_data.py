"""Building the seed sets of the paper (section 2.2) from human OASST data.

- IFT: human (instruction, top-ranked reply) pairs.
- EFT: judge examples: the user turn is the verbatim judge prompt filled with an
  instruction and a human reply; the target is a short justification ending in
  ``Score: X``. X comes from the human quality label: ``X = floor(5 * quality + 0.5)``
  (OASST ``quality`` is the annotators' mean in [0, 1], so 0.75 -> 4, 0.5 -> 3 (half
  up), 0.25 -> 1). The justification names the rubric criteria the score grants, in the
  rubric's own words, then the one it misses.
- EFT eval: OASST1 validation replies with their human rank, for evaluation only.

Every training prompt whose normalised text is an evaluation prompt is dropped.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from self_rewarding.core.prompts import render_judge_prompt
from self_rewarding.core.types import EFTConfig, IFTConfig

_WHITESPACE = re.compile(r"\s+")

# The rubric of the judge prompt, one clause per point (paper Figure 2).
RUBRIC_MET = (
    "The response is relevant and provides some information related to the user's inquiry.",
    "It addresses a substantial portion of the user's question.",
    "It answers the basic elements of the user's question in a useful way.",
    "It is written from an AI Assistant's perspective, addressing the question directly "
    "and comprehensively, and is well-organized and helpful.",
    "It is impeccably tailored to the question, without extraneous information, "
    "reflecting expert knowledge in an engaging and insightful answer.",
)
RUBRIC_MISSED = (
    "The response is not relevant to the user's inquiry and provides no useful information.",
    "However, it does not address a substantial portion of the question.",
    "However, it does not answer the basic elements of the question in a useful way.",
    "However, it is not a direct, comprehensive and well-organized answer.",
    "However, there is room for improvement in clarity, conciseness or focus.",
)


def normalise_prompt(text: str) -> str:
    """Case-folds and collapses whitespace: the key for de-duplication and overlap."""
    return _WHITESPACE.sub(" ", text).strip().casefold()


def prompt_id(text: str) -> str:
    """Returns a stable id of a prompt: the first 16 hex digits of SHA-256 of its
    normalised text."""
    return hashlib.sha256(normalise_prompt(text).encode("utf-8")).hexdigest()[:16]


def quality_to_score(quality: float) -> int:
    """Maps an OASST quality label in [0, 1] to the judge's 0-5 scale (half up)."""
    if not 0.0 <= quality <= 1.0:
        raise ValueError(f"quality must be in [0, 1], got {quality}")
    return math.floor(5 * quality + 0.5)


def templated_justification(score: int) -> str:
    """Writes a judge answer for a score: the criteria met, the first missed, the score."""
    if not 0 <= score <= 5:
        raise ValueError(f"score must be in 0..5, got {score}")
    sentences = list(RUBRIC_MET[:score])
    if score < 5:
        sentences.append(RUBRIC_MISSED[score])
    return " ".join(sentences) + f"\nScore: {score}"


def word_count(text: str) -> int:
    return len(text.split())


def _sample(rows: list[dict], n: int | None, rng: random.Random) -> list[dict]:
    return rows if n is None or n >= len(rows) else rng.sample(rows, n)


def _sample_balanced(rows: list[dict], n: int | None, key: str, rng: random.Random):
    """Takes about the same number of rows for each value of ``key`` (round robin)."""
    groups: dict = defaultdict(list)
    for row in rows:
        groups[row[key]].append(row)
    for group in groups.values():
        rng.shuffle(group)
    limit = len(rows) if n is None else min(n, len(rows))
    ordered = sorted(groups)
    picked: list[dict] = []
    while len(picked) < limit:
        for value in ordered:
            if groups[value] and len(picked) < limit:
                picked.append(groups[value].pop())
    return picked


def build_ift_examples(
    candidates: Iterable[Mapping], eval_prompts: set[str], config: IFTConfig
) -> tuple[list[dict], dict[str, int]]:
    """Selects human (instruction, response) pairs for SFT.

    Args:
        candidates: Rows with ``prompt`` and ``response``.
        eval_prompts: Normalised evaluation prompts, never trained on.
        config: Sizes and filters.

    Returns:
        The examples (``prompt_id, prompt, response, task``) and counts of what was
        dropped and why.
    """
    counts: Counter = Counter()
    seen: set[str] = set()
    kept = []
    for row in candidates:
        counts["ift_candidates"] += 1
        key = normalise_prompt(row["prompt"])
        if key in eval_prompts:
            counts["ift_dropped_eval_overlap"] += 1
        elif key in seen:
            counts["ift_dropped_duplicate"] += 1
        elif word_count(row["response"]) > config.max_response_words:
            counts["ift_dropped_too_long"] += 1
        else:
            seen.add(key)
            kept.append(
                {
                    "prompt_id": prompt_id(row["prompt"]),
                    "prompt": row["prompt"],
                    "response": row["response"],
                    "task": "ift",
                }
            )
    examples = _sample(kept, config.max_examples, random.Random(config.seed))
    counts["ift_examples"] = len(examples)
    return examples, dict(counts)


def build_eft_candidates(
    scored_replies: Iterable[Mapping], eval_prompts: set[str], config: EFTConfig
) -> tuple[list[dict], dict[str, int]]:
    """Turns human-scored replies into judge examples with templated justifications.

    Args:
        scored_replies: Rows with ``prompt_text, response_id, response_text,
            quality_score`` (null quality rows are skipped and counted).
        eval_prompts: Normalised evaluation prompts, never trained on.
        config: Sizes, filters and balancing.

    Returns:
        Examples with ``prompt_id, instruction, candidate, response_id, human_quality,
        score, prompt`` (the filled judge prompt), ``response`` (the target) and ``task``,
        and counts of what was dropped and why.
    """
    counts: Counter = Counter()
    kept = []
    for row in scored_replies:
        counts["eft_candidates"] += 1
        quality = row.get("quality_score")
        if quality is None or (isinstance(quality, float) and math.isnan(quality)):
            counts["eft_dropped_no_quality"] += 1
        elif normalise_prompt(row["prompt_text"]) in eval_prompts:
            counts["eft_dropped_eval_overlap"] += 1
        elif word_count(row["response_text"]) > config.max_response_words:
            counts["eft_dropped_too_long"] += 1
        else:
            score = quality_to_score(float(quality))
            kept.append(
                {
                    "prompt_id": prompt_id(row["prompt_text"]),
                    "instruction": row["prompt_text"],
                    "candidate": row["response_text"],
                    "response_id": row["response_id"],
                    "human_quality": float(quality),
                    "score": score,
                    "prompt": render_judge_prompt(row["prompt_text"], row["response_text"]),
                    "response": templated_justification(score),
                    "task": "eft",
                }
            )
    rng = random.Random(config.seed)
    if config.balance_scores:
        examples = _sample_balanced(kept, config.max_examples, "score", rng)
    else:
        examples = _sample(kept, config.max_examples, rng)
    counts["eft_examples"] = len(examples)
    for score, n in Counter(row["score"] for row in examples).items():
        counts[f"eft_examples_score_{score}"] = n
    return examples, dict(counts)


def build_eft_eval(ranked_prompts: Iterable[Mapping]) -> list[dict]:
    """Flattens OASST1 first-turn ranked replies into one row per human-ranked reply.

    Args:
        ranked_prompts: Rows with ``prompt`` and ``responses`` (each with
            ``message_id, text, rank``); unranked replies are left out.

    Returns:
        Rows ``prompt_id, prompt, response_id, response, human_rank`` (0 = best).
    """
    rows = []
    for item in ranked_prompts:
        for reply in item["responses"]:
            if reply.get("rank") is None:
                continue
            rows.append(
                {
                    "prompt_id": prompt_id(item["prompt"]),
                    "prompt": item["prompt"],
                    "response_id": reply["message_id"],
                    "response": reply["text"],
                    "human_rank": int(reply["rank"]),
                }
            )
    return rows


def ordering_agrees(human_quality: list[float], model_scores: list[float | None]) -> bool:
    """True when the model orders every pair of replies as humans do (paper: EFT keeps
    only judgments whose ranking agrees with the human ranking).

    A missing model score, or a tie where humans are not tied, disagrees.
    """
    if any(score is None for score in model_scores):
        return False
    pairs = [(i, j) for i in range(len(human_quality)) for j in range(i + 1, len(human_quality))]
    for i, j in pairs:
        human = (human_quality[i] > human_quality[j]) - (human_quality[i] < human_quality[j])
        model = (model_scores[i] > model_scores[j]) - (model_scores[i] < model_scores[j])
        if human != model:
            return False
    return True
