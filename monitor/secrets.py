"""The type that holds every secret the monitor loads, and the registry used to scrub output.

A :class:`Secret` never shows its value through ``repr``, ``str``, ``format`` or pickling; the
value is reachable only through :meth:`Secret.reveal` / :meth:`Secret.reveal_bytes`, called where
msal, requests or apprise need it. Every secret value constructed is remembered (in this process
only) so that :func:`scrub` can mask it in log and error text, also in the encoded forms a server
echoes it back in.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import hashlib
import hmac
import html
import re
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
    """Return the forms in which a secret value could leak into text.

    Other text encodings (percent-encoding of any characters in either case, HTML references,
    JSON escapes) are found by decoding the text instead (:func:`_decoded`); ``+`` for a space
    is a form of its own because ``+`` is also an ordinary character.
    """
    yield value
    if " " in value:
        yield value.replace(" ", "+")
    yield urllib.parse.quote(value, safe="")
    yield urllib.parse.quote_plus(value, safe="")
    raw = value.encode()
    yield base64.b64encode(raw).decode()
    yield base64.urlsafe_b64encode(raw).decode().rstrip("=")
    yield from _base64_cores(raw)


def _base64_cores(raw: bytes) -> Iterable[str]:
    """Yield the base64 characters that encode only *raw*'s bits when *raw* sits at byte offset 0,
    1 or 2 of a longer base64-encoded text (``user:password`` in a Basic header): the characters
    that also carry bits of the neighbouring bytes differ from one text to another."""
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw + b"\0\0")
        first = -(-offset * 8 // 6)  # the first character made of raw's bits only
        last = (offset + len(raw)) * 8 // 6  # one past the last such character
        core = encoded[first:last]
        yield core.decode()
        yield core.translate(_URLSAFE).decode()


_URLSAFE = bytes.maketrans(b"+/", b"-_")


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

    A server that echoes a secret back seldom echoes it as it was sent: .NET percent-encodes in
    lower case, form encoding turns spaces into ``+``, an HTML error page escapes ``&`` and
    ``<``, a JSON encoder writes ``+``, a Basic header carries it in base64 after ``user:``. So
    this masks the raw value, its base64 forms (standard and URL-safe, at any alignment inside a
    longer base64 text) and every occurrence in which any characters are percent-encoded
    (either case), ``+`` for a space, HTML character references or JSON / JavaScript backslash
    escapes, mixed freely and nested up to three levels (``%2526``): the text is decoded while
    remembering where each decoded character came from, the decoded text is searched, and what
    matched is masked in the original text.
    """
    text = _scrub_exact(text)
    if _ordered and _MARKERS.search(text):
        text = _scrub_encoded(text)
    return text


def _scrub_exact(text: str) -> str:
    """Mask the registered forms where they occur as they are.

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


# --- encoded occurrences -------------------------------------------------------------------------

# Something in the text that may be an encoded character; no marker, nothing to decode.
_MARKERS = re.compile(r"[%&\\]")
_ENCODED = re.compile(
    r"(?=[%&\\])"  # cheap rejection of every other position
    r"(?:(?P<percent>(?:%[0-9A-Fa-f]{2})+)"  # a run: the bytes of multi-byte UTF-8 characters
    r"|(?P<entity>&(?:\#[0-9]{1,7}|\#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?)"
    r"|(?P<unicode>(?:\\u[0-9A-Fa-f]{4})+)"  # a run: surrogate pairs are two escapes
    r"|\\x(?P<hex>[0-9A-Fa-f]{2})"
    r"|\\(?P<escaped>[\\/\"'bfnrt]))"
)
_ESCAPED = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_DECODE_LEVELS = 3


class _Origins:
    """Where each character of a decoded text came from in the text it was decoded from: a
    list of segments, each a literal stretch or one decoded character with its source span."""

    __slots__ = ("_info", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []  # decoded index where each segment starts
        self._info: list[tuple[int, int, bool]] = []  # (source start, source end, literal)

    def literal(self, decoded_at: int, start: int, end: int) -> None:
        self._starts.append(decoded_at)
        self._info.append((start, end, True))

    def unit(self, decoded_at: int, start: int, end: int) -> None:
        self._starts.append(decoded_at)
        self._info.append((start, end, False))

    def source(self, start: int, end: int) -> tuple[int, int]:
        """Return the source span of the decoded span [start, end)."""
        return self._locate(start)[0], self._locate(end - 1)[1]

    def _locate(self, index: int) -> tuple[int, int]:
        segment = bisect.bisect_right(self._starts, index) - 1
        source_start, source_end, literal = self._info[segment]
        if literal:
            position = source_start + index - self._starts[segment]
            return position, position + 1
        return source_start, source_end


def _decoded(text: str) -> tuple[str, _Origins] | None:
    """Decode every encoded character of *text* once; return the decoded text and where each of
    its characters came from. None if nothing decodes."""
    parts: list[str] = []
    origins = _Origins()
    length = 0  # of the decoded text so far
    copied = 0

    def literal(upto: int) -> None:
        nonlocal length
        if upto > copied:
            parts.append(text[copied:upto])
            origins.literal(length, copied, upto)
            length += upto - copied

    def unit(characters: str, start: int, end: int) -> None:
        nonlocal length
        for character in characters:
            parts.append(character)
            origins.unit(length, start, end)
            length += 1

    for match in _ENCODED.finditer(text):
        start, end = match.span()
        if match["percent"]:
            literal(start)
            data = bytes.fromhex(match["percent"].replace("%", ""))
            position = start
            for character in data.decode("utf-8", "surrogateescape"):
                width = 3 * len(character.encode("utf-8", "surrogateescape"))
                unit(character, position, position + width)
                position += width
        elif match["entity"]:
            characters = html.unescape(match["entity"])
            if characters == match["entity"]:
                continue  # not a reference html knows: ordinary text
            literal(start)
            unit(characters, start, end)
        elif match["unicode"]:
            literal(start)
            codes = [int(code, 16) for code in match["unicode"].split("\\u")[1:]]
            position = start
            index = 0
            while index < len(codes):
                code = codes[index]
                width = 6
                pair = codes[index + 1] if index + 1 < len(codes) else 0
                if 0xD800 <= code < 0xDC00 and 0xDC00 <= pair < 0xE000:
                    code = 0x10000 + ((code - 0xD800) << 10) + (pair - 0xDC00)
                    width = 12
                    index += 1
                unit(chr(code), position, position + width)
                position += width
                index += 1
        elif match["hex"]:
            literal(start)
            unit(chr(int(match["hex"], 16)), start, end)
        else:
            literal(start)
            escaped = match["escaped"]
            unit(_ESCAPED.get(escaped, escaped), start, end)
        copied = end
    if not parts:
        return None
    literal(len(text))
    return "".join(parts), origins


def _exact_spans(text: str) -> list[tuple[int, int]]:
    """Return the spans of *text* where a registered form occurs, merged where they overlap."""
    spans: list[tuple[int, int]] = []
    ordered = _ordered
    if len(ordered) <= _PLAIN_SCAN_LIMIT:
        for form in ordered:
            position = text.find(form)
            while position >= 0:
                spans.append((position, position + len(form)))
                position = text.find(form, position + 1)
    else:
        index = _by_prefix
        for position in range(len(text) - _MIN_SCRUB_LENGTH + 1):
            for form in index.get(text[position : position + _MIN_SCRUB_LENGTH], ()):
                if text.startswith(form, position):
                    spans.append((position, position + len(form)))
                    break  # longest first
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _scrub_encoded(text: str) -> str:
    """Mask the registered forms where they occur with some characters encoded (any mix of the
    encodings :func:`_decoded` reads, nested up to :data:`_DECODE_LEVELS` levels)."""
    spans: list[tuple[int, int]] = []
    levels: list[_Origins] = []
    current = text
    for _ in range(_DECODE_LEVELS):
        decoded = _decoded(current)
        if decoded is None:
            break
        current, origins = decoded
        levels.append(origins)
        for start, end in _exact_spans(current):
            for level in reversed(levels):
                start, end = level.source(start, end)
            spans.append((start, end))
        if not _MARKERS.search(current):
            break
    if not spans:
        return text
    pieces: list[str] = []
    copied = 0
    for start, end in sorted(spans):
        if end <= copied:
            continue
        pieces.append(text[copied : max(start, copied)])
        pieces.append(MASK)
        copied = end
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
