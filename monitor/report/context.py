"""What every view is given: the time window, the selection, the display zone, and what the
configuration says about each identity (tags, tenant, kind, certificate end dates).

Views never read the clock or the configuration file: the command builds a
:class:`ReportContext` once and passes it in, so tests build one by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from monitor.exits import EXIT_USAGE
from monitor.report.errors import ReportError

if TYPE_CHECKING:
    from monitor.config.model import Config


@dataclass(frozen=True)
class IdentityMeta:
    """The configured facts about one identity the report uses (never a secret).

    ``certificate_not_after`` is the configured certificate file's own end date (aware UTC),
    an expiry the report can show before any directory read has happened.
    """

    name: str
    kind: str  # "application" or "user"
    tenant: str
    credential_type: str  # "client_secret", "certificate" or "password"
    environments: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    owner: str | None = None
    certificate_not_after: datetime | None = None
    certificate_thumbprint: str | None = None


# The fields of IdentityMeta that an identity's configuration holds under the same name.
SAME_NAMED = ("name", "kind", "tenant", "credential_type", "environments", "tags", "owner")


def identities_from_config(config: Config) -> dict[str, IdentityMeta]:
    """Return the report's view of every configured identity, by name."""
    metas: dict[str, IdentityMeta] = {}
    for name, identity in config.identities.items():
        certificate = identity.certificate
        metas[name] = IdentityMeta(
            **{field: getattr(identity, field) for field in SAME_NAMED},
            certificate_not_after=None if certificate is None else certificate.not_after,
            certificate_thumbprint=None if certificate is None else certificate.thumbprint_sha1,
        )
    return metas


@dataclass(frozen=True)
class Selection:
    """The ``--identity / --tenant / --environment / --tag`` filters; None means "any".

    Tags are resolved to identity names from the configuration before a Selection is built
    (``tagged``), so views only compare names.
    """

    identities: frozenset[str] | None = None
    tenants: frozenset[str] | None = None
    environments: frozenset[str] | None = None
    tagged: frozenset[str] | None = None  # identities carrying one of the --tag values

    def wants_identity(self, identity: str, tenant: str | None) -> bool:
        """Return whether *identity* (of *tenant*, if known) passes the identity filters."""
        if self.identities is not None and identity not in self.identities:
            return False
        if self.tagged is not None and identity not in self.tagged:
            return False
        return self.tenants is None or (tenant is not None and tenant in self.tenants)

    def wants_environment(self, environment: str) -> bool:
        return self.environments is None or environment in self.environments

    def wants(self, identity: str, tenant: str | None, environment: str | None) -> bool:
        """Return whether a row of *identity* in *environment* (None: not per environment)
        passes every filter."""
        if not self.wants_identity(identity, tenant):
            return False
        return environment is None or self.wants_environment(environment)


@dataclass(frozen=True)
class ReportContext:
    """The window ``[since, until)`` (aware UTC), ``now``, the display zone (None: local) and
    the configured identities (empty without a configuration)."""

    now: datetime
    since: datetime
    until: datetime
    zone: tzinfo | None = None
    selection: Selection = field(default_factory=Selection)
    configured: Mapping[str, IdentityMeta] = field(default_factory=dict)
    has_config: bool = False
    config: Config | None = None  # the whole configuration, for rules that judge against it

    def tenant_of(self, identity: str, stored: str | None = None) -> str | None:
        """Return the identity's tenant: the stored one, else the configured one."""
        if stored:
            return stored
        meta = self.configured.get(identity)
        return None if meta is None else meta.tenant


def build_selection(
    *,
    identities: Iterable[str] | None,
    tenants: Iterable[str] | None,
    environments: Iterable[str] | None,
    tags: Iterable[str] | None,
    configured: Mapping[str, IdentityMeta],
    has_config: bool,
) -> Selection:
    """Return the Selection for the filter options, resolving tags through the configuration.

    Raise ReportError if ``--tag`` is used without a configuration or names a tag no
    configured identity carries.
    """
    tagged: frozenset[str] | None = None
    if tags:
        wanted = frozenset(tags)
        if not has_config:
            raise ReportError(
                "--tag needs the configuration (tags are configured, not stored): "
                "pass --config FILE",
                EXIT_USAGE,
            )
        known = {tag for meta in configured.values() for tag in meta.tags}
        unknown = sorted(wanted - known)
        if unknown:
            raise ReportError(
                f"unknown tag {unknown[0]!r}: no configured identity has it "
                f"(tags: {_listing(known)})",
                EXIT_USAGE,
            )
        tagged = frozenset(name for name, meta in configured.items() if wanted & set(meta.tags))
    return Selection(
        identities=_set(identities),
        tenants=_set(tenants),
        environments=_set(environments),
        tagged=tagged,
    )


def check_known(
    selection: Selection,
    *,
    identities: Iterable[str],
    tenants: Iterable[str],
    environments: Iterable[str],
) -> None:
    """Raise ReportError (one line) if the selection names an identity, tenant or environment
    that neither the database nor the configuration knows."""
    for what, wanted, known in (
        ("identity", selection.identities, set(identities)),
        ("tenant", selection.tenants, set(tenants)),
        ("environment", selection.environments, set(environments)),
    ):
        if wanted is None:
            continue
        unknown = sorted(wanted - known)
        if unknown:
            raise ReportError(
                f"unknown {what} {unknown[0]!r}: not in the database or the configuration "
                f"(known: {_listing(known)})",
                EXIT_USAGE,
            )


def _set(values: Iterable[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    result = frozenset(values)
    return result or None


def _listing(names: Iterable[str], limit: int = 8) -> str:
    ordered = sorted(names)
    if not ordered:
        return "none"
    shown = ", ".join(ordered[:limit])
    return shown if len(ordered) <= limit else f"{shown}, ... ({len(ordered)} in all)"
