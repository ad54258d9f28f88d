"""Tokens the simulator issues: JWTs signed with a per-process HMAC key.

Real Entra tokens are RS256-signed; clients never validate access tokens (only the resource
does) and msal does not validate ID tokens, so a symmetric key is enough and much cheaper. A key
that lives only in this process also means tokens from an earlier simulator run are rejected,
like tokens from a foreign issuer.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import jwt

ALGORITHM = "HS256"


class TokenIssuer:
    """Sign and verify the simulator's JWTs."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)
        self._key_id = secrets.token_hex(8)

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(
            dict(claims), self._key, algorithm=ALGORITHM, headers={"kid": self._key_id}
        )

    def verify(self, token: str, audiences: Sequence[str]) -> dict[str, Any]:
        """Return the claims of ``token``; raise jwt.InvalidTokenError if it is not one of ours,
        is expired, or is not for one of ``audiences``."""
        claims: dict[str, Any] = jwt.decode(
            token,
            self._key,
            algorithms=[ALGORITHM],
            audience=list(audiences),
            options={"require": ["exp", "aud", "tid"]},
        )
        return claims


def base64url_json(payload: Mapping[str, Any]) -> str:
    """Return ``payload`` as compact JSON in unpadded base64url (the ``client_info`` format)."""
    raw = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_refresh_token() -> str:
    return "1.AQ" + secrets.token_urlsafe(96)
