"""OData query pieces Graph and Dataverse share: the first value of a query option, the names a
``$select`` asks for, and the ``$skiptoken`` of a next page (an opaque offset, as both
services' tokens are to clients)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any


def first(query: Mapping[str, list[str]], key: str) -> str | None:
    """Return the first value of the query option *key*, None when it is not given."""
    values = query.get(key)
    return values[0] if values else None


def selected(row: Mapping[str, Any], select: str | None) -> tuple[list[str] | None, str | None]:
    """Return the property names a ``$select`` asks for (None without one: all) and the first
    one *row* does not have (None: every one is there)."""
    if not select:
        return None, None
    names = [name.strip() for name in select.split(",") if name.strip()]
    return names, next((name for name in names if name not in row), None)


def skiptoken(offset: int) -> str:
    """Return the ``$skiptoken`` of the page that starts at *offset*."""
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def offset_of(token: str | None) -> int | None:
    """Return the offset a ``$skiptoken`` stands for (0 without one); None if it is not one
    this simulator wrote (the caller answers in its service's error format)."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    prefix, _, number = text.partition(":")
    if prefix != "offset" or not number.isdigit():
        return None
    return int(number)
