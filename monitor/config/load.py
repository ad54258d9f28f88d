"""Loading ``monitor.toml``: read, check everything, resolve secrets, build :class:`Config`.

Nothing is half-loaded: either every check passes and a :class:`Config` is returned, or a
:class:`ConfigError` lists every problem found (borgmatic-style), so the operator fixes them in
one go.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar, cast

from monitor.cloud import CloudName, endpoints
from monitor.config.alerting import build_alerts, build_channels
from monitor.config.directory import build_directory
from monitor.config.discovery import build_discovery
from monitor.config.metrics import build_metrics
from monitor.config.model import (
    CertificateCredential,
    Config,
    DatabaseConfig,
    EnvironmentConfig,
    IdentityConfig,
    IdentityKind,
    NetworkConfig,
    ObserverConfig,
    ProbingConfig,
    TenantConfig,
)
from monitor.config.problems import ConfigError, Problem, in_document_order
from monitor.config.schedule import build_retention, build_schedule
from monitor.config.schema import Context
from monitor.config.secrets_source import ConfigFileAccess, SecretSources
from monitor.config.sections import ROOT
from monitor.config.usage import build_usage
from monitor.config.validate import check_document, resolve_secrets, tables, text
from monitor.secrets import Secret

_T = TypeVar("_T")

DATABASE_FILE_NAME = "monitor.db"
# Where systemd/monitor.service keeps the configuration and its state (StateDirectory=monitor).
DEPLOYED_CONFIG_DIRECTORY = Path("/etc/monitor")
DEPLOYED_STATE_DIRECTORY = Path("/var/lib/monitor")
MAX_CONFIG_BYTES = 4 * 1024 * 1024

_TOML_POSITION = re.compile(r"^(?P<message>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")
_TOML_END = re.compile(r"^(?P<message>.*) \(at end of document\)$")


def load_config(
    path: Path,
    *,
    environ: Mapping[str, str] | None = None,
    credentials_directory: Path | None = None,
    secrets: bool | Literal["if-readable"] = True,
) -> Config:
    """Given the path of a TOML configuration file, return the validated :class:`Config`.

    *environ* (default: ``os.environ``) provides ``{ env = ... }`` secrets, ``STATE_DIRECTORY``
    and ``CREDENTIALS_DIRECTORY``; *credentials_directory* overrides the latter. Every secret is
    read now, so the returned configuration never touches the filesystem again. Environment
    variables are read, never removed (a reload reads them again; see ``secrets_source``).

    ``secrets=False`` reads no secret at all, for the commands that only read or annotate the
    history (``report``, ``silence``, ``ack``, ``check --stored`` ...): every secret, certificate
    and channel URL of the result is left out (``None`` or empty) and ``secrets_read`` is false,
    so such a command runs as any member of the service's group, without its credentials.
    Everything else is checked as usual. ``secrets="if-readable"`` reads the secrets this
    process can read and leaves out the others without a problem (``monitor report`` takes
    certificate files' end dates when it can); ``secrets_read`` is false then too.

    Raise :class:`ConfigError` listing every problem if the file cannot be read, is not valid
    TOML, or does not describe a usable configuration.
    """
    if environ is None:
        environ = os.environ
    if credentials_directory is None and environ.get("CREDENTIALS_DIRECTORY"):
        credentials_directory = Path(environ["CREDENTIALS_DIRECTORY"])
    given = Path(path)
    source = given.absolute()
    content, access = _read_config_file(given)
    try:
        document = tomllib.loads(content)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(given, [_syntax_problem(error)]) from None
    except RecursionError:
        # tomllib reads nested arrays and inline tables recursively: a few hundred levels
        # exhaust Python's recursion limit. No configuration nests more than a handful.
        raise ConfigError(given, [_NESTING_PROBLEM]) from None

    ctx = Context(source.parent)
    converted = ROOT.convert(document, (), ctx, "")
    sources = SecretSources(
        environ=environ,
        credentials_directory=credentials_directory,
        config_access=access,
        euid=os.geteuid(),
    )
    if secrets is False:
        resolved = converted
    else:
        optional = secrets == "if-readable"
        resolved = resolve_secrets(converted, (), sources, ctx, optional=optional)
    tree = cast(dict[str, object], resolved)
    check_document(tree, ctx)
    if ctx.problems:
        raise ConfigError(given, in_document_order(ctx.problems, document))
    config = _build(tree, source, environ)
    return config if secrets is True else dataclasses.replace(config, secrets_read=False)


def _read_config_file(path: Path) -> tuple[str, ConfigFileAccess]:
    """Return the file's text and who may read it (from the same open descriptor)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigError(
            path,
            [
                Problem(
                    "",
                    "a configuration file",
                    "no such file",
                    "pass --config PATH or set MONITOR_CONFIG; config.example.toml is a start",
                )
            ],
        ) from None
    except OSError as error:
        raise ConfigError(
            path, [Problem("", "a readable configuration file", str(error.strerror))]
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(path, [Problem("", "a configuration file", "not a regular file")])
        access = ConfigFileAccess(mode=stat.S_IMODE(info.st_mode), uid=info.st_uid)
        with os.fdopen(os.dup(fd), "rb") as stream:
            data = stream.read(MAX_CONFIG_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            path, [Problem("", f"at most {MAX_CONFIG_BYTES} bytes of TOML", "a larger file")]
        )
    try:
        return data.decode("utf-8"), access
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise ConfigError(
            path,
            [
                Problem(
                    "",
                    "UTF-8 text",
                    "bytes that are not UTF-8",
                    "save the file as UTF-8",
                    line=line,
                    column=column,
                )
            ],
        ) from None


_NESTING_PROBLEM = Problem(
    "",
    "valid TOML",
    "arrays or inline tables nested hundreds of levels deep",
    "the monitor's configuration nests at most a few levels; check the file is the right one",
)


def _syntax_problem(error: tomllib.TOMLDecodeError) -> Problem:
    message = str(error)
    hint = 'check quoting and brackets: strings are "quoted", tables are [name.subname]'
    match = _TOML_POSITION.match(message)
    if match:
        return Problem(
            "",
            "valid TOML",
            _lower_first(match["message"]),
            hint,
            line=int(match["line"]),
            column=int(match["column"]),
        )
    match = _TOML_END.match(message)
    if match:
        return Problem("(end of document)", "valid TOML", _lower_first(match["message"]), hint)
    return Problem("", "valid TOML", _lower_first(message), hint)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _build(tree: dict[str, object], source: Path, environ: Mapping[str, str]) -> Config:
    """Turn a checked document (no problems) into the frozen configuration."""
    network = tables({"n": tree.get("network", {})})["n"]
    probing = tables({"p": tree.get("probing", {})})["p"]
    database = tables({"d": tree.get("database", {})})["d"]
    logging = tables({"l": tree.get("logging", {})})["l"]
    defaults_network = NetworkConfig()
    defaults_probing = ProbingConfig()
    return Config(
        source=source,
        network=NetworkConfig(
            ca_bundle=_optional(network, "ca_bundle", Path),
            proxy=text(network, "proxy"),
            connect_timeout_seconds=_number(
                network, "connect_timeout_seconds", defaults_network.connect_timeout_seconds
            ),
            read_timeout_seconds=_number(
                network, "read_timeout_seconds", defaults_network.read_timeout_seconds
            ),
            probe_deadline_seconds=_number(
                network, "probe_deadline_seconds", defaults_network.probe_deadline_seconds
            ),
        ),
        probing=ProbingConfig(
            concurrency=int(_number(probing, "concurrency", defaults_probing.concurrency)),
            per_tenant_concurrency=int(
                _number(probing, "per_tenant_concurrency", defaults_probing.per_tenant_concurrency)
            ),
            lockout_cooldown_seconds=_number(
                probing, "lockout_cooldown_seconds", defaults_probing.lockout_cooldown_seconds
            ),
        ),
        database=DatabaseConfig(
            path=_optional(database, "path", Path) or default_database_path(source, environ),
            fingerprint_key=_optional(database, "fingerprint_key", Secret),
            shared_with_group=database.get("group_access") == "read-write",
        ),
        tenants={
            name: _build_tenant(name, table) for name, table in tables(tree["tenants"]).items()
        },
        environments={
            name: EnvironmentConfig(name=name, tenant=str(table["tenant"]), url=str(table["url"]))
            for name, table in tables(tree["environments"]).items()
        },
        identities={
            name: _build_identity(name, table) for name, table in tables(tree["identities"]).items()
        },
        log_level=text(logging, "level") or "info",
        schedule=build_schedule(tables({"s": tree.get("schedule", {})})["s"]),
        retention=build_retention(tables({"r": tree.get("retention", {})})["r"]),
        channels=build_channels(tree.get("channels")),
        alerts=build_alerts(tables({"a": tree.get("alerts", {})})["a"]),
        directory=build_directory(tables({"d": tree.get("directory", {})})["d"]),
        usage=build_usage(tables({"u": tree.get("usage", {})})["u"]),
        discovery=build_discovery(tables({"v": tree.get("discovery", {})})["v"]),
        metrics=build_metrics(tables({"m": tree.get("metrics", {})})["m"]),
    )


def default_database_path(source: Path, environ: Mapping[str, str]) -> Path:
    """Return where the database lives when the configuration does not say.

    ``$STATE_DIRECTORY`` (systemd ``StateDirectory=``; the first entry if it lists several);
    else, for the deployed configuration in ``/etc/monitor``, the service's state directory
    ``/var/lib/monitor`` (so a command run from a shell uses the daemon's database); else beside
    the configuration file.
    """
    state = environ.get("STATE_DIRECTORY", "").split(":")[0]
    if state:
        return Path(state) / DATABASE_FILE_NAME
    if source.parent == DEPLOYED_CONFIG_DIRECTORY:
        return DEPLOYED_STATE_DIRECTORY / DATABASE_FILE_NAME
    return source.parent / DATABASE_FILE_NAME


def _optional(table: dict[str, object], key: str, kind: type[_T]) -> _T | None:
    value = table.get(key)
    return value if isinstance(value, kind) else None


def _number(table: dict[str, object], key: str, default: float) -> float:
    value = table.get(key, default)
    assert isinstance(value, int | float)
    return value


def _build_tenant(name: str, table: dict[str, object]) -> TenantConfig:
    cloud = cast(CloudName, table.get("cloud", "public"))
    cloud_endpoints = endpoints(
        cloud, authority_host=text(table, "authority_host"), graph_url=text(table, "graph_url")
    )
    observer_table = table.get("observer")
    observer = None
    if isinstance(observer_table, dict):
        observer = ObserverConfig(
            client_id=str(observer_table["client_id"]),
            secret=_optional(observer_table, "secret", Secret),
            certificate=_optional(observer_table, "certificate", CertificateCredential),
        )
    return TenantConfig(
        name=name,
        tenant_id=str(table["tenant_id"]),
        cloud=cloud,
        authority_host=cloud_endpoints.authority_host,
        graph_url=cloud_endpoints.graph_url,
        observer=observer,
    )


def _licences(value: object) -> tuple[str, ...] | None:
    return tuple(str(item) for item in value) if isinstance(value, list) else None


def _build_identity(name: str, table: dict[str, object]) -> IdentityConfig:
    environments = table["environments"]
    tags = table.get("tags", [])
    assert isinstance(environments, list)
    assert isinstance(tags, list)
    return IdentityConfig(
        name=name,
        kind=cast(IdentityKind, table["kind"]),
        tenant=str(table["tenant"]),
        client_id=str(table["client_id"]),
        environments=tuple(str(item) for item in environments),
        owner=text(table, "owner"),
        tags=tuple(str(item) for item in tags),
        secret=_optional(table, "secret", Secret),
        certificate=_optional(table, "certificate", CertificateCredential),
        username=text(table, "username"),
        password=_optional(table, "password", Secret),
        credential_expires=_optional(table, "credential_expires", datetime),
        credential_expires_source=text(table, "credential_expires_source"),
        credential_key_id=text(table, "credential_key_id"),
        licences=_licences(table.get("licences")),
        object_id=text(table, "object_id"),
    )
