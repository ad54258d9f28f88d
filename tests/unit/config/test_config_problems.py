"""Configuration problems: every rule, and how each problem is reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from config_testkit import (
    CLIENT_ID,
    MINIMAL,
    MINIMAL_ENVIRON,
    TENANT_ID,
    WriteConfig,
    WriteSecret,
    error_of,
    problems_of,
)

from monitor.config import ConfigError, Problem
from monitor.config.problems import dotted
from monitor.config.sections import ROOT
from monitor.config.validate import MAX_CA_BUNDLE_BYTES


def document(
    *,
    tenant: str = "",
    environment: str = "",
    identity: str = "",
    before: str = "",
    after: str = "",
    replace: dict[str, str] | None = None,
) -> str:
    """Return MINIMAL with lines added to its tenant / environment / identity tables."""
    text = MINIMAL
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    text = text.replace(f'tenant_id = "{TENANT_ID}"', f'tenant_id = "{TENANT_ID}"\n{tenant}', 1)
    text = text.replace(
        'url = "https://contoso.crm.dynamics.com"',
        f'url = "https://contoso.crm.dynamics.com"\n{environment}',
        1,
    )
    text = text.replace(
        'environments = ["contoso-prod"]', f'environments = ["contoso-prod"]\n{identity}', 1
    )
    return f"{before}\n{text}\n{after}"


def problem_lines(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    """Return the rendered problem lines (without the file line and the indentation)."""
    rendered = problems_of(path, MINIMAL_ENVIRON if environ is None else environ)
    return [line.strip() for line in rendered.splitlines()[1:]]


ENVIRONMENTS = 'environments = ["contoso-prod"]'

OTHER_TENANT = """
[tenants.fabrikam]
tenant_id = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"

[environments.fabrikam-prod]
tenant = "fabrikam"
url = "https://fabrikam.crm.dynamics.com"
"""

USER = """
[identities.dataverse-sync]
kind = "user"
tenant = "contoso"
client_id = "2d8f6a14-7b3c-4d5e-8f9a-0b1c2d3e4f5a"
environments = ["contoso-prod"]
"""

RULES = [
    pytest.param(
        {"tenant": 'cloud = "publc"'},
        'tenants.contoso.cloud: expected one of "public", "usgov", "usgov-dod", "china", "custom", '
        "found "
        '"publc"; hint: default "public"; did you mean \'public\'?',
        id="choice-did-you-mean",
    ),
    pytest.param(
        {"replace": {f'tenant_id = "{TENANT_ID}"': 'tenant_id = "contoso.onmicrosoft.com"'}},
        "tenants.contoso.tenant_id: expected a GUID (8-4-4-4-12 hexadecimal digits), found "
        '"contoso.onmicrosoft.com"; hint: the Directory (tenant) ID on the tenant\'s Entra ID '
        "overview page; the GUID, not a domain name (domains can change hands)",
        id="tenant-id-domain-name",
    ),
    pytest.param(
        {"replace": {f'client_id = "{CLIENT_ID}"': 'client_id = "Zq8~not-a-guid-but-a-secret"'}},
        "identities.sales-sync.client_id: expected a GUID (8-4-4-4-12 hexadecimal digits), found a "
        "string of 27 characters that is not a GUID; hint: the Application (client) ID of the app "
        "registration the identity signs in through",
        id="client-id-not-quoted-unless-guid-like",
    ),
    pytest.param(
        {"replace": {f'client_id = "{CLIENT_ID}"': 'client_id = "5c1e8b3a-2d4f-4a6b-9c8d"'}},
        "identities.sales-sync.client_id: expected a GUID (8-4-4-4-12 hexadecimal digits), found "
        '"5c1e8b3a-2d4f-4a6b-9c8d"; hint: the Application (client) ID of the app registration '
        "the identity signs in through",
        id="client-id-truncated-guid",
    ),
    pytest.param(
        {"replace": {f'client_id = "{CLIENT_ID}"': f'client_id = "{TENANT_ID}"'}},
        "identities.sales-sync.client_id: expected the Application (client) ID of an app "
        "registration, found the tenant's own tenant_id; hint: copy the Application (client) ID "
        "from the app registration's overview page",
        id="client-id-is-the-tenant-id",
    ),
    pytest.param(
        {"replace": {f'tenant_id = "{TENANT_ID}"': "tenant_id = 42"}},
        "tenants.contoso.tenant_id: expected a GUID (8-4-4-4-12 hexadecimal digits), found 42; "
        "hint: the Directory (tenant) ID on the tenant's Entra ID overview page",
        id="wrong-type",
    ),
    pytest.param(
        {"replace": {f'tenant_id = "{TENANT_ID}"': ""}},
        "tenants.contoso.tenant_id: expected a GUID (8-4-4-4-12 hexadecimal digits), found "
        "nothing (it is required); hint: the Directory (tenant) ID on the tenant's Entra ID "
        "overview page",
        id="missing-required-key",
    ),
    pytest.param(
        {"identity": "secrt = 1"},
        "identities.sales-sync.secrt: expected one of the keys kind, tenant, client_id, "
        "environments, owner, tags, secret, certificate, certificate_passphrase, username, "
        "password, credential_expires, credential_expires_source, credential_key_id, licences, "
        "object_id, found "
        "unknown key 'secrt'; hint: did you mean 'secret'?",
        id="unknown-key-did-you-mean",
    ),
    pytest.param(
        {"tenant": 'Cloud = "public"'},
        "tenants.contoso.Cloud: expected one of the keys tenant_id, cloud, authority_host, "
        "graph_url, observer, found unknown key 'Cloud'; hint: did you mean 'cloud'? (keys are "
        "case-sensitive)",
        id="unknown-key-wrong-case",
    ),
    pytest.param(
        {"after": '[[xyzzy]]\nname = "ops"'},
        f"xyzzy: expected one of the keys {', '.join(ROOT.fields)}, found unknown key "
        "'xyzzy'; hint: remove it, or check the spelling against config.example.toml",
        id="unknown-section",
    ),
    pytest.param(
        {"before": "[network]\nread_timeout = 5"},
        "network.read_timeout: expected one of the keys ca_bundle, proxy, connect_timeout_seconds, "
        "read_timeout_seconds, probe_deadline_seconds, found unknown key 'read_timeout'; hint: did "
        "you mean 'read_timeout_seconds'?",
        id="unknown-network-key",
    ),
    pytest.param(
        {"replace": {"https://contoso.crm.dynamics.com": "http://contoso.crm.dynamics.com"}},
        "environments.contoso-prod.url: expected an https:// URL such as "
        "https://contoso.crm.dynamics.com (no query or fragment), found "
        '"http://contoso.crm.dynamics.com"; '
        "hint: the environment URL shown in the Power Platform admin center; plain http is never "
        "used: use https://",
        id="environment-url-http",
    ),
    pytest.param(
        {
            "replace": {
                "https://contoso.crm.dynamics.com": "https://contoso.crm.dynamics.com/main.aspx?a=1"
            }
        },
        "environments.contoso-prod.url: expected an https:// URL such as "
        'https://contoso.crm.dynamics.com (no query or fragment), found "https://contoso.crm.'
        'dynamics.com/main.aspx?a=1"; hint: the environment URL shown in the Power Platform admin '
        "center",
        id="environment-url-with-query",
    ),
    pytest.param(
        {
            "tenant": 'cloud = "custom"\nauthority_host = "http://login.example.net"\n'
            'graph_url = "https://graph.example.net"'
        },
        "tenants.contoso.authority_host: expected an https:// URL such as "
        'https://login.microsoftonline.com (no path), found "http://login.example.net"; hint: '
        'only with cloud = "custom"; plain http is never used: use https://',
        id="custom-authority-http",
    ),
    pytest.param(
        {"tenant": 'cloud = "custom"\ngraph_url = "https://graph.example.net"'},
        'tenants.contoso.authority_host: expected an https URL (required with cloud = "custom"), '
        "found nothing; hint: give both authority_host and graph_url, or use a well-known cloud",
        id="custom-without-authority",
    ),
    pytest.param(
        {"tenant": 'graph_url = "https://graph.example.net"'},
        'tenants.contoso.graph_url: expected no graph_url with cloud = "public" (its endpoints are '
        'built in), found a graph_url; hint: remove graph_url, or set cloud = "custom"',
        id="endpoint-on-public-cloud",
    ),
    pytest.param(
        {"before": '[network]\nproxy = "socks5://proxy:1080"'},
        "network.proxy: expected an http:// or https:// URL such as http://proxy.example.com:3128 "
        '(no path), found "socks5://proxy:1080"; hint: the proxy for all HTTPS traffic; '
        "HTTPS_PROXY and friends are ignored",
        id="proxy-scheme",
    ),
    pytest.param(
        {"replace": {'tenant = "contoso"\nurl': 'tenant = "contoso-eu"\nurl'}},
        "environments.contoso-prod.tenant: expected the name of one of the [tenants.NAME] tables "
        "(contoso), found \"contoso-eu\"; hint: did you mean 'contoso'?",
        id="environment-unknown-tenant",
    ),
    pytest.param(
        {
            "replace": {
                'kind = "application"\ntenant = "contoso"': 'kind = "application"\ntenant = "x"'
            }
        },
        "identities.sales-sync.tenant: expected the name of one of the [tenants.NAME] tables "
        '(contoso), found "x"; hint: add a [tenants.x] table, or use one of the names above',
        id="identity-unknown-tenant",
    ),
    pytest.param(
        {"replace": {'environments = ["contoso-prod"]': 'environments = ["contoso-prd"]'}},
        "identities.sales-sync.environments[0]: expected the name of one of the "
        '[environments.NAME] tables (contoso-prod), found "contoso-prd"; hint: did you mean '
        "'contoso-prod'?",
        id="identity-unknown-environment",
    ),
    pytest.param(
        {
            "replace": {ENVIRONMENTS: 'environments = ["contoso-prod", "fabrikam-prod"]'},
            "after": OTHER_TENANT,
        },
        "identities.sales-sync.environments[1]: expected an environment of tenant 'contoso', found "
        "'fabrikam-prod', an environment of tenant 'fabrikam'; hint: an identity signs in to one "
        "tenant; describe the identity in the other tenant separately",
        id="identity-environment-of-another-tenant",
    ),
    pytest.param(
        {"replace": {'environments = ["contoso-prod"]': "environments = []"}},
        "identities.sales-sync.environments: expected a non-empty array of environment names, "
        "found an array of 0 items; hint: the environments this identity must be able to reach",
        id="identity-without-environments",
    ),
    pytest.param(
        {
            "replace": {
                'environments = ["contoso-prod"]': 'environments = ["contoso-prod", "contoso-prod"]'
            }
        },
        "identities.sales-sync.environments[1]: expected no repeated items, found a repeat of "
        '"contoso-prod"; hint: list each item once',
        id="repeated-environment",
    ),
    pytest.param(
        {"identity": 'certificate = { file = "app.pem" }'},
        "identities.sales-sync: expected exactly one of the keys secret, certificate, found both; "
        "hint: an application signs in with a client secret or with a certificate",
        id="application-with-both",
    ),
    pytest.param(
        {"replace": {'secret = { env = "SALES_SECRET" }': ""}},
        "identities.sales-sync: expected exactly one of the keys secret, certificate, found "
        "neither; hint: an application signs in with a client secret or with a certificate",
        id="application-with-neither",
    ),
    pytest.param(
        {"identity": 'certificate_passphrase = { env = "SALES_SECRET" }'},
        "identities.sales-sync.certificate_passphrase: expected certificate_passphrase only "
        "together with certificate, found a certificate_passphrase without a certificate; hint: "
        "remove certificate_passphrase",
        id="passphrase-without-certificate",
    ),
    pytest.param(
        {"identity": 'username = "svc@contoso.com"'},
        'identities.sales-sync.username: expected no username for kind = "application", found a '
        'username; hint: an account that signs in with a password is kind = "user"',
        id="application-with-username",
    ),
    pytest.param(
        {"after": USER},
        "identities.dataverse-sync.username: expected the account's user principal name (required "
        'for kind = "user"), found nothing; hint: e.g. username = "svc-sync@contoso.com"',
        id="user-without-username",
    ),
    pytest.param(
        {"after": USER},
        "identities.dataverse-sync.password: expected the account's password (required for kind "
        '= "user"), found nothing; hint: a password is referenced like { credential = "NAME" }',
        id="user-without-password",
    ),
    pytest.param(
        {"after": USER + 'username = "svc-dataverse-sync"\npassword = { env = "SALES_SECRET" }'},
        "identities.dataverse-sync.username: expected a user principal name such as "
        "svc-sync@contoso.com, found a string",
        id="user-username-not-a-upn",
    ),
    pytest.param(
        {
            "after": USER + 'username = "a@contoso.com"\npassword = { env = "SALES_SECRET" }\n'
            'secret = { env = "SALES_SECRET" }'
        },
        'identities.dataverse-sync.secret: expected no secret for kind = "user", found a secret; '
        "hint: an app registration that signs in with a secret or certificate is kind = "
        '"application"',
        id="user-with-secret",
    ),
    pytest.param(
        {"replace": {'kind = "application"': 'kind = "app"'}},
        'identities.sales-sync.kind: expected one of "application", "user", found "app"',
        id="unknown-kind",
    ),
    pytest.param(
        {
            "after": MINIMAL.split("[identities.sales-sync]")[1].join(
                ["[identities.Sales-Sync]", ""]
            )
        },
        "identities.Sales-Sync: expected a name no other identity has (names are compared ignoring "
        "case), found a duplicate of identities.sales-sync; hint: rename one of the two identity "
        "tables",
        id="duplicate-name-ignoring-case",
    ),
    pytest.param(
        {"after": '[identities."sales sync"]'},
        "identities.\"sales sync\": expected a name of letters, digits, '-', '_' and '.' (at "
        'most 64, starting with a letter or digit), found "sales sync"; hint: rename the '
        "identity; names appear in logs, alerts and the database",
        id="bad-name",
    ),
    pytest.param(
        {
            "after": '[environments.contoso-prod-again]\ntenant = "contoso"\n'
            'url = "https://CONTOSO.crm.dynamics.com"'
        },
        "environments.contoso-prod-again.url: expected a URL not used by another environment, "
        "found the URL of environments.contoso-prod; hint: describe each environment once and list "
        "it in every identity that uses it",
        id="duplicate-environment-url",
    ),
    pytest.param(
        {
            "after": "\n".join(
                USER.replace("dataverse-sync", name)
                + '\nusername = "svc@contoso.com"\npassword = { env = "SALES_SECRET" }\n'
                for name in ("first", "second")
            )
        },
        "identities.second.username: expected an account not described by another identity, found "
        "the account of identities.first; hint: two identities with one account would double its "
        "failed sign-ins (lockout); list all its environments in one identity",
        id="duplicate-user-account",
    ),
    pytest.param(
        {"before": "[network]\nconnect_timeout_seconds = 0"},
        "network.connect_timeout_seconds: expected a positive number of seconds, at most "
        "31,622,400, found 0; hint: "
        "default 5",
        id="zero-timeout",
    ),
    pytest.param(
        {"before": "[network]\nprobe_deadline_seconds = -30"},
        "network.probe_deadline_seconds: expected a positive number of seconds, at most 31,622,400,"
        " found -30; hint: "
        "default 30",
        id="negative-deadline",
    ),
    pytest.param(
        {"before": "[network]\nread_timeout_seconds = true"},
        "network.read_timeout_seconds: expected a positive number of seconds, at most 31,622,400,"
        " found true; hint: "
        "default 20",
        id="boolean-timeout",
    ),
    pytest.param(
        {"before": '[network]\nread_timeout_seconds = "20"'},
        "network.read_timeout_seconds: expected a positive number of seconds, at most 31,622,400,"
        ' found "20"; hint: '
        "default 20",
        id="string-timeout",
    ),
    pytest.param(
        {"before": "[probing]\nconcurrency = 2.5"},
        "probing.concurrency: expected a positive integer, at most 1,000,"
        " found 2.5; hint: probes in flight at "
        "once; default 8",
        id="fractional-concurrency",
    ),
    pytest.param(
        {"before": "[probing]\nlockout_cooldown_seconds = 0"},
        "probing.lockout_cooldown_seconds: expected a positive number of seconds, at most "
        "31,622,400, found 0; hint: "
        "default 3600",
        id="zero-cooldown",
    ),
    pytest.param(
        {"before": '[logging]\nlevel = "verbose"'},
        'logging.level: expected one of "debug", "info", "warning", "error", found "verbose"; '
        'hint: default "info"',
        id="log-level",
    ),
    pytest.param(
        {"before": 'logging = "debug"'},
        'logging: expected a table, found "debug"',
        id="section-not-a-table",
    ),
    pytest.param(
        {"identity": 'tags = ["sales", 3]'},
        "identities.sales-sync.tags[1]: expected a tag, found 3",
        id="tag-not-a-string",
    ),
    pytest.param(
        {
            "identity": 'secret = { vault = "x" }',
            "replace": {'secret = { env = "SALES_SECRET" }': ""},
        },
        "identities.sales-sync.secret.vault: expected one of the keys credential, file, env, found "
        "unknown key 'vault'; hint: remove it, or check the spelling against config.example.toml",
        id="unknown-secret-source",
    ),
    pytest.param(
        {"replace": {'secret = { env = "SALES_SECRET" }': 'secret = { credential = "../x" }'}},
        "identities.sales-sync.secret.credential: expected a credential name (a file name in "
        "$CREDENTIALS_DIRECTORY, without '/'), found a string that is not a name; hint: the client "
        "secret's value, not its ID",
        id="credential-name-with-slash",
    ),
]


@pytest.mark.parametrize(("change", "expected"), RULES)
def test_rule(write_config: WriteConfig, change: dict[str, object], expected: str) -> None:
    """Each rule is reported as one line: dotted path, expected vs found, and a hint."""
    path = write_config(document(**change))  # type: ignore[arg-type]

    assert expected in problem_lines(path)


def test_render_names_the_file_once_then_one_line_per_problem(write_config: WriteConfig) -> None:
    """The file is named on the first line only; each problem is one indented line."""
    path = write_config(
        document(
            replace={f'tenant_id = "{TENANT_ID}"': 'tenant_id = "3f2c9a1e"'},
            before="[network]\nconnect_timeout_seconds = 0",
        )
    )

    rendered = problems_of(path, MINIMAL_ENVIRON)

    lines = rendered.splitlines()
    assert lines[0] == f"{path}: 2 configuration problems:"
    assert lines[1:] == [
        "  network.connect_timeout_seconds: expected a positive number of seconds, at most "
        "31,622,400, found 0; "
        "hint: default 5",
        "  tenants.contoso.tenant_id: expected a GUID (8-4-4-4-12 hexadecimal digits), found "
        '"3f2c9a1e"; hint: the Directory (tenant) ID on the tenant\'s Entra ID overview page',
    ]
    assert rendered.count(str(path)) == 1


def test_every_problem_is_reported_at_once(write_config: WriteConfig) -> None:
    """Problems in every section, of every kind, come out of one load, in file order."""
    path = write_config(
        document(
            before='[network]\nconnect_timeout_seconds = -1\nproxy = "ftp://x"\n'
            '[logging]\nlevel = "loud"',
            tenant='cloud = "mars"',
            environment="colour = 1",
            identity='owner = 7\nsecret = { file = "missing-secret" }',
            replace={
                f'client_id = "{CLIENT_ID}"': 'client_id = "x"',
                'secret = { env = "SALES_SECRET" }': "",
            },
        )
    )

    error = error_of(path, {})

    assert [problem.path for problem in error.problems] == [
        "network.connect_timeout_seconds",
        "network.proxy",
        "logging.level",
        "tenants.contoso.cloud",
        "environments.contoso-prod.colour",
        "identities.sales-sync.client_id",
        "identities.sales-sync.owner",
        "identities.sales-sync.secret",
    ]
    assert error.render().splitlines()[0].endswith(": 8 configuration problems:")


def test_toml_syntax_error_keeps_line_and_column(write_config: WriteConfig) -> None:
    """A TOML syntax error is one problem located by line and column."""
    path = write_config('[tenants.contoso]\ntenant_id = "x"\ncloud = public\n')

    error = error_of(path)

    assert error.problems == [
        Problem(
            "",
            "valid TOML",
            "invalid value",
            'check quoting and brackets: strings are "quoted", tables are [name.subname]',
            line=3,
            column=9,
        )
    ]
    assert error.render().splitlines()[1] == (
        "  line 3, column 9: expected valid TOML, found invalid value; hint: check quoting and "
        'brackets: strings are "quoted", tables are [name.subname]'
    )


def test_duplicate_key_is_a_syntax_error(write_config: WriteConfig) -> None:
    """TOML itself refuses a table defined twice; the line is kept."""
    path = write_config(MINIMAL + "\n[tenants.contoso]\n")
    line = (MINIMAL + "\n").count("\n") + 1

    (problem,) = error_of(path).problems

    assert problem.line == line
    assert problem.expected == "valid TOML"


def test_syntax_error_at_end_of_document(write_config: WriteConfig) -> None:
    """An error at the very end has no line/column in tomllib; it says so."""
    path = write_config("a = [1,")

    (problem,) = error_of(path).problems

    assert problem.location == "(end of document)"


def test_not_utf8_is_located(write_config: WriteConfig) -> None:
    """A file that is not UTF-8 is reported with the line and column of the first bad byte."""
    path = write_config("")
    path.write_bytes(b'[tenants.contoso]\ntenant_id = "\xff"\n')

    (problem,) = error_of(path).problems

    assert (problem.line, problem.column, problem.expected) == (2, 14, "UTF-8 text")


def test_missing_file(tmp_path: Path) -> None:
    """A missing config file is one problem about the file, with a hint on how to name it."""
    error = error_of(tmp_path / "absent.toml")

    assert error.render() == (
        f"{tmp_path / 'absent.toml'}: 1 configuration problem:\n"
        "  (file): expected a configuration file, found no such file; hint: pass --config PATH "
        "or set MONITOR_CONFIG; config.example.toml is a start"
    )


def test_directory_instead_of_file(tmp_path: Path) -> None:
    """A directory is not a configuration file."""
    (problem,) = error_of(tmp_path).problems

    assert (problem.expected, problem.found) == ("a configuration file", "not a regular file")


def test_empty_file_needs_the_sections(write_config: WriteConfig) -> None:
    """An empty file lacks tenants, environments and identities, each reported."""
    lines = problem_lines(write_config(""))

    assert lines == [
        "tenants: expected [tenants.NAME] tables, one per tenant, found nothing (it is required)",
        "environments: expected [environments.NAME] tables, one per environment, found nothing "
        "(it is required)",
        "identities: expected [identities.NAME] tables, one per identity, found nothing (it is "
        "required); hint: describe at least one identity the monitor should check",
    ]


def test_a_wrong_value_is_reported_once(write_config: WriteConfig) -> None:
    """An environment with an unknown tenant is not reported again on the identities using it."""
    path = write_config(document(replace={'tenant = "contoso"\nurl': 'tenant = "nope"\nurl'}))

    lines = problem_lines(path)

    assert len(lines) == 1
    assert lines[0].startswith("environments.contoso-prod.tenant:")


def test_fingerprint_key_too_short(write_config: WriteConfig, write_secret: WriteSecret) -> None:
    """A fingerprint key shorter than 16 bytes is refused (a guessable key protects nothing)."""
    key = write_secret("fingerprint.key", b"short")
    path = write_config(f'[database]\nfingerprint_key = {{ file = "{key}" }}\n{MINIMAL}')

    assert problem_lines(path) == [
        "database.fingerprint_key: expected at least 16 bytes of key material, found 5 bytes; "
        "hint: generate one: head -c 32 /dev/urandom > fingerprint.key (then chmod 600)"
    ]


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (None, "'{path}': No such file or directory"),
        (b"not a certificate", "no PEM certificate in '{path}'"),
    ],
)
def test_ca_bundle_must_hold_certificates(
    write_config: WriteConfig, tmp_path: Path, content: bytes | None, found: str
) -> None:
    """network.ca_bundle must be a readable PEM file with at least one certificate."""
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_bytes(content)
    path = write_config(f'[network]\nca_bundle = "{bundle}"\n{MINIMAL}')

    assert problem_lines(path) == [
        "network.ca_bundle: expected a readable PEM file with at least one CA certificate, found "
        + found.format(path=bundle)
        + "; hint: point to the CA bundle file (PEM), or leave ca_bundle out for the system store"
    ]


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "oversized"])
def test_ca_bundle_must_be_a_regular_file_of_bounded_size(
    write_config: WriteConfig, tmp_path: Path, kind: str
) -> None:
    """An endless device, a FIFO (which would block the open) and a huge file are refused
    without being read: one problem naming the path."""
    bundle = Path("/dev/zero")
    found = "'/dev/zero', which is not a regular file"
    if kind == "fifo":
        bundle = tmp_path / "ca.pem"
        os.mkfifo(bundle)
        found = f"'{bundle}', which is not a regular file"
    elif kind == "oversized":
        bundle = tmp_path / "ca.pem"
        with bundle.open("wb") as file:
            file.truncate(MAX_CA_BUNDLE_BYTES + 1)  # sparse: nothing is written
        limit = MAX_CA_BUNDLE_BYTES
        found = f"{limit + 1} bytes in '{bundle}' (at most {limit} are read)"
    path = write_config(f'[network]\nca_bundle = "{bundle}"\n{MINIMAL}')

    assert problem_lines(path) == [
        "network.ca_bundle: expected a readable PEM file with at least one CA certificate, found "
        + found
        + "; hint: point to the CA bundle file (PEM), or leave ca_bundle out for the system store"
    ]


def test_config_error_is_an_exception_with_problems(write_config: WriteConfig) -> None:
    """ConfigError carries the file and the problems; str() is the rendering."""
    path = write_config("")

    error = error_of(path)

    assert isinstance(error, ConfigError)
    assert error.source == path
    assert len(error.problems) == 3
    assert str(error) == error.render()


@pytest.mark.parametrize(
    ("parts", "text"),
    [
        (("tenants", "contoso", "tenant_id"), "tenants.contoso.tenant_id"),
        (("identities", "a.b", "tags", 2), 'identities."a.b".tags[2]'),
        ((), ""),
    ],
)
def test_dotted(parts: tuple[str | int, ...], text: str) -> None:
    """Paths are spelled as TOML would: quoted keys where needed, array indexes in brackets."""
    assert dotted(parts) == text


def test_fifo_is_refused_without_hanging(write_config: WriteConfig, tmp_path: Path) -> None:
    """A named pipe given as a secret file is refused at once instead of blocking the loader."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo, 0o600)
    path = write_config(document(replace={'{ env = "SALES_SECRET" }': f'{{ file = "{fifo}" }}'}))

    assert problem_lines(path) == [
        f"identities.sales-sync.secret: expected a regular file, found '{fifo}' is not a regular "
        "file; hint: point to the secret file"
    ]
