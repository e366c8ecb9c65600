"""transformers ``generate`` backend: batched, prompts sorted by length, left padding,
``num_return_sequences`` for several samples per prompt. Runs on CPU or GPU.

Seeds are per batch: torch's generator is seeded before each batch from the sampling
seed and the batch's prompts, and every completion records that seed. A completion
depends on its batch (the prompts of one chunk, sorted by length), never on what was
generated before it."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from self_rewarding.core.provenance import sample_seed
from self_rewarding.core.types import SamplingConfig
from self_rewarding.generation.base import Completion

logger = logging.getLogger(__name__)


class TransformersGenerator:
    """Generates with a local model directory through transformers."""

    def __init__(
        self,
        model_path: str | Path,
        batch_size: int = 16,
        device: str | None = None,
        precision: str = "fp32",
        *,
        gguf_file: str | None = None,
        max_model_len: int | None = None,
    ):
        """Loads the model and tokenizer.

        Args:
            model_path: A model directory with tokenizer and chat template.
            batch_size: Prompts per ``generate`` call (each with ``n`` samples).
            device: ``cuda``, ``cpu`` or None for CUDA when available.
            precision: A resolved precision (``bf16``, ``fp16``, ``fp32``): the weights'.
            gguf_file: A GGUF file in ``model_path`` to read the model from.
            max_model_len: Longest prompt, in tokens, as vLLM's (None: no limit); a longer
                one is refused, as vLLM refuses it.
        """
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from self_rewarding.core.precision import dtype_name

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model_path = str(model_path)
        self.precision = precision
        dtype = getattr(torch, dtype_name(precision))
        gguf = {"gguf_file": gguf_file} if gguf_file else {}
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, padding_side="left", **gguf)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype, **gguf)
        self.model.to(self.device).eval()
        self.batch_size = batch_size
        self.max_model_len = max_model_len
        self.tokens_generated = 0
        self.seconds = 0.0
        self._warned_regex = False

    def _chat(self, prompt: str) -> str:
        return self.tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )

    def generate(
        self, prompts: Sequence[str], sampling: SamplingConfig, chat: bool = True
    ) -> list[list[Completion]]:
        import torch

        if sampling.regex is not None and not self._warned_regex:
            logger.warning(
                "The transformers backend has no structured output: regex %r is not applied",
                sampling.regex,
            )
            self._warned_regex = True
        texts = [(self._chat(p) if chat else p) + sampling.assistant_prefix for p in prompts]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        results: list[list[Completion]] = [[] for _ in texts]
        started = time.perf_counter()
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            batch_seed = sample_seed(sampling.seed, "\0".join(texts[i] for i in batch), 0)
            torch.manual_seed(batch_seed)
            encoded = self.tokenizer(
                [texts[i] for i in batch],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            ).to(self.device)
            self._check_length(encoded["attention_mask"].sum(dim=1).max().item())
            with torch.inference_mode():
                output = self.model.generate(
                    **encoded,
                    do_sample=sampling.temperature > 0,
                    temperature=sampling.temperature if sampling.temperature > 0 else None,
                    top_p=sampling.top_p if sampling.temperature > 0 else None,
                    max_new_tokens=sampling.max_new_tokens,
                    num_return_sequences=sampling.n,
                    pad_token_id=self.tokenizer.pad_token_id,
                    return_dict_in_generate=True,
                    output_logits=sampling.score_logprobs,
                    **(
                        {"stop_strings": list(sampling.stop), "tokenizer": self.tokenizer}
                        if sampling.stop
                        else {}
                    ),
                )
            new_tokens = output.sequences[:, encoded["input_ids"].shape[1] :]
            completions = [
                self._completion(row.tolist(), sampling.stop, batch_seed) for row in new_tokens
            ]
            if sampling.score_logprobs:
                for k, completion in enumerate(completions):
                    completion.digit_logprobs = self._score_digit_logprobs(
                        new_tokens[k].tolist()[: completion.n_tokens],
                        [step[k] for step in output.logits],
                        sampling.assistant_prefix,
                    )
            self.tokens_generated += sum(c.n_tokens for c in completions)
            for k, index in enumerate(batch):
                results[index] = completions[k * sampling.n : (k + 1) * sampling.n]
        self.seconds += time.perf_counter() - started
        logger.info(
            "Generated %d x %d completions, %.1f tokens/s",
            len(texts),
            sampling.n,
            self.tokens_generated / max(self.seconds, 1e-9),
        )
        return results

    def _check_length(self, prompt_tokens: int) -> None:
        if self.max_model_len is not None and prompt_tokens > self.max_model_len:
            raise ValueError(
                f"A prompt of {prompt_tokens} tokens is longer than max_model_len "
                f"{self.max_model_len} (generation.max_model_len)"
            )

    def _score_digit_logprobs(
        self, token_ids: list[int], logits: list, text_before: str
    ) -> dict[str, float] | None:
        """The digits' log-probabilities at the score digit of one completion, from the
        raw (unwarped) logits of each step."""
        import torch

        from self_rewarding.core.judge import SCORE_DIGITS, digit_logprobs, score_token_index

        token_texts = [self.tokenizer.decode([token]) for token in token_ids]
        index = score_token_index(text_before, token_texts)
        if index is None:
            return None
        logprobs = torch.log_softmax(logits[index].float(), dim=-1)
        digit_ids = self.tokenizer.convert_tokens_to_ids(list(SCORE_DIGITS))
        return digit_logprobs(
            (digit, float(logprobs[token])) for digit, token in zip(SCORE_DIGITS, digit_ids)
        )

    def _completion(
        self, token_ids: list[int], stop: Sequence[str] = (), seed: int | None = None
    ) -> Completion:
        """Cuts a generated row at its first end-of-sequence token (the rest is padding)
        and its text before the first stop string, as vLLM does."""
        stops = {self.tokenizer.eos_token_id, self.model.generation_config.eos_token_id}
        stops = {i for s in stops for i in (s if isinstance(s, list) else [s]) if i is not None}
        end = next((k for k, token in enumerate(token_ids) if token in stops), None)
        kept = token_ids if end is None else token_ids[: end + 1]
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        cuts = [text.index(s) for s in stop if s in text]
        if cuts:
            return Completion(text[: min(cuts)], len(kept), "stop", seed)
        return Completion(text, len(kept), "length" if end is None else "stop", seed)

    def close(self) -> None:
        """Frees the model (before training on the same device)."""
        del self.model
        gc.collect()
