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
# Rebuilt once per registration call, read without the lock (assignment is atomic):
_ordered: tuple[str, ...] = ()  # every registered form, longest first
_by_prefix: dict[str, tuple[str, ...]] = {}  # first _MIN_SCRUB_LENGTH characters -> forms
# Shorter values would make scrubbing mangle ordinary text; nobody uses a 5-character secret.
_MIN_SCRUB_LENGTH = 6
# Up to this many forms a plain scan (one C-level search per form) beats the prefix index.
_PLAIN_SCAN_LIMIT = 64


def _variants(value: str) -> Iterable[str]:
    """Return the forms in which a secret value could leak into text."""
    yield value
    yield urllib.parse.quote(value, safe="")
    yield urllib.parse.quote_plus(value, safe="")
    yield base64.b64encode(value.encode()).decode()
    yield base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def register_secret_value(value: str) -> None:
    """Remember *value* (each of its lines, and their encoded forms) so :func:`scrub` removes
    them from text."""
    global _ordered, _by_prefix
    new: set[str] = set()
    for line in value.splitlines() or [value]:
        line = line.strip()
        if len(line) >= _MIN_SCRUB_LENGTH:
            new.update(v for v in _variants(line) if len(v) >= _MIN_SCRUB_LENGTH)
    with _registry_lock:
        if new <= _registered:
            return
        _registered.update(new)
        ordered = tuple(sorted(_registered, key=len, reverse=True))
        index: dict[str, list[str]] = {}
        for form in ordered:
            index.setdefault(form[:_MIN_SCRUB_LENGTH], []).append(form)
        _by_prefix = {prefix: tuple(forms) for prefix, forms in index.items()}
        _ordered = ordered


def scrub(text: str) -> str:
    """Given any text, return it with every registered secret value replaced by the mask.

    With many secrets loaded (hundreds of certificate keys register thousands of forms) a scan
    per form would cost tens of milliseconds per log line; the prefix index keeps the cost
    proportional to the length of the text instead.
    """
    ordered = _ordered
    if len(ordered) <= _PLAIN_SCAN_LIMIT:
        for value in ordered:
            if value in text:
                text = text.replace(value, MASK)
        return text
    index = _by_prefix
    pieces: list[str] = []
    position = copied = 0
    last_start = len(text) - _MIN_SCRUB_LENGTH
    while position <= last_start:
        candidates = index.get(text[position : position + _MIN_SCRUB_LENGTH])
        if candidates:
            for form in candidates:  # longest first
                if text.startswith(form, position):
                    pieces.append(text[copied:position])
                    pieces.append(MASK)
                    position += len(form)
                    copied = position
                    break
            else:
                position += 1
        else:
            position += 1
    if not pieces:
        return text
    pieces.append(text[copied:])
    return "".join(pieces)


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
            body = [line for line in text.splitlines() if not line.startswith("-----")]
            register_secret_value("\n".join(body))

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
