"""A shared msal ``http_cache`` that keeps OIDC discovery answers and nothing else.

msal's ``http_cache`` would also replay throttled token answers (for ``Retry-After`` seconds) and
OAuth errors (for 60 seconds): shared across probes, the next probe would repeat the previous
answer instead of observing the present. :class:`DiscoveryCache` keeps only the OpenID
configuration, so tenant discovery is fetched once per tenant per day while every token request
still reaches the identity provider.
"""

from __future__ import annotations

import heapq
import threading
import urllib.parse
from collections.abc import Iterator, MutableMapping
from typing import Any

_INDEX = "_index_"
_DISCOVERY_SUFFIX = "/.well-known/openid-configuration"


def is_discovery_key(key: object) -> bool:
    """Return True for msal's cache key of a successful OIDC discovery GET."""
    if not isinstance(key, str) or not key.startswith("GET ") or not key.endswith(" 2xx"):
        return False
    url = key[4:].split(" hash=", 1)[0]
    return urllib.parse.urlsplit(url).path.endswith(_DISCOVERY_SUFFIX)


class DiscoveryCache(MutableMapping[str, Any]):
    """A thread-safe mapping for msal's ``http_cache=`` that retains only OIDC discovery.

    msal wraps every ``http_client`` in ``ThrottledHttpClient``
    (``msal/throttled_http_client.py``), which stores in this mapping
    ``"POST {url} client_id=... scope=... hash=... 429/5xx/Retry-After"`` (throttled answers,
    replayed for ``Retry-After`` seconds), ``"POST {url} hash=... 400"`` (OAuth errors, replayed
    for 60 seconds) and ``"GET {url} hash=... 2xx"`` (successful GETs: OIDC discovery, user
    realm; kept 24 hours), plus one bookkeeping entry, ``"_index_"``
    (``msal/individual_cache.py``: ``(heap, timestamps)``). Every write is accepted; only
    ``GET .../.well-known/openid-configuration`` entries are kept.

    Each msal application guards the mapping with its own lock, so probes in several threads
    use it concurrently: the index entry is handed out as a copy and stored back filtered, so an
    interleaving can at worst forget an entry (one more discovery GET), never corrupt one. (A
    ``MutableMapping`` rather than a ``dict`` subclass: ``dict.get``, which msal uses for the
    index, would bypass an overridden ``__getitem__``.)
    """

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getitem__(self, key: str) -> Any:
        with self._lock:
            value = self._data[key]
            if key == _INDEX:
                sequence, timestamps = value
                return list(sequence), dict(timestamps)
            return value

    def __setitem__(self, key: str, value: Any) -> None:
        if key == _INDEX:
            sequence, timestamps = value
            kept_sequence = [entry for entry in sequence if is_discovery_key(entry[2])]
            heapq.heapify(kept_sequence)
            kept = (kept_sequence, {k: v for k, v in timestamps.items() if is_discovery_key(k)})
            with self._lock:
                self._data[_INDEX] = kept
        elif is_discovery_key(key):
            with self._lock:
                self._data[key] = value
        # Anything else (token answers, throttling memory, user realm) is dropped on purpose.

    def __delitem__(self, key: str) -> None:
        with self._lock:
            del self._data[key]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter([key for key in self._data if key != _INDEX])

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for key in self._data if key != _INDEX)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
