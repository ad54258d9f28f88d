"""The schema revisions the report reads from the migration scripts, without Alembic."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.report.database import known_revisions
from monitor.report.errors import ReportError

SCRIPT = '''"""A revision."""
revision: str = "{revision}"
down_revision: str | None = {down}
'''


def _write(folder: Path, name: str, revision: str, down: str | None) -> None:
    down_text = "None" if down is None else f'"{down}"'
    (folder / f"{name}.py").write_text(SCRIPT.format(revision=revision, down=down_text))


def test_chain_in_order_whatever_the_file_names(tmp_path: Path) -> None:
    """The chain follows down_revision, not file names."""
    _write(tmp_path, "a_third", "0003_posture", "0002_alerting")
    _write(tmp_path, "b_first", "0001", None)
    _write(tmp_path, "c_second", "0002_alerting", "0001")
    assert ("0001", "0002_alerting", "0003_posture") == known_revisions.__wrapped__(tmp_path)


def test_branches_are_refused(tmp_path: Path) -> None:
    """Two revisions on the same parent (a merge gone wrong) is an error, not a guess."""
    _write(tmp_path, "a", "0001", None)
    _write(tmp_path, "b", "0002_alerting", "0001")
    _write(tmp_path, "c", "0003_posture", "0001")
    with pytest.raises(ReportError, match="branch"):
        known_revisions.__wrapped__(tmp_path)
