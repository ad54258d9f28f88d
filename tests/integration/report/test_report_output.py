"""`monitor report --html PATH` on hostile paths: a symbolic link planted at a predictable
temporary name, FIFOs, device nodes, directories; and the mode of the file it creates."""

from __future__ import annotations

import os
import select
import stat
import threading
from pathlib import Path

import pytest

from monitor.cli import main

# /dev/null and /dev/loop0's device numbers; the nodes are made in the test's own directory.
NULL_DEVICE = os.makedev(1, 3)
BLOCK_DEVICE = os.makedev(7, 0)


def report(database: Path, target: Path, *extra: str) -> int:
    return main(["report", "--database", str(database), "--html", str(target), *extra])


def make_node(path: Path, kind: int, device: int) -> None:
    try:
        os.mknod(path, kind | 0o600, device)
    except PermissionError:
        pytest.skip("creating device nodes needs CAP_MKNOD")


def test_a_symbolic_link_planted_at_a_temporary_name_is_not_followed(
    feature_db: Path, tmp_path: Path
) -> None:
    """A link to another file planted where a predictable temporary name would be (the old
    `.NAME.PID.tmp`) is left alone and the file it points to untouched; the report is written
    and is a regular file of mode 0600."""
    victim = tmp_path / "victim"
    victim.write_text("precious")
    target = tmp_path / "board.html"
    planted = tmp_path / f".board.html.{os.getpid()}.tmp"
    planted.symlink_to(victim)

    assert 0 == report(feature_db, target)

    assert "precious" == victim.read_text()
    assert planted.is_symlink()
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert 0o600 == stat.S_IMODE(target.lstat().st_mode)
    assert [target.name] == [p.name for p in tmp_path.iterdir() if p.name.endswith(".html")]


def test_a_fifo_with_a_reader_gets_the_report_and_stays_a_fifo(
    feature_db: Path, tmp_path: Path
) -> None:
    """A FIFO is written to, as a shell redirection would, and is not replaced by a file."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # Opened for reading before the report runs (non-blocking: no writer yet), then read until
    # the writer closes it.
    reader_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    received = bytearray()

    def read() -> None:
        while True:
            select.select([reader_fd], [], [], 10)
            try:
                chunk = os.read(reader_fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    code = report(feature_db, fifo)
    reader.join(10)
    os.close(reader_fd)

    assert 0 == code
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert received.startswith(b"<!DOCTYPE html>")
    assert received.rstrip().endswith(b"</html>")


def test_a_fifo_nobody_reads_is_refused_at_once(
    feature_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a reader the command does not wait: one line, exit 2, the FIFO stays."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    code = report(feature_db, fifo)

    assert 2 == code
    assert [f"monitor report: cannot write {fifo}: no process is reading the FIFO"] == (
        capsys.readouterr().err.splitlines()
    )
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_character_device_is_written_to_not_replaced(feature_db: Path, tmp_path: Path) -> None:
    """A character device (here a copy of /dev/null) receives the page and stays a device."""
    device = tmp_path / "null"
    make_node(device, stat.S_IFCHR, NULL_DEVICE)

    assert 0 == report(feature_db, device)

    assert stat.S_ISCHR(device.lstat().st_mode)


@pytest.mark.parametrize("kind", ["directory", "block device"])
def test_other_special_targets_are_refused_in_one_line(
    feature_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """A directory or a block device is refused (exit 2) and left as it was."""
    target = tmp_path / "target"
    if kind == "directory":
        target.mkdir()
    else:
        make_node(target, stat.S_IFBLK, BLOCK_DEVICE)
    before = target.lstat()

    code = report(feature_db, target)

    after = target.lstat()
    assert 2 == code
    assert [f"monitor report: refusing to write {target}: it is a {kind}, not a regular file"] == (
        capsys.readouterr().err.splitlines()
    )
    assert (before.st_mode, before.st_ino) == (after.st_mode, after.st_ino)


def test_the_report_file_mode_is_0600_or_as_given(
    feature_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """0600 by default whatever the umask, `--mode 0640` when asked; a replaced file takes the
    mode too; a bad mode is an argument error (exit 2)."""
    private = tmp_path / "private.html"
    shared = tmp_path / "shared.html"
    shared.write_text("old")
    shared.chmod(0o666)
    previous = os.umask(0o000)
    try:
        assert 0 == report(feature_db, private)
        assert 0 == report(feature_db, shared, "--mode", "0640")
    finally:
        os.umask(previous)
    with pytest.raises(SystemExit) as exited:
        report(feature_db, private, "--mode", "4755")

    assert 0o600 == stat.S_IMODE(private.stat().st_mode)
    assert 0o640 == stat.S_IMODE(shared.stat().st_mode)
    assert 2 == exited.value.code
    assert "only permission bits" in capsys.readouterr().err
