"""How wide a terminal table may be: the terminal's width, ``COLUMNS`` when set, else 100."""

from __future__ import annotations

import os
import sys
from typing import TextIO

DEFAULT_WIDTH = 100  # without a terminal (a pipe, a file, a Nagios check) and no COLUMNS


def terminal_width(stream: TextIO | None = None, *, default: int = DEFAULT_WIDTH) -> int:
    """Return the width to render for: ``$COLUMNS`` when it is a positive number (as
    :func:`shutil.get_terminal_size` honours it), else the width of the terminal *stream*
    (default standard output) is on, else *default*."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = stream if stream is not None else sys.stdout
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns or default
    except (AttributeError, OSError, ValueError):
        pass
    return default
