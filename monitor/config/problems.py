"""Configuration problems and the error that carries all of them.

A :class:`Problem` names *where* (a dotted path such as ``identities.sales-sync.client_id``, or a
line and column for TOML syntax errors), *what was expected*, *what was found* and a *hint*. The
``found`` text is written by the validator from a description of the value (its type, or the value
itself only for fields that can never hold a secret), so a problem never carries a secret value;
:meth:`ConfigError.render` still passes its output through :func:`monitor.secrets.scrub` in case a
secret that was loaded elsewhere turns up.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType

from monitor.secrets import scrub

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_SHOWN_STRING_LENGTH = 60


def dotted(path: KeyPath) -> str:
    """Given a key path, return it as TOML would spell it: ``tenants."a.b".cloud``, ``tags[2]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        key = part if _BARE_KEY.match(part) else json.dumps(part)
        text = f"{text}.{key}" if text else key
    return text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration file."""

    path: str  # dotted path; "" for the file as a whole
    expected: str
    found: str
    hint: str = ""
    line: int | None = None  # TOML syntax errors only
    column: int | None = None
    key_path: KeyPath = field(default=(), compare=False, repr=False)  # for ordering only

    @property
    def location(self) -> str:
        if self.line is not None:
            return f"line {self.line}, column {self.column}"
        return self.path or "(file)"

    def render(self) -> str:
        """Return the problem as one line (without the file name)."""
        text = f"{self.location}: expected {self.expected}, found {self.found}"
        if self.hint:
            text += f"; hint: {self.hint}"
        return text


class ConfigError(Exception):
    """The configuration file cannot be used; ``problems`` lists every reason found."""

    def __init__(self, source: Path, problems: list[Problem]) -> None:
        super().__init__(source, problems)
        self.source = source
        self.problems = problems

    def render(self) -> str:
        """Return the file name once, then one indented line per problem."""
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{self.source}: {count} configuration {noun}:"]
        lines.extend(f"  {problem.render()}" for problem in self.problems)
        return scrub("\n".join(lines))

    def __str__(self) -> str:
        return self.render()


def in_document_order(problems: list[Problem], document: object) -> list[Problem]:
    """Return *problems* sorted by where their keys appear in *document* (a parsed TOML file).

    Keys that are missing from the document (required keys) sort after their table's existing
    keys; problems found in the same place keep the order they were found in.
    """

    def position(problem: Problem) -> list[int]:
        node = document
        indices: list[int] = []
        for part in problem.key_path:
            if isinstance(node, dict) and isinstance(part, str):
                keys = list(node)
                indices.append(keys.index(part) if part in node else len(keys))
                node = node.get(part)
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                indices.append(part)
                node = node[part]
            else:
                indices.append(0)
                node = None
        return indices

    return sorted(problems, key=position)


# The kinds of TOML value, as problems name them; the first that fits (a bool is an int too).
_TYPE_NAMES: tuple[tuple[type | UnionType, str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
    (datetime.datetime | datetime.date | datetime.time, "a date/time"),
)


def type_name(value: object) -> str:
    """Return what kind of TOML value *value* is ("a string", "an array", ...), never the value."""
    for kind, name in _TYPE_NAMES:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def describe(value: object, *, show: bool) -> str:
    """Return *value* for a problem's ``found`` text.

    With ``show`` false (any field that could hold a secret) only the kind of value is given;
    tables are described by their keys, which are names chosen by the schema, not values.
    """
    if isinstance(value, dict):
        if not value:
            return "an empty table"
        keys = ", ".join(dotted((str(key),)) for key in value)
        return f"a table with keys {keys}"
    if isinstance(value, list):
        return f"an array of {len(value)} item{'' if len(value) == 1 else 's'}"
    if not show:
        return type_name(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if len(value) > _SHOWN_STRING_LENGTH:
            value = value[: _SHOWN_STRING_LENGTH - 3] + "..."
        return json.dumps(value, ensure_ascii=False)
    return type_name(value)
