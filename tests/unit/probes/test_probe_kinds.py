"""The probe registry: one kind per credential type, each with its module and its tests."""

from __future__ import annotations

import importlib
import typing
from pathlib import Path

import pytest

from monitor.config.model import IdentityConfig
from monitor.probes.registry import PROBE_KINDS

HERE = Path(__file__).parent


@pytest.mark.parametrize("kind", sorted(PROBE_KINDS))
def test_kind_module_class_and_tests_share_one_word(kind: str) -> None:
    """``PROBE_KINDS[kind]`` lives in ``monitor/probes/{kind}.py`` and is tested in
    ``tests/unit/probes/test_{kind}.py``; its ``credential_type`` is the registry key."""
    probe = PROBE_KINDS[kind]
    assert probe.credential_type == kind
    assert probe.__module__ == f"monitor.probes.{kind}"
    assert getattr(importlib.import_module(probe.__module__), probe.__name__) is probe
    assert (HERE / f"test_{kind}.py").is_file()


def test_registry_covers_every_credential_type() -> None:
    """The probe kinds are exactly the values ``IdentityConfig.credential_type`` can take: every
    credential the configuration accepts can be probed, and no kind is left without one."""
    hints = typing.get_type_hints(IdentityConfig.credential_type.fget)
    credential_types = set(typing.get_args(hints["return"]))

    assert credential_types
    assert credential_types == set(PROBE_KINDS)
