"""Checks that span keys or sections, run after the schema check and secret resolution.

Each check reads the converted document (plain dicts from :mod:`monitor.config.schema`, with
:data:`~monitor.config.schema.INVALID` where a value already had a problem, so that one mistake is
reported once and not again as a dangling reference) and reports to the same context.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from monitor.cloud import DATAVERSE_HOSTS, environment_problem
from monitor.config.alerting import check_alerting
from monitor.config.certificates import load_certificate
from monitor.config.directory import check_directory
from monitor.config.directory import check_identity as check_directory_identity
from monitor.config.problems import KeyPath, describe, dotted
from monitor.config.schedule import check_schedule
from monitor.config.schema import INVALID, Context, suggest
from monitor.config.secrets_source import SecretRef, SecretSourceError, SecretSources
from monitor.config.usage import check_usage
from monitor.secrets import Secret

MIN_FINGERPRINT_KEY_BYTES = 16
# A system CA bundle is a few hundred KB; anything this large is not a bundle.
MAX_CA_BUNDLE_BYTES = 16 * 1024 * 1024
Tables = dict[str, dict[str, object]]


def resolve_secrets(
    node: object, path: KeyPath, sources: SecretSources, ctx: Context, *, optional: bool = False
) -> object:
    """Return *node* with every :class:`SecretRef` in it read into a :class:`Secret`.

    A reference that cannot be read is reported and replaced by ``INVALID``; if *optional*, it
    is left unread instead (a :class:`SecretRef`, which the model leaves out).
    """
    if isinstance(node, SecretRef):
        try:
            return sources.resolve(node)
        except SecretSourceError as error:
            if optional:
                return node
            return ctx.report(path, error.expected, error.found, error.hint)
    if isinstance(node, dict):
        return {
            key: resolve_secrets(value, (*path, key), sources, ctx, optional=optional)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [
            resolve_secrets(value, (*path, i), sources, ctx, optional=optional)
            for i, value in enumerate(node)
        ]
    return node


def tables(value: object) -> Tables:
    """Return the named tables of a section, ignoring entries that were not tables."""
    if not isinstance(value, dict):
        return {}
    return {name: table for name, table in value.items() if isinstance(table, dict)}


def text(table: dict[str, object], key: str) -> str | None:
    value = table.get(key)
    return value if isinstance(value, str) else None


def check_document(document: dict[str, object], ctx: Context) -> None:
    """Report every cross-key and cross-section problem of a converted *document*."""
    tenants = tables(document.get("tenants"))
    environments = tables(document.get("environments"))
    identities = tables(document.get("identities"))
    tenants_known = isinstance(document.get("tenants"), dict)
    environments_known = isinstance(document.get("environments"), dict)

    _check_network(tables({"n": document.get("network")}).get("n", {}), ctx)
    _check_database(tables({"d": document.get("database")}).get("d", {}), ctx)
    check_schedule(document, ctx)
    check_usage(document, ctx)
    check_alerting(document, ctx)
    check_directory(tables({"d": document.get("directory")}).get("d", {}), ctx)
    for name, tenant_table in tenants.items():
        _check_tenant(("tenants", name), tenant_table, ctx)
    seen_urls: dict[str, str] = {}
    for name, environment in environments.items():
        path = ("environments", name)
        if tenants_known:
            _check_reference(
                (*path, "tenant"), text(environment, "tenant"), tenants, "tenants", ctx
            )
        url = text(environment, "url")
        home = tenants.get(text(environment, "tenant") or "")
        if url is not None and home is not None:
            _check_environment_cloud(path, url, home, ctx)
        if url is not None:
            if url.lower() in seen_urls:
                ctx.report(
                    (*path, "url"),
                    "a URL not used by another environment",
                    f"the URL of environments.{seen_urls[url.lower()]}",
                    "describe each environment once and list it in every identity that uses it",
                )
            seen_urls.setdefault(url.lower(), name)
    seen_users: dict[tuple[str, str], str] = {}
    for name, identity in identities.items():
        path = ("identities", name)
        tenant_name = text(identity, "tenant")
        if tenants_known:
            _check_reference((*path, "tenant"), tenant_name, tenants, "tenants", ctx)
        tenant = tenants.get(tenant_name) if tenant_name is not None else None
        listed = identity.get("environments")
        if environments_known and isinstance(listed, list):
            for i, environment_name in enumerate(listed):
                if not isinstance(environment_name, str):
                    continue
                if not _check_reference(
                    (*path, "environments", i), environment_name, environments, "environments", ctx
                ):
                    continue
                owner = text(environments[environment_name], "tenant")
                # An environment whose own tenant is unknown was reported above, once.
                if tenant is not None and owner in tenants and owner != tenant_name:
                    ctx.report(
                        (*path, "environments", i),
                        f"an environment of tenant {tenant_name!r}",
                        f"{environment_name!r}, an environment of tenant {owner!r}",
                        "an identity signs in to one tenant; describe the identity in the other "
                        "tenant separately",
                    )
        client_id = identity.get("client_id")
        if (
            tenant is not None
            and isinstance(client_id, str)
            and client_id == tenant.get("tenant_id")
        ):
            ctx.report(
                (*path, "client_id"),
                "the Application (client) ID of an app registration",
                "the tenant's own tenant_id",
                "copy the Application (client) ID from the app registration's overview page",
            )
        _check_identity_kind(path, identity, ctx)
        check_directory_identity(path, identity, ctx)
        username = text(identity, "username")
        if identity.get("kind") == "user" and username is not None and tenant_name is not None:
            key = (tenant_name, username.lower())
            if key in seen_users:
                ctx.report(
                    (*path, "username"),
                    "an account not described by another identity",
                    f"the account of identities.{seen_users[key]}",
                    "two identities with one account would double its failed sign-ins (lockout); "
                    "list all its environments in one identity",
                )
            seen_users.setdefault(key, name)


def _check_reference(
    path: KeyPath, name: str | None, known: Tables, section: str, ctx: Context
) -> bool:
    """Report *name* if it is not a table of *section*; return whether it is one."""
    if name is None:
        return False
    if name in known:
        return True
    names = ", ".join(known) or "none are defined"
    ctx.report(
        path,
        f"the name of one of the [{section}.NAME] tables ({names})",
        describe(name, show=True),
        _reference_hint(name, known, section),
    )
    return False


def _reference_hint(name: str, known: Tables, section: str) -> str:
    hint = suggest(name, list(known)) if known else ""
    if not hint.startswith("did you mean"):
        hint = f"add a [{dotted((section, name))}] table, or use one of the names above"
    return hint


def _check_network(network: dict[str, object], ctx: Context) -> None:
    ca_bundle = network.get("ca_bundle")
    if isinstance(ca_bundle, Path):
        problem = _ca_bundle_problem(ca_bundle)
        if problem:
            ctx.report(
                ("network", "ca_bundle"),
                "a readable PEM file with at least one CA certificate",
                problem,
                "point to the CA bundle file (PEM), or leave ca_bundle out for the system store",
            )


def _ca_bundle_problem(path: Path) -> str:
    """Return what is wrong with the CA bundle at *path*, or "". Only a regular file of at most
    :data:`MAX_CA_BUNDLE_BYTES` is read (a device such as /dev/zero would never end, a FIFO
    never open); symbolic links are followed, as system bundles often are links."""
    from cryptography import x509

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as error:
        return f"'{path}': {error.strerror}"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return f"'{path}', which is not a regular file"
        if info.st_size > MAX_CA_BUNDLE_BYTES:
            return f"{info.st_size} bytes in '{path}' (at most {MAX_CA_BUNDLE_BYTES} are read)"
        with os.fdopen(os.dup(fd), "rb") as stream:
            data = stream.read(MAX_CA_BUNDLE_BYTES + 1)
    except OSError as error:
        return f"'{path}': {error.strerror}"
    finally:
        os.close(fd)
    if len(data) > MAX_CA_BUNDLE_BYTES:
        return f"more than {MAX_CA_BUNDLE_BYTES} bytes in '{path}'"
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError:
        return f"no PEM certificate in '{path}'"
    return ""


def _check_database(database: dict[str, object], ctx: Context) -> None:
    key = database.get("fingerprint_key")
    if isinstance(key, Secret) and len(key.reveal_bytes()) < MIN_FINGERPRINT_KEY_BYTES:
        ctx.report(
            ("database", "fingerprint_key"),
            f"at least {MIN_FINGERPRINT_KEY_BYTES} bytes of key material",
            f"{len(key.reveal_bytes())} bytes",
            "generate one: head -c 32 /dev/urandom > fingerprint.key (then chmod 600)",
        )


def _check_tenant(path: KeyPath, tenant: dict[str, object], ctx: Context) -> None:
    cloud = tenant.get("cloud", "public")
    if cloud == "custom":
        for key in ("authority_host", "graph_url"):
            if key not in tenant:
                ctx.report(
                    (*path, key),
                    'an https URL (required with cloud = "custom")',
                    "nothing",
                    "give both authority_host and graph_url, or use a well-known cloud",
                )
    elif cloud is not INVALID:
        _forbid(
            tenant,
            path,
            ("authority_host", "graph_url"),
            f'with cloud = "{cloud}" (its endpoints are built in)',
            lambda key: f'remove {key}, or set cloud = "custom"',
            ctx,
        )
    observer = tenant.get("observer")
    if isinstance(observer, dict):
        _check_application_credential((*path, "observer"), observer, ctx)


def _check_environment_cloud(
    path: KeyPath, url: str, tenant: dict[str, object], ctx: Context
) -> None:
    """An environment of a well-known cloud must be a Dataverse host of that cloud."""
    cloud = tenant.get("cloud", "public")
    if not isinstance(cloud, str):
        return
    problem = environment_problem(cloud, url)
    if problem is None:
        return
    suffix = DATAVERSE_HOSTS[cloud]
    ctx.report(
        (*path, "url"),
        f"a Dataverse environment of its tenant's {cloud} cloud (https://*{suffix})",
        f"{url} ({problem})",
        'correct the URL, or the tenant\'s cloud (GCC is "public" with *.crm9.dynamics.com, '
        'GCC High "usgov", DoD "usgov-dod"); a proxy or test host needs cloud = "custom"',
    )


def _check_identity_kind(path: KeyPath, identity: dict[str, object], ctx: Context) -> None:
    kind = identity.get("kind")
    if kind == "application":
        _forbid(
            identity,
            path,
            ("username", "password"),
            'for kind = "application"',
            lambda key: 'an account that signs in with a password is kind = "user"',
            ctx,
        )
        _check_application_credential(path, identity, ctx)
    elif kind == "user":
        _forbid(
            identity,
            path,
            ("secret", "certificate", "certificate_passphrase"),
            'for kind = "user"',
            lambda key: (
                "an app registration that signs in with a secret or certificate is "
                'kind = "application"'
            ),
            ctx,
        )
        for key, what in (("username", "user principal name"), ("password", "password")):
            if key not in identity:
                ctx.report(
                    (*path, key),
                    f'the account\'s {what} (required for kind = "user")',
                    "nothing",
                    'a password is referenced like { credential = "NAME" }'
                    if key == "password"
                    else 'e.g. username = "svc-sync@contoso.com"',
                )


def _forbid(
    table: dict[str, object],
    path: KeyPath,
    keys: tuple[str, ...],
    because: str,
    hint: Callable[[str], str],
    ctx: Context,
) -> None:
    """Report each of *keys* that *table* has: none may be there *because* (e.g. 'for kind =
    "user"'); *hint* says what to do about that key."""
    for key in keys:
        if key in table:
            ctx.report((*path, key), f"no {key} {because}", f"a {key}", hint(key))


def _check_application_credential(path: KeyPath, table: dict[str, object], ctx: Context) -> None:
    """Exactly one of secret / certificate; a passphrase only with a certificate; a usable cert."""
    has_secret = "secret" in table
    has_certificate = "certificate" in table
    if has_secret == has_certificate:
        ctx.report(
            path,
            "exactly one of the keys secret, certificate",
            "both" if has_secret else "neither",
            "an application signs in with a client secret or with a certificate",
        )
    if "certificate_passphrase" in table and not has_certificate:
        ctx.report(
            (*path, "certificate_passphrase"),
            "certificate_passphrase only together with certificate",
            "a certificate_passphrase without a certificate",
            "remove certificate_passphrase",
        )
    data = table.get("certificate")
    passphrase = table.get("certificate_passphrase")
    if isinstance(data, Secret) and (passphrase is None or isinstance(passphrase, Secret)):
        try:
            table["certificate"] = load_certificate(data, passphrase)
        except SecretSourceError as error:
            table["certificate"] = ctx.report(
                (*path, "certificate"), error.expected, error.found, error.hint
            )
