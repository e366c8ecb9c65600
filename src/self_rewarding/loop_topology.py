"""How many iterations the loop runs, read from ``params.yaml`` (``loop.iterations``), and
``dvc.yaml`` written to match.

Kedro's pipelines derive their namespaces from the setting when they are built. DVC cannot
count (its ``foreach`` takes a list, and a list of deps cannot be interpolated), so the
model lists of ``dvc.yaml`` are rewritten in place from the setting, comments and all:

    python -m self_rewarding.loop_topology --iterations 3   # set it, rewrite dvc.yaml
    python -m self_rewarding.loop_topology                  # rewrite from params.yaml
    python -m self_rewarding.loop_topology --check          # exit 1 when out of date

``make run`` rewrites before ``dvc repro``; a stage that DVC runs from an out-of-date
``dvc.yaml`` stops with this command in its message.
"""

from __future__ import annotations

import argparse
import difflib
import io
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

import yaml

from self_rewarding.core.topology import (
    check_iterations,
    evaluated_models,
    iterations,
    probed_models,
)

logger = logging.getLogger(__name__)

PARAMS_FILE = "params.yaml"
DVC_FILE = "dvc.yaml"
# Used where no params.yaml is at hand (a packaged project): the paper's two iterations.
DEFAULT_ITERATIONS = 2
REWRITE_COMMAND = "python -m self_rewarding.loop_topology"

# The per-model deps of the stages that read every model's outputs, by the file they name.
PER_MODEL_DEPS = {
    re.compile(r"^data/07_model_output/(?!evaluation/)[^/]+/eval_answers\.jsonl$"): (
        "data/07_model_output/{model}/eval_answers.jsonl"
    ),
    re.compile(r"^data/08_reporting/[^/]+/judge_evaluation\.json$"): (
        "data/08_reporting/{model}/judge_evaluation.json"
    ),
    re.compile(r"^data/08_reporting/[^/]+/judge_alignment_scores\.jsonl$"): (
        "data/08_reporting/{model}/judge_alignment_scores.jsonl"
    ),
    re.compile(r"^data/07_model_output/(?!evaluation/)[^/]+/ifeval_responses\.jsonl$"): (
        "data/07_model_output/{model}/ifeval_responses.jsonl"
    ),
}
AGGREGATING_STAGES = ("evaluate_instruction_following", "evaluation_report")


class LoopTopologyError(RuntimeError):
    """``dvc.yaml`` does not match ``loop.iterations``, or the setting is invalid."""


def read_iterations(project_root: Path | str | None = None) -> int:
    """``loop.iterations`` of ``params.yaml`` in ``project_root`` (default: the working
    directory, where ``kedro`` and ``dvc`` run)."""
    path = Path(project_root or Path.cwd()) / PARAMS_FILE
    if not path.is_file():
        logger.warning("No %s here: the loop runs %d iterations.", path, DEFAULT_ITERATIONS)
        return DEFAULT_ITERATIONS
    params = yaml.safe_load(path.read_text()) or {}
    loop = params.get("loop") if isinstance(params, dict) else None
    if not isinstance(loop, dict) or "iterations" not in loop:
        raise LoopTopologyError(f"{path}: loop.iterations: missing")
    try:
        return check_iterations(loop["iterations"])
    except ValueError as error:
        raise LoopTopologyError(f"{path}: {error}") from None


def _yaml():
    from ruamel.yaml import YAML

    round_trip = YAML()
    round_trip.indent(mapping=2, sequence=4, offset=2)
    round_trip.width = 4096
    round_trip.preserve_quotes = True
    return round_trip


def _replace_list(sequence, values: list) -> None:
    """Edits ``sequence`` into ``values`` entry by entry, so that the comments of the
    entries it keeps stay on them."""
    edits = difflib.SequenceMatcher(a=list(sequence), b=values, autojunk=False).get_opcodes()
    for tag, start, end, new_start, new_end in reversed(edits):
        if tag == "equal":
            continue
        for index in reversed(range(start, end)):
            del sequence[index]
        for offset, value in enumerate(values[new_start:new_end]):
            sequence.insert(start + offset, value)


def _flow_map(**values):
    from ruamel.yaml.comments import CommentedMap

    mapping = CommentedMap(values)
    mapping.fa.set_flow_style()
    return mapping


def _per_model_deps(deps, models: list[str]) -> list:
    """``deps`` with each block of per-model files replaced by one entry per model, where
    its first entry was."""
    kept, emitted = [], set()
    for entry in deps:
        pattern = next(
            (p for p in PER_MODEL_DEPS if isinstance(entry, str) and p.match(entry)), None
        )
        if pattern is None:
            kept.append(entry)
        elif pattern not in emitted:
            emitted.add(pattern)
            kept.extend(PER_MODEL_DEPS[pattern].format(model=m) for m in models)
    return kept


def render_dvc_yaml(text: str, count: int) -> str:
    """``dvc.yaml``'s text with its model and iteration lists for ``count`` iterations;
    everything else, comments included, unchanged."""
    check_iterations(count)
    round_trip = _yaml()
    pipeline = round_trip.load(text)
    stages = pipeline["stages"]
    table = stages["generate"]["foreach"]  # the anchor the other iteration stages alias
    table.clear()
    for it in iterations(count):
        table[it.name] = _flow_map(model=it.model, next_model=it.next_model)
    _replace_list(stages["judge_probe"]["foreach"], probed_models(count))
    _replace_list(stages["evaluate_model"]["foreach"], evaluated_models(count))
    for name in AGGREGATING_STAGES:
        deps = stages[name]["deps"]
        _replace_list(deps, _per_model_deps(list(deps), evaluated_models(count)))
    out = io.StringIO()
    round_trip.dump(pipeline, out)
    return out.getvalue()


def _write_atomically(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def set_iterations(project_root: Path, count: int) -> None:
    """Writes ``loop.iterations: count`` into ``params.yaml``, comments kept."""
    check_iterations(count)
    path = project_root / PARAMS_FILE
    round_trip = _yaml()
    params = round_trip.load(path.read_text())
    params["loop"]["iterations"] = count
    out = io.StringIO()
    round_trip.dump(params, out)
    _write_atomically(path, out.getvalue())


def sync_dvc_yaml(project_root: Path) -> bool:
    """Rewrites ``dvc.yaml`` for ``params.yaml``'s iterations; True when it changed."""
    path = project_root / DVC_FILE
    current = path.read_text()
    rendered = render_dvc_yaml(current, read_iterations(project_root))
    if rendered != current:
        _write_atomically(path, rendered)
    return rendered != current


def check_dvc_yaml(project_root: Path) -> None:
    """Raises ``LoopTopologyError`` when ``dvc.yaml`` was written for another number of
    iterations than ``params.yaml`` sets."""
    count = read_iterations(project_root)
    current = (project_root / DVC_FILE).read_text()
    if render_dvc_yaml(current, count) != current:
        raise LoopTopologyError(
            f"{project_root / DVC_FILE} does not match loop.iterations: {count} of "
            f"{project_root / PARAMS_FILE}: run `{REWRITE_COMMAND}` (make run does), "
            "then dvc repro."
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, help="set loop.iterations in params.yaml")
    parser.add_argument("--check", action="store_true", help="only check dvc.yaml")
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="project root")
    args = parser.parse_args(argv)
    try:
        if args.check:
            check_dvc_yaml(args.project)
            sys.stdout.write(f"dvc.yaml matches loop.iterations: {read_iterations(args.project)}\n")
            return 0
        if args.iterations is not None:
            set_iterations(args.project, args.iterations)
        changed = sync_dvc_yaml(args.project)
    except (LoopTopologyError, ValueError) as error:
        sys.stderr.write(f"{error}\n")
        return 1
    count = read_iterations(args.project)
    sys.stdout.write(f"dvc.yaml {'rewritten' if changed else 'already'} for {count} iterations\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
