"""Fault injection: make one endpoint family misbehave the way real networks and services do.

A :class:`Fault` applies to an endpoint family (or ``*``), optionally only to the requests of one
client id, username or environment, or whose resource path matches a pattern, and optionally
only to the next ``count`` of them; the first matching fault wins. The modes and what each one
answers are in docs/simulator.md ("Fault modes"). Every wait is cut short when the simulator
stops, so no fault outlives the server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Literal, get_args

Family = Literal["discovery", "token", "userrealm", "whoami", "graph", "dataverse"]
FAMILIES: tuple[str, ...] = get_args(Family)
FaultMode = Literal[
    "http_500",
    "http_502",
    "http_503",
    "throttle_429",
    "loop_detected",
    "slow",
    "drip",
    "drop",
    "hang",
    "malformed_json",
    "html",
    "echo",
    "http_400",
    "http_404",
    "truncated",
    "missing_field",
    "unknown_enum",
    "foreign_next_link",
    "aadsts",
]
FAULT_MODES: tuple[str, ...] = get_args(FaultMode)
# Modes that rewrite the real answer (the request is answered first, then changed).
REWRITING_MODES = frozenset({"truncated", "missing_field", "unknown_enum", "foreign_next_link"})
UNKNOWN_ENUM_VALUE = "unknownFutureValue"

EchoEncoding = Literal[
    "raw",  # as sent
    "percent_upper",  # %2B, as most URL encoders write it
    "percent_lower",  # %2b, as .NET's WebUtility.UrlEncode writes it
    "form",  # + for a space, lower-case %xx otherwise (an echoed form body)
    "html",  # an HTML error page with the value as HTML character references
    "json_escaped",  # every non-alphanumeric character as a \u00xx escape
    "base64",  # base64 of client_id:secret, as in an HTTP Basic header
]
ECHO_ENCODINGS: tuple[str, ...] = get_args(EchoEncoding)


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What a received request is about: the keys faults and request counters match on."""

    family: str  # a Family, "control" or "other"
    client_id: str | None = None  # lower case
    username: str | None = None  # lower case
    environment: str | None = None  # environment name


@dataclass
class Fault:
    """One injected misbehaviour; see the module docstring for the modes."""

    family: str  # a Family or "*"
    mode: FaultMode
    seconds: float = 1.0
    retry_after: int = 60
    count: int | None = None  # None: every matching request until cleared
    client_id: str | None = None
    username: str | None = None
    environment: str | None = None
    text_body: bool = False
    encoding: EchoEncoding = "raw"  # echo only
    path: str | None = None  # a regular expression searched in the resource path and query
    field: str | None = None  # missing_field / unknown_enum: the property to change
    value: str | int = UNKNOWN_ENUM_VALUE  # unknown_enum: the value it gets
    _pattern: re.Pattern[str] | None = dataclass_field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.family != "*" and self.family not in FAMILIES:
            raise ValueError(f"unknown endpoint family {self.family!r}")
        if self.mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}")
        if self.mode in ("loop_detected", "echo", "aadsts") and self.family != "token":
            raise ValueError(f"{self.mode} applies to the token family only")
        if self.encoding not in ECHO_ENCODINGS:
            raise ValueError(f"unknown echo encoding {self.encoding!r}")
        if self.mode == "aadsts" and (
            isinstance(self.value, bool) or not isinstance(self.value, int)
        ):
            raise ValueError("aadsts needs the AADSTS code as value")
        if self.seconds < 0 or self.retry_after < 0:
            raise ValueError("seconds and retry_after must not be negative")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be at least 1")
        if self.mode in ("missing_field", "unknown_enum") and not self.field:
            raise ValueError(f"{self.mode} needs the field to change")
        if self.path is not None:
            try:
                self._pattern = re.compile(self.path)
            except re.error as error:
                raise ValueError(f"path is not a regular expression: {error}") from None
        self.client_id = self.client_id.lower() if self.client_id else None
        self.username = self.username.lower() if self.username else None

    def matches(self, info: RequestInfo, path: str = "") -> bool:
        if self.family != "*" and self.family != info.family:
            return False
        if self._pattern is not None and self._pattern.search(path) is None:
            return False
        if self.client_id is not None and self.client_id != info.client_id:
            return False
        if self.username is not None and self.username != info.username:
            return False
        return self.environment is None or self.environment == info.environment


def take_fault(faults: list[Fault], info: RequestInfo, path: str = "") -> Fault | None:
    """Return the first fault matching ``info`` (and the resource ``path``) and use up one of
    its ``count``.

    A fault whose count reaches zero is removed from ``faults``. The caller holds the lock
    that guards the list.
    """
    for index, fault in enumerate(faults):
        if fault.matches(info, path):
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    del faults[index]
            return fault
    return None
