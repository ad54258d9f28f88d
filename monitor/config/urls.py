"""What the monitor accepts as a channel URL, how it names one safely, and which parts are secret.

Standard library only: the configuration loader uses it, and loading the configuration must not
import apprise (the report starts without it). Every URL is a secret and is shown only as
``scheme://host[:port]`` (:func:`describe_url`); :func:`url_problems` refuses what would turn
certificate checks off, plain-text e-mail or HTTP except to loopback, and retired Office 365
connector webhooks; :func:`secret_parts` lists the pieces of a URL that could leak on their own.
The rules and why: docs/notifications.md ("Channels").
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass
from typing import Literal

UrlKind = Literal["teams", "email", "other"]

TEAMS_SCHEMES = ("workflow", "workflows")
EMAIL_SCHEMES = ("mailto", "mailtos", "o365", "azure")
_FALSE = ("no", "false", "0", "off", "n", "f")
# Apprise services with a plain-HTTP scheme and a TLS twin.
PLAIN_SCHEMES = {
    "json": "jsons",
    "xml": "xmls",
    "form": "forms",
    "ntfy": "ntfys",
    "gotify": "gotifys",
    "apprise": "apprises",
    "mmost": "mmosts",
    "rocket": "rockets",
    "matrix": "matrixs",
    "ncloud": "nclouds",
    "nctalk": "nctalks",
    "http": "https",
}
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
_NATIVE_WORKFLOW_HOST = re.compile(
    r"(^|\.)(logic\.azure\.[a-z]{2,12}|(power|apps)platform(\.[a-z0-9-]{2,24}){1,3})$", re.I
)
_RETIRED_WEBHOOK_HOST = re.compile(r"(^|\.)webhook\.office\.com$|(^|\.)outlook\.office\.com$", re.I)
_SECRET_QUERY_KEYS = (
    "sig",
    "signature",
    "token",
    "key",
    "apikey",
    "api_key",
    "secret",
    "pass",
    "password",
    "pw",
    "auth",
    "code",
)
_TOKEN_LIKE = re.compile(r"^[A-Za-z0-9_~.+=-]{16,}$")
_MIN_PART = 6


@dataclass(frozen=True)
class UrlInfo:
    """What can be said about a channel URL without showing it."""

    scheme: str
    kind: UrlKind
    host: str | None
    port: int | None

    @property
    def shown(self) -> str:
        """``scheme://host[:port]``: safe to print, log and store."""
        if not self.host:
            return f"{self.scheme}://"
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{host}{port}"


@dataclass(frozen=True)
class UrlProblem:
    """Why a URL is refused: the parts of a configuration problem (the URL is never quoted)."""

    expected: str
    found: str
    hint: str = ""


def is_loopback_host(host: str | None) -> bool:
    """Return whether *host* is the loopback interface (127.0.0.0/8, ::1, localhost)."""
    if not host:
        return False
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split(url: str) -> tuple[str, urllib.parse.SplitResult | None]:
    match = _SCHEME.match(url.strip())
    scheme = match["scheme"].lower() if match else ""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return scheme, None
    return scheme, parts


def _query(parts: urllib.parse.SplitResult | None) -> dict[str, str]:
    if parts is None:
        return {}
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    return {key.lower(): value for key, value in pairs}


def inspect_url(url: str) -> UrlInfo:
    """Return the scheme, kind, host and port of an apprise URL (never raises)."""
    scheme, parts = _split(url)
    host = parts.hostname if parts is not None else None
    port = parts.port if parts is not None else None
    if scheme in TEAMS_SCHEMES or (
        scheme == "https" and host is not None and _NATIVE_WORKFLOW_HOST.search(host)
    ):
        kind: UrlKind = "teams"
    elif scheme in EMAIL_SCHEMES:
        kind = "email"
    else:
        kind = "other"
    return UrlInfo(scheme=scheme or "?", kind=kind, host=host, port=port)


def describe_url(url: str) -> str:
    """Return a safe name for a channel URL: ``workflows://host:port``, never a path, a query,
    a user or a password."""
    return inspect_url(url).shown


def email_uses_tls(url: str) -> bool:
    """Return whether an e-mail URL sends with TLS (``mailtos://`` unless ``mode=insecure``,
    or any ``mode=ssl`` / ``mode=starttls``). Graph mail (``o365://``) is always HTTPS."""
    scheme, parts = _split(url)
    if scheme in ("o365", "azure"):
        return True
    mode = _query(parts).get("mode", "").lower()
    if mode == "insecure":
        return False
    return scheme == "mailtos" or mode in ("ssl", "starttls")


def url_problems(url: str, *, what: str = "channel") -> list[UrlProblem]:
    """Return why *url* is refused as a notification URL (empty when it is acceptable)."""
    scheme, parts = _split(url)
    if not scheme:
        return [
            UrlProblem(
                "an apprise URL such as workflows://... or mailtos://...",
                "a value without a scheme://",
                "see https://appriseit.com/services/ for every service's URL",
            )
        ]
    if parts is None:
        return [UrlProblem("a well-formed URL", f"a {scheme}:// URL that cannot be parsed")]
    host = parts.hostname
    query = _query(parts)
    problems: list[UrlProblem] = []
    if query.get("verify", "yes").lower() in _FALSE:
        problems.append(
            UrlProblem(
                "certificate verification left on",
                f"a {scheme}:// URL with verify=no",
                "remove verify=no; trust a private CA through the system store or "
                "REQUESTS_CA_BUNDLE instead",
            )
        )
    if scheme == "msteams" or (host and _RETIRED_WEBHOOK_HOST.search(host)):
        problems.append(
            UrlProblem(
                "a Teams Workflows URL (workflows://... or the workflow's https:// URL)",
                "an Office 365 connector webhook, which Microsoft has retired",
                'create a "Post to a channel when a webhook request is received" workflow in '
                "Teams and use its URL",
            )
        )
    if scheme in ("mailto", "mailtos") and not email_uses_tls(url):
        smtp_host = query.get("smtp") or host
        if not is_loopback_host(smtp_host):
            problems.append(
                UrlProblem(
                    "e-mail sent with TLS: mailtos:// (STARTTLS) or mode=ssl",
                    f"plain-text SMTP to {smtp_host or 'an unnamed host'}",
                    "use mailtos://; plain SMTP is accepted only to a relay on the loopback "
                    "interface (127.0.0.1, ::1, localhost)",
                )
            )
    elif scheme in PLAIN_SCHEMES and not is_loopback_host(host):
        problems.append(
            UrlProblem(
                f"a TLS URL ({PLAIN_SCHEMES[scheme]}://...)",
                f"plain-text {scheme}:// to {host or 'an unnamed host'}",
                f"use {PLAIN_SCHEMES[scheme]}://; plain HTTP is accepted only to loopback",
            )
        )
    if not problems and what == "heartbeat" and scheme not in ("https", "http"):
        problems.append(
            UrlProblem(
                "an https:// URL (a Healthchecks or Uptime Kuma push URL)",
                f"a {scheme}:// URL",
            )
        )
    return problems


def secret_parts(url: str) -> list[str]:
    """Return the pieces of *url* that would give it away on their own: the password, secret
    query values (``sig``, ``token``...), and token-like path segments."""
    scheme, parts = _split(url)
    if parts is None:
        return []
    found: list[str] = []
    if parts.password:
        found.append(urllib.parse.unquote(parts.password))
    for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in _SECRET_QUERY_KEYS and value:
            found.append(value)
    segments = [urllib.parse.unquote(s) for s in parts.path.split("/") if s]
    if scheme in TEAMS_SCHEMES:
        found.extend(segments[:2])  # workflow id, signature
    elif scheme in ("o365", "azure"):
        found.extend(s for s in segments if "@" not in s)  # tenant, client id, client secret
    else:
        # Many services carry tokens where a host would be (slack://TokenA/TokenB/...).
        netloc_host = parts.netloc.rsplit("@", 1)[-1].split(":")[0]
        if _TOKEN_LIKE.match(netloc_host) and "." not in netloc_host:
            found.append(netloc_host)
        found.extend(s for s in segments if _TOKEN_LIKE.match(s) and "@" not in s)
    return [part for part in dict.fromkeys(found) if len(part) >= _MIN_PART]
