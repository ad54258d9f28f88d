"""Read the Power Platform admin center's request reports (CSV), all or nothing.

:func:`parse_report` / :func:`read_report` tell the Licensed User and the Non-licensed User
report apart by their header and check every line before returning anything (a problem raises
:class:`ReportError` naming each bad line); :func:`open_report` opens only a regular file of at
most :data:`MAX_REPORT_BYTES`. The formats and the rules for their values: ``docs/usage.md``,
"Reports".
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO

from monitor.model.usage import ParsedReport, ReportFormat, ReportRow

REPORT_NAMES: Mapping[ReportFormat, str] = {
    "licensed": "Licensed User report",
    "non_licensed": "Non-licensed User report",
}

MAX_PROBLEMS = 20
MAX_REPORT_BYTES = 256 * 1024 * 1024
# No identity makes this many requests a day (the largest tenant pool is 10,000,000); rows are
# summed per day, and a million of them stay far below SQLite's 2**63.
MAX_QUANTITY = 10**12
_MAX_TEXT = 256

# canonical column -> header text as Microsoft documents it
LICENSED_COLUMNS: Mapping[str, str] = {
    "environment_id": "Environment ID",
    "environment_name": "Environment Name",
    "caller_id": "Caller ID",
    "caller_type": "Caller Type",
    "usage_datetime": "Usage Datetime",
    "entitled": "Entitled quantity",
    "consumed": "Total consumed quantity",
    "dataverse_requests": "Dataverse Requests",
    "power_automate_requests": "Power Automate Requests",
    "power_apps_requests": "Power Apps Requests",
}
NON_LICENSED_COLUMNS: Mapping[str, str] = {
    "entitled": "Power platform request entitlement for this tenant",
    "environment_id": "Environment ID",
    "environment_name": "Environment Name",
    "caller_id": "Caller ID",
    "caller_type": "Caller Type",
    "resource_type": "Resource Type",
    "resource_id": "Resource ID",
    "meter_category": "Meter Category",
    "meter_subcategory": "Meter Subcategory",
    "usage_datetime": "Usage Datetime",
    "consumed": "Consumed Quantity",
}
COLUMNS: Mapping[ReportFormat, Mapping[str, str]] = {
    "licensed": LICENSED_COLUMNS,
    "non_licensed": NON_LICENSED_COLUMNS,
}
# Columns of text, of which all but the environment id may be empty; columns of numbers, of
# which the requests per service may be empty.
_TEXT = (
    "environment_id",
    "environment_name",
    "caller_id",
    "caller_type",
    "resource_type",
    "resource_id",
    "meter_category",
    "meter_subcategory",
)
_SERVICE_REQUESTS = ("dataverse_requests", "power_automate_requests", "power_apps_requests")
_NUMBERS = ("consumed", "entitled", *_SERVICE_REQUESTS)
_OPTIONAL = frozenset({*_TEXT[1:], *_SERVICE_REQUESTS})


@dataclass(frozen=True)
class ReportProblem:
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


class ReportError(ValueError):
    """The file is not a usable report; nothing of it may be imported."""

    def __init__(self, problems: Sequence[ReportProblem], *, more: int = 0) -> None:
        self.problems = tuple(problems)
        self.more = more
        lines = [str(problem) for problem in self.problems]
        if more:
            lines.append(f"... and {more} more problems")
        super().__init__("\n".join(lines))


def _normalise_header(name: str) -> str:
    words = re.sub(r"[^0-9a-z]+", " ", name.lower()).split()
    if words and words[-1] == "utc":
        words.pop()
    return " ".join(words)


_CANONICAL: dict[ReportFormat, dict[str, str]] = {
    fmt: {_normalise_header(header): key for key, header in columns.items()}
    for fmt, columns in COLUMNS.items()
}
_ALIASES = {"usage date": "usage datetime", "usage date time": "usage datetime"}
_PER_FLOW_MARKERS = frozenset({"entitled quantity", "consumed quantity"})


def _detect_format(
    names: Sequence[str],
) -> tuple[ReportFormat, dict[str, int]]:
    """Return the report format and canonical column -> index, or raise ReportError."""
    normalised = [_ALIASES.get(n, n) for n in (_normalise_header(name) for name in names)]
    present = set(normalised)
    if (
        "power platform request entitlement for this tenant" in present
        or {
            "resource type",
            "meter category",
        }
        <= present
    ):
        fmt: ReportFormat = "non_licensed"
    elif "total consumed quantity" in present or "dataverse requests" in present:
        fmt = "licensed"
    elif "environment region" in present or present >= _PER_FLOW_MARKERS:
        raise ReportError(
            [
                ReportProblem(
                    1,
                    "this is the Per Flow report (usage of flows with a per-flow licence), "
                    "not about identities; import the Licensed User or Non-licensed User report",
                )
            ]
        )
    else:
        expected = "; ".join(
            f"{REPORT_NAMES[fmt_]}: {', '.join(columns.values())}"
            for fmt_, columns in COLUMNS.items()
        )
        raise ReportError(
            [
                ReportProblem(
                    1,
                    "not a Power Platform requests report (the header names none of the "
                    f"expected columns). Expected the columns of the {expected}",
                )
            ]
        )
    index: dict[str, int] = {}
    for position, name in enumerate(normalised):
        key = _CANONICAL[fmt].get(name)
        if key is not None and key not in index:
            index[key] = position
    missing = [header for key, header in COLUMNS[fmt].items() if key not in index]
    if missing:
        raise ReportError(
            [
                ReportProblem(
                    1,
                    f"the header looks like the {REPORT_NAMES[fmt]} but lacks the columns "
                    + ", ".join(repr(name) for name in missing),
                )
            ]
        )
    return fmt, index


def _delimiter(header_line: str) -> str:
    best, best_count = ",", -1
    for candidate in (",", ";", "\t"):
        names = next(csv.reader([header_line], delimiter=candidate), [])
        known = sum(
            1
            for name in names
            if any(_normalise_header(name) in columns for columns in _CANONICAL.values())
        )
        if known > best_count:
            best, best_count = candidate, known
    return best


_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_US_DATE = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4})"  # month/day/year
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp][Mm])?)?$"  # [h:mm[:ss] [AM]]
)


def parse_usage_day(text: str) -> date:
    """Return the UTC day of a Usage Datetime value. Raise ValueError if it is not one."""
    value = text.strip()
    if match := _ISO_DATE.match(value):
        return date(int(match[1]), int(match[2]), int(match[3]))
    if match := _US_DATE.match(value):
        month, day, year = int(match[1]), int(match[2]), int(match[3])
        if match[4] is not None:
            hour, minute = int(match[4]), int(match[5])
            if match[7] is not None and not 1 <= hour <= 12:
                raise ValueError("hour out of range for AM/PM")
            if hour > 23 or minute > 59:
                raise ValueError("time out of range")
        return date(year, month, day)
    iso = value.replace(" ", "T", 1)
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    parsed = datetime.fromisoformat(iso)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.date()


_PLAIN_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_GROUPED_NUMBER = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_quantity(text: str) -> int:
    """Return a request count from 0 to :data:`MAX_QUANTITY` (a fraction rounded half up).
    Raise ValueError for anything else, including numbers too large to be a day's requests
    (a 32-digit quantity would overflow the decimal context and the database)."""
    value = text.strip()
    if _GROUPED_NUMBER.match(value):
        value = value.replace(",", "")
    if not _PLAIN_NUMBER.match(value):
        raise ValueError("not a number")
    if len(value.split(".")[0].lstrip("0")) > len(str(MAX_QUANTITY)):
        raise ValueError("too large")
    try:
        number = int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation:
        raise ValueError("not a number") from None
    if number > MAX_QUANTITY:
        raise ValueError("too large")
    return number


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _text(value: str, column: str) -> str:
    cleaned = " ".join(value.split())  # a name spread over lines is one line
    if len(cleaned) > _MAX_TEXT or any(ord(c) < 32 for c in cleaned):
        raise ValueError(f"{column}: not a plausible value")
    return cleaned


class ReportFileError(Exception):
    """The path cannot be read as a report file; ``str()`` is one line for the user."""


def open_report(path: Path) -> BinaryIO:
    """Open the report at *path* for reading, checked on the open descriptor: a regular file
    of at most :data:`MAX_REPORT_BYTES`. Raise :class:`ReportFileError` otherwise (a device such
    as /dev/zero would never end, a FIFO would block the open without O_NONBLOCK)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as error:
        raise ReportFileError(f"cannot read {path}: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ReportFileError(f"{path} is not a regular file")
        if info.st_size > MAX_REPORT_BYTES:
            raise ReportFileError(
                f"{path} has {info.st_size:,} bytes; a report has at most {MAX_REPORT_BYTES:,}"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def parse_report(data: bytes) -> ParsedReport:
    """Given the bytes of a report file, return its checked rows (see :func:`read_report`)."""
    return read_report(io.BytesIO(data))


class _HashingReader(io.RawIOBase):
    """Pass bytes through, hashing and counting them; refuse more than the limit."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self.size = 0
        self.hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        self.size += count
        if self.size > self._limit:
            raise ReportError([ReportProblem(None, f"larger than {self._limit} bytes")])
        self.hash.update(data)
        return count


def _text_lines(stream: io.BufferedReader) -> Iterator[str]:
    """Yield the file's lines as text, split as :meth:`str.splitlines` splits (every line break
    Python knows, so a file with lone carriage returns reads too), each with its line break.

    UTF-16 (with a byte-order mark) is decoded incrementally; anything else must be UTF-8 (a
    byte-order mark is dropped) and is decoded line by line, so that a byte that is not UTF-8 is
    reported with its line number.
    """
    start = stream.peek(2)[:2]
    if start in (b"\xff\xfe", b"\xfe\xff"):
        decoder = codecs.getincrementaldecoder("utf-16")()
        pending = ""
        try:
            while chunk := stream.read(65536):
                pending += decoder.decode(chunk)
                lines = pending.splitlines(keepends=True)
                # The last line may continue in the next chunk (or be "\r" before "\n").
                pending = lines.pop() if lines else ""
                yield from lines
            pending += decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ReportError([ReportProblem(None, "not readable UTF-16 text")]) from None
        yield from pending.splitlines(keepends=True)
        return
    for physical, raw in enumerate(stream, start=1):
        try:
            text = raw.decode("utf-8-sig" if physical == 1 else "utf-8")
        except UnicodeDecodeError:
            raise ReportError(
                [
                    ReportProblem(
                        physical, "bytes that are not UTF-8 text; save the report as CSV UTF-8"
                    )
                ]
            ) from None
        yield from text.splitlines(keepends=True)


class _Shared:
    """One object per distinct text or day, so a million rows do not hold a million copies
    of the same ten environment ids."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._days: dict[date, date] = {}
        self._numbers: dict[int, int] = {}

    def text(self, value: str) -> str:
        return self._texts.setdefault(value, value)

    def number(self, value: int) -> int:
        if len(self._numbers) < 100_000:  # quantities repeat; a bound keeps this table small
            return self._numbers.setdefault(value, value)
        return self._numbers.get(value, value)

    def day(self, value: date) -> date:
        return self._days.setdefault(value, value)


def read_report(stream: BinaryIO) -> ParsedReport:
    """Given a report file open for reading (binary), return its checked rows.

    Raise :class:`ReportError` (with line numbers) if the file is not one of the two identity
    reports, is larger than :data:`MAX_REPORT_BYTES`, or if any line is malformed; nothing is
    returned in that case.
    """
    hashing = _HashingReader(stream, MAX_REPORT_BYTES)
    lines = _text_lines(io.BufferedReader(hashing, buffer_size=65536))
    skip = 0
    delimiter: str | None = None
    first = ""
    for first in lines:
        skip += 1
        if skip == 1 and first.strip().lower().startswith("sep=") and len(first.strip()) == 5:
            delimiter = first.strip()[4]
            first = ""
            continue
        if first.strip():
            break
    else:
        first = ""
    if not first.strip():
        raise ReportError([ReportProblem(None, "the file is empty")])
    skip -= 1  # the header is the reader's line 1
    if delimiter is None:
        delimiter = _delimiter(first)

    def records() -> Iterator[str]:
        yield first
        yield from lines

    reader = csv.reader(records(), delimiter=delimiter, strict=True)
    problems: list[ReportProblem] = []
    more = 0

    def problem(line: int, message: str) -> None:
        nonlocal more
        if len(problems) < MAX_PROBLEMS:
            problems.append(ReportProblem(line, message))
        else:
            more += 1

    try:
        header = next(reader)
    except csv.Error as error:
        raise ReportError([ReportProblem(skip + 1, f"unreadable CSV header: {error}")]) from None
    try:
        fmt, index = _detect_format(header)
    except ReportError as error:
        raise ReportError(
            [replace(p, line=skip + 1) if p.line == 1 else p for p in error.problems]
        ) from None

    shared = _Shared()
    rows: dict[tuple[str, str, date, str, str, str, str], ReportRow] = {}
    records_read = 0
    previous_line = reader.line_num
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problem(skip + previous_line + 1, f"unreadable CSV: {error}")
            break
        line = skip + previous_line + 1
        previous_line = reader.line_num
        if not record or all(not field.strip() for field in record):
            continue
        records_read += 1
        if len(record) != len(header):
            problem(line, f"expected {len(header)} fields like the header, found {len(record)}")
            continue
        row = _parse_row(fmt, index, record, line, problem, shared)
        if row is None:
            continue
        existing = rows.get(row.key)
        rows[row.key] = row if existing is None else _merge(existing, row)
    if problems:
        raise ReportError(problems, more=more)
    if not rows:
        raise ReportError([ReportProblem(skip + 1, "the report has a header but no rows")])
    # In line order already: a key keeps the place (and line) of its first record.
    ordered = tuple(rows.values())
    rows.clear()
    return ParsedReport(
        format=fmt, rows=ordered, sha256=hashing.hash.hexdigest(), records=records_read
    )


def _parse_row(
    fmt: ReportFormat,
    index: Mapping[str, int],
    record: Sequence[str],
    line: int,
    report: Callable[[int, str], None],
    shared: _Shared | None = None,
) -> ReportRow | None:
    headers = COLUMNS[fmt]
    shared = shared or _Shared()
    values: dict[str, str] = {key: record[position] for key, position in index.items()}
    bad = False

    def fail(key: str, expected: str) -> None:
        nonlocal bad
        bad = True
        report(line, f"{headers[key]}: expected {expected}, found {_shown(values[key].strip())}")

    for key, value in values.items():
        if key not in _OPTIONAL and not value.strip():
            bad = True
            report(line, f"{headers[key]}: empty")
    if bad:
        return None
    texts: dict[str, str] = {}
    for key in _TEXT:
        if key in values:
            try:
                texts[key] = _text(values[key], headers[key])
            except ValueError:
                fail(key, "a short line of text")
    day: date | None = None
    try:
        day = parse_usage_day(values["usage_datetime"])
    except ValueError:
        fail("usage_datetime", "a date such as 2025-05-28 or 5/28/2025 12:00:00 AM")
    numbers: dict[str, int | None] = {}
    for key in _NUMBERS:
        if key not in values:
            continue
        raw = values[key].strip()
        if not raw:
            numbers[key] = None
            continue
        try:
            numbers[key] = shared.number(parse_quantity(raw))
        except ValueError:
            fail(key, f"a number of requests from 0 to {MAX_QUANTITY:,}")
    if bad or day is None:
        return None
    consumed = numbers["consumed"]
    assert consumed is not None
    text = shared.text
    return ReportRow(
        line=line,
        environment_id=text(texts["environment_id"].lower()),
        environment_name=text(texts.get("environment_name", "")),
        caller_id=text(texts.get("caller_id", "").lower()),
        caller_type=text(texts.get("caller_type", "")),
        day=shared.day(day),
        consumed=consumed,
        entitled=numbers.get("entitled"),
        resource_type=text(texts.get("resource_type", "")),
        resource_id=text(texts.get("resource_id", "").lower()),
        meter_category=text(texts.get("meter_category", "")),
        meter_subcategory=text(texts.get("meter_subcategory", "")),
        dataverse_requests=numbers.get("dataverse_requests"),
        power_automate_requests=numbers.get("power_automate_requests"),
        power_apps_requests=numbers.get("power_apps_requests"),
    )


def _add(a: int | None, b: int | None) -> int | None:
    if a is None and b is None:
        return None
    return (a or 0) + (b or 0)


def _merge(first: ReportRow, second: ReportRow) -> ReportRow:
    """Two records with one key (e.g. split by a column the key ignores): add them up."""
    entitled = max(
        (value for value in (first.entitled, second.entitled) if value is not None),
        default=None,
    )
    return replace(
        first,
        consumed=first.consumed + second.consumed,
        entitled=entitled,
        dataverse_requests=_add(first.dataverse_requests, second.dataverse_requests),
        power_automate_requests=_add(first.power_automate_requests, second.power_automate_requests),
        power_apps_requests=_add(first.power_apps_requests, second.power_apps_requests),
    )
