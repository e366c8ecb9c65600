#!/usr/bin/env python3
"""Kill -9 anywhere, then rerun: each kind of DVC stage is killed midway and the pipeline
is reproduced again, on a fresh copy of the project in the test environment.

For every stage in the matrix the script:

1. starts ``dvc repro --force --single-item <stage>`` in its own process group and, once
   the stage's heaviest Kedro node (measured in a first clean run) is halfway through,
   sends SIGKILL to the whole group (dvc, kedro, the vLLM engine, ...);
2. checks that no output is half-written: outputs of every other stage are unchanged,
   the killed stage's outputs are absent (dvc removes them before it runs a stage) or
   complete: every JSONL line and JSON file parses, PNGs end with IEND, HTML with
   ``</html>``, model directories hold a parseable config and complete safetensors;
3. runs ``dvc repro`` on the whole pipeline, as anyone would after a kill (dvc may check
   the killed stage's outputs out of its cache, since its dependencies did not change),
   then runs the killed stage again for real (``dvc repro --force --single-item``, next
   to what the killed run left behind: staging directories, temporary files, finished
   generation chunks) and ``dvc repro``; each must succeed and leave ``dvc status``
   clean, and then every output must be valid, with no leftover temporary file or
   staging directory.

It prints the matrix with the result per stage and exits non-zero if any stage fails.
DVC's own lock after a kill: ``.dvc/tmp/rwlock`` keeps the killed process's entries. dvc
removes those in its way itself (a warning: "had been killed. Auto removed it from the lock
file"); read entries on paths no stage writes (sources, raw data) stay, and block nothing.
A stage fails the matrix if a dead process still holds a write entry after the reruns.

Usage (from the project root; the copy uses this checkout's committed HEAD and .venv)::

    .venv/bin/python scripts/kill_matrix.py
    .venv/bin/python scripts/kill_matrix.py --stages base_model generate@iter1 --keep
    .venv/bin/python scripts/kill_matrix.py --reuse /tmp/kill-matrix-abc/project

The environment is the ``test`` one: ``kedro_env: test`` in the copy's ``params.yaml``
when the project selects its environment there, else ``KEDRO_ENV=test``.
"""

# ruff: noqa: T201 (a command-line report)
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parent.parent

# One stage of each kind: data processing, base model, SFT, generation (self-instruct,
# candidates, judge), DPO, evaluation, report.
STAGES = [
    "data_processing",
    "base_model",
    "sft_baseline",
    "generate@iter1",
    "dpo@iter1",
    "evaluate_model@M1",
    "evaluation_report",
]

STAGE_LINE = re.compile(r"Running stage '([^']+)'")
CACHED_LINE = re.compile(r"Stage '([^']+)' is cached")
NODE_LINE = re.compile(r"Running node: ([^\s:]+)")
NODE_DONE_LINE = re.compile(r"Completed \d+ out of \d+ tasks")
STALE_LOCK_LINE = re.compile(r"had been killed\. Auto removed it from the lock file")
UP_TO_DATE = "Data and pipelines are up to date"
# What an interrupted atomic write or model swap leaves beside its target.
LEFTOVER = re.compile(r"^\..+\.(tmp|staging|incoming|outgoing)-\d+-")
# Kills of one stage before giving up when it keeps ending first.
KILL_TRIES = 3
# Other outputs with these suffixes must be non-empty UTF-8; the rest (training_args.bin,
# ...) only readable.
TEXT_SUFFIXES = {".md", ".txt", ".jinja", ".yaml", ".yml", ".csv"}
# A stage that the first run did not measure is killed this long into its first node.
UNMEASURED_DELAY = 5.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


# --- Running commands ---------------------------------------------------------------


@dataclass
class Run:
    """A command's output lines, each with the seconds since it started."""

    command: list[str]
    log: Path
    process: subprocess.Popen | None = None
    lines: list[tuple[float, str]] = field(default_factory=list)
    started: float = 0.0
    seconds: float = 0.0
    rc: int | None = None
    reader: threading.Thread | None = None

    def text(self) -> str:
        return "".join(line for _, line in self.lines)

    def tail(self, n: int = 25) -> str:
        return "".join(line for _, line in self.lines[-n:])


def start(command: list[str], cwd: Path, env: dict, log: Path) -> Run:
    """Starts a command in a new session (its own process group), reading its output."""
    run = Run(command, log)
    log.parent.mkdir(parents=True, exist_ok=True)
    run.started = time.monotonic()
    run.process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
    )

    def read():
        with log.open("w", encoding="utf-8") as handle:
            handle.write(f"$ {' '.join(command)}\n")
            for line in run.process.stdout:
                run.lines.append((time.monotonic() - run.started, line))
                handle.write(line)
                handle.flush()

    run.reader = threading.Thread(target=read, daemon=True)
    run.reader.start()
    return run


def finish(run: Run, timeout: float | None = None) -> Run:
    run.rc = run.process.wait(timeout=timeout)
    run.reader.join(timeout=30)
    run.seconds = time.monotonic() - run.started
    return run


def run_to_end(command: list[str], cwd: Path, env: dict, log: Path, echo: bool = False) -> Run:
    run = start(command, cwd, env, log)
    if echo:
        shown = 0
        while run.process.poll() is None or shown < len(run.lines):
            for _, line in run.lines[shown:]:
                if STAGE_LINE.search(line) or CACHED_LINE.search(line):
                    print(f"    {line.strip()}", flush=True)
            shown = len(run.lines)
            time.sleep(0.5)
    return finish(run)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def processes_under(root: Path) -> list[tuple[int, str]]:
    """Processes (other than this one) whose working directory or command line is in
    ``root``: what a kill may have left running."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                cwd = ""
        except OSError:
            continue
        if str(root) in cmdline or cwd.startswith(str(root)):
            found.append((int(entry.name), cmdline.strip()[:120]))
    return found


# --- Stage timeline (from a clean run) ----------------------------------------------


@dataclass
class StageTimes:
    start: float
    end: float
    nodes: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def heaviest(self) -> tuple[str, float] | None:
        if not self.nodes:
            return None
        name, begin, end = max(self.nodes, key=lambda n: n[2] - n[1])
        return name, end - begin


def load_timeline(path: Path) -> dict[str, StageTimes]:
    """The stage timeline an earlier first run of this copy saved."""
    if not path.is_file():
        return {}
    return {
        k: StageTimes(v["start"], v["end"], [tuple(n) for n in v["nodes"]])
        for k, v in json.loads(path.read_text(encoding="utf-8")).items()
    }


def timeline(run: Run) -> dict[str, StageTimes]:
    """When each stage and each of its Kedro nodes started and ended."""
    stages: dict[str, StageTimes] = {}
    current = None
    node = None
    for seconds, line in run.lines:
        if match := STAGE_LINE.search(line):
            if current:
                stages[current].end = seconds
            current = match[1]
            stages[current] = StageTimes(seconds, run.seconds)
            node = None
        elif current and (match := NODE_LINE.search(line)):
            node = (match[1], seconds)
        elif current and node and NODE_DONE_LINE.search(line):
            stages[current].nodes.append((node[0], node[1], seconds))
            node = None
    return stages


# --- Outputs ------------------------------------------------------------------------


def stage_outputs(project: Path) -> dict[str, list[str]]:
    """Every stage's outputs (metrics and plots included), from dvc.lock."""
    lock = yaml.safe_load((project / "dvc.lock").read_text(encoding="utf-8"))
    return {
        name: [out["path"] for out in stage.get("outs", [])]
        for name, stage in lock.get("stages", {}).items()
    }


def fingerprint(path: Path) -> str | None:
    """A content hash of a file or a directory (leftovers aside); None when missing."""
    if path.is_file():
        return hashlib.sha1(path.read_bytes()).hexdigest()
    if path.is_dir():
        digest = hashlib.sha1()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            if any(LEFTOVER.match(part) for part in file.relative_to(path).parts):
                continue
            digest.update(str(file.relative_to(path)).encode() + b"\0")
            digest.update(hashlib.sha1(file.read_bytes()).digest())
        return digest.hexdigest()
    return None


def problems_of(path: Path) -> list[str]:
    """What makes an output incomplete or unreadable (empty when it is whole)."""
    if not path.exists():
        return [f"{path}: missing"]
    if path.is_dir():
        if (path / "config.json").exists() or path.parent.name == "06_models":
            return _model_problems(path)
        problems = []
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            if not LEFTOVER.match(file.name):
                problems += _file_problems(file)
        return problems
    return _file_problems(path)


def _file_problems(path: Path) -> list[str]:  # noqa: PLR0911, PLR0912 (one per format)
    try:
        data = path.read_bytes()
        if path.suffix == ".jsonl":
            for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
                if line.strip() and not isinstance(json.loads(line), dict):
                    return [f"{path}, line {number}: not a JSON object"]
            if data and not data.endswith(b"\n"):
                return [f"{path}: last line cut (no newline at the end)"]
        elif path.suffix == ".json":
            json.loads(data)
        elif path.suffix == ".png":
            if not (data.startswith(PNG_SIGNATURE) and data.endswith(PNG_END)):
                return [f"{path}: not a complete PNG"]
        elif path.suffix == ".html":
            if not data.decode("utf-8").rstrip().endswith("</html>"):
                return [f"{path}: HTML cut before </html>"]
        elif path.suffix == ".safetensors":
            return _safetensors_problems(path, data)
        elif path.suffix in TEXT_SUFFIXES:
            data.decode("utf-8")
            if not data.strip():
                return [f"{path}: empty"]
    except (ValueError, UnicodeDecodeError) as error:
        return [f"{path}: {type(error).__name__}: {str(error)[:80]}"]
    return []


def _safetensors_problems(path: Path, data: bytes) -> list[str]:
    if len(data) < 8:
        return [f"{path}: shorter than a safetensors header"]
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if len(data) != 8 + size + end:
        return [f"{path}: {len(data)} bytes, the header says {8 + size + end}"]
    return []


def _model_problems(path: Path) -> list[str]:
    problems = []
    if not (path / "config.json").is_file():
        return [f"{path}: model directory without config.json"]
    weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("pytorch_model*.bin"))
    if not weights:
        problems.append(f"{path}: no weights")
    for file in sorted(p for p in path.iterdir() if p.is_file()):
        if not LEFTOVER.match(file.name):
            problems += _file_problems(file)
    return problems


def stale_lock_entries(project: Path) -> tuple[int, int]:
    """Read and write entries of dead processes in dvc's ``.dvc/tmp/rwlock``."""
    path = project / ".dvc" / "tmp" / "rwlock"
    if not path.is_file():
        return 0, 0
    lock = json.loads(path.read_text(encoding="utf-8") or "{}")

    def dead(info: dict) -> bool:
        return not Path(f"/proc/{int(info['pid'])}").exists()

    reads = sum(
        dead(info)
        for infos in lock.get("read", {}).values()
        for info in (infos if isinstance(infos, list) else [infos])
    )
    writes = sum(dead(info) for info in lock.get("write", {}).values())
    return reads, writes


def leftovers(project: Path) -> list[Path]:
    """Temporary files and staging directories left in data/ by killed writers."""
    found = []
    for directory, subdirectories, files in os.walk(project / "data"):
        for name in subdirectories + files:
            if LEFTOVER.match(name):
                found.append(Path(directory, name).relative_to(project))
        subdirectories[:] = [d for d in subdirectories if not LEFTOVER.match(d)]
    return found


# --- The matrix ---------------------------------------------------------------------


@dataclass
class Attempt:
    """One way back after the kill: its commands' exit status, time and stages."""

    rc: int | None = None
    seconds: float = 0.0
    ran: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    status_clean: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.status_clean

    def how(self) -> str:
        parts = [f"ran {len(self.ran)}"] + (
            [f"restored {len(self.restored)}"] if self.restored else []
        )
        return ", ".join(parts)


@dataclass
class Result:
    stage: str
    killed_after: float | None = None
    node: str = ""
    killed: bool = False
    intact: bool = False
    intact_notes: list[str] = field(default_factory=list)
    stale_lock: str = ""
    stale_writes_after: int = 0
    repro: Attempt = field(default_factory=Attempt)
    again: Attempt | None = None
    valid_after: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            self.killed
            and self.intact
            and self.repro.ok
            and (self.again is None or self.again.ok)
            and self.valid_after
            and not self.stale_writes_after
        )


def wait_for_kill_point(
    run: Run, times: StageTimes | None, fraction: float, timeout: float
) -> None:
    """Returns once the running stage is ``fraction`` into its heaviest node (as measured
    in the first run), or into the stage when it has no node, or ``UNMEASURED_DELAY``
    into its first node when it was not measured; or when the command ends."""
    trigger = times.heaviest if times else None
    marks: dict[str, float] = {}  # stage, first node, trigger node: when each appeared
    scanned = 0
    deadline = time.monotonic() + timeout
    while run.process.poll() is None and time.monotonic() < deadline:
        lines = run.lines[scanned:]
        scanned += len(lines)
        for seconds, line in lines:
            if STAGE_LINE.search(line):
                marks.setdefault("stage", seconds)
            if match := NODE_LINE.search(line):
                marks.setdefault("first node", seconds)
                if trigger and match[1] == trigger[0]:
                    marks.setdefault("trigger", seconds)
        if trigger:
            due = marks.get("trigger", math.inf) + fraction * trigger[1]
        elif times:
            due = marks.get("stage", math.inf) + fraction * (times.end - times.start)
        else:
            due = marks.get("first node", math.inf) + UNMEASURED_DELAY
        if time.monotonic() - run.started >= due:
            return
        time.sleep(0.05)


class Matrix:
    def __init__(self, project: Path, env: dict, logs: Path, args):
        self.project = project
        self.env = env
        self.logs = logs
        self.args = args
        self.dvc = str(PROJECT / ".venv" / "bin" / "dvc")
        self.count = 0

    def _log(self, label: str) -> Path:
        self.count += 1
        return self.logs / f"{self.count:02d}-{label.replace('@', '_')}.log"

    def dvc_run(self, label: str, *arguments: str, echo: bool = False) -> Run:
        return run_to_end(
            [self.dvc, *arguments], self.project, self.env, self._log(label), echo=echo
        )

    def status_clean(self, label: str) -> tuple[bool, str]:
        run = self.dvc_run(label, "status")
        return run.rc == 0 and UP_TO_DATE in run.text(), run.tail(8)

    def all_problems(self) -> list[str]:
        problems = []
        for outputs in stage_outputs(self.project).values():
            for output in outputs:
                problems += problems_of(self.project / output)
        return problems

    def kill(self, result: Result, times: StageTimes | None, fraction: float) -> Run:
        stage = result.stage
        run = start(
            [self.dvc, "repro", "--force", "--single-item", stage],
            self.project,
            self.env,
            self._log(f"{stage}-killed"),
        )
        pgid = run.process.pid
        wait_for_kill_point(run, times, fraction, self.args.kill_timeout)
        if run.process.poll() is None:
            os.killpg(pgid, signal.SIGKILL)
            result.killed = True
            result.killed_after = round(time.monotonic() - run.started, 1)
        finish(run, timeout=120)
        for _ in range(200):  # every process of the group, not only dvc
            if not group_alive(pgid):
                break
            time.sleep(0.1)
        result.node = _running_node(run)
        return run

    def run_stage(self, stage: str, times: StageTimes | None) -> Result:
        result = Result(stage)
        # Durations vary with the machine's load: when the stage ends before the kill,
        # it is killed again, earlier.
        fraction = self.args.fraction
        for attempt in range(1, KILL_TRIES + 1):
            outputs = stage_outputs(self.project)
            before = {
                out: fingerprint(self.project / out) for outs in outputs.values() for out in outs
            }
            run = self.kill(result, times, fraction)
            if result.killed:
                break
            result.notes.append(
                f"try {attempt}: the stage ended (rc {run.rc}) before the kill at {fraction:.0%}"
            )
            fraction /= 4
        self._check_after_kill(result, outputs, before)
        self._rerun(result)
        return result

    def _check_after_kill(self, result: Result, outputs: dict, before: dict) -> None:
        """Nothing left running, nothing half-written, nothing else lost."""
        stray = processes_under(self.project)
        if stray:
            result.notes.append(f"{len(stray)} process(es) survived the kill: {stray}")
            for pid, _ in stray:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        notes = []
        for name, outs in outputs.items():
            for out in outs:
                path = self.project / out
                if name == result.stage:
                    if path.exists():
                        notes += problems_of(path)
                elif fingerprint(path) != before[out]:
                    notes.append(f"{out}: {'lost' if not path.exists() else 'changed'}")
        result.intact = not notes
        result.intact_notes = notes
        reads, writes = stale_lock_entries(self.project)
        if reads or writes:
            result.stale_lock = (
                f"dvc lock after the kill: {reads} read and {writes} write entries of dead "
                "processes"
            )
        left = leftovers(self.project)
        if left:
            result.notes.append(f"left by the kill: {', '.join(map(str, left))}")

    def _attempt(self, label: str, *commands: list[str]) -> tuple[Attempt, list[Run]]:
        attempt, runs = Attempt(), []
        for arguments in commands:
            run = self.dvc_run(label, *arguments)
            runs.append(run)
            attempt.seconds += run.seconds
            attempt.ran += [m[1] for _, line in run.lines if (m := STAGE_LINE.search(line))]
            attempt.restored += [m[1] for _, line in run.lines if (m := CACHED_LINE.search(line))]
            attempt.rc = run.rc
            if run.rc != 0:
                break
        attempt.seconds = round(attempt.seconds, 1)
        attempt.status_clean, tail = self.status_clean(f"{label}-status")
        if not attempt.status_clean:
            runs[-1].lines.append((0.0, f"dvc status:\n{tail}"))
        return attempt, runs

    def _rerun(self, result: Result) -> None:
        """``dvc repro`` of everything (what anyone would run after a kill; dvc may
        check the killed stage's outputs out of its cache), then the killed stage run
        again for real (``--force``) and ``dvc repro``: each must succeed and leave
        ``dvc status`` clean; then every output is checked, and no leftover may remain."""
        stage = result.stage
        result.repro, runs = self._attempt(f"{stage}-repro", ["repro"])
        if result.stale_lock and any(STALE_LOCK_LINE.search(run.text()) for run in runs):
            result.stale_lock += "; dvc repro removed those in its way"
        if not result.repro.ok:
            result.notes.append(f"dvc repro failed, log {runs[-1].log}:\n{runs[-1].tail()}")
        if self.args.run_again:
            result.again, runs = self._attempt(
                f"{stage}-again", ["repro", "--force", "--single-item", stage], ["repro"]
            )
            if not result.again.ok:
                result.notes.append(
                    f"re-running the stage failed, log {runs[-1].log}:\n{runs[-1].tail()}"
                )
        reads, writes = stale_lock_entries(self.project)
        result.stale_writes_after = writes
        if result.stale_lock:
            result.stale_lock += (
                f"; left after the reruns: {reads} read entries (on paths no stage writes: "
                f"they block nothing), {writes} write entries"
            )
        problems = self.all_problems()
        left = leftovers(self.project)
        result.valid_after = not problems and not left
        if problems:
            result.notes.append("invalid after the rerun: " + "; ".join(problems[:5]))
        if left:
            result.notes.append(f"leftovers after the rerun: {', '.join(map(str, left))}")
        if not (result.repro.ok and (result.again is None or result.again.ok)):
            # Start the next stage from a consistent state.
            repair = self.dvc_run(f"{stage}-repair", "repro")
            result.notes.append(f"repair: dvc repro rc {repair.rc}")


def _running_node(run: Run) -> str:
    node = ""
    for _, line in run.lines:
        if match := NODE_LINE.search(line):
            node = match[1]
        elif NODE_DONE_LINE.search(line):
            node = ""
    if not node and not any(STAGE_LINE.search(line) for _, line in run.lines):
        return "(before the stage)"
    return node or "(between nodes)"


def print_matrix(results: list[Result]) -> None:
    header = [
        "stage",
        "killed after",
        "node at kill",
        "outputs intact",
        "dvc repro rc",
        "time",
        "stages",
        "status clean",
        "stage again rc",
        "time",
        "stages",
        "status clean",
        "outputs valid",
        "result",
    ]
    rows = []
    for r in results:
        again = (
            [str(r.again.rc), f"{r.again.seconds:.0f}s", r.again.how(), _yes(r.again.status_clean)]
            if r.again
            else ["-", "-", "-", "-"]
        )
        rows.append(
            [
                r.stage,
                f"{r.killed_after:.1f}s" if r.killed_after is not None else "not killed",
                r.node,
                _yes(r.intact),
                str(r.repro.rc),
                f"{r.repro.seconds:.0f}s",
                r.repro.how(),
                _yes(r.repro.status_clean),
                *again,
                _yes(r.valid_after),
                "PASS" if r.passed else "FAIL",
            ]
        )
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print(
        "\nKill -9 matrix. After each kill: `dvc repro` (the whole pipeline), then the stage "
        "again\n(`dvc repro --force --single-item <stage>`, then `dvc repro`). 'stages': how "
        "many ran, and how many\ndvc checked out of its cache instead.\n"
    )
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    print()
    for r in results:
        details = r.intact_notes + ([r.stale_lock] if r.stale_lock else []) + r.notes
        for name, attempt in (("dvc repro", r.repro), ("stage again", r.again)):
            if attempt and attempt.ran:
                details.append(f"{name} ran: {', '.join(attempt.ran)}")
            if attempt and attempt.restored:
                details.append(f"{name} checked out of the cache: {', '.join(attempt.restored)}")
        if details:
            print(f"{r.stage}:")
            for detail in details:
                print("  - " + detail.replace("\n", "\n    "))
    passed = sum(r.passed for r in results)
    print(f"\n{passed}/{len(results)} stages pass")


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


# --- Set-up -------------------------------------------------------------------------


def fresh_copy(workdir: Path) -> Path:
    """A clone of this checkout's HEAD, using its .venv; no DVC cache, no MLflow db."""
    project = workdir / "project"
    subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(project)], check=True)
    (project / ".venv").symlink_to(PROJECT / ".venv")
    return project


def test_environment(project: Path, env: dict) -> str:
    """Selects the test environment: in params.yaml when the project reads it there."""
    params = project / "params.yaml"
    if params.is_file():
        text = params.read_text(encoding="utf-8")
        if re.search(r"^kedro_env:", text, flags=re.MULTILINE):
            text = re.sub(r"^kedro_env:.*$", "kedro_env: test", text, flags=re.MULTILINE)
            params.write_text(text, encoding="utf-8")
            env.pop("KEDRO_ENV", None)
            return "params.yaml kedro_env: test"
    env["KEDRO_ENV"] = "test"
    return "KEDRO_ENV=test"


def environment(project: Path) -> dict:
    env = dict(os.environ)
    # The copy's sources, not the editable install's (this checkout's src).
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(project / "src"), env.get("PYTHONPATH", "")) if p
    )
    env["PATH"] = os.pathsep.join([str(PROJECT / ".venv" / "bin"), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME"):
        env.pop(variable, None)
    return env


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", nargs="+", default=STAGES, help="stages to kill")
    parser.add_argument(
        "--fraction",
        type=float,
        default=0.5,
        help="how far into the stage's heaviest node to kill (0-1, default 0.5)",
    )
    parser.add_argument("--kill-timeout", type=float, default=1800, help="seconds")
    parser.add_argument(
        "--no-run-again",
        dest="run_again",
        action="store_false",
        help="only `dvc repro` after each kill, not the killed stage again",
    )
    parser.add_argument("--workdir", type=Path, help="where to put the copy")
    parser.add_argument("--reuse", type=Path, help="a copy from an earlier --keep run")
    parser.add_argument("--keep", action="store_true", help="keep the copy afterwards")
    args = parser.parse_args(argv)

    if args.reuse:
        project = args.reuse.resolve()
        workdir = project.parent
    else:
        workdir = Path(tempfile.mkdtemp(prefix="kill-matrix-", dir=args.workdir))
        project = fresh_copy(workdir)
    env = environment(project)
    selected = test_environment(project, env)
    logs = workdir / f"logs-{time.strftime('%Y%m%d-%H%M%S')}"
    commit = subprocess.run(
        ["git", "-C", str(project), "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(f"Project copy: {project} (commit {commit}); environment: {selected}")
    print(f"Logs: {logs}", flush=True)
    matrix = Matrix(project, env, logs, args)

    timings_file = project / ".dvc" / "tmp" / "kill_matrix_timeline.json"
    times = load_timeline(timings_file)
    # A reused copy without a saved timeline runs everything again to measure it.
    first_args = ["repro"] if times or not args.reuse else ["repro", "--force"]
    print(f"\nFirst run (dvc {' '.join(first_args)}, whole pipeline):", flush=True)
    first = matrix.dvc_run("first-run", *first_args, echo=True)
    print(f"  rc {first.rc} in {first.seconds:.0f}s", flush=True)
    times.update(timeline(first))
    timings_file.parent.mkdir(parents=True, exist_ok=True)
    timings_file.write_text(
        json.dumps({k: v.__dict__ for k, v in times.items()}, indent=1), encoding="utf-8"
    )
    if first.rc != 0:
        print(first.tail(40))
        print(f"Kept: {project} (logs in {logs})")
        return 2
    clean, tail = matrix.status_clean("first-status")
    problems = matrix.all_problems()
    if not clean or problems:
        print(f"Not a clean start: status clean {clean}\n{tail}\n{problems[:10]}")
        print(f"Kept: {project} (logs in {logs})")
        return 2

    results = []
    for stage in args.stages:
        if stage not in stage_outputs(project):
            result = Result(stage, notes=["no such stage in dvc.lock"])
            results.append(result)
            continue
        stage_times = times.get(stage)
        heaviest = stage_times.heaviest if stage_times else None
        plan = (
            f"{args.fraction:.0%} into node {heaviest[0]} ({heaviest[1]:.0f}s clean)"
            if heaviest
            else f"{args.fraction:.0%} into the stage"
            if stage_times
            else f"{UNMEASURED_DELAY:.0f}s into its first node (not measured)"
        )
        print(f"\n{stage}: kill -9 at {plan}", flush=True)
        result = matrix.run_stage(stage, stage_times)
        again = result.again
        print(
            f"  killed after {result.killed_after}s in {result.node or '-'}; intact "
            f"{result.intact}; dvc repro rc {result.repro.rc} in {result.repro.seconds:.0f}s "
            f"({result.repro.how()}), status clean {result.repro.status_clean}"
            + (
                f"; stage again rc {again.rc} in {again.seconds:.0f}s ({again.how()}), "
                f"status clean {again.status_clean}"
                if again
                else ""
            )
            + f": {'PASS' if result.passed else 'FAIL'}",
            flush=True,
        )
        results.append(result)

    print_matrix(results)
    passed = all(r.passed for r in results)
    if passed and not args.keep and not args.reuse:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"Kept: {project} (logs in {logs})")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
