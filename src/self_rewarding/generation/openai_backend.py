"""An OpenAI-compatible chat-completions endpoint as a generator (an evaluator behind an
HTTP API: OpenAI, vLLM's server, llama.cpp's server, ...), on the ``openai`` SDK.

- Retries: 408, 409, 429, 5xx and connection errors are retried ``max_retries`` times
  with exponential backoff (0.5 s doubling to 8 s, with jitter; a ``Retry-After`` of
  up to two minutes is honoured), the SDK's own policy. Once they are spent, the error
  names the endpoint and the HTTP status or the connection failure.
- Concurrency: up to ``max_concurrency`` requests in flight; answers keep prompt order.
- Resuming a long evaluation is the caller's: ``generate`` is called chunk by chunk
  through ``generation.chunks.generate_in_chunks``.

The key comes from ``conf/local/credentials.yml`` (never from parameters, never logged,
never part of a chunk's fingerprint).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait

import openai

from self_rewarding.core.types import SamplingConfig
from self_rewarding.generation.base import Completion

logger = logging.getLogger(__name__)


class EvaluatorEndpointError(RuntimeError):
    """The endpoint is missing its key, unreachable, or answered with an error."""


def _retried_status(status: int) -> bool:
    """Whether the SDK retries an answer with this status (its ``_should_retry``)."""
    return status in (408, 409, 429) or status >= 500


class OpenAIChatGenerator:
    """Sends each prompt as one user turn to ``{base_url}/chat/completions``.

    Args:
        base_url: The endpoint, e.g. ``https://api.openai.com/v1``.
        model: The endpoint's model name.
        api_key: The key (from ``conf/local/credentials.yml``).
        timeout: Seconds per HTTP request before it counts as failed (and is retried).
        max_retries: Retries of a request on 408/409/429/5xx and connection errors.
        max_concurrency: Requests in flight at once.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout: float = 60.0,
        *,
        max_retries: int = 6,
        max_concurrency: int = 8,
    ):
        if not base_url:
            raise EvaluatorEndpointError("The HTTP evaluator needs a base_url in parameters.")
        if not api_key:
            raise EvaluatorEndpointError(
                f"The evaluator at {base_url} has no API key: put it under "
                "`openai_evaluator: {api_key: ...}` in conf/local/credentials.yml."
            )
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_concurrency = max_concurrency
        self._client = openai.OpenAI(
            base_url=self.base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
        )
        self.tokens_generated = 0
        self.seconds = 0.0

    def __repr__(self) -> str:
        return f"OpenAIChatGenerator(url={self.url!r}, model={self.model!r})"

    def _complete(self, prompt: str, sampling: SamplingConfig) -> tuple[list[Completion], int]:
        retries = f"after {self.max_retries} retries"
        try:
            answer = self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": prompt}],
                n=sampling.n,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_new_tokens,
                seed=sampling.seed,
                **({"stop": list(sampling.stop)} if sampling.stop else {}),
            )
        except openai.APIStatusError as error:
            detail = error.response.text[:300]
            when = f" ({retries})" if _retried_status(error.status_code) else ""
            raise EvaluatorEndpointError(
                f"The evaluator endpoint {self.url} answered HTTP {error.status_code}{when}: "
                f"{detail}"
            ) from error
        except openai.APITimeoutError as error:
            raise EvaluatorEndpointError(
                f"Cannot reach the evaluator endpoint {self.url}: no answer within "
                f"{self.timeout:g} s ({retries})"
            ) from error
        except openai.APIConnectionError as error:
            reason = error.__cause__ or error
            raise EvaluatorEndpointError(
                f"Cannot reach the evaluator endpoint {self.url}: {reason} ({retries})"
            ) from error
        except openai.OpenAIError as error:
            raise EvaluatorEndpointError(
                f"The evaluator endpoint {self.url} gave an unreadable answer: {error}"
            ) from error
        try:
            choices = answer.choices
            usage = answer.usage
            tokens = int(usage.completion_tokens or 0) if usage is not None else 0
            row = [
                Completion(
                    choice.message.content or "",
                    tokens // max(len(choices), 1),
                    choice.finish_reason,
                )
                for choice in choices
            ]
        except (AttributeError, KeyError, TypeError) as error:
            raise EvaluatorEndpointError(
                f"The evaluator endpoint {self.url} answered without choices/message/"
                f"content: {str(answer)[:300]}"
            ) from error
        return row, tokens

    def generate(
        self, prompts: Sequence[str], sampling: SamplingConfig, chat: bool = True
    ) -> list[list[Completion]]:
        """Returns ``sampling.n`` completions for each prompt, in prompt order.

        Raises:
            EvaluatorEndpointError: A request failed after its retries (the requests
                not yet started are not sent; those in flight finish).
        """
        if not chat:
            raise ValueError("A chat-completions endpoint only takes chat prompts")
        if sampling.regex is not None:
            logger.warning("The HTTP evaluator has no structured output: regex not applied")
        if not prompts:
            return []
        started = time.perf_counter()
        failed = threading.Event()

        def ask(prompt: str) -> tuple[list[Completion], int] | None:
            if failed.is_set():  # a request failed for good: start no other
                return None
            try:
                return self._complete(prompt, sampling)
            except BaseException:
                failed.set()
                raise

        try:
            workers = min(self.max_concurrency, len(prompts))
            with ThreadPoolExecutor(workers, thread_name_prefix="evaluator") as pool:
                futures = [pool.submit(ask, prompt) for prompt in prompts]
                wait(futures)
        finally:
            self.seconds += time.perf_counter() - started
        for future in futures:
            if future.exception() is not None:
                raise future.exception()
        answers = [future.result() for future in futures]
        self.tokens_generated += sum(tokens for _, tokens in answers)
        return [row for row, _ in answers]

    def close(self) -> None:
        """Closes the HTTP connections."""
        self._client.close()
