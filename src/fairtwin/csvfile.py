"""Reading CSV data files with errors that name the file (and line)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fairtwin.exceptions import DataFormatError

__all__ = ["CsvRows", "csv_rows"]


class CsvRows:
    """The rows of a CSV file: :attr:`header` and, iterated, ``(line, row)`` pairs whose names
    and values are stripped (a missing value is ``""``)."""

    def __init__(self, reader: csv.DictReader) -> None:
        self._reader = reader

    @property
    def header(self) -> list[str]:
        return [h.strip() for h in (self._reader.fieldnames or [])]

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        for line, row in enumerate(self._reader, start=2):
            yield line, {k.strip(): (v or "").strip() for k, v in row.items() if isinstance(k, str)}


@contextmanager
def csv_rows(path: Path) -> Iterator[CsvRows]:
    """A CSV file's rows; undecodable bytes, NULs and broken quoting name the file (and line)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, None, None, f"not a UTF-8 text file (byte {exc.start})") from None
    if "\x00" in text:
        raise DataFormatError(path, text[: text.index("\x00")].count("\n") + 1, None,
                              "contains a NUL byte: is it a text file?")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        yield CsvRows(reader)
    except csv.Error as exc:
        raise DataFormatError(path, reader.line_num or None, None, f"not valid CSV: {exc}") from None
