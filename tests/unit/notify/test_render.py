"""What a notice says and how it looks: identity, owner, environment, the problem in plain words,
the deadline, the impact, the remedy, the portal link and the incident id; digests."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from support.notify.alerting import write_deployment
from support.notify.markdown import card_markdown, formatting
from support.notify.receivers import card_text

from monitor.config import Config
from monitor.model.incidents import IncidentRecord
from monitor.notify.notice import Notice, build_notice, channel_failing_notice, deadline_words
from monitor.notify.render import CARD_MAX_BYTES, Rendered, render

NOW = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return write_deployment(tmp_path_factory.mktemp("render")).load()


def expiring(incident_id: int = 42, **fields: object) -> IncidentRecord:
    values: dict[str, object] = {
        "id": incident_id,
        "key": f"credential_expiring:contoso/sales-sync/-:key-{incident_id}",
        "kind": "credential_expiring",
        "level": "warning",
        "tenant": "contoso",
        "identity": "sales-sync",
        "environment": None,
        "subject": "client secret 'prod-2025'",
        "summary": "the client secret expires; no successor registered",
        "remedy": "Add a new client secret, deploy it, then remove the old one.",
        "source": "graph",
        "deadline": NOW + timedelta(days=6),
        "opened_at": NOW - timedelta(days=24),
        "observed_at": NOW,
    }
    values.update(fields)
    return IncidentRecord(**values)  # type: ignore[arg-type]


def test_deadline_words() -> None:
    """Whole days, then hours, then minutes; past deadlines say "ago"."""
    deadline = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
    assert "in 6 days, on 2 Dec 2026 14:00 UTC" == deadline_words(deadline, NOW)
    assert "in 5 hours, on 2 Dec 2026 14:00 UTC" == deadline_words(
        deadline, deadline - timedelta(hours=5, minutes=3)
    )
    assert "in 1 day, on 2 Dec 2026 14:00 UTC" == deadline_words(
        deadline, deadline - timedelta(days=1)
    )
    assert "3 days ago, on 2 Dec 2026 14:00 UTC" == deadline_words(
        deadline, deadline + timedelta(days=3, hours=2)
    )


def test_a_notice_says_who_what_when_impact_remedy_where(config: Config) -> None:
    """The expiring-secret notice carries every part ops need, the id first in the title."""
    notice = build_notice(expiring(), "rung", config, NOW)
    assert "[CM-42] WARNING sales-sync: client secret 'prod-2025' expires in 6 days" == notice.title
    facts = dict(notice.facts)
    assert {
        "Incident": "CM-42",
        "Identity": "sales-sync",
        "Owner": "crm-team@example.com",
        "Tenant": "contoso",
        "Environments": "contoso-prod",
        "Deadline": "expires in 6 days, on 2 Dec 2026 14:00 UTC",
    }.items() <= facts.items()
    assert "no successor registered" in notice.what
    assert "AADSTS7000222" in notice.impact
    assert "Add a new client secret" in notice.remedy
    client_id = config.identities["sales-sync"].client_id
    assert notice.portal_url == (
        "https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/"
        f"~/Credentials/appId/{client_id}"
    )
    assert notice == Notice.from_json(notice.to_json())


def test_every_form_of_a_notice_has_the_content(config: Config) -> None:
    """Card (facts, sections, a button to the portal), e-mail HTML and text all carry it."""
    notice = build_notice(expiring(), "rung", config, NOW)
    rendered = render([notice])
    card = rendered.card["attachments"][0]["content"]
    assert ("AdaptiveCard", "1.4") == (card["type"], card["version"])
    assert "Action.OpenUrl" == card["actions"][0]["type"]
    text = card_text(card)
    for part in (notice.title, "crm-team@example.com", notice.what, notice.impact, notice.remedy):
        assert part in text
        assert part in rendered.text
    assert "<table>" in rendered.html
    assert notice.portal_url in rendered.html
    assert "client secret &#x27;prod-2025&#x27;" in rendered.html  # escaped


def test_markup_in_names_is_escaped_in_html_and_cannot_reach_card_templates(
    config: Config,
) -> None:
    """Text from findings is escaped in HTML and kept as data in the card."""
    incident = expiring(subject="<script>x</script> {{app_body}}")
    rendered = render([build_notice(incident, "opened", config, NOW)])
    assert "<script>" not in rendered.html
    assert "{{app_body}}" in card_text(rendered.card["attachments"][0]["content"])


HOSTILE_NAME = "[Click here](https://evil.example) **URGENT**"


def test_markdown_in_untrusted_names_and_errors_shows_as_text_in_the_card_and_e_mail(
    config: Config,
) -> None:
    """A secret display name from Graph and an error message from a server carrying Markdown
    (a link, bold, italic, a list, code, a tag, a date function) show as plain text in every
    text and fact of the Teams card, and as escaped text in the e-mail; a reader sees the
    characters themselves."""
    summary = (
        "the client secret expires; the server said: _see_ <at>ops</at> `x`\n- item\n"
        "1. step {{DATE(2026-12-01T00:00:00Z, SHORT)}}"
    )
    incident = expiring(subject=f"client secret '{HOSTILE_NAME}'", summary=summary)
    notice = build_notice(incident, "opened", config, NOW)
    rendered = render([notice])
    content = rendered.card["attachments"][0]["content"]

    formatted = {text: formatting(text) for text in card_markdown(content)}
    assert {} == {text: found for text, found in formatted.items() if found}
    assert f"client secret '{HOSTILE_NAME}'" in card_text(content)
    assert "{{DATE(2026-12-01T00:00:00Z, SHORT)}}" in card_text(content)
    assert "evil.example" not in rendered.html.replace(html.escape(HOSTILE_NAME), "")
    assert "<b>URGENT" not in rendered.html
    assert html.escape(HOSTILE_NAME) in rendered.html


def test_a_digest_card_links_only_to_the_portal(config: Config) -> None:
    """In a digest card the only links are the portal rows; a hostile name adds none and
    cannot break out of a row's link."""
    notices = [
        build_notice(expiring(1, subject=f"client secret '{HOSTILE_NAME}'"), "opened", config, NOW),
        build_notice(expiring(2), "opened", config, NOW),
    ]
    content = render(notices).card["attachments"][0]["content"]
    links = [text for text in card_markdown(content) if "link" in formatting(text)]
    assert 2 == len(links)
    assert all(text.count("](") == 1 and "evil" not in text for text in links)


def test_resolved_and_tenant_wide_notices(config: Config) -> None:
    """A resolved notice says so; a tenant-wide one links to service health and names no
    identity."""
    resolved = build_notice(expiring(resolved_at=NOW), "resolved", config, NOW, superseded=True)
    assert resolved.title.startswith("[CM-42] RESOLVED sales-sync")
    assert any("failed and recovered" in line for line in resolved.lines)
    tenant = IncidentRecord(
        id=7,
        key="cannot_verify:contoso/-/-:probe",
        kind="cannot_verify",
        level="warning",
        tenant="contoso",
        identity=None,
        environment=None,
        subject="every identity of tenant contoso",
        summary="could not verify 2 of the 2 identities of tenant contoso since ...",
        remedy="Check the network.",
        source="probe",
        deadline=None,
        opened_at=NOW,
        observed_at=NOW,
        details=MappingProxyType({}),
    )
    notice = build_notice(tenant, "opened", config, NOW)
    assert notice.title.startswith("[CM-7] WARNING tenant contoso: could not verify")
    assert "Identity" not in dict(notice.facts)
    assert "servicehealth" in (notice.portal_url or "")


def test_a_digest_lists_every_incident(config: Config) -> None:
    """Twenty notices render as one message whose title carries the first ids and names whom
    they are about, most severe first, and whose table carries every id; the card stays under
    the Teams size limit even for fifty."""
    notices = [
        build_notice(
            expiring(n, identity=f"app-{n}", level="critical" if n == 13 else "warning"),
            "opened",
            config,
            NOW,
        )
        for n in range(1, 21)
    ]
    rendered = render(notices)
    assert (
        "[CM-13, CM-1, CM-2, CM-3, CM-4, CM-5, +14 more] "
        "1 critical: app-13; 19 warning: app-1, app-2, app-3, +16 more"
    ) == rendered.title
    text = card_text(rendered.card["attachments"][0]["content"])
    assert all(f"CM-{n}" in text and f"CM-{n}" in rendered.html for n in range(1, 21))
    assert len(rendered.labels) == 20
    many = [build_notice(expiring(n), "opened", config, NOW) for n in range(1, 51)]
    assert len(json.dumps(render(many).card)) <= CARD_MAX_BYTES


def test_channel_failing_notice_carries_the_lost_notices(config: Config) -> None:
    """The fallback's message names the channel and the error and includes what was lost."""
    lost = [build_notice(expiring(n), "opened", config, NOW) for n in (3, 4)]
    notice = channel_failing_notice("ops-teams", lost, "HTTP 500", NOW, minutes=60)
    rendered = render([notice])
    assert rendered.title == "[CM-3, CM-4] Channel ops-teams is failing: 2 undelivered"
    assert "HTTP 500" in rendered.text
    assert lost[0].what in rendered.text
    assert ("CM-3", "CM-4") == rendered.labels


@pytest.mark.parametrize(
    ("cloud", "url", "portal"),
    [
        (
            "public",
            "https://contoso.crm.dynamics.com",
            "https://admin.powerplatform.microsoft.com/environments",
        ),
        (
            "public",
            "https://contoso.crm9.dynamics.com",
            "https://gcc.admin.powerplatform.microsoft.us/environments",
        ),
        (
            "usgov",
            "https://contoso.crm.microsoftdynamics.us",
            "https://high.admin.powerplatform.microsoft.us/environments",
        ),
        (
            "usgov-dod",
            "https://contoso.crm.appsplatform.us",
            "https://admin.appsplatform.us/environments",
        ),
    ],
    ids=["public", "gcc", "gcc-high", "dod"],
)
def test_admin_center_links_follow_the_cloud(
    tmp_path: Path, cloud: str, url: str, portal: str
) -> None:
    """Environment problems link the Power Platform admin center of the tenant's cloud (GCC,
    GCC High and DoD have their own hosts); Entra links follow the cloud too."""
    from dataclasses import replace

    from support.notify.alerting import IdentitySpec

    from monitor.notify.notice import portal_link

    base = write_deployment(tmp_path, identities=(IdentitySpec("sales-sync"),)).load()
    tenant = replace(base.tenants["contoso"], cloud=cloud)  # type: ignore[arg-type]
    environment = replace(base.environments["contoso-prod"], url=url)
    config = replace(
        base,
        tenants={**base.tenants, "contoso": tenant},
        environments={**base.environments, "contoso-prod": environment},
    )
    incident = expiring(kind="not_in_environment", environment="contoso-prod")
    entra = {"public": "https://entra.microsoft.com", "usgov": "https://entra.microsoft.us"}

    assert portal == portal_link(incident, config)[0]
    assert portal_link(expiring(), config)[0].startswith(entra.get(cloud, entra["usgov"]))


def test_certificate_expiry_names_the_certificate_answer(config: Config) -> None:
    """An expiring certificate's impact names 700027 ("The key used is expired"), not the
    secrets-only 7000222."""
    notice = build_notice(
        expiring(subject="certificate file (thumbprint AB12…)"), "rung", config, NOW
    )

    assert 'AADSTS700027 "The key used is expired"' in notice.impact
    assert "7000222" not in notice.impact


# --- resolved notices ------------------------------------------------------------------------

OPENED = datetime(2026, 12, 6, 3, 10, tzinfo=UTC)
RESOLVED = datetime(2026, 12, 6, 6, 22, tzinfo=UTC)


def resolved_notice(config: Config, opened: datetime = OPENED, **fields: object) -> Notice:
    incident = expiring(opened_at=opened, resolved_at=RESOLVED, **fields)
    return build_notice(incident, "resolved", config, RESOLVED)


def card_of(rendered: Rendered) -> dict[str, Any]:
    content: dict[str, Any] = rendered.card["attachments"][0]["content"]
    return content


def test_a_resolved_notice_is_green_says_how_long_it_lasted_and_what_was_wrong(
    config: Config,
) -> None:
    """Card title colour "Good", a green HTML heading, RESOLVED in the text; the duration with
    both times; what was wrong, but no remedy and no impact, in any form."""
    notice = resolved_notice(config)
    rendered = render([notice])
    card = card_of(rendered)
    lasted = "Lasted 3 h 12 min: opened 6 Dec 2026 03:10 UTC, resolved 6 Dec 2026 06:22 UTC"

    assert "Good" == card["body"][0]["color"]
    assert '<h2 style="color:#107c10;' in rendered.html
    assert rendered.text.startswith("[CM-42] RESOLVED sales-sync: client secret 'prod-2025'")
    assert "3 h 12 min" == dict(notice.facts)["Lasted"]
    for form in (card_text(card), rendered.text, html.unescape(rendered.html)):
        assert lasted in form
        assert "What was wrong" in form
        assert "no successor registered" in form
        assert "What to do" not in form
        assert "What the integration will experience" not in form
        assert "Add a new client secret" not in form
    assert ("", "") == (notice.impact, notice.remedy)
    assert "Deadline" not in dict(notice.facts)


def test_a_resolved_notice_names_the_deadline_without_a_countdown(config: Config) -> None:
    """Resolved before its deadline, the headline says when it was to expire, not "in N
    days"; resolved after it, when it expired."""
    early = resolved_notice(config, deadline=RESOLVED + timedelta(days=6))
    late = resolved_notice(config, deadline=RESOLVED - timedelta(days=1))
    assert "sales-sync: client secret 'prod-2025' expiring 12 Dec 2026" == early.headline
    assert "sales-sync: client secret 'prod-2025' expired 5 Dec 2026" == late.headline


@pytest.mark.parametrize(
    ("lasted", "words"),
    [
        (timedelta(days=2, hours=4, minutes=30), "2 days 4 h"),
        (timedelta(days=1), "1 day"),
        (timedelta(hours=3), "3 h"),
        (timedelta(minutes=12, seconds=59), "12 min"),
        (timedelta(seconds=20), "under a minute"),
    ],
)
def test_how_long_an_incident_lasted(config: Config, lasted: timedelta, words: str) -> None:
    """Days and hours over a day, hours and minutes under it, rounded down."""
    notice = resolved_notice(config, opened=RESOLVED - lasted)
    assert words == dict(notice.facts)["Lasted"]


def test_resolved_rows_of_a_digest_are_green_and_last(config: Config) -> None:
    """In a digest the resolved rows come after the open ones and are green in the card and
    the e-mail; the card's title takes the worst open level, green only when all resolved."""
    open_one = build_notice(expiring(1, level="critical"), "opened", config, NOW)
    resolved = resolved_notice(config, id=2, identity="erp-connector")
    rendered = render([resolved, open_one])
    card = card_of(rendered)
    rows = [item for item in card["body"] if item.get("type") == "ColumnSet"][1:]
    colours = [row["columns"][1]["items"][0]["color"] for row in rows]

    assert ["Attention", "Good"] == colours
    assert "Attention" == card["body"][0]["color"]
    assert '<td style="padding:4px 8px;color:#107c10">warning</td>' in rendered.html
    both_resolved = render([resolved, resolved_notice(config, id=3)])
    assert "Good" == card_of(both_resolved)["body"][0]["color"]


# --- digest titles and e-mail subjects -----------------------------------------------------


def tenant_wide(incident_id: int, **fields: object) -> IncidentRecord:
    values: dict[str, object] = {
        "kind": "cannot_verify",
        "identity": None,
        "subject": "every identity of tenant contoso",
        "summary": "could not verify 2 of the 2 identities of tenant contoso; network",
        "deadline": None,
    }
    values.update(fields)
    return expiring(incident_id, **values)


def test_a_digest_title_names_the_identities(config: Config) -> None:
    """Ids first, then per level the count and the identities (a tenant-wide incident as
    "tenant X"), resolved ones last."""
    two = render(
        [
            build_notice(expiring(1, level="critical"), "opened", config, NOW),
            build_notice(
                expiring(2, level="critical", identity="erp-connector"), "rung", config, NOW
            ),
        ]
    )
    assert "[CM-1, CM-2] 2 critical: sales-sync, erp-connector" == two.title
    mixed = render(
        [
            resolved_notice(config, id=4, identity="erp-connector"),
            build_notice(tenant_wide(7, resolved_at=NOW), "resolved", config, NOW),
            build_notice(expiring(1, level="critical"), "opened", config, NOW),
        ]
    )
    expected = (
        "[CM-1, CM-4, CM-7] 1 critical: sales-sync; 2 resolved: erp-connector, tenant contoso"
    )
    assert expected == mixed.title
    assert expected in card_text(card_of(mixed))
    assert mixed.text.startswith(expected)


def test_an_e_mail_subject_puts_identity_and_cause_first_under_80_characters(
    config: Config,
) -> None:
    """One notice: "identity: cause [CM-n level]"; a cause too long is shortened with an
    ellipsis, never the identity or the bracket."""
    expired = expiring(
        3, level="critical", subject="client secret 'sales 2025'", deadline=NOW - timedelta(days=3)
    )
    assert "sales-sync: client secret 'sales 2025' expired 3 days ago [CM-3 critical]" == (
        render([build_notice(expired, "expired", config, NOW)]).subject
    )
    long_name = expiring(5, subject="client secret '" + "very long display name " * 5 + "'")
    subject = render([build_notice(long_name, "reminder", config, NOW)]).subject
    assert len(subject) < 80
    assert subject.startswith("sales-sync: client secret 'very long display name")
    assert subject.endswith("… [CM-5 warning reminder]")
    tenant = render([build_notice(tenant_wide(7), "opened", config, NOW)]).subject
    assert tenant.startswith("tenant contoso: could not verify 2 of the 2 identities")
    assert tenant.endswith(" [CM-7 warning]")
    assert len(tenant) < 80
    resolved = render([resolved_notice(config)]).subject
    assert "sales-sync: client secret 'prod-2025' expired 2 Dec 2026 [CM-42 resolved]" == resolved


def test_a_digest_subject_names_the_identities_first_under_80_characters(
    config: Config,
) -> None:
    """A digest's subject starts with whom it is about, then the counts, then the ids; with
    many long names it drops ids, then names, to stay under 80 characters."""
    two = render(
        [
            build_notice(expiring(1, level="critical"), "opened", config, NOW),
            build_notice(
                expiring(2, level="critical", identity="erp-connector"), "rung", config, NOW
            ),
        ]
    )
    assert "sales-sync, erp-connector: 2 critical [CM-1, CM-2]" == two.subject
    many = render(
        [
            build_notice(
                expiring(n, identity=f"integration-with-a-long-name-{n}"), "opened", config, NOW
            )
            for n in range(1, 31)
        ]
    )
    assert len(many.subject) < 80
    assert many.subject.startswith("integration-with-a-long-name-1")
    assert "30 warning" in many.subject
    assert "CM-1" in many.subject
    assert many.title.startswith("[CM-1, CM-2, CM-3, CM-4, CM-5, CM-6, +24 more] 30 warning")


def test_the_e_mail_body_shows_the_portal_address_as_text(config: Config) -> None:
    """The portal link's address is the link's own text in the e-mail HTML, so a plain-text
    rendering of it still carries the address."""
    notice = build_notice(expiring(), "rung", config, NOW)
    html_body = render([notice]).html
    assert notice.portal_url is not None
    address = html.escape(notice.portal_url)
    assert f'<a href="{address}">{address}</a>' in html_body


def test_a_resolved_notice_queued_with_a_remedy_renders_without_it(config: Config) -> None:
    """A resolved notice stored with a remedy and an impact (as an older version queued them)
    still renders without "what to do" and "what the integration will experience"."""
    from dataclasses import replace

    notice = replace(resolved_notice(config), remedy="Rotate it.", impact="It stops.")
    rendered = render([notice])
    for form in (card_text(card_of(rendered)), rendered.text, rendered.html):
        assert "Rotate it." not in form
        assert "It stops." not in form
