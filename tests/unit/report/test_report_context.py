"""Filters: tags resolved through the configuration, unknown names refused in one line."""

from __future__ import annotations

import pytest

from monitor.exits import EXIT_USAGE
from monitor.report.context import IdentityMeta, Selection, build_selection, check_known
from monitor.report.errors import ReportError

CONFIGURED = {
    "a": IdentityMeta("a", "application", "t1", "client_secret", ("e1",), ("sales", "tier-1")),
    "b": IdentityMeta("b", "user", "t2", "password", ("e2",), ("finance",)),
    "c": IdentityMeta("c", "application", "t2", "certificate", ("e2",)),
}


def test_tags_resolve_to_identities() -> None:
    """--tag keeps the identities carrying any of the tags."""
    selection = build_selection(
        identities=None,
        tenants=None,
        environments=None,
        tags=["sales", "finance"],
        configured=CONFIGURED,
        has_config=True,
    )
    assert frozenset({"a", "b"}) == selection.tagged
    assert selection.wants("a", "t1", "e1")
    assert not selection.wants("c", "t2", "e2")


def test_unknown_tag_and_tag_without_configuration() -> None:
    """An unknown tag, or a tag without a configuration, is a usage error in one line."""
    with pytest.raises(ReportError, match="unknown tag 'nope'") as raised:
        build_selection(
            identities=None,
            tenants=None,
            environments=None,
            tags=["nope"],
            configured=CONFIGURED,
            has_config=True,
        )
    assert EXIT_USAGE == raised.value.exit_code
    with pytest.raises(ReportError, match="--tag needs the configuration"):
        build_selection(
            identities=None,
            tenants=None,
            environments=None,
            tags=["sales"],
            configured={},
            has_config=False,
        )


def test_selection_combines_filters() -> None:
    """Identity, tenant and environment filters all have to pass; None means any."""
    selection = Selection(
        identities=frozenset({"a", "b"}),
        tenants=frozenset({"t2"}),
        environments=frozenset({"e2"}),
    )
    assert selection.wants("b", "t2", "e2")
    assert not selection.wants("a", "t1", "e1")
    assert not selection.wants("b", "t2", "e1")
    assert selection.wants("b", "t2", None)  # a row not per environment
    assert not selection.wants_identity("b", None)  # tenant unknown: not provably in t2
    assert Selection().wants("anything", None, "anywhere")


def test_unknown_names_are_refused() -> None:
    """A name neither the database nor the configuration knows is an error listing the known."""
    selection = Selection(identities=frozenset({"ghost"}))
    with pytest.raises(ReportError, match=r"unknown identity 'ghost'.*known: a, b, c"):
        check_known(selection, identities=["a", "b", "c"], tenants=[], environments=[])
    check_known(
        Selection(environments=frozenset({"e1"})),
        identities=["a"],
        tenants=["t1"],
        environments=["e1"],
    )
    with pytest.raises(ReportError, match="unknown environment 'e9'"):
        check_known(
            Selection(environments=frozenset({"e9"})),
            identities=["a"],
            tenants=["t1"],
            environments=["e1"],
        )
