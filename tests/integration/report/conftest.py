"""Fixtures for the report on a real database: the known history of
:mod:`support.report_history`, with and without the feature tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from report_kit import NOW
from support.report_history import SECRETS, add_feature_tables, write_config, write_history

from monitor.config.model import Config


@pytest.fixture(scope="session")
def history_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The history database (foundation tables only, plus whatever migrations exist)."""
    path = tmp_path_factory.mktemp("report") / "monitor.db"
    write_history(path, NOW)
    return path


@pytest.fixture(scope="session")
def feature_db(history_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The history database with posture, incident and usage rows."""
    path = tmp_path_factory.mktemp("report-features") / "monitor.db"
    shutil.copy(history_db, path)
    add_feature_tables(path, NOW)
    return path


@pytest.fixture(scope="session")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """The history's configuration, loaded for real (the posture rules judge against it)."""
    from monitor.config import load_config

    root = tmp_path_factory.mktemp("report-config")
    return load_config(write_config(root, root / "monitor.db", NOW), environ=SECRETS)
