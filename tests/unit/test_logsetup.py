"""Tests for monitor.logsetup: rendering, redaction, pinned third-party loggers, reconfiguring."""

from __future__ import annotations

import base64
import datetime
import http.client
import io
import json
import logging
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from monitor.logsetup import (
    HANDLER_NAME,
    PINNED_LOGGERS,
    configure_logging,
    get_logger,
    redact_sensitive_keys,
    redact_sensitive_patterns,
    redact_text,
    scrub_secret_values,
)
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult
from monitor.pipeline.probing import log_pass
from monitor.secrets import MASK, Secret

_TOUCHED_LOGGERS = ("", *PINNED_LOGGERS, "apscheduler.executors")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Put the root logger, the pinned loggers and structlog back as they were after each test."""
    levels = {name: logging.getLogger(name).level for name in _TOUCHED_LOGGERS}
    handlers = list(logging.getLogger().handlers)
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    structlog.reset_defaults()


class FakeTTY(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _sentinel_secret() -> tuple[Secret, str]:
    """Return a freshly registered secret and its plaintext (with characters that encode)."""
    plaintext = f"SENTINEL-{uuid.uuid4().hex}-a/b+c=d~e f"
    return Secret(plaintext, "test"), plaintext


def _leaked_forms(plaintext: str) -> list[str]:
    """Return the forms in which *plaintext* must never appear in a log."""
    return [
        plaintext,
        urllib.parse.quote(plaintext, safe=""),
        urllib.parse.quote_plus(plaintext),
        base64.b64encode(plaintext.encode()).decode(),
        base64.urlsafe_b64encode(plaintext.encode()).decode().rstrip("="),
    ]


def _json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """Parse every line written to *stream* as one JSON object."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _fail_with_secret_local(plaintext: str) -> None:
    """Raise an error whose message holds the secret, with the plaintext as a local variable."""
    client_secret = plaintext
    raise RuntimeError(f"token request failed for client_secret {client_secret}")


# --- rendering ---------------------------------------------------------------------------------


def test_json_lines_parse_with_timestamp_level_and_logger() -> None:
    """Every line is one JSON object with an ISO UTC timestamp, the level and the logger name."""
    stream = io.StringIO()
    configure_logging("info", json=True, stream=stream)
    log = get_logger("monitor.probes")

    log.info("started", identities=3)
    logging.getLogger("apprise").warning("delivery %s failed", "mail")
    try:
        raise ValueError("bad\nmultiline message")
    except ValueError:
        log.exception("failed")

    lines = _json_lines(stream)
    expected = [
        ("info", "monitor.probes", "started"),
        ("warning", "apprise", "delivery mail failed"),
        ("error", "monitor.probes", "failed"),
    ]
    assert expected == [(line["level"], line["logger"], line["event"]) for line in lines]
    utc = datetime.timedelta(0)
    for line in lines:
        assert utc == datetime.datetime.fromisoformat(line["timestamp"]).utcoffset()
    expected_keys = ["timestamp", "level", "logger", "event", "identities"]
    assert expected_keys == list(lines[0])


def test_json_is_chosen_when_the_stream_is_not_a_tty() -> None:
    """Without an explicit choice, a non-terminal stream (journald) gets JSON lines."""
    stream = io.StringIO()
    configure_logging(stream=stream)

    get_logger("monitor.cli").info("hello")

    (line,) = _json_lines(stream)
    assert line["event"] == "hello"


def test_console_is_chosen_on_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the line is readable text (not JSON) with level, event, logger and fields."""
    monkeypatch.setenv("NO_COLOR", "1")
    stream = FakeTTY()
    configure_logging(stream=stream)

    get_logger("monitor.cli").info("hello", identity="erp")

    line = stream.getvalue()
    assert not line.startswith("{")
    assert "[info     ] hello" in line
    assert "[monitor.cli]" in line
    assert "identity=erp" in line
    assert "\x1b[" not in line


def test_default_stream_is_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """Log lines go to standard error, leaving standard output to command results."""
    configure_logging(json=True)

    get_logger("monitor.cli").warning("to stderr")

    captured = capsys.readouterr()
    assert not captured.out
    assert json.loads(captured.err.splitlines()[-1])["event"] == "to stderr"


def test_level_filters_events() -> None:
    """At INFO, debug events of our code and of libraries are dropped."""
    stream = io.StringIO()
    configure_logging("info", json=True, stream=stream)

    get_logger("monitor.probes").debug("hidden")
    logging.getLogger("sqlalchemy.engine").debug("hidden too")
    get_logger("monitor.probes").info("shown")

    events = [line["event"] for line in _json_lines(stream)]
    assert events == ["shown"]


def test_unknown_level_is_refused() -> None:
    """An unknown level name raises ValueError naming the accepted ones."""
    with pytest.raises(ValueError, match="expected one of debug, info"):
        configure_logging("verbose", stream=io.StringIO())


@pytest.mark.parametrize("renderer_json", [True, False])
def test_tracebacks_do_not_show_local_variables(renderer_json: bool) -> None:
    """A local variable of a failing function (not in the message) never reaches the log."""
    stream = io.StringIO()
    configure_logging("info", json=renderer_json, stream=stream)
    local_value = f"LOCAL-ONLY-{uuid.uuid4().hex}"

    def fail() -> None:
        unrelated = local_value
        raise KeyError(len(unrelated))

    try:
        fail()
    except KeyError:
        get_logger("monitor.probes").exception("probe crashed")

    output = stream.getvalue()
    assert "probe crashed" in output
    assert "KeyError" in output
    assert local_value not in output
    assert "locals" not in output


def test_json_exception_frames_have_no_locals() -> None:
    """The JSON exception is structured (type, message, frames) and frames carry no locals."""
    stream = io.StringIO()
    configure_logging("info", json=True, stream=stream)

    try:
        raise OSError("disk full")
    except OSError:
        get_logger("monitor.store").exception("write failed")

    (line,) = _json_lines(stream)
    (exception,) = line["exception"]
    assert (exception["exc_type"], exception["exc_value"]) == ("OSError", "disk full")
    assert exception["frames"]
    for frame in exception["frames"]:
        assert set(frame) == {"filename", "lineno", "name"}


# --- key-based redaction -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "Password",
        "secret",
        "client_secret",
        "CLIENT_SECRET",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "assertion",
        "client_assertion",
        "authorization",
        "Authorization",
        "Proxy-Authorization",
        "private_key",
        "sig",
        "passphrase",
        "api_key",
        "X-Api-Key",
        "cookie",
        "certificate_password",
        "webhook_secret",
        "bot_token",
    ],
)
def test_sensitive_keys_are_masked(key: str) -> None:
    """A value under a secret-named key is masked, whatever the case or separator."""
    event = {"event": "x", key: "hunter2-value"}

    assert {"event": "x", key: MASK} == redact_sensitive_keys(None, "info", event)


def test_sensitive_keys_are_masked_in_nested_dicts_and_lists() -> None:
    """Key-based redaction reaches into nested dicts and lists, leaving other values alone."""
    event = {
        "event": "token response",
        "response": {
            "token_type": "Bearer",
            "access_token": "abc",
            "items": [{"refresh_token": "def", "scope": "x"}, ("id_token", "kept")],
            "headers": {"Authorization": "Bearer abc"},
        },
    }

    expected = {
        "event": "token response",
        "response": {
            "token_type": "Bearer",
            "access_token": MASK,
            "items": [{"refresh_token": MASK, "scope": "x"}, ["id_token", "kept"]],
            "headers": {"Authorization": MASK},
        },
    }
    assert expected == redact_sensitive_keys(None, "info", event)


def test_ordinary_keys_and_absent_secrets_are_kept() -> None:
    """Keys that only resemble secret names, and a None secret, are left as they are."""
    event = {
        "event": "probe",
        "kind": "client_secret",
        "token_endpoint": "https://login.microsoftonline.com/t/oauth2/v2.0/token",
        "secret_source": "credential:erp",
        "secret_expires_at": "2030-01-01",
        "error_code": "AADSTS7000215",
        "password": None,
    }

    assert dict(event) == redact_sensitive_keys(None, "info", dict(event))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://prod-01.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/"
            "invoke?api-version=2016-06-01&sig=SIGVALUE",
            f"https://prod-01.westeurope.logic.azure.com:443/{MASK}",
        ),
        ("https://hooks.slack.com/services/T000/B000/XXXX", f"https://hooks.slack.com/{MASK}"),
        ("https://user:pass@example.com/", "https://example.com"),
        ("https://org.crm4.dynamics.com", "https://org.crm4.dynamics.com"),
        ("tgram://123456789:BOTTOKEN/-100123", f"tgram://{MASK}"),
        ("mailtos://user:password@example.com", f"mailtos://{MASK}"),
        ("not a url", MASK),
    ],
)
def test_url_keys_keep_only_scheme_and_host(url: str, expected: str) -> None:
    """A URL under a url-like key keeps scheme and host only; apprise URLs keep only the scheme."""
    event = {"event": "deliver", "url": url, "channel": {"webhook_url": url}}

    assert {"event": "deliver", "url": expected, "channel": {"webhook_url": expected}} == (
        redact_sensitive_keys(None, "info", event)
    )


# --- pattern-based redaction -------------------------------------------------------------------

_JWT = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "c2lnbmF0dXJlLWJ5dGVzLWhlcmU_-x"
)
_PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"token {_JWT} rejected", f"token {MASK} rejected"),
        (
            "POST /invoke?api-version=2016-06-01&sp=%2Ftriggers&sig=AbC-123_xyz HTTP/1.1",
            f"POST /invoke?api-version=2016-06-01&sp=%2Ftriggers&sig={MASK} HTTP/1.1",
        ),
        (
            "https://app.example/cb?code=0.AAAA-bbb&state=1",
            f"https://app.example/cb?code={MASK}&state=1",
        ),
        ("GET /api?client_secret=s3cr3t&x=1", f"GET /api?client_secret={MASK}&x=1"),
        ("GET /api?password=pw&x=1", f"GET /api?password={MASK}&x=1"),
        ("GET /api?access_token=abc.def&x=1", f"GET /api?access_token={MASK}&x=1"),
        (
            "next=https%3A%2F%2Fx%2Fy%3Fsig%3Dsecret%26a%3D1",
            f"next=https%3A%2F%2Fx%2Fy%3Fsig%3D{MASK}%26a%3D1",
        ),
        (
            "client_id=abc&client_secret=Xy8Q~abc.def&grant_type=client_credentials",
            f"client_id=abc&client_secret={MASK}&grant_type=client_credentials",
        ),
        (
            f"-----BEGIN PRIVATE KEY-----\n{_PEM_BODY}\n-----END PRIVATE KEY-----\ntrailer",
            f"-----BEGIN PRIVATE KEY-----{MASK}-----END PRIVATE KEY-----\ntrailer",
        ),
        (
            f"-----BEGIN RSA PRIVATE KEY-----\n{_PEM_BODY}\n-----END RSA PRIVATE KEY-----",
            f"-----BEGIN RSA PRIVATE KEY-----{MASK}-----END RSA PRIVATE KEY-----",
        ),
        (
            f"-----BEGIN ENCRYPTED PRIVATE KEY-----\n{_PEM_BODY}",
            f"-----BEGIN ENCRYPTED PRIVATE KEY-----{MASK}-----END ENCRYPTED PRIVATE KEY-----",
        ),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz", f"Authorization: Bearer {MASK}"),
        ("authorization: Basic dXNlcjpwYXNzd29yZA==", f"authorization: Basic {MASK}"),
        ("{'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}", f"{{'Authorization': '{MASK}'}}"),
        ("sent with Bearer abcdefghijklmnopqrstuvwxyz0123", f"sent with Bearer {MASK}"),
        (
            'Token response is not json: {"access_token": "abc\\"def", "expires_in": 3599}',
            f'Token response is not json: {{"access_token": "{MASK}", "expires_in": 3599}}',
        ),
        ("{'password': 'hunter2', 'user': 'svc'}", f"{{'password': '{MASK}', 'user': 'svc'}}"),
        ("login failed, password: hunter2", f"login failed, password: {MASK}"),
        ("mailtos://svc:hunter2@smtp.example.com", f"mailtos://svc:{MASK}@smtp.example.com"),
    ],
)
def test_patterns_are_redacted(text: str, expected: str) -> None:
    """Each pattern rule masks the secret part of the text and keeps the rest."""
    assert expected == redact_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent is correct.",
        "token endpoint https://login.microsoftonline.com/tenant/oauth2/v2.0/token answered 400",
        "Failed to acquire token: AADSTS700016",
        "Basic authentication is disabled for this tenant",
        "https://org.crm4.dynamics.com/api/data/v9.2/WhoAmI",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    """Error codes, endpoints and prose that merely mention secrets are not altered."""
    assert text == redact_text(text)


def test_pattern_processor_covers_nested_values_and_objects() -> None:
    """Strings inside nested values and the text form of other objects are redacted too."""

    class Response:
        def __repr__(self) -> str:
            return f"<Response body='access_token={_JWT}'>"

    event = {
        "event": f"got {_JWT}",
        "details": {"calls": ["GET /x?sig=abc&y=1"]},
        "response": Response(),
        "raw": b"\x00\x01private",
    }

    expected = {
        "event": f"got {MASK}",
        "details": {"calls": [f"GET /x?sig={MASK}&y=1"]},
        "response": f"<Response body='access_token={MASK}'>",
        "raw": "<9 bytes>",
    }
    assert expected == redact_sensitive_patterns(None, "info", event)


def test_exact_value_processor_scrubs_registered_secret() -> None:
    """A registered secret value is masked wherever it sits among the event's strings."""
    _secret, plaintext = _sentinel_secret()
    event = {"event": f"saw {plaintext}", "nested": [{"note": f"x{plaintext}y"}], "count": 2}

    expected = {"event": f"saw {MASK}", "nested": [{"note": f"x{MASK}y"}], "count": 2}
    assert expected == scrub_secret_values(None, "info", event)


# --- the sentinel end to end -------------------------------------------------------------------


@pytest.mark.parametrize("renderer_json", [True, False])
def test_sentinel_secret_never_reaches_the_output(renderer_json: bool) -> None:
    """A registered secret, in any encoded form and any position, never appears in the output."""
    secret, plaintext = _sentinel_secret()
    stream = io.StringIO()
    configure_logging("debug", json=renderer_json, stream=stream)
    log = get_logger("monitor.probes")
    forms = _leaked_forms(plaintext)

    log.info("holding", credential=secret)
    for form in forms:
        log.info(f"message with {form}", detail=form, listed=[form], mapped={"note": form})
        log.info("positional %s", form)
        logging.getLogger("apprise").warning("apprise saw %s", form)
    try:
        _fail_with_secret_local(plaintext)
    except RuntimeError:
        log.exception("probe failed")
    try:
        try:
            _fail_with_secret_local(plaintext)
        except RuntimeError as error:
            raise ConnectionError(f"wrapped {forms[1]}") from error
    except ConnectionError:
        logging.getLogger("msal").error("msal failed", exc_info=True)

    output = stream.getvalue()
    assert "probe failed" in output
    assert "RuntimeError" in output
    assert "ConnectionError" in output
    assert "Secret(********, source='test')" in output
    for form in forms:
        assert form not in output


def test_sentinel_secret_in_exception_message_is_masked_in_json() -> None:
    """The exception's message is kept but the secret inside it is replaced by the mask."""
    _secret, plaintext = _sentinel_secret()
    stream = io.StringIO()
    configure_logging("info", json=True, stream=stream)

    try:
        _fail_with_secret_local(plaintext)
    except RuntimeError:
        get_logger("monitor.probes").exception("probe failed")

    (line,) = _json_lines(stream)
    (exception,) = line["exception"]
    expected = f"token request failed for client_secret {MASK}"
    assert expected == exception["exc_value"]


# --- third-party loggers -----------------------------------------------------------------------


def test_urllib3_debug_request_line_is_suppressed_at_debug() -> None:
    """urllib3's DEBUG request line (with ``?sig=``) is not written even at DEBUG."""
    stream = io.StringIO()
    configure_logging("debug", json=True, stream=stream)

    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s',
        "https",
        "prod-01.westeurope.logic.azure.com",
        443,
        "POST",
        "/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=SIGSECRET",
        "HTTP/1.1",
        202,
        0,
    )

    assert not stream.getvalue()
    level = logging.getLogger("urllib3.connectionpool").getEffectiveLevel()
    assert level == logging.WARNING


def test_urllib3_warning_with_signature_is_redacted() -> None:
    """A urllib3 record that is written still has its ``sig=`` value masked."""
    stream = io.StringIO()
    configure_logging("debug", json=True, stream=stream)

    logging.getLogger("urllib3.connectionpool").warning(
        "Retrying after connection broken: /invoke?api-version=1&sig=SIGSECRET"
    )

    (line,) = _json_lines(stream)
    assert f"Retrying after connection broken: /invoke?api-version=1&sig={MASK}" == line["event"]


@pytest.mark.parametrize(("configured", "expected"), [("debug", "WARNING"), ("error", "ERROR")])
def test_msal_and_urllib3_loggers_are_pinned(configured: str, expected: str) -> None:
    """msal and urllib3 never log below WARNING, and follow a stricter configured level."""
    configure_logging(configured, stream=io.StringIO())

    for name in ("msal", "urllib3"):
        assert expected == logging.getLevelName(logging.getLogger(name).getEffectiveLevel())
    assert configured.upper() == logging.getLevelName(logging.getLogger().level)


def test_msal_debug_is_not_written_at_debug() -> None:
    """An msal DEBUG record (request details) is dropped when the daemon runs at DEBUG."""
    stream = io.StringIO()
    configure_logging("debug", json=True, stream=stream)

    logging.getLogger("msal.token_cache").debug("event=%s", {"username": "svc@contoso.com"})
    get_logger("monitor.probes").debug("ours")

    events = [line["event"] for line in _json_lines(stream)]
    assert events == ["ours"]


def test_http_client_debuglevel_is_untouched() -> None:
    """Configuring logging never switches on http.client's body-printing debug output."""
    configure_logging("debug", stream=io.StringIO())

    assert http.client.HTTPConnection.debuglevel == 0


def test_failed_record_does_not_print_its_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    """A record that cannot be formatted is dropped with its type only, never its arguments."""
    configure_logging("info", json=True, stream=io.StringIO())
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME]
    unregistered = f"UNREGISTERED-{uuid.uuid4().hex}"
    record = logging.LogRecord(
        "apprise", logging.ERROR, __file__, 1, "attempt %d", (unregistered,), None
    )

    handler.handle(record)

    err = capsys.readouterr().err
    expected = "monitor: a log record from 'apprise' was dropped (TypeError)\n"
    assert expected == err
    assert unregistered not in err


# --- configuration -----------------------------------------------------------------------------


def test_reconfiguring_does_not_duplicate_handlers() -> None:
    """Each call replaces our handler; one event is one line, written to the latest stream only."""
    foreign = logging.NullHandler()
    logging.getLogger().addHandler(foreign)
    first, second = io.StringIO(), io.StringIO()

    configure_logging("info", json=True, stream=first)
    configure_logging("debug", json=True, stream=first)
    configure_logging("info", json=True, stream=second)
    get_logger("monitor.probes").info("once")
    logging.getLogger("apscheduler.scheduler").info("also once")

    ours = [h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME]
    assert len(ours) == 1
    assert foreign in logging.getLogger().handlers
    assert not first.getvalue()
    events = [line["event"] for line in _json_lines(second)]
    assert events == ["once", "also once"]


def test_loggers_created_before_configuration_follow_it() -> None:
    """A module-level logger obtained before configure_logging writes with the new settings."""
    early = get_logger("monitor.early")
    stream = io.StringIO()
    configure_logging("info", json=True, stream=stream)

    early.info("late", password="x")

    (line,) = _json_lines(stream)
    assert (line["event"], line["password"]) == ("late", MASK)


def test_apscheduler_job_chatter_is_quiet_below_debug() -> None:
    """APScheduler's per-job INFO lines stay out at INFO and appear at DEBUG."""
    quiet, verbose = io.StringIO(), io.StringIO()

    configure_logging("info", json=True, stream=quiet)
    logging.getLogger("apscheduler.executors.default").info('Running job "probe"')
    configure_logging("debug", json=True, stream=verbose)
    logging.getLogger("apscheduler.executors.default").info('Running job "probe"')

    assert not quiet.getvalue()
    events = [line["event"] for line in _json_lines(verbose)]
    assert events == ['Running job "probe"']


def _probe_results() -> list[ProbeResult]:
    """Two results of one pass: a success and a refused client secret."""
    started = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)
    return [
        ProbeResult(
            identity="erp",
            environment="contoso-prod",
            tenant="contoso",
            credential_type="client_secret",
            started_at=started,
            duration_ms=412,
            outcome=Outcome.OK,
            stage="dataverse",
            http_status=200,
            correlation_id="c-1",
        ),
        ProbeResult(
            identity="erp",
            environment="contoso-test",
            tenant="contoso",
            credential_type="client_secret",
            started_at=started,
            duration_ms=98,
            outcome=Outcome.CREDENTIAL_INVALID,
            stage="token",
            message="invalid client secret",
            aadsts_code=7000215,
            http_status=401,
        ),
    ]


def test_log_pass_writes_one_canonical_line_per_result() -> None:
    """log_pass (what the engine and the daemon's writer call) emits one event named "probe"
    per result, with the canonical fields and the sign-in details: INFO when healthy, ERROR
    when the identity is broken (so `journalctl -p err` finds it)."""
    configure_logging("info", stream=io.StringIO())

    with capture_logs() as logs:
        log_pass("run-1", _probe_results())

    expected = [
        {
            "event": "probe",
            "run_id": "run-1",
            "identity": "erp",
            "environment": "contoso-prod",
            "kind": "client_secret",
            "outcome": "ok",
            "attempted": True,
            "stage": "dataverse",
            "duration_ms": 412,
            "aadsts": None,
            "http_status": 200,
            "correlation_id": "c-1",
            "log_level": "info",
        },
        {
            "event": "probe",
            "run_id": "run-1",
            "identity": "erp",
            "environment": "contoso-test",
            "kind": "client_secret",
            "outcome": "credential_invalid",
            "attempted": True,
            "stage": "token",
            "duration_ms": 98,
            "aadsts": 7000215,
            "http_status": 401,
            "correlation_id": None,
            "log_level": "error",
        },
    ]
    assert expected == logs


def test_canonical_probe_line_in_json() -> None:
    """Each probe line of a pass renders as one JSON object with all canonical fields."""
    stream = io.StringIO()
    configure_logging("info", json=True, stream=stream)

    log_pass("run-2", _probe_results())

    canonical = {"event": "probe", "level": "info", "logger": "monitor.probes", "run_id": "run-2"}
    expected = [
        {
            **canonical,
            "identity": "erp",
            "environment": "contoso-prod",
            "kind": "client_secret",
            "outcome": "ok",
            "duration_ms": 412,
        },
        {
            **canonical,
            "level": "error",
            "identity": "erp",
            "environment": "contoso-test",
            "kind": "client_secret",
            "outcome": "credential_invalid",
            "duration_ms": 98,
        },
    ]
    keys = expected[0].keys()
    assert expected == [{key: line.get(key) for key in keys} for line in _json_lines(stream)]
