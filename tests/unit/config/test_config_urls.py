"""Channel URL policy: TLS required (loopback excepted), no verify=no, Workflows only for Teams,
safe descriptions, and the pieces of a URL that are secret."""

from __future__ import annotations

import pytest

from monitor.config.urls import (
    describe_url,
    email_uses_tls,
    inspect_url,
    is_loopback_host,
    secret_parts,
    url_problems,
)

NATIVE = (
    "https://prod-12.westeurope.logic.azure.com:443/workflows/0123abcd/triggers/manual/paths/"
    "invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SIGNATURE-abc123"
)


@pytest.mark.parametrize(
    "url",
    [
        "workflows://prod.westeurope.logic.azure.com/0123abcd/SIGNATURE123/",
        NATIVE,
        "mailtos://user:pass@smtp.example.com/?from=a@example.com&to=b@example.com",
        "mailto://smtp.example.com/?from=a@example.com&mode=ssl",
        "mailto://127.0.0.1:2525/?from=a@example.com&to=b@example.com",
        "mailto://[::1]:25/ops@example.com?from=a@example.com",
        "o365://source@example.com/tenant/client/secret/target@example.com",
        "jsons://hooks.example.com/path",
        "json://localhost:8080/hook",
        "slack://TokenA/TokenB/TokenC/#ops",
    ],
)
def test_accepted_urls(url: str) -> None:
    """TLS URLs, Teams Workflows (both forms), Graph mail and loopback plain text pass."""
    assert [] == url_problems(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mailto://smtp.example.com/?from=a@example.com", "TLS"),
        ("mailtos://smtp.example.com/?from=a@example.com&mode=insecure", "TLS"),
        ("mailto://127.0.0.1/?from=a@example.com&smtp=smtp.example.com", "TLS"),
        ("jsons://hooks.example.com/?verify=no", "verification"),
        ("workflows://host.logic.azure.com/abc/def/?verify=False", "verification"),
        ("msteams://token/token/token", "Workflows"),
        ("https://contoso.webhook.office.com/webhookb2/abc/IncomingWebhook/def/ghi", "Workflows"),
        ("json://hooks.example.com/", "jsons"),
        ("no scheme here", "apprise URL"),
    ],
)
def test_refused_urls(url: str, expected: str) -> None:
    """Plain SMTP or HTTP off loopback, verify=no and retired connectors are refused; the
    problem never quotes the URL."""
    problems = url_problems(url)
    assert problems
    assert expected in problems[0].expected
    for problem in problems:
        assert url not in f"{problem.expected} {problem.found} {problem.hint}"


def test_kinds_and_descriptions_show_no_secret() -> None:
    """The description is scheme://host[:port]; the kind picks the renderer."""
    assert ("teams", "https://prod-12.westeurope.logic.azure.com:443") == (
        inspect_url(NATIVE).kind,
        describe_url(NATIVE),
    )
    assert "teams" == inspect_url("workflows://h.logic.azure.com/a/b").kind
    assert "email" == inspect_url("mailtos://u:p@smtp.example.com").kind
    assert "email" == inspect_url("o365://a@b.c/t/c/s/d@e.f").kind
    assert "other" == inspect_url("slack://a/b/c").kind
    assert "mailtos://smtp.example.com:587" == describe_url(
        "mailtos://user:pw@smtp.example.com:587/?from=x@y.z"
    )


def test_secret_parts() -> None:
    """Signature, password, Graph secret and token-like path parts are secret; hosts and
    addresses are not."""
    assert "SIGNATURE-abc123" in secret_parts(NATIVE)
    assert ["0123abcd", "SIGNATURE123"] == secret_parts(
        "workflows://prod.logic.azure.com/0123abcd/SIGNATURE123/"
    )
    assert ["p@ss/word!"] == secret_parts(
        "mailtos://user:p%40ss%2Fword%21@smtp.example.com/?from=a@example.com"
    )
    assert "client-secret-value" in secret_parts(
        "o365://src@example.com/tenant-id/client-id/client-secret-value/to@example.com"
    )
    assert "xoxb-1234567890-abcdef" in secret_parts("slack://xoxb-1234567890-abcdef/#ops")


def test_loopback_and_tls_helpers() -> None:
    """Loopback is 127/8, ::1 and localhost; e-mail TLS follows the scheme and mode."""
    assert all(map(is_loopback_host, ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback_host, ["10.0.0.1", "example.com", None, ""]))
    assert email_uses_tls("mailtos://h/")
    assert email_uses_tls("mailto://h/?mode=starttls")
    assert not email_uses_tls("mailto://h/")
    assert not email_uses_tls("mailtos://h/?mode=insecure")
