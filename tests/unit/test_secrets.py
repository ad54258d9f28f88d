"""Scrubbing a registered secret from text in every encoding a server may echo it in."""

from __future__ import annotations

import base64
import html
import json
import urllib.parse
import uuid

import pytest

from monitor.secrets import MASK, Secret, scrub


def fresh_secret() -> str:
    """Return a newly registered secret with characters every encoding changes."""
    value = f"Sc {uuid.uuid4().hex[:10]}+/&<'\"~>é😀-x"
    Secret(value, "test")
    return value


def lower_hex(text: str) -> str:
    parts = text.split("%")
    return parts[0] + "".join("%" + part[:2].lower() + part[2:] for part in parts[1:])


ENCODINGS = {
    "raw": lambda v: v,
    "percent, upper case": lambda v: urllib.parse.quote(v, safe=""),
    "percent, lower case (.NET)": lambda v: lower_hex(urllib.parse.quote(v, safe="")),
    "form, + for a space": lambda v: lower_hex(urllib.parse.quote_plus(v, safe="")),
    "percent, only some characters": lambda v: urllib.parse.quote(v, safe=" +/&<'\"~>"),
    "html named and numeric references": lambda v: html.escape(v).replace("+", "&#43;"),
    "html hexadecimal references": lambda v: "".join(f"&#X{ord(c):x};" for c in v),
    "json \\u escapes": lambda v: "".join(f"\\u{ord(c):04X}" if ord(c) < 0x10000 else c for c in v),
    "json, ASCII only (surrogate pairs)": lambda v: json.dumps(v)[1:-1],
    "python \\x escapes": lambda v: v.replace("+", "\\x2b").replace("/", "\\x2F"),
    "percent inside percent": lambda v: urllib.parse.quote(urllib.parse.quote(v, safe="")),
    "percent inside html": lambda v: html.escape(lower_hex(urllib.parse.quote_plus(v))),
    "base64": lambda v: base64.b64encode(v.encode()).decode(),
    "base64 after user: (Basic)": lambda v: base64.b64encode(f"app:{v}".encode()).decode(),
    "base64 after u:": lambda v: base64.b64encode(f"u:{v}".encode()).decode(),
    "url-safe base64 after x:": lambda v: base64.urlsafe_b64encode(f"x:{v}".encode()).decode(),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_encoding_of_a_secret_is_masked(encoding: str) -> None:
    """The echoed form is replaced by the mask; the words around it stay."""
    value = fresh_secret()
    echoed = ENCODINGS[encoding](value)
    assert echoed not in ("", value) or encoding == "raw"

    scrubbed = scrub(f"rejected: '{echoed}' (try again)")

    assert scrubbed.startswith("rejected: '")
    assert scrubbed.endswith("' (try again)")
    assert MASK in scrubbed
    assert echoed not in scrubbed


def test_text_without_a_secret_is_left_alone() -> None:
    """Encoded text that is not a secret, and near misses, come back unchanged."""
    value = fresh_secret()
    texts = [
        "50% done &amp; 100%25 sure, a\\u0020b, \\\\server\\share, &unknown; &#x41;",
        urllib.parse.quote(value[:-3], safe=""),
        html.escape(value[1:]),
        "https://example.com/?a=1&b=%2F&c=%zz",
    ]
    assert texts == [scrub(text) for text in texts]


def test_two_occurrences_in_different_encodings_are_both_masked() -> None:
    """Raw, percent-encoded and HTML-escaped occurrences in one text are all masked."""
    value = fresh_secret()
    text = f"sent {value} got {lower_hex(urllib.parse.quote(value))} and {html.escape(value)}"
    assert f"sent {MASK} got {MASK} and {MASK}" == scrub(text)
