"""One deadline, one number: the secret ending in 4 days 17 hours reads "4 days" in the notice,
in what `monitor check` / `monitor posture` print, on the report's board and expiring view, and
in its CSV and JSON (whole days rounded down everywhere)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from report_kit import NOW, build, context
from support.report_history import POSTURE, POSTURE_MISSING

from monitor.config.model import Config
from monitor.model.incidents import IncidentRecord
from monitor.notify.notice import build_notice
from monitor.notify.render import render
from monitor.output.posture import nearest_text, posture_to_dict, render_posture_text
from monitor.pipeline.posture import posture_from_store
from monitor.report.render import machine
from monitor.report.views import board, expiring
from monitor.store import Store

# sales-sync's client secret 'prod-2025' ends at NOW + 5 days; read 7 hours later it has
# 4 days 17 hours left.
ENDS = NOW + timedelta(days=5)
LATER = NOW + timedelta(hours=7)


@pytest.mark.skipif(not POSTURE, reason=POSTURE_MISSING)
def test_the_same_deadline_shows_the_same_days_everywhere(
    feature_db: Path, tmp_path: Path, config: Config
) -> None:
    """Notice title and deadline fact, the check's posture text and JSON, the board's deadline,
    the expiring view's words, and the CSV's days_left all say 4."""
    path = tmp_path / "monitor.db"
    shutil.copy(feature_db, path)

    with Store.open(path) as store:
        posture = posture_from_store(store, config, LATER)
    check_text = render_posture_text(posture, config, LATER)
    nearest = posture.identities["sales-sync"].nearest
    assert nearest is not None
    assert ENDS == nearest.at
    assert nearest_text(posture.identities["sales-sync"], LATER).startswith(
        "2026-03-20 (in 4 days) [graph]"
    )
    assert "expires on 2026-03-20 (in 4 days)" in check_text
    check_json = posture_to_dict(posture, config, LATER)["identities"]["sales-sync"]
    assert 4 == check_json["nearest_deadline"]["days_left"]

    incident = IncidentRecord(
        id=5,
        key="credential_expiring:contoso/sales-sync/-:k",
        kind="credential_expiring",
        level="critical",
        tenant="contoso",
        identity="sales-sync",
        environment=None,
        subject="client secret 'prod-2025'",
        summary="the client secret expires",
        remedy="Add a new client secret.",
        source="graph",
        deadline=ENDS,
        opened_at=NOW,
        observed_at=LATER,
    )
    notice = build_notice(incident, "rung", config, LATER)
    assert notice.title.endswith("client secret 'prod-2025' expires in 4 days")
    assert "expires in 4 days, on 20 Mar 2026 12:00 UTC" == dict(notice.facts)["Deadline"]
    assert "expires in 4 days" in render([notice]).subject

    calendar = build(expiring, path, context(now=LATER, config=config))
    [row] = [row for row in calendar.table("expiring").rows if row["identity"] == "sales-sync"]
    assert ("in 4d", 4) == (row["when"], row["days_left"])
    [parsed] = [
        row
        for row in csv.DictReader(io.StringIO(machine.to_csv(calendar, zone=UTC)))
        if row["identity"] == "sales-sync"
    ]
    assert "4" == parsed["days_left"]
    document = json.loads(machine.to_json(calendar, zone=UTC))
    assert [4] == [r["days_left"] for r in document["expiring"] if r["identity"] == "sales-sync"]

    status = build(board, path, context(now=LATER, config=config))
    [line] = [row for row in status.table("identities").rows if row["identity"] == "sales-sync"]
    assert "secret 4d" == line["deadline"]
