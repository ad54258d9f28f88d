"""Loading a good configuration: the dataclasses it becomes, defaults and paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_testkit import (
    CLIENT_ID,
    MINIMAL,
    MINIMAL_ENVIRON,
    SECRET_VALUE,
    TENANT_ID,
    CertificateFiles,
    WriteConfig,
    WriteSecret,
    load,
)

from monitor.config import ConfigError, load_config
from monitor.config.model import NetworkConfig, ProbingConfig
from monitor.secrets import Secret


def test_minimal_config_becomes_the_model(write_config: WriteConfig) -> None:
    """A minimal file loads into tenants, environments and identities with every default."""
    config = load(write_config(MINIMAL), MINIMAL_ENVIRON)

    tenant = config.tenants["contoso"]
    assert (tenant.name, tenant.tenant_id, tenant.cloud) == ("contoso", TENANT_ID, "public")
    assert tenant.authority_host == "https://login.microsoftonline.com"
    assert tenant.graph_url == "https://graph.microsoft.com"
    assert tenant.observer is None
    environment = config.environments["contoso-prod"]
    assert (environment.tenant, environment.url) == ("contoso", "https://contoso.crm.dynamics.com")
    identity = config.identities["sales-sync"]
    assert identity.kind == "application"
    assert identity.client_id == CLIENT_ID
    assert identity.environments == ("contoso-prod",)
    assert identity.tags == ()
    assert identity.owner is None
    assert identity.secret is not None
    assert identity.secret.reveal() == SECRET_VALUE
    assert identity.secret.source == "env:SALES_SECRET"
    assert identity.credential_type == "client_secret"
    assert config.network == NetworkConfig()
    assert config.probing == ProbingConfig()
    assert config.log_level == "info"
    assert config.database.fingerprint_key is None


def test_every_option_is_read(write_config: WriteConfig, write_secret: WriteSecret) -> None:
    """Values given for network, probing, database and logging replace the defaults."""
    key = write_secret("fingerprint.key", b"k" * 32)
    path = write_config(
        f"""
[network]
proxy = "http://proxy.example.com:3128"
connect_timeout_seconds = 2
read_timeout_seconds = 7.5
probe_deadline_seconds = 12

[probing]
concurrency = 3
per_tenant_concurrency = 2
lockout_cooldown_seconds = 60

[database]
path = "state/history.db"
fingerprint_key = {{ file = "{key}" }}

[logging]
level = "debug"
{MINIMAL}"""
    )

    config = load(path, MINIMAL_ENVIRON)

    assert config.network == NetworkConfig(
        ca_bundle=None,
        proxy="http://proxy.example.com:3128",
        connect_timeout_seconds=2.0,
        read_timeout_seconds=7.5,
        probe_deadline_seconds=12.0,
    )
    assert config.probing == ProbingConfig(3, 2, 60.0)
    assert config.database.path == path.parent / "state" / "history.db"
    assert config.database.fingerprint_key is not None
    assert config.database.fingerprint_key.reveal_bytes() == b"k" * 32
    assert config.log_level == "debug"


def test_ca_bundle_is_resolved_against_the_config_directory(
    write_config: WriteConfig, write_secret: WriteSecret, certificate_files: CertificateFiles
) -> None:
    """A relative ca_bundle path is taken relative to the configuration file."""
    bundle = write_secret("ca/bundle.pem", certificate_files.certificate_pem, mode=0o644)
    path = write_config(f'[network]\nca_bundle = "ca/bundle.pem"\n{MINIMAL}')

    config = load(path, MINIMAL_ENVIRON)

    assert config.network.ca_bundle == bundle


def test_database_defaults_beside_the_config_file(write_config: WriteConfig) -> None:
    """Without database.path and STATE_DIRECTORY the database is monitor.db beside the file."""
    path = write_config(MINIMAL)

    config = load(path, MINIMAL_ENVIRON)

    assert config.database.path == path.parent / "monitor.db"
    assert config.source == path


def test_database_defaults_to_the_systemd_state_directory(write_config: WriteConfig) -> None:
    """Under systemd (StateDirectory=) the database goes to $STATE_DIRECTORY/monitor.db."""
    environ = {**MINIMAL_ENVIRON, "STATE_DIRECTORY": "/var/lib/monitor:/var/lib/other"}

    config = load(write_config(MINIMAL), environ)

    assert config.database.path == Path("/var/lib/monitor/monitor.db")


def test_a_shell_and_the_service_resolve_the_same_database_for_the_deployed_config() -> None:
    """For /etc/monitor/monitor.toml, a command run from a shell (no STATE_DIRECTORY) uses the
    service's /var/lib/monitor/monitor.db, as the daemon under systemd does."""
    from monitor.config.load import default_database_path

    deployed = Path("/etc/monitor/monitor.toml")

    from_shell = default_database_path(deployed, {})
    under_systemd = default_database_path(deployed, {"STATE_DIRECTORY": "/var/lib/monitor"})

    assert Path("/var/lib/monitor/monitor.db") == from_shell == under_systemd


def test_absolute_database_path_is_kept(write_config: WriteConfig) -> None:
    """An absolute database.path is used as written, even under systemd."""
    path = write_config('[database]\npath = "/srv/monitor/db.sqlite"\n' + MINIMAL)

    config = load(path, {**MINIMAL_ENVIRON, "STATE_DIRECTORY": "/var/lib/monitor"})

    assert config.database.path == Path("/srv/monitor/db.sqlite")


@pytest.mark.parametrize(
    ("cloud", "authority_host", "graph_url", "environment"),
    [
        (
            "public",
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com",
            "https://contoso.crm.dynamics.com",
        ),
        (
            "public",  # GCC (Moderate) uses the worldwide endpoints
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com",
            "https://contoso.crm9.dynamics.com",
        ),
        (
            "usgov",  # GCC High
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us",
            "https://contoso.crm.microsoftdynamics.us",
        ),
        (
            "usgov-dod",
            "https://login.microsoftonline.us",
            "https://dod-graph.microsoft.us",
            "https://contoso.crm.appsplatform.us",
        ),
        (
            "china",
            "https://login.partner.microsoftonline.cn",
            "https://microsoftgraph.chinacloudapi.cn",
            "https://contoso.crm.dynamics.cn",
        ),
    ],
    ids=["public", "gcc", "gcc-high", "dod", "china"],
)
def test_well_known_clouds_get_their_endpoints(
    write_config: WriteConfig, cloud: str, authority_host: str, graph_url: str, environment: str
) -> None:
    """Each well-known cloud's tenant gets that cloud's authority host and Graph URL (DoD its
    own Graph host), with an environment of that cloud."""
    text = MINIMAL.replace(
        f'tenant_id = "{TENANT_ID}"', f'tenant_id = "{TENANT_ID}"\ncloud = "{cloud}"'
    ).replace('url = "https://contoso.crm.dynamics.com"', f'url = "{environment}"')

    tenant = load(write_config(text), MINIMAL_ENVIRON).tenants["contoso"]

    assert (tenant.cloud, tenant.authority_host, tenant.graph_url) == (
        cloud,
        authority_host,
        graph_url,
    )


def test_custom_cloud_takes_its_endpoints_from_the_file(write_config: WriteConfig) -> None:
    """A custom cloud (the simulator, say) uses the configured endpoints, trailing slash removed."""
    text = MINIMAL.replace(
        f'tenant_id = "{TENANT_ID}"',
        f'tenant_id = "{TENANT_ID}"\ncloud = "custom"\n'
        'authority_host = "https://127.0.0.1:8443/"\ngraph_url = "https://127.0.0.1:8444"',
    )

    tenant = load(write_config(text), MINIMAL_ENVIRON).tenants["contoso"]

    assert (tenant.cloud, tenant.authority_host, tenant.graph_url) == (
        "custom",
        "https://127.0.0.1:8443",
        "https://127.0.0.1:8444",
    )


def test_guids_are_lower_cased_and_urls_lose_their_trailing_slash(
    write_config: WriteConfig,
) -> None:
    """GUIDs are compared in lower case later, so they are stored that way."""
    text = MINIMAL.replace(TENANT_ID, TENANT_ID.upper()).replace(
        "https://contoso.crm.dynamics.com", "https://contoso.crm.dynamics.com/"
    )

    config = load(write_config(text), MINIMAL_ENVIRON)

    assert config.tenants["contoso"].tenant_id == TENANT_ID
    assert config.environments["contoso-prod"].url == "https://contoso.crm.dynamics.com"


def test_user_identity_and_observer(write_config: WriteConfig, write_secret: WriteSecret) -> None:
    """A user identity keeps its username and password; a tenant's observer is parsed."""
    password = write_secret("password", "correct horse battery staple\n")
    observer_secret = write_secret("observer", "observer-secret-value")
    text = (
        MINIMAL.replace(
            f'tenant_id = "{TENANT_ID}"',
            f'tenant_id = "{TENANT_ID}"\nobserver = {{ client_id = "{CLIENT_ID}", '
            f'secret = {{ file = "{observer_secret}" }} }}',
        )
        + f"""
[identities.dataverse-sync]
kind = "user"
tenant = "contoso"
client_id = "2d8f6a14-7b3c-4d5e-8f9a-0b1c2d3e4f5a"
username = "svc-dataverse-sync@contoso.com"
password = {{ file = "{password}" }}
environments = ["contoso-prod"]
owner = "crm-team@contoso.com"
tags = ["sales", "tier-1"]
"""
    )

    config = load(write_config(text), MINIMAL_ENVIRON)

    identity = config.identities["dataverse-sync"]
    assert identity.kind == "user"
    assert identity.username == "svc-dataverse-sync@contoso.com"
    assert identity.password is not None
    assert identity.password.reveal() == "correct horse battery staple"
    assert identity.credential_type == "password"
    assert identity.owner == "crm-team@contoso.com"
    assert identity.tags == ("sales", "tier-1")
    observer = config.tenants["contoso"].observer
    assert observer is not None
    assert observer.client_id == CLIENT_ID
    assert observer.secret == Secret("observer-secret-value", "test")
    assert observer.certificate is None


def test_relative_config_path(write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The path may be relative to the working directory; the result's source is absolute."""
    path = write_config(MINIMAL)
    monkeypatch.chdir(path.parent)

    config = load_config(Path(path.name), environ=MINIMAL_ENVIRON)

    assert config.source == path
    assert config.database.path == path.parent / "monitor.db"


@pytest.mark.parametrize(
    ("cloud", "url", "found"),
    [
        (
            "public",
            "https://contoso.crm.microsoftdynamics.us",
            "https://contoso.crm.microsoftdynamics.us (an environment of the usgov cloud)",
        ),
        (
            "usgov",
            "https://contoso.crm9.dynamics.com",
            "https://contoso.crm9.dynamics.com (an environment of the public cloud)",
        ),
        (
            "usgov-dod",
            "https://crm-proxy.contoso.example",
            "https://crm-proxy.contoso.example (not a Dataverse host)",
        ),
    ],
    ids=["gov-url-in-public", "gcc-url-in-gcc-high", "proxy-url"],
)
def test_environment_of_another_cloud_is_a_config_error(
    write_config: WriteConfig, cloud: str, url: str, found: str
) -> None:
    """An environment URL that does not belong to its tenant's cloud is refused in one line
    naming what it is."""
    text = MINIMAL.replace(
        f'tenant_id = "{TENANT_ID}"', f'tenant_id = "{TENANT_ID}"\ncloud = "{cloud}"'
    ).replace('url = "https://contoso.crm.dynamics.com"', f'url = "{url}"')

    with pytest.raises(ConfigError) as caught:
        load(write_config(text), MINIMAL_ENVIRON)

    (problem,) = caught.value.problems
    line = problem.render()
    assert "\n" not in line
    assert line.startswith("environments.contoso-prod.url: expected a Dataverse environment of its")
    assert f"found {found}" in line


def test_without_secrets_nothing_is_read_and_the_rest_is_checked(
    write_config: WriteConfig,
) -> None:
    """``secrets=False`` (the read-only commands) loads a configuration whose secret is not
    there at all: no secret in the result, ``secrets_read`` false; a problem that is not about
    a secret is still reported."""
    path = write_config(MINIMAL)

    light = load_config(path, environ={}, secrets=False)
    with pytest.raises(ConfigError):
        load_config(path, environ={})  # SALES_SECRET is unset: the full load refuses
    broken = write_config(MINIMAL.replace('kind = "application"', 'kind = "robot"'))
    with pytest.raises(ConfigError, match="robot"):
        load_config(broken, environ={}, secrets=False)

    assert (False, None) == (light.secrets_read, light.identities["sales-sync"].secret)
    assert ["sales-sync"] == list(light.identities)


def test_if_readable_reads_what_it_can_and_leaves_out_the_rest(write_config: WriteConfig) -> None:
    """``secrets="if-readable"`` (the report): a secret that can be read is read, one that
    cannot is left out without a problem; nothing may sign in with the result."""
    path = write_config(MINIMAL)

    readable = load_config(path, environ=MINIMAL_ENVIRON, secrets="if-readable")
    unreadable = load_config(path, environ={}, secrets="if-readable")

    secret = readable.identities["sales-sync"].secret
    assert secret is not None
    assert SECRET_VALUE == secret.reveal()
    assert unreadable.identities["sales-sync"].secret is None
    assert (False, False) == (readable.secrets_read, unreadable.secrets_read)
