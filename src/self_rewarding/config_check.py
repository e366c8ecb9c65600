"""Checks every parameter block against its schema before a run does any work.

Each top-level block has a schema: the core's frozen dataclasses (``iteration``,
``evaluation``, ...) and, for the trainer blocks, TRL's own ``SFTConfig`` and
``DPOConfig``. A misspelt key, a value of the wrong type or an unknown precision raises a
``ConfigError`` that names the parameter file defining the key and the key's full path,
e.g. ``conf/base/parameters_sft.yml: sft.trainer.learning_rat: unknown key``.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from self_rewarding.core.precision import Precision
from self_rewarding.core.types import (
    BaseModelConfig,
    EFTConfig,
    EvaluationConfig,
    IFTConfig,
    IterationConfig,
    JudgeProbeConfig,
    LauncherConfig,
)

# Trainer fields that ``<block>.precision`` sets: a second way to set them would let the
# two disagree.
PRECISION_FIELDS = ("bf16", "fp16", "tf32", "half_precision_backend")
# Set by the project: the trainer's own files go to a scratch directory.
PROJECT_FIELDS = ("output_dir",)


class ConfigError(ValueError):
    """A parameter that does not fit its schema, named by file and key."""


@dataclasses.dataclass(frozen=True)
class TrainingBlock:
    """The schema of ``sft`` and ``dpo``: a precision and TRL trainer fields."""

    trainer: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # checked by TRL's
    precision: Precision = "auto"
    launcher: LauncherConfig = LauncherConfig()
    # ``trainer`` fields for a CPU without native bf16 (``core.precision.training_block_for``)
    on_cpu_without_bf16: Mapping[str, Any] | None = None


def _trl_config(kind: str):
    import trl

    return {"sft": trl.SFTConfig, "dpo": trl.DPOConfig}[kind]


@functools.cache
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@functools.cache
def _adapter(hint):
    from pydantic import TypeAdapter

    return TypeAdapter(hint)


def _dataclass_of(hint) -> type | None:
    """The dataclass a field holds (``X`` or ``X | None``), else None."""
    candidates = typing.get_args(hint) or (hint,)
    found = [c for c in candidates if dataclasses.is_dataclass(c)]
    return found[0] if found else None


def check_dataclass(cls, value: Any, key: str) -> list[tuple[str, str]]:
    """Problems of ``value`` as a ``cls``, nested blocks included: ``(dotted key,
    message)`` for each error pydantic finds, at the location it names."""
    from pydantic import ValidationError

    try:
        _adapter(cls).validate_python(value)
    except ValidationError as error:
        return [_problem(cls, key, found) for found in error.errors()]
    return []


def _problem(cls, key: str, error: Mapping[str, Any]) -> tuple[str, str]:
    path = ".".join([key, *map(str, error["loc"])])
    if error["type"] in {"unexpected_keyword_argument", "extra_forbidden"}:
        known = _fields_at(cls, error["loc"][:-1])
        return path, f"unknown key (known: {', '.join(sorted(known))})" if known else "unknown key"
    return path, f"{error['msg']} (got {error.get('input')!r})"


def _fields_at(cls, location: tuple) -> set[str]:
    """The field names of the block at ``location`` in ``cls`` (empty where unknown)."""
    for name in location:
        cls = _dataclass_of(_hints(cls).get(name)) if isinstance(name, str) else None
        if cls is None:
            return set()
    return {field.name for field in dataclasses.fields(cls)}


def _check_value(hint, value, path: str) -> list[tuple[str, str]]:
    from pydantic import ValidationError

    try:
        _adapter(hint).validate_python(value)
    except ValidationError as error:
        first = error.errors()[0]
        return [(path, f"{first['msg']} (got {value!r})")]
    return []


def check_training_block(kind: str, value: Any, key: str) -> list[tuple[str, str]]:
    """Problems of an ``sft``/``dpo`` block: its own keys, then every trainer field
    against TRL's config class."""
    if not isinstance(value, Mapping):
        return [(key, f"expected a mapping with trainer and precision, got {value!r}")]
    own_keys = {k: v for k, v in value.items() if k not in ("trainer", "on_cpu_without_bf16")}
    problems = check_dataclass(TrainingBlock, own_keys, key)
    problems.extend(_check_cpu_sizes(kind, value.get("on_cpu_without_bf16"), key))
    return [*problems, *_check_trainer(kind, value.get("trainer") or {}, key)]


def _check_cpu_sizes(kind: str, sizes: Any, key: str) -> list[tuple[str, str]]:
    """Problems of a training block's ``on_cpu_without_bf16``: a ``trainer`` mapping only."""
    path = f"{key}.on_cpu_without_bf16"
    if sizes is None:
        return []
    if not isinstance(sizes, Mapping):
        return [(path, f"expected a mapping with trainer, got {sizes!r}")]
    problems = [
        (f"{path}.{name}", "unknown key (known: trainer)") for name in sizes if name != "trainer"
    ]
    return [*problems, *_check_trainer(kind, sizes.get("trainer") or {}, path, block=key)]


def _check_trainer(
    kind: str, trainer: Any, key: str, block: str | None = None
) -> list[tuple[str, str]]:
    """Problems of the ``trainer`` mapping at ``key`` (of the block ``block``, default
    ``key``): every field against TRL's config class."""
    block = block or key
    if not isinstance(trainer, Mapping):
        return [(f"{key}.trainer", "expected a mapping of trainer fields")]
    problems = []
    config_class = _trl_config(kind)
    hints = _hints(config_class)
    for name, item in trainer.items():
        path = f"{key}.trainer.{name}"
        if name in PRECISION_FIELDS:
            problems.append((path, f"set {block}.precision (auto, bf16, fp16, fp32) instead"))
        elif name in PROJECT_FIELDS:
            problems.append((path, "set by the project; leave it out"))
        elif name not in hints:
            problems.append((path, f"unknown key: not a field of trl.{config_class.__name__}"))
        elif name == "model_init_kwargs" and isinstance(item, Mapping) and "dtype" in item:
            problems.append((f"{path}.dtype", f"set {block}.precision instead"))
        else:
            problems.extend(_check_value(hints[name], item, path))
    return problems


SCHEMAS: dict[str, Any] = {
    "model": BaseModelConfig,
    "judge_probe": JudgeProbeConfig,
    "ift": IFTConfig,
    "eft": EFTConfig,
    "iteration": IterationConfig,
    "evaluation": EvaluationConfig,
    "sft": "sft",
    "dpo": "dpo",
}
# Checked against TRL's config classes: importing TRL (and transformers) costs 10-30 s on
# a 2-core CPU, so a run checks them only when it trains (``TRAINING_BLOCKS``).
TRAINING_BLOCKS = ("sft", "dpo")


def check_parameters(
    parameters: Mapping[str, Any],
    conf_source: str | Path | None = None,
    env: str | None = None,
    runtime_params: Mapping[str, Any] | None = None,
    blocks: Iterable[str] | None = None,
    *,
    run_wide: bool = True,
) -> None:
    """Checks every block that has a schema (or those named in ``blocks``) and, with
    ``run_wide``, the model source and the run-wide precision; raises one ``ConfigError``
    listing every problem, each with where the key was set: ``--params``
    (``runtime_params``) or the parameter file (when ``conf_source`` is given)."""
    problems = []
    if run_wide:
        problems.extend(_check_model_source(parameters.get("model")))
        if "precision" in parameters:
            problems.extend(_check_value(Precision, parameters["precision"], "precision"))
    wanted = set(SCHEMAS if blocks is None else blocks)
    for name, schema in SCHEMAS.items():
        if name not in parameters or name not in wanted:
            continue
        if isinstance(schema, str):
            problems.extend(check_training_block(schema, parameters[name], name))
        else:
            problems.extend(check_dataclass(schema, parameters[name], name))
    if problems:
        overridden = _dotted_keys(runtime_params or {})
        lines = []
        for key, message in problems:
            where = "--params" if key in overridden else locate_key(conf_source, env, key)
            lines.append(f"{where or 'parameters'}: {key}: {message}")
        raise ConfigError("Invalid parameters:\n  " + "\n  ".join(lines))


def _dotted_keys(params: Mapping[str, Any], prefix: str = "") -> set[str]:
    keys = set()
    for key, value in params.items():
        dotted = f"{prefix}{key}"
        keys.add(dotted)
        if isinstance(value, Mapping):
            keys |= _dotted_keys(value, f"{dotted}.")
    return keys


def _check_model_source(model: Any) -> list[tuple[str, str]]:
    """``model.base`` written as a local path must be a model directory (a bare
    ``org/name`` is a hub id)."""
    base = model.get("base") if isinstance(model, Mapping) else None
    if not isinstance(base, str) or base == "embedded":
        return []
    looks_local = base.startswith(("/", "./", "../", "~", "data/")) or Path(base).exists()
    if looks_local and not (Path(base).expanduser() / "config.json").is_file():
        return [("model.base", f"no model directory at {base} (config.json missing)")]
    return []


def locate_key(conf_source: str | Path | None, env: str | None, dotted_key: str) -> str | None:
    """The parameter file that sets ``dotted_key`` last (the run environment's over
    ``base``), or None when no file does (a ``--params`` override)."""
    if conf_source is None:
        return None
    root = Path(conf_source)
    found = None
    for environment in dict.fromkeys(["base", env or "local"]):
        for path in sorted((root / environment).glob("parameters*.yml")):
            if _sets_key(path, dotted_key):
                found = path.relative_to(root.parent).as_posix()
    return found


def _sets_key(path: Path, dotted_key: str) -> bool:
    """The YAML file sets the key (possibly to null)."""
    import yaml

    try:
        node: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    *parents, last = dotted_key.split(".")
    for part in parents:
        node = node.get(part) if isinstance(node, Mapping) else None
    return isinstance(node, Mapping) and last in node
