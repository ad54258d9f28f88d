"""Logging for the monitor: structlog in front, stdlib logging behind, one redaction chain for all.

Call :func:`configure_logging` once at start-up (again in tests; it is idempotent). Our own code
logs through :func:`get_logger`, third-party libraries through stdlib :mod:`logging`; both end in
one handler that renders every record through the same chain of key-based, pattern-based and
exact-value redaction (every loaded :class:`~monitor.secrets.Secret`) before JSON lines or a
console line. Every probe result gives one INFO line with the event name ``"probe"``
(:func:`monitor.pipeline.probing.log_pass`); never put a secret, a token or a full
``error_description`` on it: the redaction is a safety net, not the plan.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import enum
import json
import logging
import os
import re
import sys
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import PurePath
from typing import Any, Final, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from monitor.journal import PRIORITIES, JournalWriter, field_name, stream_is_journal
from monitor.secrets import MASK, Secret, scrub

__all__ = [
    "HANDLER_NAME",
    "PINNED_LOGGERS",
    "ScrubbingRenderer",
    "configure_logging",
    "get_logger",
    "redact_sensitive_keys",
    "redact_sensitive_patterns",
    "redact_text",
    "scrub_secret_values",
]

#: Name of the one handler :func:`configure_logging` installs on the root logger.
HANDLER_NAME: Final = "monitor"

#: Loggers that never log below WARNING, whatever the configured level (see
#: :func:`configure_logging`).
PINNED_LOGGERS: Final[tuple[str, ...]] = ("urllib3", "msal")

#: APScheduler logs two INFO lines per job run ("Running job", "executed successfully"), which
#: would double the canonical probe line; it is kept at WARNING unless the level is DEBUG.
_QUIET_BELOW_DEBUG: Final[tuple[str, ...]] = ("apscheduler.executors",)

_LEVELS: Final[dict[str, int]] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}

# Keys (lower-cased, "-" read as "_") whose values are masked wherever they occur in an event,
# including inside nested dicts and lists.
_SENSITIVE_KEYS: Final[frozenset[str]] = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "assertion",
        "client_assertion",
        "authorization",
        "proxy_authorization",
        "private_key",
        "sig",
        "signature",
        "api_key",
        "apikey",
        "cookie",
        "set_cookie",
    }
)
_SENSITIVE_SUFFIXES: Final[tuple[str, ...]] = (
    "_password",
    "_passwd",
    "_passphrase",
    "_secret",
    "_token",
    "_assertion",
    "_private_key",
    "_api_key",
    "_sig",
)
# URL-valued keys keep only scheme and host: apprise URLs and webhooks carry their secrets in the
# user-info, the path (Slack, Discord, Telegram) or the query (Teams Workflows `sig=`).
_URL_KEYS: Final[frozenset[str]] = frozenset({"url", "uri", "webhook"})
_URL_SUFFIXES: Final[tuple[str, ...]] = ("_url", "_uri", "_webhook")
_HTTP_SCHEMES: Final[frozenset[str]] = frozenset({"http", "https"})

# Keys structlog itself adds; never redacted by name.
_FRAME_KEYS: Final[frozenset[str]] = frozenset({"event", "timestamp", "level", "logger"})
_MAX_DEPTH: Final = 8

# --- pattern-based redaction -------------------------------------------------------------------

_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*?)PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*?PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){1,3}")
_AUTHORIZATION_HEADER = re.compile(
    r"(?i)(\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?)"
    r"((?:bearer|basic|digest|negotiate|ntlm|sharedkey|sharedaccesssignature)\s+)?"
    r"[^\s\"',;]+"
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/-]{16,}=*")
# `?sig=...`, `&code=...`, also percent-encoded (`%3Fsig%3D...`) when a URL sits inside another.
_QUERY_PARAMETER = re.compile(
    r"(?i)((?:[?&;]|%3F|%26)"
    r"(?:sig|signature|code|client_secret|client_assertion|password|passwd|access_token"
    r"|refresh_token|id_token|token|api_key|apikey|key|secret|assertion)"
    r"(?:=|%3D))(?:(?!%26)[^&#\s\"'<>])*"
)
# Form fields and assignments in text: `client_secret=...&grant_type=...`, `password=...`.
_ASSIGNMENT = re.compile(
    r"(?i)(?<![A-Za-z0-9])"
    r"((?:client_secret|client_assertion|password|passwd|passphrase|access_token|refresh_token"
    r"|id_token|assertion|api_key|apikey|private_key|secret|token|sig)=)"
    r"[^&\s\"',;]+"
)
# JSON bodies and Python reprs: `"access_token": "..."`, `{'password': '...'}`.
_QUOTED_FIELD = re.compile(
    r"(?i)([\"'](?:client_secret|client_assertion|password|passwd|passphrase|access_token"
    r"|refresh_token|id_token|assertion|api_key|apikey|private_key|secret|token|sig"
    r"|authorization)[\"']\s*:\s*)([\"'])(?:\\.|(?!\2).)*\2"
)
# `password: hunter2` in prose; only names for which the word after a colon is never an error code.
_COLON_FIELD = re.compile(
    r"(?i)(?<![A-Za-z0-9])"
    r"((?:client_secret|client_assertion|password|passwd|passphrase|access_token|refresh_token)"
    r"\s*:\s*)[^\s\"',;]+"
)
# Possessive quantifiers and a bounded scheme keep this linear on long dotted text ("a.a.a...").
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,31}+://[^/\s:@]*+:)[^/\s@]++@")

_PATTERNS: Final[tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...]] = (
    (
        _PEM_PRIVATE_KEY,
        lambda m: f"-----BEGIN {m[1]}PRIVATE KEY-----{MASK}-----END {m[1]}PRIVATE KEY-----",
    ),
    (_AUTHORIZATION_HEADER, lambda m: f"{m[1]}{m[2] or ''}{MASK}"),
    (_BEARER, lambda m: f"{m[1]} {MASK}"),
    (_QUOTED_FIELD, lambda m: f"{m[1]}{m[2]}{MASK}{m[2]}"),
    (_QUERY_PARAMETER, lambda m: f"{m[1]}{MASK}"),
    (_ASSIGNMENT, lambda m: f"{m[1]}{MASK}"),
    (_COLON_FIELD, lambda m: f"{m[1]}{MASK}"),
    (_JWT, MASK),
    (_URL_USERINFO, lambda m: f"{m[1]}{MASK}@"),
)


def redact_text(text: str) -> str:
    """Given any text, return it with tokens, signatures, passwords and private keys masked.

    This is the pattern-based layer only; it knows nothing about which secrets were loaded (that
    is :func:`monitor.secrets.scrub`).
    """
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# --- key-based redaction -----------------------------------------------------------------------


def _normalise_key(key: object) -> str:
    return str(key).lower().replace("-", "_").lstrip("_")


def _is_sensitive_key(key: object) -> bool:
    name = _normalise_key(key)
    return name in _SENSITIVE_KEYS or name.endswith(_SENSITIVE_SUFFIXES)


def _is_url_key(key: object) -> bool:
    name = _normalise_key(key)
    return name in _URL_KEYS or name.endswith(_URL_SUFFIXES)


def _mask_url(value: str) -> str:
    """Keep only ``scheme://host[:port]`` of an http(s) URL; of any other URL only the scheme."""
    try:
        parts = urllib.parse.urlsplit(value.strip())
    except ValueError:
        return MASK
    if not parts.scheme or not parts.netloc:
        return MASK
    if parts.scheme.lower() not in _HTTP_SCHEMES:
        # apprise schemes put tokens in the "host" (tgram://BOTTOKEN/...), so show nothing of it.
        return f"{parts.scheme}://{MASK}"
    try:
        host = parts.hostname
        port = parts.port
    except ValueError:
        return f"{parts.scheme}://{MASK}"
    if not host:
        return f"{parts.scheme}://{MASK}"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    rest = f"/{MASK}" if (parts.path.strip("/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{netloc}{rest}"


def _redact_keys(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        redacted: dict[Any, Any] = {}
        for key, item in value.items():
            if item is None:
                redacted[key] = None
            elif _is_sensitive_key(key):
                redacted[key] = MASK
            elif _is_url_key(key) and isinstance(item, str):
                redacted[key] = _mask_url(item)
            else:
                redacted[key] = _redact_keys(item, depth + 1)
        return redacted
    if isinstance(value, list | tuple):
        return [_redact_keys(item, depth + 1) for item in value]
    return value


def redact_sensitive_keys(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Processor: mask the values of secret-named keys (``password``, ``client_secret``, ``sig``,
    ``access_token``, ``authorization``, ``*_token``, ... case-insensitive), at any depth.

    ``None`` stays ``None`` so that "no secret configured" remains visible. URL-valued keys
    (``url``, ``*_url``) keep only their scheme and host.
    """
    for key, value in list(event_dict.items()):
        if key in _FRAME_KEYS or value is None:
            continue
        if _is_sensitive_key(key):
            event_dict[key] = MASK
        elif _is_url_key(key) and isinstance(value, str):
            event_dict[key] = _mask_url(value)
        elif isinstance(value, Mapping | list | tuple):
            event_dict[key] = _redact_keys(value, 1)
    return event_dict


# --- pattern-based redaction over every value --------------------------------------------------


def _loggable(value: Any, depth: int) -> Any:
    """Return *value* as JSON-compatible data whose every string has been through redact_text.

    Objects without a JSON form are turned into text here (not later by the renderer) so that the
    patterns see what will be written.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Secret):
        return repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        # Raw bytes (key material, PFX files, bodies) are never written out.
        return f"<{len(value)} bytes>"
    if depth > _MAX_DEPTH:
        return redact_text(repr(value))
    if isinstance(value, Mapping):
        return {str(key): _loggable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_loggable(item, depth + 1) for item in value]
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _loggable(value.value, depth + 1)
    if isinstance(value, uuid.UUID | PurePath):
        return str(value)
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Field by field, so that key-based rules would still have applied to a dict form.
        as_dict = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
        return _loggable(_redact_keys(as_dict, depth + 1), depth + 1)
    return redact_text(repr(value))


def redact_sensitive_patterns(
    _logger: WrappedLogger, _name: str, event_dict: EventDict
) -> EventDict:
    """Processor: apply :func:`redact_text` to every string in the event (JWTs, ``?sig=``/
    ``&code=`` query parameters, ``client_secret=`` form fields, PEM private keys,
    ``Authorization: Bearer ...``, passwords in URLs), turning other objects into text first.
    """
    for key, value in list(event_dict.items()):
        event_dict[key] = _loggable(value, 0)
    return event_dict


# --- exact-value scrubbing ---------------------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {key: _scrub_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(item) for item in value]
    return value


def scrub_secret_values(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Processor: replace every occurrence of a loaded secret value (raw, URL-encoded, base64) in
    any string of the event by the mask.

    The rendered line is scrubbed again (:class:`ScrubbingRenderer`); doing it on the values too
    catches a secret that JSON escaping (a quote, a backslash) would hide from the line-level pass.
    """
    # One pass over all strings joined; only when something matched, scrub value by value.
    joined = "\0".join(_strings(list(event_dict.values())))
    if scrub(joined) == joined:
        return event_dict
    for key, value in list(event_dict.items()):
        event_dict[key] = _scrub_value(value)
    return event_dict


class ScrubbingRenderer:
    """Wrap a renderer so that its output is scrubbed of every loaded secret value.

    This is the last line of defence: whatever reached the text (an exception message, a repr),
    an exact secret value does not leave the process through the log.
    """

    def __init__(self, renderer: Callable[[WrappedLogger, str, EventDict], str | bytes]) -> None:
        self._renderer = renderer

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        rendered = self._renderer(logger, name, event_dict)
        text = rendered.decode() if isinstance(rendered, bytes) else rendered
        return scrub(text)


# --- other processors --------------------------------------------------------------------------


def _resolve_exc_info(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Turn ``exc_info=True`` into the exception being handled now, while it still is."""
    if event_dict.get("exc_info") is True:
        exc_info = sys.exc_info()
        if exc_info[0] is None:
            del event_dict["exc_info"]
        else:
            event_dict["exc_info"] = exc_info
    return event_dict


def _foreign_stack_info(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Put a stdlib record's formatted ``stack_info`` where structlog puts its own."""
    stack = event_dict.pop("stack_info", None)
    if isinstance(stack, str):
        event_dict["stack"] = stack
    return event_dict


_LEADING_KEYS: Final = ("timestamp", "level", "logger", "event")


def _leading_keys_first(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Order the JSON object as timestamp, level, logger, event, then the rest as logged."""
    ordered = {key: event_dict.pop(key) for key in _LEADING_KEYS if key in event_dict}
    ordered.update(event_dict)
    return ordered


class _QuietErrors(logging.Handler):
    """On a failure to emit, report only the error's type.

    The stdlib default (``Handler.handleError``) prints the record's message and arguments to
    stderr, which is exactly the unredacted data this module exists to keep out.
    """

    def handleError(self, record: logging.LogRecord) -> None:
        if not logging.raiseExceptions:
            return
        error_type = sys.exc_info()[0]
        name = error_type.__name__ if error_type is not None else "unknown error"
        # A closed or broken stderr leaves nowhere to report to.
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"monitor: a log record from {record.name!r} was dropped ({name})\n")


class _Handler(logging.StreamHandler[TextIO], _QuietErrors):
    """The root handler for a terminal, a file or a pipe."""


# Keys of a journal record that are not fields of their own: the level is PRIORITY, the
# timestamp is the journal's, the exception is in MESSAGE (the event is MESSAGE's first words
# and the field EVENT).
_JOURNAL_OWN_KEYS: Final = frozenset({"timestamp", "level", "event", "exception"})


class _JournalHandler(_QuietErrors):
    """The root handler under journald: each record is one journal entry with ``PRIORITY``, a
    readable ``MESSAGE`` and its structured values as fields (:mod:`monitor.journal`).

    The formatter renders the scrubbed JSON object of the record (the same chain as JSON lines,
    so the same redaction); this handler turns it into the entry.
    """

    def __init__(self, writer: JournalWriter) -> None:
        super().__init__()
        self._writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event = json.loads(self.format(record))
            level = str(event.get("level", "info"))
            extra = {k: v for k, v in event.items() if k not in _JOURNAL_OWN_KEYS}
            message = " ".join([str(event.get("event", "")), *_pairs(extra, skip=("logger",))])
            if event.get("exception"):
                message += "\n" + str(event["exception"]).rstrip()
            fields = [("EVENT", str(event.get("event", "")))]
            fields += [(field_name(key), _field_value(value)) for key, value in extra.items()]
            self._writer.send(PRIORITIES.get(level, 6), message.strip(), fields)
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self._writer.close()
        super().close()


def _field_value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# What a person reads first in a journal message: whom it is about and what happened.
_MESSAGE_FIRST: Final = ("identity", "environment", "tenant", "outcome", "incident")


def _pairs(values: Mapping[str, object], *, skip: tuple[str, ...]) -> list[str]:
    """Return ``key=value`` words (logfmt: a value with a space or a quote is JSON-quoted),
    :data:`_MESSAGE_FIRST` first, leaving out None and the *skip* keys."""
    words = []
    first = [key for key in _MESSAGE_FIRST if key in values]
    for key in [*first, *(key for key in values if key not in first)]:
        value = values[key]
        if key in skip or value is None:
            continue
        text = _field_value(value)
        if not text or any(char in text for char in ' "=\n'):
            text = json.dumps(text, ensure_ascii=False)
        words.append(f"{key}={text}")
    return words


# --- configuration -----------------------------------------------------------------------------


def _parse_level(level: str) -> int:
    try:
        return _LEVELS[level.strip().lower()]
    except KeyError:
        expected = ", ".join(name for name in _LEVELS if name != "warn")
        raise ValueError(f"unknown log level {level!r}; expected one of {expected}") from None


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _renderer_chain(*, json: bool, colors: bool, journal: bool = False) -> list[Processor]:
    exceptions: Processor
    renderer: Processor
    if journal:
        # A JSON object for the journal handler, with the traceback as text (no locals) for
        # the entry's MESSAGE.
        exceptions = structlog.processors.format_exc_info
        renderer = ScrubbingRenderer(structlog.processors.JSONRenderer(ensure_ascii=False))
        ordering: list[Processor] = [_leading_keys_first]
    elif json:
        # structlog's dict tracebacks default to show_locals=True: a plaintext secret in a local
        # variable of a failing function would be written out.
        exceptions = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )
        renderer = ScrubbingRenderer(structlog.processors.JSONRenderer(ensure_ascii=False))
        ordering = [_leading_keys_first]
    else:
        # Rendered to text here (plain stdlib traceback, no locals) so that the redaction below
        # sees it; the console renderer then only appends it. plain_traceback is passed
        # explicitly because the default (Rich, when installed) shows locals.
        exceptions = structlog.processors.format_exc_info
        renderer = ScrubbingRenderer(
            structlog.dev.ConsoleRenderer(
                colors=colors, exception_formatter=structlog.dev.plain_traceback
            )
        )
        ordering = []
    return [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        exceptions,
        redact_sensitive_keys,
        redact_sensitive_patterns,
        scrub_secret_values,
        *ordering,
        renderer,
    ]


def configure_logging(
    level: str = "info",
    *,
    json: bool | None = None,
    stream: TextIO | None = None,
    journal: JournalWriter | None = None,
) -> None:
    """Configure structlog and stdlib logging for the whole process.

    Our code logs through ``get_logger(__name__)`` (a structlog logger); third-party libraries
    (msal, urllib3, requests, apprise, apscheduler, alembic, sqlalchemy) through stdlib
    :mod:`logging`. Both end in one handler on the root logger whose
    :class:`structlog.stdlib.ProcessorFormatter` renders every record through the same chain:
    exceptions without local variables, key-based redaction, pattern-based redaction,
    exact-value scrubbing of every loaded :class:`~monitor.secrets.Secret`, then JSON (one object
    per line, for journald) or a console line, and the rendered line is scrubbed once more. The
    :data:`PINNED_LOGGERS` stay at WARNING even at DEBUG: urllib3 logs request lines with their
    query strings (a Teams Workflows URL carries its ``sig=`` secret there) and msal logs request
    details; ``http.client`` debug output (request bodies, with ``client_secret=``) is never on.

    Given a *level* name (debug, info, warning, error, critical), write every log event from our
    code and from third-party libraries to *stream* (default: ``sys.stderr`` at call time, which
    journald collects under systemd), as JSON lines when *json* is true or, if *json* is None,
    when *stream* is not a TTY; otherwise as readable console lines.

    Under journald (``$JOURNAL_STREAM`` names *stream*; or given a *journal* writer) each record
    is instead one journal entry with its syslog priority, a readable message and its values as
    journal fields (:mod:`monitor.journal`), through the same redaction chain.

    Calling it again replaces the previous configuration: the root logger holds exactly one
    handler of ours, and handlers added by others (pytest's log capture) are left alone.
    Raise ValueError for an unknown level name.
    """
    numeric_level = _parse_level(level)
    target = sys.stderr if stream is None else stream
    tty = _is_tty(target)
    as_json = (not tty) if json is None else json
    colors = tty and "NO_COLOR" not in os.environ

    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
    ]

    if journal is None and stream_is_journal(target):
        journal = JournalWriter(fallback=target)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, _foreign_stack_info],
        processors=_renderer_chain(json=as_json, colors=colors, journal=journal is not None),
    )
    handler: logging.Handler = _Handler(target) if journal is None else _JournalHandler(journal)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == HANDLER_NAME:
            root.removeHandler(existing)
            existing.close()
    root.addHandler(handler)
    root.setLevel(numeric_level)

    for name in PINNED_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, numeric_level))
    for name in _QUIET_BELOW_DEBUG:
        quiet = logging.DEBUG if numeric_level <= logging.DEBUG else logging.WARNING
        logging.getLogger(name).setLevel(max(quiet, numeric_level))

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            _resolve_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        context_class=dict,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: loggers created at import time must follow a later reconfiguration and
        # structlog.testing.capture_logs; the cost is negligible at a few lines per probe.
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Return the structlog logger for module *name* (pass ``__name__``)."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
