"""The child process of :func:`monitor.store.migrations.migrate_in_subprocess`.

``python -m monitor.store.migrate_child PATH [LOCATION]`` upgrades the database at PATH and
prints "BEFORE AFTER" (``-`` for no revision), or prints the reason on standard error and exits
1. Not imported by the package, so that running it as a module imports it only once.
"""

from __future__ import annotations

import sys
from pathlib import Path

from monitor.store.errors import StoreError
from monitor.store.migrations import migrate


def main(argv: list[str]) -> int:
    try:
        upgrade = migrate(Path(argv[0]), location=Path(argv[1]) if len(argv) > 1 else None)
    except StoreError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(upgrade.before or "-", upgrade.after)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
