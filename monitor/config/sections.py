"""The shape of ``monitor.toml``, declared with :mod:`monitor.config.schema`.

To add a section (``[[channels]]``, ``[alerts]``, ``[schedule]``, ...): declare its table here, add
it to :data:`ROOT`, build its dataclass in :mod:`monitor.config.load`, and document it in
``config.example.toml`` (a test loads that file).
"""

from __future__ import annotations

from monitor.cloud import CLOUD_NAMES
from monitor.config.alerting import ALERTS, CHANNELS
from monitor.config.directory import DIRECTORY, IDENTITY_FIELDS
from monitor.config.discovery import DISCOVERY
from monitor.config.metrics import METRICS
from monitor.config.schedule import RETENTION, SCHEDULE
from monitor.config.schema import (
    MAX_SECONDS,
    Choice,
    Field,
    FilePath,
    Guid,
    ListOf,
    NamedTables,
    Number,
    SecretReference,
    Table,
    Text,
    Url,
)
from monitor.config.usage import IDENTITY_FIELDS as USAGE_IDENTITY_FIELDS
from monitor.config.usage import USAGE

LOG_LEVELS = ("debug", "info", "warning", "error")
IDENTITY_KINDS = ("application", "user")
UPN_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

_SECONDS = Number(maximum=MAX_SECONDS)
_CONCURRENCY = Number(integer=True, maximum=1_000)

NETWORK = Table(
    {
        "ca_bundle": Field(
            FilePath(),
            hint="a PEM file of the CAs to trust instead of the system store (e.g. a "
            "TLS-inspecting proxy's CA); leave it out to use the system trust store",
        ),
        "proxy": Field(
            Url(("http", "https"), allow_userinfo=True, example="http://proxy.example.com:3128"),
            hint="the proxy for all HTTPS traffic; HTTPS_PROXY and friends are ignored",
        ),
        "connect_timeout_seconds": Field(_SECONDS, hint="default 5"),
        "read_timeout_seconds": Field(_SECONDS, hint="default 20"),
        "probe_deadline_seconds": Field(_SECONDS, hint="default 30"),
    }
)

PROBING = Table(
    {
        "concurrency": Field(_CONCURRENCY, hint="probes in flight at once; default 8"),
        "per_tenant_concurrency": Field(
            _CONCURRENCY, hint="probes in flight per tenant; default 4"
        ),
        "lockout_cooldown_seconds": Field(_SECONDS, hint="default 3600"),
    }
)

DATABASE = Table(
    {
        "path": Field(
            FilePath(),
            hint="default: $STATE_DIRECTORY/monitor.db, /var/lib/monitor/monitor.db for a "
            "config in /etc/monitor, else monitor.db beside the config file",
        ),
        "fingerprint_key": Field(
            SecretReference(binary=True),
            hint="at least 16 random bytes, e.g. head -c 32 /dev/urandom > fingerprint.key",
        ),
        "group_access": Field(
            Choice(("none", "read-write")),
            hint='"read-write": the service\'s group may read and annotate the history (files '
            '0660); default "none" (0600)',
        ),
    }
)

LOGGING = Table({"level": Field(Choice(LOG_LEVELS), hint='default "info"')})

_CERTIFICATE_HINT = 'a PEM (key + certificate) or PFX file, e.g. { file = "/etc/monitor/app.pem" }'

OBSERVER = Table(
    {
        "client_id": Field(
            Guid(), required=True, hint="the Application (client) ID of the monitor's own app"
        ),
        "secret": Field(SecretReference()),
        "certificate": Field(SecretReference(binary=True), hint=_CERTIFICATE_HINT),
        "certificate_passphrase": Field(SecretReference()),
    }
)

TENANT = Table(
    {
        "tenant_id": Field(
            Guid(),
            required=True,
            hint="the Directory (tenant) ID on the tenant's Entra ID overview page",
        ),
        "cloud": Field(Choice(CLOUD_NAMES), hint='default "public"'),
        "authority_host": Field(
            Url(example="https://login.microsoftonline.com"), hint='only with cloud = "custom"'
        ),
        "graph_url": Field(
            # A path is allowed: a custom cloud (or the simulator) may serve Graph under one.
            Url(origin_only=False, example="https://graph.microsoft.com"),
            hint='only with cloud = "custom"',
        ),
        "observer": Field(OBSERVER),
    }
)

ENVIRONMENT = Table(
    {
        "tenant": Field(Text("a tenant name"), required=True),
        "url": Field(
            # Dataverse URLs have no path; one is allowed for reverse proxies and the simulator.
            Url(origin_only=False, example="https://contoso.crm.dynamics.com"),
            required=True,
            hint="the environment URL shown in the Power Platform admin center",
        ),
    }
)

IDENTITY = Table(
    {
        "kind": Field(Choice(IDENTITY_KINDS), required=True),
        "tenant": Field(Text("a tenant name"), required=True),
        "client_id": Field(
            Guid(),
            required=True,
            hint="the Application (client) ID of the app registration the identity signs in "
            "through",
        ),
        "environments": Field(
            ListOf(Text("an environment name"), min_items=1),
            required=True,
            hint="the environments this identity must be able to reach",
        ),
        "owner": Field(Text(), hint="who to ask about this identity"),
        "tags": Field(ListOf(Text("a tag"))),
        "secret": Field(SecretReference(), hint="the client secret's value, not its ID"),
        "certificate": Field(SecretReference(binary=True), hint=_CERTIFICATE_HINT),
        "certificate_passphrase": Field(SecretReference()),
        "username": Field(
            Text(
                "a user principal name such as svc-sync@contoso.com",
                pattern=UPN_PATTERN,
                show=False,
            ),
        ),
        "password": Field(SecretReference()),
        **IDENTITY_FIELDS,  # credential_expires, credential_expires_source, credential_key_id
        **USAGE_IDENTITY_FIELDS,  # licences, object_id
    }
)

ROOT = Table(
    {
        "network": Field(NETWORK),
        "probing": Field(PROBING),
        "database": Field(DATABASE),
        "logging": Field(LOGGING),
        "schedule": Field(SCHEDULE),
        "retention": Field(RETENTION),
        "alerts": Field(ALERTS),
        "directory": Field(DIRECTORY),
        "discovery": Field(DISCOVERY),
        "usage": Field(USAGE),
        "metrics": Field(METRICS),
        "channels": Field(CHANNELS, hint="[[channels]] entries: apprise URLs with routing"),
        "tenants": Field(NamedTables(TENANT, section="tenants", noun="tenant"), required=True),
        "environments": Field(
            NamedTables(ENVIRONMENT, section="environments", noun="environment"), required=True
        ),
        "identities": Field(
            NamedTables(IDENTITY, section="identities", noun="identity", min_items=1),
            required=True,
            hint="describe at least one identity the monitor should check",
        ),
    },
    expected="a configuration document",
)
