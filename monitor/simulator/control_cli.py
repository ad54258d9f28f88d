"""``monitor simulator control ACTION ...``: change a running simulator from a shell.

It reads the control URL and token from ``control.json`` in the simulator's state directory,
trusts the simulator's own CA (``ca.pem`` there), sends one action and prints one line per
change. The actions are :data:`monitor.simulator.control.ACTIONS`; docs/simulator.md ("Control
interface") describes them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from monitor.exits import EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE
from monitor.simulator.control import (
    ACTIONS,
    CONTROL_FILE,
    CONTROL_PATH,
    FAULT_FAMILIES,
    OUTAGE_MODES,
)

CONTROL_DESCRIPTION = (
    "Change a running `monitor simulator` while the monitor watches it: expire or revoke a "
    "secret, expire a certificate, disable a user or an app, change a password, remove a "
    "licence or a security role, throttle (429) or take down (503) an endpoint, and clear the "
    "faults again. The simulator is found through control.json in its state directory (the "
    "same --state-dir it was started with); only a user who can read that file can change it. "
    "Each change is printed on one line."
)
TIMEOUT_SECONDS = 10.0


def add_control_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--state-dir`` and one subcommand per action to the ``control`` parser."""
    parser.add_argument(
        "--state-dir",
        dest="control_state_dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="the simulator's state directory (default: as for `monitor simulator`)",
    )
    actions = parser.add_subparsers(dest="control_action", metavar="ACTION")
    actions.required = True

    def action(name: str) -> argparse.ArgumentParser:
        help_text = ACTIONS[name].help
        return actions.add_parser(
            name, help=help_text, description=help_text[:1].upper() + help_text[1:] + "."
        )

    action("show")
    for name in ("expire-secret", "revoke-secret"):
        sub = action(name)
        sub.add_argument("client_id", metavar="CLIENT_ID", help="the application's client id")
        sub.add_argument(
            "--name", help="only the secret with this description (default: every secret)"
        )
        if name == "expire-secret":
            _add_in(sub)
    sub = action("expire-certificate")
    sub.add_argument("client_id", metavar="CLIENT_ID", help="the application's client id")
    sub.add_argument(
        "--thumbprint", help="SHA-1 or SHA-256 hex thumbprint (default: every certificate)"
    )
    _add_in(sub)
    for name in ("disable-app", "enable-app"):
        action(name).add_argument("client_id", metavar="CLIENT_ID", help="the application")
    for name in ("disable-user", "enable-user"):
        action(name).add_argument("upn", metavar="UPN", help="the user's principal name")
    sub = action("change-password")
    sub.add_argument("upn", metavar="UPN", help="the user's principal name")
    sub.add_argument(
        "--password",
        help="the new password (default: a random one, not shown: the monitor's is now wrong)",
    )
    sub = action("remove-licence")
    sub.add_argument("upn", metavar="UPN", help="the user's principal name")
    sub.add_argument("--sku", help="only this SKU part number (default: every licence)")
    sub = action("remove-role")
    sub.add_argument("environment", metavar="ENVIRONMENT", help="the environment's name")
    sub.add_argument("identity", metavar="IDENTITY", help="the member: a client id or a UPN")
    sub.add_argument(
        "--role", help="only this role (default: every role, and its team memberships)"
    )
    for name in ("throttle", "outage"):
        sub = action(name)
        sub.add_argument(
            "--family",
            choices=FAULT_FAMILIES,
            default="*",
            help="which endpoint (default: * = all): token = sign-in, whoami = Dataverse "
            "WhoAmI, dataverse = Dataverse metadata, graph = Microsoft Graph",
        )
        sub.add_argument("--client-id", help="only requests of this application")
        sub.add_argument("--user", dest="username", help="only requests for this user (UPN)")
        sub.add_argument("--environment", help="only requests for this environment")
        sub.add_argument(
            "--count", type=int, help="only the next N matching requests (default: until cleared)"
        )
        sub.add_argument(
            "--retry-after",
            type=int,
            default=60 if name == "throttle" else 0,
            metavar="SECONDS",
            help="the Retry-After header (throttle: default 60; outage: only with http_503)",
        )
        if name == "outage":
            sub.add_argument(
                "--mode",
                choices=OUTAGE_MODES,
                default="http_503",
                help="how it fails (default: http_503)",
            )
    action("clear-faults")
    for sub in actions.choices.values():
        own = tuple(a.dest for a in sub._actions if a.dest != "help")
        sub.set_defaults(control_params=own)


def _add_in(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--in",
        dest="expires_in",
        metavar="OFFSET",
        help='expire in this long ("5d", "12h", "30m") instead of now: a warning, not a failure',
    )


def params_of(args: argparse.Namespace) -> dict[str, Any]:
    """Return the action's parameters from the parsed arguments (those left unset omitted)."""
    renamed = {"expires_in": "in"}
    return {
        renamed.get(key, key): getattr(args, key)
        for key in args.control_params
        if getattr(args, key, None) is not None
    }


def send(state_dir: Path, action: str, params: dict[str, Any]) -> tuple[int, list[str]]:
    """Send one action to the simulator whose state directory is ``state_dir``.

    Return (exit code, lines): 0 and the changes; 2 and the error for an unknown identity or a
    bad parameter; 69 and the reason when no simulator can be reached.
    """
    import requests

    control_file = state_dir / CONTROL_FILE
    try:
        found = json.loads(control_file.read_text())
        url, token = str(found["url"]), str(found["token"])
    except FileNotFoundError:
        return EXIT_UNAVAILABLE, [
            f"no running simulator uses {state_dir} ({CONTROL_FILE} is missing): start it with "
            f"`monitor simulator --state-dir {state_dir}` or pass the --state-dir it uses"
        ]
    except (OSError, ValueError, KeyError, TypeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not the simulator's JSON"
        return EXIT_UNAVAILABLE, [f"cannot read {control_file}: {reason}"]
    with requests.Session() as http:
        http.trust_env = False  # loopback: no proxy; the simulator's CA, nothing else
        try:
            answer = http.post(
                url + CONTROL_PATH,
                json={"action": action, "params": params},
                headers={"Authorization": f"Bearer {token}"},
                verify=str(state_dir / "ca.pem"),
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as error:
            return EXIT_UNAVAILABLE, [
                f"the simulator at {url} does not answer ({type(error).__name__}); "
                "is it still running?"
            ]
    try:
        document = answer.json()
    except ValueError:
        document = {}
    if answer.status_code == 200 and isinstance(document.get("changed"), list):
        return EXIT_OK, [str(line) for line in document["changed"]]
    error_text = document.get("error") if isinstance(document, dict) else None
    message = str(error_text or f"the simulator answered HTTP {answer.status_code}")
    code = EXIT_UNAVAILABLE if answer.status_code == 401 else EXIT_USAGE
    return code, [message]


def run_control(args: argparse.Namespace, state_dir: Path) -> int:
    """Run ``monitor simulator control``: print the changes, or one error line and exit non-0."""
    action = args.control_action
    code, lines = send(state_dir, action, params_of(args))
    stream = sys.stdout if code == EXIT_OK else sys.stderr
    prefix = "" if code == EXIT_OK else f"monitor simulator control {action}: "
    for line in lines:
        print(prefix + line, file=stream)
    return code
