"""A small declarative schema for TOML configuration, in the spirit of borgmatic's validator.

A schema is a tree of :class:`Table` / :class:`NamedTables` / :class:`ArrayOfTables` nodes whose
leaves are value types (:class:`Text`, :class:`Guid`, :class:`HttpsUrl`, ...). Checking a parsed
TOML document against it never stops at the first problem: every node reports what is wrong with
its own value to the :class:`Context` and returns :data:`INVALID` in its place, so the caller gets
the converted document *and* every problem in one pass. Cross-references between sections (an
identity's tenant exists, ...) are checked afterwards by :mod:`monitor.config.validate`.

Adding a section is adding an entry to the root table in :mod:`monitor.config.sections`.
"""

from __future__ import annotations

import difflib
import re
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from monitor.config.problems import KeyPath, Problem, describe, dotted, type_name
from monitor.config.secrets_source import SecretRef
from monitor.secrets import Secret


class _Invalid:
    """The type of :data:`INVALID`."""

    _instance: _Invalid | None = None

    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:
        return False


INVALID: Final = _Invalid()  # stands in for a value whose problem has been reported


class Context:
    """What a check needs besides the value: where relative paths start, where problems go."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.problems: list[Problem] = []

    def report(self, path: KeyPath, expected: str, found: str, hint: str = "") -> _Invalid:
        """Record a problem at *path*; return :data:`INVALID` for the caller to return."""
        self.problems.append(Problem(dotted(path), expected, found, hint, key_path=path))
        return INVALID


class ValueType(ABC):
    """A kind of value: checks and converts what TOML gave, reporting problems to the context."""

    expected: str = "a value"
    show: bool = True  # whether a wrong value may be quoted in a problem (False for secrets)

    @abstractmethod
    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        """Return the converted value, or report a problem and return :data:`INVALID`."""

    def wrong(self, value: object, path: KeyPath, ctx: Context, hint: str) -> _Invalid:
        return ctx.report(path, self.expected, describe(value, show=self.show), hint)


@dataclass(frozen=True)
class Field:
    """One key of a table: its value type, whether it must be present, and a hint for problems."""

    type: ValueType
    required: bool = False
    hint: str = ""


def suggest(key: str, known: Sequence[str]) -> str:
    """Return a did-you-mean hint for an unknown *key*, or a list of the known keys."""
    lowered = {name.lower(): name for name in known}
    if key.lower() in lowered:
        return f"did you mean {lowered[key.lower()]!r}? (keys are case-sensitive)"
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "remove it, or check the spelling against config.example.toml"


class Table(ValueType):
    """A TOML table with a fixed set of keys; unknown keys are problems."""

    def __init__(self, fields: Mapping[str, Field], *, expected: str = "a table") -> None:
        self.fields = dict(fields)
        self.expected = expected

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if not isinstance(value, dict):
            return self.wrong(value, path, ctx, hint)
        result: dict[str, object] = {}
        for key, item in value.items():
            field = self.fields.get(key)
            if field is None:
                known = ", ".join(self.fields)
                ctx.report(
                    (*path, key),
                    f"one of the keys {known}" if known else "no keys here",
                    f"unknown key {key!r}",
                    suggest(key, list(self.fields)),
                )
                continue
            result[key] = field.type.convert(item, (*path, key), ctx, field.hint)
        for key, field in self.fields.items():
            if field.required and key not in value:
                ctx.report(
                    (*path, key), field.type.expected, "nothing (it is required)", field.hint
                )
        return result


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class NamedTables(ValueType):
    """``[section.NAME]`` tables that all follow one schema; names are unique ignoring case."""

    def __init__(self, table: Table, *, section: str, noun: str, min_items: int = 0) -> None:
        self.table = table
        self.noun = noun
        self.min_items = min_items
        self.expected = f"[{section}.NAME] tables, one per {noun}"

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if not isinstance(value, dict):
            return ctx.report(path, self.expected, type_name(value), hint)
        if len(value) < self.min_items:
            ctx.report(path, self.expected + f" (at least {self.min_items})", "none", hint)
        result: dict[str, object] = {}
        seen: dict[str, str] = {}
        for name, item in value.items():
            if not _NAME.match(name):
                ctx.report(
                    (*path, name),
                    "a name of letters, digits, '-', '_' and '.' (at most 64, starting with a "
                    "letter or digit)",
                    describe(name, show=True),
                    f"rename the {self.noun}; names appear in logs, alerts and the database",
                )
            elif name.lower() in seen:
                ctx.report(
                    (*path, name),
                    f"a name no other {self.noun} has (names are compared ignoring case)",
                    f"a duplicate of {dotted((*path, seen[name.lower()]))}",
                    f"rename one of the two {self.noun} tables",
                )
            seen.setdefault(name.lower(), name)
            result[name] = self.table.convert(item, (*path, name), ctx, hint)
        return result


class ArrayOfTables(ValueType):
    """``[[section]]`` entries that all follow one schema."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.expected = "an array of tables"

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if not isinstance(value, list):
            return self.wrong(value, path, ctx, hint)
        return [self.table.convert(item, (*path, i), ctx, hint) for i, item in enumerate(value)]


class Text(ValueType):
    """A non-empty string, optionally matching a pattern."""

    def __init__(
        self, expected: str = "a non-empty string", *, pattern: str | None = None, show: bool = True
    ) -> None:
        self.expected = expected
        self.pattern = re.compile(pattern) if pattern else None
        self.show = show

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if not isinstance(value, str) or not value.strip():
            return self.wrong(value, path, ctx, hint)
        if self.pattern is not None and not self.pattern.match(value):
            return self.wrong(value, path, ctx, hint)
        return value


class Choice(ValueType):
    """One of a fixed set of strings."""

    def __init__(self, options: Sequence[str]) -> None:
        self.options = tuple(options)
        self.expected = "one of " + ", ".join(f'"{option}"' for option in self.options)

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if isinstance(value, str) and value in self.options:
            return value
        extra = ""
        if isinstance(value, str):
            extra = suggest(value, self.options) if value else ""
            if extra.startswith("remove it"):
                extra = ""
        return ctx.report(
            path,
            self.expected,
            describe(value, show=True),
            "; ".join(h for h in (hint, extra) if h),
        )


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_GUID_LIKE = re.compile(r"^[0-9a-fA-F{}()-]*$")
_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


class Guid(ValueType):
    """A GUID such as a tenant or client ID; returned in lower case."""

    expected = "a GUID (8-4-4-4-12 hexadecimal digits)"

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if isinstance(value, str) and _GUID.match(value):
            return value.lower()
        if isinstance(value, str) and _DOMAIN.match(value):
            hint = "; ".join(
                h for h in (hint, "the GUID, not a domain name (domains can change hands)") if h
            )
            return ctx.report(path, self.expected, describe(value, show=True), hint)
        if isinstance(value, str) and not _GUID_LIKE.match(value):
            # Not even GUID-shaped: it might be a pasted client secret, so it is not quoted.
            found = f"a string of {len(value)} characters that is not a GUID"
            return ctx.report(path, self.expected, found, hint)
        return self.wrong(value, path, ctx, hint)


def _without_userinfo(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


class Url(ValueType):
    """A URL with one of the given schemes and a host; returned without a trailing slash.

    With ``origin_only`` the URL may not have a path (authority hosts); without it a path is
    allowed (Dataverse environments and Graph behind a reverse proxy, or the simulator). A query
    or fragment is never allowed. User information (``user:password@``) is refused unless
    ``allow_userinfo`` (proxies), and is never quoted in a problem.
    """

    def __init__(
        self,
        schemes: Sequence[str] = ("https",),
        *,
        origin_only: bool = True,
        allow_userinfo: bool = False,
        example: str = "https://contoso.crm.dynamics.com",
    ) -> None:
        self.schemes = tuple(schemes)
        self.origin_only = origin_only
        self.allow_userinfo = allow_userinfo
        only = " or ".join(f"{scheme}://" for scheme in self.schemes)
        self.expected = f"an {only} URL such as {example}"
        self.expected += " (no path)" if origin_only else " (no query or fragment)"

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if not isinstance(value, str):
            return self.wrong(value, path, ctx, hint)
        shown = describe(_without_userinfo(value), show=True)
        try:
            parts = urllib.parse.urlsplit(value)
            port = parts.port
        except ValueError:
            return ctx.report(path, self.expected, shown, hint)
        del port
        if parts.scheme.lower() not in self.schemes or not parts.hostname:
            if parts.scheme.lower() == "http" and "https" in self.schemes:
                hint = "; ".join(h for h in (hint, "plain http is never used: use https://") if h)
            return ctx.report(path, self.expected, shown, hint)
        if (parts.username or parts.password) and not self.allow_userinfo:
            return ctx.report(path, self.expected + " without user:password@", shown, hint)
        if parts.query or parts.fragment:
            return ctx.report(path, self.expected, shown, hint)
        if self.origin_only and parts.path not in ("", "/"):
            return ctx.report(path, self.expected, shown, hint)
        return value.rstrip("/")


# Upper bounds of durations: generous for any real setting, small enough that no date or
# timedelta computed from them overflows (a TOML float can be 1e308).
YEAR_SECONDS = 366 * 86_400
MAX_SECONDS = YEAR_SECONDS
MAX_MINUTES = YEAR_SECONDS // 60
MAX_HOURS = YEAR_SECONDS // 3600
MAX_DAYS = 36_600  # a hundred years


class Number(ValueType):
    """A positive number (or positive integer) of at most *maximum*; booleans are not numbers.

    Every number has an upper bound, so that a value that passes validation cannot overflow
    later (``interval_hours = 1e308`` would break the first date computed from it).
    """

    def __init__(self, *, maximum: float, integer: bool = False, unit: str = "seconds") -> None:
        self.integer = integer
        self.maximum = maximum
        what = "a positive integer" if integer else f"a positive number of {unit}"
        self.expected = (
            f"{what}, at most {maximum:,.10g}"
            if maximum % 1
            else f"{what}, at most {int(maximum):,}"
        )

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.wrong(value, path, ctx, hint)
        if self.integer and not isinstance(value, int):
            return self.wrong(value, path, ctx, hint)
        if not 0 < value <= self.maximum:  # also false for NaN
            return self.wrong(value, path, ctx, hint)
        return value if self.integer else float(value)


class FilePath(ValueType):
    """A filesystem path; a relative one is taken relative to the configuration file."""

    expected = "a file path"

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if not isinstance(value, str) or not value.strip() or "\0" in value:
            return self.wrong(value, path, ctx, hint)
        return ctx.base_dir / value


class ListOf(ValueType):
    """An array whose items all follow one value type, optionally without duplicates."""

    def __init__(self, item: ValueType, *, unique: bool = True, min_items: int = 0) -> None:
        self.item = item
        self.unique = unique
        self.min_items = min_items
        self.expected = f"an array of {item.expected.removeprefix('a ').removeprefix('an ')}s"
        if min_items:
            self.expected = f"a non-empty {self.expected.removeprefix('an ')}"

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if not isinstance(value, list) or len(value) < self.min_items:
            return self.wrong(value, path, ctx, hint)
        result: list[object] = []
        for i, item in enumerate(value):
            converted = self.item.convert(item, (*path, i), ctx, hint)
            if self.unique and converted is not INVALID and converted in result:
                ctx.report(
                    (*path, i),
                    "no repeated items",
                    f"a repeat of {describe(item, show=self.item.show)}",
                    "list each item once",
                )
                continue
            result.append(converted)
        return result


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CREDENTIAL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@:-]*$")
REFERENCE_KINDS = ("credential", "file", "env")
REFERENCE_EXPECTED = (
    '{ credential = "NAME" }, { file = "PATH" } or { env = "NAME" } '
    "(or an inline string in a private config file)"
)


class SecretReference(ValueType):
    """Where a secret comes from. Resolved (read) later by :mod:`monitor.config.secrets_source`.

    An inline string becomes a :class:`Secret` at once (so it is masked and scrubbed from then on);
    whether an inline secret is allowed depends on the config file's permissions, which the loader
    checks.
    """

    expected = REFERENCE_EXPECTED
    show = False

    def __init__(self, *, binary: bool = False) -> None:
        self.binary = binary

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if isinstance(value, str):
            if not value:
                return ctx.report(path, "a non-empty secret", "an empty string", hint)
            return SecretRef("inline", "", Secret(value, "inline"), binary=self.binary)
        if not isinstance(value, dict):
            return self.wrong(value, path, ctx, hint)
        problems_before = len(ctx.problems)
        for key in value:
            if key not in REFERENCE_KINDS:
                ctx.report(
                    (*path, key),
                    "one of the keys credential, file, env",
                    f"unknown key {key!r}",
                    suggest(key, REFERENCE_KINDS),
                )
        kinds = [key for key in REFERENCE_KINDS if key in value]
        if len(kinds) != 1:
            if len(ctx.problems) == problems_before:
                ctx.report(
                    path,
                    "exactly one of the keys credential, file, env",
                    describe(value, show=False),
                    hint,
                )
            return INVALID
        kind = kinds[0]
        name = value[kind]
        if kind == "file":
            if not isinstance(name, str) or not name.strip() or "\0" in name:
                return ctx.report((*path, kind), "a file path", describe(name, show=True), hint)
            return SecretRef("file", str(ctx.base_dir / name), None, binary=self.binary)
        pattern = _ENV_NAME if kind == "env" else _CREDENTIAL_NAME
        if not isinstance(name, str) or not pattern.match(name):
            expected = (
                "an environment variable name (letters, digits and '_')"
                if kind == "env"
                else "a credential name (a file name in $CREDENTIALS_DIRECTORY, without '/')"
            )
            found = type_name(name) if not isinstance(name, str) else "a string that is not a name"
            return ctx.report((*path, kind), expected, found, hint)
        return SecretRef(kind, name, None, binary=self.binary)  # type: ignore[arg-type]
