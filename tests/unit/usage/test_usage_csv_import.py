"""Reading the Power Platform admin center reports: both formats, detection, malformed files."""

from __future__ import annotations

import hashlib
import io
from datetime import date

import pytest
from support.usage import (
    LICENSED_REPORT,
    NAMED_USER,
    NON_LICENSED_REPORT,
    POOL_SIZE,
    SALES_APP,
    TEAM_MEMBER,
)

from monitor.usage.csv_import import (
    LICENSED_COLUMNS,
    NON_LICENSED_COLUMNS,
    ReportError,
    parse_quantity,
    parse_report,
    parse_usage_day,
    read_report,
)

LICENSED_HEADER = ",".join(LICENSED_COLUMNS.values())
NON_LICENSED_HEADER = ",".join(NON_LICENSED_COLUMNS.values())
ENV = "6f1c3c9e-3b0e-4f6e-9d2a-5c8e2a7b1d40"


def licensed(*rows: str, header: str = LICENSED_HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def test_licensed_user_report_fixture() -> None:
    """The Licensed User report: detected, one row per environment / caller / day, caller ids
    lower case, breakdowns kept, an empty caller id allowed."""
    report = parse_report(LICENSED_REPORT.read_bytes())

    assert "licensed" == report.format
    assert 6 == len(report.rows) == report.records
    assert (date(2026, 3, 1), date(2026, 3, 2)) == (report.first_day, report.last_day)
    first = report.rows[0]
    assert (ENV, NAMED_USER, "User", date(2026, 3, 1), 31_250, 40_000) == (
        first.environment_id,
        first.caller_id,
        first.caller_type,
        first.day,
        first.consumed,
        first.entitled,
    )
    assert (30_100, 1_150, 0) == (
        first.dataverse_requests,
        first.power_automate_requests,
        first.power_apps_requests,
    )
    assert NAMED_USER == report.rows[2].caller_id  # was upper case in the file
    assert "default-3f2c9a1e-8b4d-4c6e-9a1f-2b3c4d5e6f70" == report.rows[1].environment_id
    assert {NAMED_USER, TEAM_MEMBER, ""} == {row.caller_id for row in report.rows}
    empty = report.rows[-1]
    assert ("", 17, None) == (empty.caller_id, empty.consumed, empty.power_apps_requests)


def test_non_licensed_report_fixture() -> None:
    """The Non-licensed User report: detected by its columns, US dates, grouped numbers, the
    tenant pool's entitlement on every row, meters kept apart."""
    report = parse_report(NON_LICENSED_REPORT.read_bytes())

    assert "non_licensed" == report.format
    assert 8 == len(report.rows)
    assert {POOL_SIZE} == {row.entitled for row in report.rows}
    day_one = [row for row in report.rows if row.day == date(2026, 3, 1)]
    assert 300_221 == sum(row.consumed for row in day_one)
    flow = [row for row in day_one if row.resource_type == "Power Automate"]
    assert [(SALES_APP, 1_250, "Power Automate")] == [
        (row.caller_id, row.consumed, row.meter_subcategory) for row in flow
    ]
    assert {"Non-Interactive/Application", "System"} == {row.caller_type for row in report.rows}


def test_same_bytes_same_hash() -> None:
    """The SHA-256 identifies a file (an import of the same file is recognised)."""
    data = NON_LICENSED_REPORT.read_bytes()

    assert parse_report(data).sha256 == parse_report(data).sha256
    assert parse_report(data).sha256 != parse_report(data + b"\n").sha256


def test_columns_in_any_order_with_extra_columns_semicolons_and_sep_line() -> None:
    """Excel exports: a sep= line, semicolons, reordered and extra columns, (UTC) suffix."""
    header = (
        "Usage Datetime (UTC);Caller ID;Caller Type;Environment Name;Environment ID;"
        "Entitled Quantity;Total Consumed Quantity;Dataverse Requests;Power Automate Requests;"
        "Power Apps Requests;Region"
    )
    data = f"sep=;\n{header}\n2026-03-05;{NAMED_USER};User;Prod;{ENV};40000;123;100;23;0;EU\n"

    report = parse_report(data.encode())

    assert [(NAMED_USER, date(2026, 3, 5), 123)] == [
        (row.caller_id, row.day, row.consumed) for row in report.rows
    ]


def test_records_with_the_same_key_are_summed() -> None:
    """Two records for one environment, caller, day and meter become one row."""
    row = f"{ENV},Prod,{NAMED_USER},User,2026-03-05,40000,100,100,0,0"

    report = parse_report(licensed(row, row))

    assert 1 == len(report.rows)
    assert (200, 200, 40_000) == (
        report.rows[0].consumed,
        report.rows[0].dataverse_requests,
        report.rows[0].entitled,
    )
    assert 2 == report.records


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [f"{ENV},Prod,{NAMED_USER},User,2026-03-05,40000,lots,1,0,0"],
            [
                "line 2: Total consumed quantity: expected a number of requests from 0 to "
                "1,000,000,000,000, found 'lots'"
            ],
        ),
        (
            [
                f"{ENV},Prod,{NAMED_USER},User,2026-03-05,40000,100,1,0,0",
                f"{ENV},Prod,{NAMED_USER}",
            ],
            ["line 3: expected 10 fields like the header, found 3"],
        ),
        (
            [f"{ENV},Prod,{NAMED_USER},User,2026-13-45,40000,100,1,0,0"],
            [
                "line 2: Usage Datetime: expected a date such as 2025-05-28 or 5/28/2025 "
                "12:00:00 AM, found '2026-13-45'"
            ],
        ),
        (
            [f",Prod,{NAMED_USER},User,2026-03-05,40000,-5,1,0,0"],
            [
                "line 2: Environment ID: empty",
            ],
        ),
        (
            [f"{ENV},Prod,{NAMED_USER},User,2026-03-05,40000,-5,1,0,0"],
            [
                "line 2: Total consumed quantity: expected a number of requests from 0 to "
                "1,000,000,000,000, found '-5'"
            ],
        ),
    ],
)
def test_malformed_lines_are_named(rows: list[str], expected: list[str]) -> None:
    """Every bad line is reported with its number and what was wrong."""
    with pytest.raises(ReportError) as caught:
        parse_report(licensed(*rows))

    assert expected == [str(problem) for problem in caught.value.problems]


def test_every_problem_is_listed_up_to_a_limit() -> None:
    """Problems on many lines are all reported (the first twenty, then a count)."""
    bad = [f"{ENV},Prod,{NAMED_USER},User,2026-03-05,x,1,1,0,0"] * 25

    with pytest.raises(ReportError) as caught:
        parse_report(licensed(*bad))

    assert 20 == len(caught.value.problems)
    assert 5 == caught.value.more
    assert 2 == caught.value.problems[0].line
    assert "... and 5 more problems" in str(caught.value)


def test_line_numbers_count_quoted_newlines_and_blank_lines() -> None:
    """A quoted field spanning two lines and a blank line shift the next record's number."""
    good = f'{ENV},"Prod\nsecond line",{NAMED_USER},User,2026-03-05,40000,1,1,0,0'
    bad = f"{ENV},Prod,{NAMED_USER},User,2026-03-05,40000,oops,1,0,0"

    with pytest.raises(ReportError) as caught:
        parse_report(licensed(good, "", bad))

    assert 5 == caught.value.problems[0].line
    assert "Prod second line" == parse_report(licensed(good)).rows[0].environment_name


def test_per_flow_report_is_refused_with_a_reason() -> None:
    """The Per Flow report is about flows, not identities."""
    header = (
        "Environment ID,Environment Name,Environment Region,Caller ID,Caller Type,"
        "Usage Datetime,Entitled Quantity,Consumed Quantity"
    )
    with pytest.raises(ReportError, match="Per Flow report"):
        parse_report(f"{header}\n{ENV},Prod,,{NAMED_USER},Flow,2026-03-05,250000,5\n".encode())


def test_unknown_header_is_refused_naming_the_expected_columns() -> None:
    """A file that is no report at all says which columns it should have."""
    with pytest.raises(ReportError, match=r"line 1: not a Power Platform requests report"):
        parse_report(b"name,value\na,1\n")


def test_header_missing_a_column_is_refused() -> None:
    """A recognisable report missing a documented column is refused at line 1."""
    header = LICENSED_HEADER.replace(",Power Apps Requests", "")

    with pytest.raises(ReportError, match="lacks the columns 'Power Apps Requests'"):
        parse_report(licensed(header=header))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\n\n", "the file is empty"),
        (licensed(), "a header but no rows"),
        (LICENSED_HEADER.encode() + b"\n\xff\xfe\xfa,x\n", "line 2: bytes that are not UTF-8"),
    ],
)
def test_empty_and_undecodable_files(data: bytes, message: str) -> None:
    """Nothing to import, or not text: refused."""
    with pytest.raises(ReportError, match=message):
        parse_report(data)


def test_utf16_export_is_read() -> None:
    """Excel's "Unicode text" CSV (UTF-16 with a byte-order mark) is read too."""
    text = licensed(f"{ENV},Prod,{NAMED_USER},User,2026-03-05,40000,9,9,0,0").decode()

    report = parse_report(text.encode("utf-16"))

    assert 9 == report.rows[0].consumed


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"])
def test_a_long_report_streams_across_read_chunks(encoding: str, newline: str) -> None:
    """Three thousand rows (several read chunks) in UTF-8 with a byte-order mark or UTF-16,
    with Windows, old Mac or Unix line ends: every row read, numbered, hashed as the bytes."""
    lines = [LICENSED_HEADER] + [
        f"{ENV},Prod,{NAMED_USER},User,2026-03-{1 + n % 28:02d},40000,{n},{n},0,0"
        for n in range(3000)
    ]
    data = (newline.join(lines) + newline).encode(encoding)

    report = read_report(io.BytesIO(data))

    assert 3000 == report.records
    assert 28 == len(report.rows)
    assert sum(range(3000)) == sum(row.consumed for row in report.rows)
    assert hashlib.sha256(data).hexdigest() == report.sha256
    assert 2 == report.rows[0].line


def test_a_byte_that_is_not_utf8_is_named_with_its_line_far_into_a_file() -> None:
    """A bad byte on line 2,001 is reported with that number, not the first line of its read
    chunk."""
    good = f"{ENV},Prod,{NAMED_USER},User,2026-03-05,40000,1,1,0,0"
    data = licensed(*[good] * 1999, "\xff" * 3, good)
    data = data.replace("ÿÿÿ".encode(), b"\xff\xfe\xfa")

    with pytest.raises(ReportError, match="line 2001: bytes that are not UTF-8"):
        read_report(io.BytesIO(data))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-05", date(2026, 3, 5)),
        ("2026-03-05T00:00:00Z", date(2026, 3, 5)),
        ("2026-03-05 00:00:00", date(2026, 3, 5)),
        ("2026-03-05T23:30:00-02:00", date(2026, 3, 6)),  # converted to UTC
        ("2026-03-05T00:00:00.0000000", date(2026, 3, 5)),
        ("3/5/2026", date(2026, 3, 5)),
        ("3/5/2026 12:00:00 AM", date(2026, 3, 5)),
        ("12/31/2025 11:59 PM", date(2025, 12, 31)),
    ],
)
def test_usage_dates(text: str, expected: date) -> None:
    """ISO 8601 (converted to UTC) and Excel's US month/day/year are read as the UTC day."""
    assert expected == parse_usage_day(text)


@pytest.mark.parametrize("text", ["31/12/2025", "2026-02-30", "3/5/2026 13:00 PM", "yesterday"])
def test_bad_usage_dates(text: str) -> None:
    """Day/month order, impossible dates and times, words: refused."""
    with pytest.raises(ValueError):  # noqa: PT011 - the message is the parser's own
        parse_usage_day(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("1234", 1234), ("1,234", 1234), ("1,234,567", 1_234_567), ("12.5", 13), ("7.0", 7)],
)
def test_quantities(text: str, expected: int) -> None:
    """Whole numbers, thousands separators, fractions rounded half up."""
    assert expected == parse_quantity(text)


@pytest.mark.parametrize("text", ["-1", "1,23", "1e3", "12 345", "", "NaN"])
def test_bad_quantities(text: str) -> None:
    """Negative, mis-grouped, exponent, spaced and empty values are not request counts."""
    with pytest.raises(ValueError, match="not a number"):
        parse_quantity(text)


@pytest.mark.parametrize(
    "text", ["9" * 32, "1" + "0" * 12 + ".5", "1,000,000,000,001", "0" * 40 + "1" + "0" * 13]
)
def test_quantities_beyond_any_days_requests_are_refused(text: str) -> None:
    """A 32-digit quantity (beyond the decimal context and the database's integers) and anything
    over 10**12 requests is refused with a reason, not an InvalidOperation or an overflow."""
    with pytest.raises(ValueError, match="too large"):
        parse_quantity(text)
    assert 10**12 == parse_quantity("1,000,000,000,000")


def test_a_report_with_a_32_digit_quantity_is_refused_naming_the_line() -> None:
    """The whole file is refused with the line of the absurd number."""
    row = f"{ENV},Prod,{NAMED_USER},User,2026-03-05,40000,{'9' * 32},1,0,0"

    with pytest.raises(ReportError) as caught:
        parse_report(licensed(row))

    assert [
        "line 2: Total consumed quantity: expected a number of requests from 0 to "
        f"1,000,000,000,000, found '{'9' * 32}'"
    ] == [str(problem) for problem in caught.value.problems]
