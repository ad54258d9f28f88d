"""The reload handshake's files: a request, the daemon's answer, what is left behind."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from monitor import reloads


def test_a_request_is_answered_and_both_files_are_gone(tmp_path: Path) -> None:
    folder = reloads.folder_for(tmp_path / "monitor.db")
    reloads.prepare(folder)
    assert 0o700 == folder.stat().st_mode & 0o777
    request = reloads.ask(folder)
    assert [request] == reloads.pending(folder)

    answered = threading.Timer(
        0.1, reloads.answer, args=([request],), kwargs={"ok": False, "problems": ["a: b"]}
    )
    answered.start()
    verdict = reloads.wait(request, timeout=5)
    answered.join()

    assert reloads.Verdict(ok=False, problems=("a: b",), pid=os.getpid()) == verdict
    assert [] == list(folder.iterdir())


def test_no_answer_withdraws_the_request(tmp_path: Path) -> None:
    folder = tmp_path / "reload"
    reloads.prepare(folder)
    request = reloads.ask(folder)
    assert reloads.wait(request, timeout=0.1) is None
    assert [] == list(folder.iterdir())


def test_without_the_folder_there_is_no_one_to_ask(tmp_path: Path) -> None:
    with pytest.raises(reloads.NoFolder):
        reloads.ask(tmp_path / "reload")
    assert [] == reloads.pending(tmp_path / "reload")


def test_prepare_clears_leftovers_and_pending_ignores_strangers(tmp_path: Path) -> None:
    folder = tmp_path / "reload"
    folder.mkdir(mode=0o755)
    (folder / "0123456789abcdef.request").touch()
    (folder / "0123456789abcdef.answer").write_text("{}")
    reloads.prepare(folder)
    assert 0o700 == folder.stat().st_mode & 0o777
    assert [] == list(folder.iterdir())
    (folder / "not-a-token.request").touch()
    (folder / "notes.txt").touch()
    assert [] == reloads.pending(folder)


@pytest.mark.parametrize("text", ["", "[]", '{"problems": 3}', '{"ok": "yes"}', "\x00"])
def test_an_unreadable_answer_counts_as_refused(tmp_path: Path, text: str) -> None:
    folder = tmp_path / "reload"
    reloads.prepare(folder)
    request = reloads.ask(folder)
    request.with_suffix(reloads.ANSWER).write_text(text)
    verdict = reloads.wait(request, timeout=1)
    assert verdict is not None
    assert not verdict.ok
    assert verdict.problems


def test_a_link_in_place_of_the_folder_is_refused(tmp_path: Path) -> None:
    """A member of the database's group may create files beside it: a link named like the
    reload folder is not followed."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "0123456789abcdef.request").touch()
    (tmp_path / "reload").symlink_to(elsewhere)
    with pytest.raises(OSError, match="not a folder of the service's own"):
        reloads.prepare(tmp_path / "reload")
    assert ["0123456789abcdef.request"] == [p.name for p in elsewhere.iterdir()]
