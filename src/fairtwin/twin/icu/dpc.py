"""Weekly ICU demand from the Italian Civil Protection daily regional file.

The file is ``dati-regioni/dpc-covid19-ita-regioni.csv`` of the ``pcm-dpc/COVID-19`` repository
(CC-BY-4.0, "Dipartimento della Protezione Civile"). It is read from a path the user gives or
downloaded once from its public URL into the user cache. Weekly demand ``D_i`` is the mean
``terapia_intensiva`` (ICU occupancy) over the seven days of a Monday-to-Sunday week, rounded up.

Known quirks handled here: region codes are zero-padded (``"01"``); the two autonomous provinces
have codes 21 (Bolzano) and 22 (Trento) but some derived files use 4 for both, so code 4 is
resolved by name; ``note*`` columns hold free text with commas and quotes.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import tempfile
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fairtwin.exceptions import DataFormatError, DataUnavailableError
from fairtwin.twin.icu.regions import RegionTable

__all__ = [
    "DPC_URL",
    "DPC_FILE_NAME",
    "REQUIRED_COLUMNS",
    "WeeklyDemand",
    "read_dpc_csv",
    "weekly_demand",
    "cache_dir",
    "fetch_dpc_csv",
]

log = logging.getLogger(__name__)

DPC_URL = (
    "https://raw.githubusercontent.com/pcm-dpc/COVID-19/master/dati-regioni/"
    "dpc-covid19-ita-regioni.csv"
)
REQUIRED_COLUMNS = ("data", "codice_regione", "denominazione_regione", "terapia_intensiva")
DPC_FILE_NAME = "dpc-covid19-ita-regioni.csv"


@dataclass(frozen=True, eq=False)
class WeeklyDemand:
    """Weekly ICU occupancy per region.

    Attributes
    ----------
    starts : list of date
        Monday of each week.
    demand : ndarray of int, shape (n_weeks, n_regions)
    """

    starts: list[date]
    demand: NDArray[np.int64]


def cache_dir() -> Path:
    """Where downloaded data are kept: ``$FAIRTWIN_CACHE``, else ``$XDG_CACHE_HOME/fairtwin``,
    else ``~/.cache/fairtwin``."""
    env = os.environ.get("FAIRTWIN_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "fairtwin"


def fetch_dpc_csv(url: str | None = None, timeout_s: float = 60.0) -> Path:
    """Path of the cached official file, downloading it first when absent.

    The download goes to a temporary file that is renamed into place only when complete, so an
    interrupted download never leaves a truncated cache. ``$FAIRTWIN_DPC_URL`` overrides the URL.
    """
    url = url or os.environ.get("FAIRTWIN_DPC_URL") or DPC_URL
    target = cache_dir() / DPC_FILE_NAME
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s to %s", url, target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".download-", suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, target)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        Path(tmp).unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise DataUnavailableError(
            f"could not download the Civil Protection file from {url} ({reason}). "
            "Are you offline? Download it by hand and pass its path with --data PATH "
            f"(Python: data_path=...), or place it at {target}."
        ) from exc
    return target


def _resolve_region(regions: RegionTable, code: int, name: str) -> int | None:
    if code == 4:  # both autonomous provinces in some derived files
        lowered = name.lower()
        for i, region_name in enumerate(regions.names):
            if ("bolzano" in lowered and "bolzano" in region_name.lower()) or (
                "trento" in lowered and "trento" in region_name.lower()
            ):
                return i
        return None
    try:
        return regions.index_of_code(code)
    except KeyError:
        return None


def read_dpc_csv(
    path: str | Path, regions: RegionTable
) -> tuple[list[date], NDArray[np.float64]]:
    """Read daily ICU occupancy per region.

    Returns
    -------
    days : list of date
        Sorted days present in the file.
    occupancy : ndarray of float, shape (n_days, n_regions)
        ``terapia_intensiva``; NaN where a region has no row for a day.

    Raises
    ------
    DataFormatError
        Naming the file, line and column: a missing column, a non-numeric or negative count, an
        unknown region, a malformed date, or a region reported twice for the same day.
    DataUnavailableError
        When the file cannot be opened.
    """
    path = Path(path)
    fh = io.StringIO(_read_text(path), newline="")
    with fh:
        values = _read_counts(path, fh, regions)
    if not values:
        raise DataFormatError(path, None, None, "the file has a header but no data rows")
    days = sorted({d for d, _ in values})
    index = {d: k for k, d in enumerate(days)}
    occupancy = np.full((len(days), regions.n_regions), np.nan)
    for (d, r), v in values.items():
        occupancy[index[d], r] = v
    return days, occupancy


def _read_header(path: Path, reader: Iterator[list[str]]) -> tuple[list[str], dict[str, int]]:
    """The stripped header and the position of each required column; an error names the
    missing column."""
    try:
        header = next(reader)
    except StopIteration:
        raise DataFormatError(path, 1, None, "the file is empty") from None
    header = [h.strip() for h in header]
    for col in REQUIRED_COLUMNS:
        if col not in header:
            raise DataFormatError(
                path, 1, col, f"missing column; the header must contain {list(REQUIRED_COLUMNS)}"
            )
    return header, {col: header.index(col) for col in REQUIRED_COLUMNS}


def _read_counts(path: Path, fh: io.StringIO,
                 regions: RegionTable) -> dict[tuple[date, int], int]:
    """ICU patients by ``(day, region index)`` from the CSV text ``fh`` (header first),
    skipping blank rows; an error names the line of a short row or a repeated day."""
    reader = csv.reader(fh)
    header, pos = _read_header(path, reader)
    values: dict[tuple[date, int], int] = {}
    first_line: dict[tuple[date, int], int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise DataFormatError(
                path, line, None, f"expected {len(header)} fields, found {len(row)}"
            )
        key, count = _parse_row(path, line, row, pos, regions)
        if key in values:
            raise DataFormatError(
                path, line, "data",
                f"duplicate day {key[0]} for {regions.names[key[1]]} "
                f"(first seen on line {first_line[key]})",
            )
        values[key] = count
        first_line[key] = line
    return values


def _read_text(path: Path) -> str:
    """The file's text (UTF-8, a BOM allowed); one clear error for an unreadable or binary file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataUnavailableError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataFormatError(path, line, None, "not UTF-8 text; expected the Civil Protection "
                              "CSV file") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise DataFormatError(path, line, None, "contains NUL bytes; not a CSV text file")
    return text


def _parse_row(path: Path, line: int, row: list[str], pos: dict[str, int],
               regions: RegionTable) -> tuple[tuple[date, int], int]:
    """One data row: ``((day, region index), ICU patients)``; an error names its field."""
    raw_day = row[pos["data"]].strip()
    try:
        day = date.fromisoformat(raw_day[:10])
    except ValueError:
        raise DataFormatError(
            path, line, "data", f"{raw_day!r} is not a date (YYYY-MM-DD...)"
        ) from None
    raw_code = row[pos["codice_regione"]].strip()
    name = row[pos["denominazione_regione"]].strip()
    try:
        code = int(raw_code)
    except ValueError:
        raise DataFormatError(
            path, line, "codice_regione", f"{raw_code!r} is not a region code"
        ) from None
    region = _resolve_region(regions, code, name)
    if region is None:
        raise DataFormatError(
            path, line, "codice_regione",
            f"unknown region {raw_code} ({name!r}); known codes: "
            f"{', '.join(str(c) for c in regions.codes)}",
        )
    raw_icu = row[pos["terapia_intensiva"]].strip()
    try:
        icu_f = float(raw_icu)
    except ValueError:
        raise DataFormatError(
            path, line, "terapia_intensiva",
            f"{raw_icu!r} is not a number" if raw_icu else "missing value",
        ) from None
    if not np.isfinite(icu_f) or icu_f < 0 or icu_f != int(icu_f):
        raise DataFormatError(
            path, line, "terapia_intensiva", f"{raw_icu!r} is not a non-negative whole count",
        )
    return (day, region), int(icu_f)


def weekly_demand(
    days: list[date], occupancy: NDArray[np.float64], start: date | None = None
) -> WeeklyDemand:
    """Aggregate daily occupancy into Monday-to-Sunday weeks.

    A week is kept when it lies entirely within the file's date range and every region has at
    least one day of data in it; its demand is the mean occupancy rounded up.
    """
    first, last = days[0], days[-1]
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    if start is not None:
        monday = max(monday, start - timedelta(days=start.weekday()))
    by_week: dict[date, list[int]] = defaultdict(list)
    for k, d in enumerate(days):
        week = d - timedelta(days=d.weekday())
        by_week[week].append(k)
    starts: list[date] = []
    rows: list[NDArray[np.float64]] = []
    week = monday
    while week + timedelta(days=6) <= last:
        idx = by_week.get(week, [])
        if idx:
            block = occupancy[idx]
            if np.all(np.any(~np.isnan(block), axis=0)):
                starts.append(week)
                rows.append(np.ceil(np.nanmean(block, axis=0) - 1e-9))
        week += timedelta(days=7)
    demand = np.array(rows, dtype=np.int64).reshape(len(rows), occupancy.shape[1])
    return WeeklyDemand(starts=starts, demand=demand)
