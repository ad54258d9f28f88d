"""The exit codes of every ``monitor`` command, in one place.

``monitor check`` and ``monitor posture`` follow the Nagios plugin convention (0 OK,
1 WARNING, 2 CRITICAL, 3 UNKNOWN: :class:`monitor.model.outcomes.Severity`), so any
Nagios-compatible scheduler can run them as they are. Every other command exits 0 on success
and otherwise with one of the codes below; where one fits, it is the BSD ``sysexits.h`` code
that systemd and shell scripts already know (``RestartPreventExitStatus=78`` in the unit stops
a restart loop on a configuration error).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # a failure no command handled (an internal error, reported in one line)
EXIT_DATABASE = 1  # report: the database is missing, empty, locked, unreadable or of another schema
EXIT_USAGE = 2  # bad arguments: an unknown identity, a bad time expression (argparse uses 2 too)
EXIT_UNKNOWN = 3  # Nagios UNKNOWN: the check could not tell
EXIT_DATAERR = 65  # EX_DATAERR: an input file was refused as a whole (a usage report)
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: a service could not be started (the simulator's port)
EXIT_SOFTWARE = 70  # EX_SOFTWARE: the database or the fingerprint key could not be opened
EXIT_CONFIG = 78  # EX_CONFIG: the configuration is invalid
EXIT_INTERRUPTED = 130  # interrupted by Ctrl-C (128 + SIGINT)
