"""JSON Lines records: strict reading with errors that name file, line and field, and
atomic writing, so a failed write never leaves a half-written file in place."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


class RecordError(ValueError):
    """A JSONL record that cannot be used: names the file, the line and the field."""

    def __init__(self, path: str | Path, line: int, message: str, field: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path + (f", line {line}" if line else "")
        where += f", field '{field}'" if field else ""
        super().__init__(f"{where}: {message}")


def read_jsonl(
    path: str | Path,
    required_fields: Sequence[str] = (),
    non_empty_fields: Sequence[str] = (),
    *,
    unique_fields: Sequence[str] = (),
    min_rows: int = 0,
) -> list[dict]:
    """Reads a JSON Lines file, checking each row before anything uses it.

    Args:
        path: The file to read.
        required_fields: Fields every row must have (a null value counts as missing).
        non_empty_fields: Fields that must also hold a non-blank string.
        unique_fields: Fields whose non-null values must not repeat (ids).
        min_rows: Fewest rows the file must hold (1: an empty file is an error).

    Returns:
        The rows, in file order. Blank lines are skipped.

    Raises:
        FileNotFoundError: The file does not exist.
        RecordError: A line is not a JSON object, a field is missing or empty, an id
            repeats, or the file has fewer than ``min_rows`` rows.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: JSONL file not found")
    rows = []
    first_seen: dict[str, dict] = {field: {} for field in unique_fields}
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise RecordError(
                    path, line_number, f"not valid JSON ({error.msg} at column {error.colno})"
                ) from None
            if not isinstance(row, dict):
                raise RecordError(path, line_number, "not a JSON object")
            check_fields(row, path, line_number, required_fields, non_empty_fields)
            for field, seen in first_seen.items():
                value = row.get(field)
                if value is None:
                    continue
                key = json.dumps(value, sort_keys=True)
                if key in seen:
                    raise RecordError(
                        path,
                        line_number,
                        f"duplicate {value!r}, first on line {seen[key]}",
                        field=field,
                    )
                seen[key] = line_number
            rows.append(row)
    if len(rows) < min_rows:
        found = "no rows (the file is empty)" if not rows else f"only {len(rows)} rows"
        raise RecordError(path, 0, f"{found}; at least {min_rows} needed")
    return rows


def check_fields(
    row: dict,
    path: str | Path,
    line_number: int,
    required_fields: Sequence[str] = (),
    non_empty_fields: Sequence[str] = (),
) -> None:
    """Raises RecordError naming the first missing or empty field of a row."""
    for field in (*required_fields, *non_empty_fields):
        if row.get(field) is None:
            raise RecordError(path, line_number, "missing", field=field)
    for field in non_empty_fields:
        value = row[field]
        if not isinstance(value, str) or not value.strip():
            raise RecordError(path, line_number, "empty or not a string", field=field)


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    """Writes rows as JSON Lines atomically."""
    write_text_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def write_text_atomic(path: str | Path, text: str) -> None:
    """Writes a text file atomically: a temporary file beside it is renamed into place,
    so readers see the old file or the new one, never a half-written one."""
    with atomic_output(path) as temporary:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Writes a binary file atomically (see ``write_text_atomic``)."""
    with atomic_output(path) as temporary:
        temporary.write_bytes(data)


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path beside ``path`` for the caller to write; when the block
    ends without error, the file is flushed to disk and renamed over ``path``, else it is
    deleted and ``path`` keeps its previous content.

    The temporary file is hidden (``.<name>.tmp-<pid>-<random><suffix>``), in the same
    directory (so the rename is atomic) and keeps the suffix of ``path`` (writers that
    pick a format from it, such as ``savefig``, still work). A process killed mid-write
    leaves at most such a file, never a partial ``path``; the next write of ``path``
    removes the ones whose process is gone.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.tmp-{writer_token()}-", suffix=path.suffix
    )
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes it private (0600)
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        fsync_directory(path.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    remove_leftovers(path.parent, f".{path.name}.tmp-")


# This machine in a leftover's name: no "-" (it ends the writer's token).
_HOST = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "localhost"


def writer_token() -> str:
    """This process as the owner of a file it writes beside others: ``<pid>@<host>``;
    on a filesystem that several machines share, a process id alone names no process."""
    return f"{os.getpid()}@{_HOST}"


def writer_alive(token: str) -> bool:
    """Whether the writer a leftover names may still run: a process of this machine
    that runs, or any process of another machine (whose processes this one cannot
    see). A bare ``<pid>`` is taken as this machine's."""
    pid, _, host = token.partition("@")
    if host and host != _HOST:
        return True
    return not pid.isdigit() or process_alive(int(pid))


def remove_leftovers(directory: str | Path, prefix: str) -> list[Path]:
    """Removes the entries ``<prefix><pid>@<host>-...`` of ``directory`` whose writer is
    gone: what a killed writer of this machine left behind. Entries of running
    processes, and of other machines, are kept.

    Returns:
        The removed paths.
    """
    removed = []
    for entry in Path(directory).glob(f"{glob.escape(prefix)}*"):
        if writer_alive(entry.name[len(prefix) :].split("-", 1)[0]):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def fsync_directory(directory: str | Path) -> None:
    """Flushes a directory entry (a rename in it) to disk, where the OS allows it."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()
