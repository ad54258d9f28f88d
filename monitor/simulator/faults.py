"""Fault injection: make one endpoint family misbehave the way real networks and services do.

A :class:`Fault` applies to an endpoint family (``discovery``, ``token``, ``userrealm``,
``whoami``, ``graph``, ``dataverse`` (metadata reads other than WhoAmI) or ``*`` for all),
optionally only to requests of one client id, username or environment, optionally only to the
requests whose resource ``path`` matches a regular expression (searched in the part after
``/graph/v1.0/`` or ``/api/data/v9.2/``, URL-decoded, with ``?`` and the decoded query string:
``/teammembership_association``, ``^subscribedSkus``, ``applicationid eq 1a8f``), and optionally
only to the next ``count`` matching requests. The first matching fault in the scenario's list
wins. Modes:

==================  =============================================================================
``http_500``        500 with an HTML error page (also ``http_502``, ``http_503``; 503 carries
                    ``Retry-After`` when ``retry_after`` > 0)
``throttle_429``    429 with ``Retry-After: retry_after``; the token endpoint answers an Entra
                    ``temporarily_unavailable`` JSON body (or plain ``Too Many Requests`` with
                    ``text_body``), WhoAmI and Dataverse reads the service-protection body,
                    Graph its ``TooManyRequests`` error
``loop_detected``   token endpoint only: 400 ``invalid_grant`` AADSTS50196 (request loop)
``slow``            wait ``seconds`` before handling the request
``drip``            send the response one byte every ``seconds`` (defeats per-read timeouts)
``drop``            close the connection without answering
``hang``            read the request and never answer (until the server stops)
``malformed_json``  200 with a truncated JSON body
``html``            200 with an HTML captive-portal page
``echo``            token endpoint only: the credential sent (password, else client secret) is
                    echoed back in the error, re-encoded as ``encoding`` says (see
                    :data:`ECHO_ENCODINGS`): what a careless proxy or server does
``http_400``        400 with the service's error body (Graph ``BadRequest``, Dataverse
                    ``0x80060888``, Entra ``invalid_request`` AADSTS900144)
``http_404``        404 with the service's "does not exist" body (Graph
                    ``Request_ResourceNotFound``, Dataverse ``0x80040217``)
``truncated``       the real answer, cut off in the middle of its JSON body
``missing_field``   the real answer without ``field`` (removed from the object and from every item
                    of its ``value``)
``unknown_enum``    the real answer with ``field`` set to ``value`` (default
                    ``"unknownFutureValue"``, the sentinel Graph's evolvable enumerations use)
``foreign_next_link``  the real answer with an ``@odata.nextLink`` to another host
``aadsts``          token endpoint only: Entra's documented answer for the AADSTS code ``value``
                    (its OAuth error, description, 401 for ``invalid_client``, else 400)
==================  =============================================================================

Every wait is cut short when the simulator stops, so no fault outlives the server.
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
