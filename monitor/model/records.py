"""One record built from another whose fields share its names (a probe result -> the pair's
first state, a probe result -> the headroom it observed)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

R = TypeVar("R")


def same_named(record: type[R], source: object, **given: Any) -> R:
    """Return a *record* (a dataclass) whose fields are *given*, or else the same-named
    attributes of *source*; a field that neither has keeps its default."""
    values = dict(given)
    for field in dataclasses.fields(record):  # type: ignore[arg-type]
        if field.name not in values and hasattr(source, field.name):
            values[field.name] = getattr(source, field.name)
    return record(**values)
