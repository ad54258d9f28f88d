"""The type that holds every secret the monitor loads, and the registry used to scrub output.

A ``Secret`` never shows its value through ``repr``, ``str``, ``format`` or pickling; the value is
reachable only through :meth:`Secret.reveal` / :meth:`Secret.reveal_bytes`, called at the point
where msal, requests or apprise need it. Every secret value constructed is remembered (in this
process only) so that log and error rendering can scrub exact occurrences of it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import threading
import urllib.parse
from collections.abc import Iterable
from typing import Any, NoReturn

MASK = "********"

_registry_lock = threading.Lock()
_registered: set[str] = set()
_ordered: tuple[str, ...] = ()  # _registered, longest first: rebuilt on registration, not on use
# Shorter values would make scrubbing mangle ordinary text; nobody uses a 5-character secret.
_MIN_SCRUB_LENGTH = 6


def _variants(value: str) -> Iterable[str]:
    """Return the forms in which a secret value could leak into text."""
    yield value
    yield urllib.parse.quote(value, safe="")
    yield urllib.parse.quote_plus(value, safe="")
    yield base64.b64encode(value.encode()).decode()
    yield base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def register_secret_value(value: str) -> None:
    """Remember *value* (and its encoded forms) so :func:`scrub` removes it from text."""
    global _ordered
    for line in value.splitlines() or [value]:
        line = line.strip()
        if len(line) < _MIN_SCRUB_LENGTH:
            continue
        new = {v for v in _variants(line) if len(v) >= _MIN_SCRUB_LENGTH}
        with _registry_lock:
            if new <= _registered:
                continue
            _registered.update(new)
            _ordered = tuple(sorted(_registered, key=len, reverse=True))


def scrub(text: str) -> str:
    """Given any text, return it with every registered secret value replaced by the mask."""
    for value in _ordered:
        if value in text:
            text = text.replace(value, MASK)
    return text


class Secret:
    """A secret value (text or bytes) that refuses to show itself.

    ``source`` names where it came from (``env:NAME``, ``file:/path``, ``credential:name``,
    ``inline``) and is safe to print.
    """

    __slots__ = ("__value", "source")

    def __init__(self, value: str | bytes, source: str) -> None:
        self.__value = value.encode() if isinstance(value, str) else bytes(value)
        self.source = source
        if not self.__value.startswith(b"-----BEGIN") and b"\0" not in self.__value:
            with contextlib.suppress(UnicodeDecodeError):
                register_secret_value(self.__value.decode())
        else:
            # PEM: register each base64 body line so a key block never leaks line by line.
            try:
                text = self.__value.decode()
            except UnicodeDecodeError:
                text = ""
            for line in text.splitlines():
                if not line.startswith("-----"):
                    register_secret_value(line)

    def reveal(self) -> str:
        """Return the value as text. Call only where a library needs the value itself."""
        return self.__value.decode()

    def reveal_bytes(self) -> bytes:
        """Return the value as bytes (certificate files)."""
        return self.__value

    def fingerprint(self, key: bytes) -> str:
        """Return a keyed fingerprint (HMAC-SHA256, 128 bits, hex) that identifies the value.

        The fingerprint detects rotation without storing anything that could be brute-forced
        without *key*.
        """
        return hmac.new(key, self.__value, hashlib.sha256).hexdigest()[:32]

    def __repr__(self) -> str:
        return f"Secret({MASK}, source={self.source!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.__value, other.__value)

    def __hash__(self) -> int:
        return hash(hashlib.sha256(self.__value).digest())

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __bool__(self) -> bool:
        return bool(self.__value)
