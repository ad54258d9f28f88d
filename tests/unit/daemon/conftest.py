"""The daemon quiets some third-party loggers for the whole process; tests put them back."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from monitor.daemon.service import _QUIET_LOGGERS


@pytest.fixture(autouse=True)
def _restore_logger_levels() -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
