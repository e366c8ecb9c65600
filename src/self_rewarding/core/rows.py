"""The rows of one self-rewarding iteration as typed records. The core's loop functions
make and read them; a node turns them into a DataFrame (one column per field, then the
iteration and the provenance of the model that made them) and back."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar


@dataclass(frozen=True)
class GeneratedPrompt:
    """A self-instructed prompt and the filters' verdict (``prompt`` empty when nothing
    could be parsed out of the generation)."""

    prompt_id: str
    prompt: str
    accepted: bool
    reason: str | None
    max_rouge_l: float | None
    round: int
    generation: str
    finish_reason: str | None
    seed: int | None


@dataclass(frozen=True)
class Candidate:
    """One sampled response of M_t to a prompt."""

    prompt_id: str
    prompt: str
    candidate_id: str
    response: str
    n_tokens: int
    finish_reason: str | None
    seed: int | None


@dataclass(frozen=True)
class Judgment:
    """One judge answer on a candidate; ``score`` None when it gave none."""

    prompt_id: str
    candidate_id: str
    sample: int
    judge_text: str
    score: float | None
    scoring_mode: str
    constrained: bool
    seed: int | None


@dataclass(frozen=True)
class PreferencePair:
    """A prompt's chosen and rejected candidate (TRL's ``prompt, chosen, rejected``)."""

    prompt_id: str
    prompt: str
    chosen: str
    rejected: str
    chosen_score: float
    rejected_score: float
    chosen_candidate_id: str
    rejected_candidate_id: str
    seed: int | None


@dataclass(frozen=True)
class MetaJudgment:
    """The meta-judge's comparison of a candidate's highest- and lowest-scored judgment
    in both orders; when both agree, the judge-preference pair (``prompt``: the judge
    prompt, ``chosen``/``rejected``: the judgments)."""

    prompt_id: str
    candidate_id: str
    spread: float
    high_judgment: str
    low_judgment: str
    high_first_answer: str
    low_first_answer: str
    high_first_verdict: str | None
    low_first_verdict: str | None
    winner: str | None
    prompt: str
    chosen: str | None
    rejected: str | None


Record = TypeVar("Record")


def row_of(record, iteration: int, provenance: Mapping[str, Any]) -> dict:
    """A record's columns, then the iteration and provenance; ``seed`` (the sampler of
    this very row), when the record has one, comes last."""
    fields = dataclasses.asdict(record)
    seed = {"seed": fields.pop("seed")} if "seed" in fields else {}
    return {**fields, "iteration": iteration, **provenance, **seed}


def records_of(kind: type[Record], rows: Iterable[Mapping[str, Any]]) -> list[Record]:
    """Records from rows that hold (at least) the record's columns; a missing value
    (NaN) becomes None.

    Raises:
        ValueError: A row lacks columns of the record (they are named).
    """
    names = [field.name for field in dataclasses.fields(kind)]
    found = []
    for index, row in enumerate(rows):
        missing = [name for name in names if name not in row]
        if missing:
            raise ValueError(f"{kind.__name__} row {index}: missing columns {missing}")
        found.append(kind(**{name: _value(row[name]) for name in names}))
    return found


def _value(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def words(text: str) -> int:
    """Length in words, as length control and the pair statistics count it."""
    return len(str(text).split())
