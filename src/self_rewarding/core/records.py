"""JSON Lines records: strict reading with errors that name file, line and field, and
atomic writing, so a failed write never leaves a half-written file in place."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path


class RecordError(ValueError):
    """A JSONL record that cannot be used: names the file, the line and the field."""

    def __init__(self, path: str | Path, line: int, message: str, field: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        where = f"{self.path}, line {line}" + (f", field '{field}'" if field else "")
        super().__init__(f"{where}: {message}")


def read_jsonl(
    path: str | Path,
    required_fields: Sequence[str] = (),
    non_empty_fields: Sequence[str] = (),
) -> list[dict]:
    """Reads a JSON Lines file, checking each row before anything uses it.

    Args:
        path: The file to read.
        required_fields: Fields every row must have (a null value counts as missing).
        non_empty_fields: Fields that must also hold a non-blank string.

    Returns:
        The rows, in file order. Blank lines are skipped.

    Raises:
        FileNotFoundError: The file does not exist.
        RecordError: A line is not a JSON object, or a field is missing or empty.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: JSONL file not found")
    rows = []
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
            rows.append(row)
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
