"""Read the Power Platform admin center's request reports (CSV), all or nothing.

Microsoft exposes per-identity Power Platform request consumption only as CSV downloads (PPAC >
Capacity > Summary > Download reports > "Microsoft Power Platform requests"; docs/platform.md).
Two of the three reports are about identities, and :func:`parse_report` tells them apart by
their header:

``licensed`` (Licensed User report)
    Environment ID, Environment Name, Caller ID (the user's Entra object ID), Caller Type
    (``User``), Usage Datetime (UTC), Entitled quantity, Total consumed quantity, Dataverse
    Requests, Power Automate Requests, Power Apps Requests.

``non_licensed`` (Non-licensed User report)
    Power platform request entitlement for this tenant, Environment ID, Environment Name, Caller
    ID, Caller Type (``System``, ``Non-Interactive/Application``), Resource Type, Resource ID,
    Meter Category, Meter Subcategory, Usage Datetime, Consumed Quantity.

The Per Flow report (flows, not identities) is refused with a message saying so. Columns may
come in any order and extra columns are ignored; header names are compared ignoring case,
punctuation and a "(UTC)" suffix. The file may start with a UTF-8 byte-order mark or Excel's
``sep=`` line, and use ``,``, ``;`` or tab as delimiter.

Values: Caller ID may be empty (Microsoft says so; such rows still count towards the pool).
Usage Datetime is ISO 8601 (``2025-05-28``, ``2025-05-28T00:00:00Z``, with an offset it is
converted to UTC) or the US form Excel writes (``5/28/2025 12:00:00 AM``). Quantities are
non-negative numbers, optionally with ``,`` thousands separators; a fraction is rounded half up.

All or nothing: every line is checked before anything is returned; a problem raises
:class:`ReportError` naming each bad line (up to :data:`MAX_PROBLEMS`). Rows with the same key
(environment, caller, day, meter) are summed, so the result has one row per key — the unit the
store keeps idempotently.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

ReportFormat = Literal["licensed", "non_licensed"]
REPORT_FORMATS: tuple[ReportFormat, ...] = ("licensed", "non_licensed")
REPORT_NAMES: Mapping[ReportFormat, str] = {
    "licensed": "Licensed User report",
    "non_licensed": "Non-licensed User report",
}

MAX_PROBLEMS = 20
MAX_REPORT_BYTES = 256 * 1024 * 1024
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
# Columns whose value may be empty.
_OPTIONAL = frozenset(
    {
        "environment_name",
        "caller_id",
        "caller_type",
        "resource_type",
        "resource_id",
        "meter_category",
        "meter_subcategory",
        "dataverse_requests",
        "power_automate_requests",
        "power_apps_requests",
    }
)


@dataclass(frozen=True)
class ReportRow:
    """One usage row: an environment, a caller, a UTC day, a meter and a quantity.

    ``line`` is the first line of the (first) CSV record it came from. ``entitled`` is the
    caller's entitlement (licensed report) or the tenant pool's (non-licensed report).
    """

    line: int
    environment_id: str
    environment_name: str
    caller_id: str  # lower case; "" when the report has none
    caller_type: str
    day: date
    consumed: int
    entitled: int | None
    resource_type: str = ""
    resource_id: str = ""
    meter_category: str = ""
    meter_subcategory: str = ""
    dataverse_requests: int | None = None
    power_automate_requests: int | None = None
    power_apps_requests: int | None = None

    @property
    def key(self) -> tuple[str, str, date, str, str, str, str]:
        """The idempotency key: the same key in a later import replaces this row."""
        return (
            self.environment_id,
            self.caller_id,
            self.day,
            self.resource_type,
            self.resource_id,
            self.meter_category,
            self.meter_subcategory,
        )


@dataclass(frozen=True)
class ParsedReport:
    """A checked report: its format, its rows (one per key) and the file's SHA-256."""

    format: ReportFormat
    rows: tuple[ReportRow, ...]
    sha256: str
    records: int  # CSV records read (before rows with the same key were summed)

    @property
    def first_day(self) -> date | None:
        return min((row.day for row in self.rows), default=None)

    @property
    def last_day(self) -> date | None:
        return max((row.day for row in self.rows), default=None)


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

    @property
    def first_line(self) -> int | None:
        return self.problems[0].line if self.problems else None


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


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ReportError([ReportProblem(None, "not readable UTF-16 text")]) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ReportError(
            [ReportProblem(line, "bytes that are not UTF-8 text; save the report as CSV UTF-8")]
        ) from None


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
    """Return a non-negative request count (a fraction rounded half up). Raise ValueError."""
    value = text.strip()
    if _GROUPED_NUMBER.match(value):
        value = value.replace(",", "")
    if not _PLAIN_NUMBER.match(value):
        raise ValueError("not a number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError("not a number") from None
    return int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _text(value: str, column: str) -> str:
    cleaned = " ".join(value.split())  # a name spread over lines is one line
    if len(cleaned) > _MAX_TEXT or any(ord(c) < 32 for c in cleaned):
        raise ValueError(f"{column}: not a plausible value")
    return cleaned


def parse_report(data: bytes) -> ParsedReport:
    """Given the bytes of a report file, return its checked rows.

    Raise :class:`ReportError` (with line numbers) if the file is not one of the two identity
    reports, or if any line is malformed; nothing is returned in that case.
    """
    if len(data) > MAX_REPORT_BYTES:
        raise ReportError([ReportProblem(None, f"larger than {MAX_REPORT_BYTES} bytes")])
    sha256 = hashlib.sha256(data).hexdigest()
    text = _decode(data)
    lines = text.splitlines(keepends=True)
    skip = 0
    delimiter: str | None = None
    if lines and lines[0].strip().lower().startswith("sep=") and len(lines[0].strip()) == 5:
        delimiter = lines[0].strip()[4]
        skip = 1
    while skip < len(lines) and not lines[skip].strip():
        skip += 1
    if skip >= len(lines):
        raise ReportError([ReportProblem(None, "the file is empty")])
    if delimiter is None:
        delimiter = _delimiter(lines[skip])
    reader = csv.reader(io.StringIO("".join(lines[skip:])), delimiter=delimiter, strict=True)
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

    rows: dict[tuple[str, str, date, str, str, str, str], ReportRow] = {}
    records = 0
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
        records += 1
        if len(record) != len(header):
            problem(line, f"expected {len(header)} fields like the header, found {len(record)}")
            continue
        row = _parse_row(fmt, index, record, line, problem)
        if row is None:
            continue
        existing = rows.get(row.key)
        rows[row.key] = row if existing is None else _merge(existing, row)
    if problems:
        raise ReportError(problems, more=more)
    if not rows:
        raise ReportError([ReportProblem(skip + 1, "the report has a header but no rows")])
    ordered = tuple(sorted(rows.values(), key=lambda row: row.line))
    return ParsedReport(format=fmt, rows=ordered, sha256=sha256, records=records)


def _parse_row(
    fmt: ReportFormat,
    index: Mapping[str, int],
    record: Sequence[str],
    line: int,
    report: Callable[[int, str], None],
) -> ReportRow | None:
    headers = COLUMNS[fmt]
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
    for key in (
        "environment_id",
        "environment_name",
        "caller_id",
        "caller_type",
        "resource_type",
        "resource_id",
        "meter_category",
        "meter_subcategory",
    ):
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
    for key in (
        "consumed",
        "entitled",
        "dataverse_requests",
        "power_automate_requests",
        "power_apps_requests",
    ):
        if key not in values:
            continue
        raw = values[key].strip()
        if not raw:
            numbers[key] = None
            continue
        try:
            numbers[key] = parse_quantity(raw)
        except ValueError:
            fail(key, "a number of requests (0 or more)")
    if bad or day is None:
        return None
    consumed = numbers["consumed"]
    assert consumed is not None
    return ReportRow(
        line=line,
        environment_id=texts["environment_id"].lower(),
        environment_name=texts.get("environment_name", ""),
        caller_id=texts.get("caller_id", "").lower(),
        caller_type=texts.get("caller_type", ""),
        day=day,
        consumed=consumed,
        entitled=numbers.get("entitled"),
        resource_type=texts.get("resource_type", ""),
        resource_id=texts.get("resource_id", "").lower(),
        meter_category=texts.get("meter_category", ""),
        meter_subcategory=texts.get("meter_subcategory", ""),
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
