"""A referee's verdict probabilities: one forward pass per prompt, the answer prefilled
with ``[[`` and the next token's log-probabilities of ``A``, ``B`` and ``C`` read
(``core.verdicts`` turns them into verdicts). No text is generated, so a referee of a
billion parameters costs one prefill per verdict on a CPU."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from self_rewarding.core.verdicts import VERDICT_LABELS, VERDICT_PREFIX

logger = logging.getLogger(__name__)


class VerdictReader:
    """Reads verdict log-probabilities with transformers, one prompt at a time (a batch
    of one keeps memory at the weights plus one prompt's activations)."""

    def __init__(
        self,
        referee: str,
        precision: str = "fp32",
        max_prompt_tokens: int = 4096,
        pad_to_multiple_of: int = 64,
    ):
        """Loads the referee.

        Args:
            referee: A model directory or a referee name (``models.referees``).
            precision: ``fp32``, ``bf16`` or ``fp16`` (resolved, not ``auto``).
            max_prompt_tokens: Longer prompts (or longer than the model's positions) keep
                their end, where the answers and the verdict instruction are, and are
                counted in ``truncated``.
            pad_to_multiple_of: Each prompt's length is rounded up with padding after it
                (a causal model's last real position does not see it). Under bf16 on a
                CPU, oneDNN builds and keeps kernels for every new length; rounded, 4,096
                tokens make 64 lengths instead of thousands. 1: no padding.
        """
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from self_rewarding.core.precision import dtype_name
        from self_rewarding.models.referees import referee_source

        source, kwargs = referee_source(referee)
        self.referee = referee
        self.precision = precision
        self.max_prompt_tokens = max_prompt_tokens
        self.pad_to_multiple_of = max(1, pad_to_multiple_of)
        self.tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        self.model = AutoModelForCausalLM.from_pretrained(
            source, dtype=getattr(torch, dtype_name(precision)), **kwargs
        ).eval()
        positions = getattr(self.model.config, "max_position_embeddings", None)
        if positions:
            self.max_prompt_tokens = min(max_prompt_tokens, positions)
        self.label_ids = {}
        for label in VERDICT_LABELS:
            ids = self.tokenizer.encode(label, add_special_tokens=False)
            if len(ids) != 1:
                raise ValueError(f"{referee}: verdict label {label!r} is not one token: {ids}")
            self.label_ids[label] = ids[0]
        self.pad_token_id = (
            self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id or 0
        )
        self.verdicts = 0
        self.truncated = 0
        self.seconds = 0.0
        self.backend = "transformers-verdicts"

    def _input_ids(self, prompt: str) -> list[int]:
        chat = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        ids = self.tokenizer.encode(chat + VERDICT_PREFIX, add_special_tokens=False)
        if len(ids) > self.max_prompt_tokens:
            self.truncated += 1
            ids = ids[-self.max_prompt_tokens :]
        return ids

    def read(self, prompts: Sequence[str]) -> list[dict[str, float]]:
        """The log-probabilities of ``A``, ``B`` and ``C`` after each prompt's ``[[``."""
        import torch

        found = []
        for prompt in prompts:
            started = time.perf_counter()
            ids = self._input_ids(prompt)
            last = len(ids) - 1
            # Rounded up, but never past the positions the model has.
            padded = min(
                -(-len(ids) // self.pad_to_multiple_of) * self.pad_to_multiple_of,
                self.max_prompt_tokens,
            )
            ids = ids + [self.pad_token_id] * (padded - len(ids))
            with torch.inference_mode():
                logits = (
                    self.model(input_ids=torch.tensor([ids]), logits_to_keep=torch.tensor([last]))
                    .logits[0, -1]
                    .float()
                )
            logprobs = torch.log_softmax(logits, dim=-1)
            found.append({label: float(logprobs[i]) for label, i in self.label_ids.items()})
            self.seconds += time.perf_counter() - started
            self.verdicts += 1
        return found

    def judge_pair(self, template: dict, question: str, answer: str, other: str):
        """``answer`` against ``other`` with a FastChat pairwise prompt (``pair-v2``),
        in both orders: the position-averaged ``core.verdicts.PairVerdict``."""
        from self_rewarding.core.prompts import render_fastchat_prompt
        from self_rewarding.core.verdicts import position_averaged_verdict

        answer_first, answer_second = self.read(
            [
                render_fastchat_prompt(template, question=question, answer_a=a, answer_b=b)
                for a, b in ((answer, other), (other, answer))
            ]
        )
        return position_averaged_verdict(answer_first, answer_second)

    def generate(self, prompts: Sequence[str], sampling=None, chat: bool = True) -> list:
        """The ``Generator`` interface (so that resumable chunks work alike): one
        completion per prompt, the most probable verdict (``[[A]]``) with the labels'
        log-probabilities in ``label_logprobs``; ``sampling`` is not used."""
        from self_rewarding.generation.base import Completion

        return [
            [
                Completion(
                    f"[[{max(found, key=found.get)}]]",
                    n_tokens=1,
                    finish_reason="stop",
                    label_logprobs=found,
                )
            ]
            for found in self.read(prompts)
        ]

    @property
    def tokens_generated(self) -> int:
        return self.verdicts

    def close(self) -> None:
        self.model = None
