"""The operator's control interface of a running simulator: change the world while it serves.

A started :class:`~monitor.simulator.server.Simulator` accepts ``POST /_simulator/control`` on
its loopback port, from clients that present the control token it generated at start
(``Authorization: Bearer TOKEN``). It writes the URL and the token to ``control.json`` in its
state directory (mode 0600, removed on stop), where ``monitor simulator control`` reads them:
only a user who can read the state directory can change the simulator.

A request is ``{"action": NAME, "params": {...}}``; the answer is ``{"changed": [lines]}`` (200)
or ``{"error": "one line"}`` (400 bad parameters, 401 no or wrong token, 404 an unknown action,
identity, environment, role or SKU). The actions and their parameters are :data:`ACTIONS`;
docs/simulator.md ("Control interface") describes them for operators.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.simulator.server import Simulator

CONTROL_PATH = "/_simulator/control"
CONTROL_FILE = "control.json"
OUTAGE_MODES = ("http_503", "http_500", "http_502", "drop", "hang")
FAULT_FAMILIES = ("*", "discovery", "token", "userrealm", "whoami", "graph", "dataverse")
_OFFSET = re.compile(r"^\+?(\d{1,6})([dhm])$")
_OFFSET_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class ControlError(Exception):
    """A control request that cannot be carried out; ``status`` is its HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Action:
    """One control action: what it does (for ``--help``) and how the simulator applies it."""

    name: str
    help: str
    apply: Callable[[Simulator, dict[str, Any]], list[str]]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_matches(header: str, token: str) -> bool:
    """Return whether an ``Authorization`` header value carries ``token`` (constant time)."""
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


def write_control_file(state_dir: Path, url: str, token: str) -> Path:
    """Write ``control.json`` (URL, token, process id) readable by its owner only."""
    path = state_dir / CONTROL_FILE
    temporary = path.with_name(f".{CONTROL_FILE}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump({"url": url, "token": token, "pid": os.getpid()}, file)
    os.replace(temporary, path)
    return path


def remove_control_file(path: Path, token: str) -> None:
    """Remove ``control.json`` if it is still ours (another simulator may have replaced it)."""
    try:
        if json.loads(path.read_text()).get("token") == token:
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def perform(simulator: Simulator, action: str, params: object) -> list[str]:
    """Apply ``action`` with ``params`` to ``simulator``; return one line per change.

    Raise :class:`ControlError` for an unknown action, bad parameters or an unknown identity.
    """
    found = ACTIONS.get(action)
    if found is None:
        raise ControlError(f"unknown action {action[:60]!r} (known: {', '.join(ACTIONS)})", 404)
    if not isinstance(params, dict):
        raise ControlError("params must be a JSON object")
    try:
        return found.apply(simulator, params)
    except KeyError as error:
        message = error.args[0] if error.args else str(error)
        raise ControlError(str(message), 404) from None
    except (TypeError, ValueError) as error:
        raise ControlError(str(error)) from None


# -- parameters ---------------------------------------------------------------------------------


def _text(params: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        if required:
            raise ValueError(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _int(params: dict[str, Any], key: str, default: int | None) -> int | None:
    value = params.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a whole number >= 0")
    return value


def _when(params: dict[str, Any], now: dt.datetime) -> dt.datetime:
    """Return the new end: ``params["in"]`` ("5d", "12h", "30m") from now, or one minute ago."""
    offset = _text(params, "in", required=False)
    if offset is None:
        return now - dt.timedelta(minutes=1)
    match = _OFFSET.match(offset.strip())
    if match is None:
        raise ValueError(f'in: expected an offset like "5d", "12h" or "30m", not {offset[:20]!r}')
    amount, unit = match.groups()
    return now + dt.timedelta(**{_OFFSET_UNITS[unit]: int(amount)})


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- actions ------------------------------------------------------------------------------------


def _show(simulator: Simulator, params: dict[str, Any]) -> list[str]:
    now = _now()
    scenario = simulator.scenario
    lines: list[str] = []
    with scenario.lock:
        for app in scenario.applications.values():
            state = "enabled" if app.enabled else "DISABLED"
            lines.append(f"application {app.client_id} ({app.display_name}): {state}")
            for secret in app.secrets:
                end = "never expires" if secret.end is None else f"ends {_stamp(secret.end)}"
                expired = " (EXPIRED)" if secret.is_expired(now) else ""
                label = secret.display_name or f"{secret.hint}…"
                lines.append(f"  secret {label!r}: {end}{expired}")
            for certificate in app.certificates:
                expired = " (EXPIRED)" if certificate.is_expired(now) else ""
                lines.append(
                    f"  certificate {certificate.thumbprint}: ends "
                    f"{_stamp(certificate.effective_end)}{expired}"
                )
        for user in scenario.users.values():
            flags = [
                name
                for name, on in (
                    ("DISABLED", not user.enabled),
                    ("LOCKED", user.locked),
                    ("PASSWORD EXPIRED", user.password_expired),
                    ("MFA REQUIRED", user.mfa_required),
                )
                if on
            ]
            licences = ", ".join(user.licences) or "none"
            lines.append(f"user {user.upn}: {', '.join(flags) or 'enabled'}; licences: {licences}")
        for environment in scenario.environments.values():
            lines.append(f"environment {environment.name} (tenant {environment.tenant})")
            for member in environment.members.values():
                who = member.app or member.user
                roles = ", ".join(member.roles) or "no role"
                teams = f"; teams: {', '.join(member.teams)}" if member.teams else ""
                disabled = " DISABLED" if member.disabled else ""
                lines.append(f"  member {who}:{disabled} roles: {roles}{teams}")
        for fault in scenario.faults:
            remaining = "every request" if fault.count is None else f"next {fault.count}"
            lines.append(f"fault {fault.mode} on {fault.family} ({remaining})")
    return lines


def _secrets_of(simulator: Simulator, params: dict[str, Any]) -> tuple[str, list[Any], str]:
    """Return (client id, the chosen secrets, the application's display name); hold the lock."""
    client_id = _text(params, "client_id") or ""
    name = _text(params, "name", required=False)
    application = simulator.scenario.application(client_id)
    chosen = [s for s in application.secrets if name is None or s.display_name == name]
    if not chosen:
        which = f"named {name!r}" if name is not None else "at all"
        raise KeyError(f"application {client_id} has no secret {which}")
    return application.client_id, chosen, application.display_name


def _expire_secret(simulator: Simulator, params: dict[str, Any]) -> list[str]:
    end = _when(params, _now())
    with simulator.scenario.lock:
        client_id, chosen, display = _secrets_of(simulator, params)
        for secret in chosen:
            secret.end = end
    verb = "expired" if end <= _now() else "now expiring"
    return [
        f"{verb}: secret {secret.display_name or secret.hint + '…'!r} of application {client_id} "
        f"({display}) ends {_stamp(end)}"
        for secret in chosen
    ]


def _revoke_secret(simulator: Simulator, params: dict[str, Any]) -> list[str]:
    with simulator.scenario.lock:
        client_id, chosen, display = _secrets_of(simulator, params)
        application = simulator.scenario.application(client_id)
        application.secrets[:] = [s for s in application.secrets if s not in chosen]
    return [
        f"revoked: secret {secret.display_name or secret.hint + '…'!r} of application "
        f"{client_id} ({display}) deleted"
        for secret in chosen
    ]


def _expire_certificate(simulator: Simulator, params: dict[str, Any]) -> list[str]:
    client_id = _text(params, "client_id") or ""
    thumbprint = (_text(params, "thumbprint", required=False) or "").replace(":", "").lower()
    end = _when(params, _now())
    with simulator.scenario.lock:
        application = simulator.scenario.application(client_id)
        chosen = [
            c
            for c in application.certificates
            if not thumbprint or thumbprint in (c.sha1_thumbprint.hex(), c.sha256_thumbprint.hex())
        ]
        if not chosen:
            which = f"with thumbprint {thumbprint}" if thumbprint else "at all"
            raise KeyError(f"application {client_id} has no certificate {which}")
        for certificate in chosen:
            certificate.end = end
    verb = "expired" if end <= _now() else "now expiring"
    return [
        f"{verb}: certificate {c.thumbprint} of application {application.client_id} "
        f"({application.display_name}) ends {_stamp(end)}"
        for c in chosen
    ]


def _set_app(enabled: bool) -> Callable[[Simulator, dict[str, Any]], list[str]]:
    def apply(simulator: Simulator, params: dict[str, Any]) -> list[str]:
        client_id = _text(params, "client_id") or ""
        simulator.set_application(client_id, enabled=enabled)
        with simulator.scenario.lock:
            application = simulator.scenario.application(client_id)
        state = "enabled" if enabled else "disabled"
        return [
            f"{state}: service principal of application {application.client_id} "
            f"({application.display_name})"
        ]

    return apply


def _set_user(enabled: bool) -> Callable[[Simulator, dict[str, Any]], list[str]]:
    def apply(simulator: Simulator, params: dict[str, Any]) -> list[str]:
        upn = _text(params, "upn") or ""
        simulator.set_user(upn, enabled=enabled)
        return [f"{'enabled' if enabled else 'disabled'}: user {upn.lower()}"]

    return apply


def _change_password(simulator: Simulator, params: dict[str, Any]) -> list[str]:
    upn = _text(params, "upn") or ""
    password = _text(params, "password", required=False) or secrets.token_urlsafe(18)
    simulator.set_user(upn, password=password)
    return [
        f"password changed: user {upn.lower()} (the monitor's stored password is now wrong; "
        "it tries it once and then holds it)"
    ]


def _remove_licence(simulator: Simulator, params: dict[str, Any]) -> list[str]:
    upn = _text(params, "upn") or ""
    sku = _text(params, "sku", required=False)
    with simulator.scenario.lock:
        user = simulator.scenario.user(upn)
        held = list(user.licences)
    if sku is not None and sku not in held:
        raise KeyError(
            f"user {user.upn} holds no licence {sku} (holds: {', '.join(held) or 'none'})"
        )
    if not held:
        raise KeyError(f"user {user.upn} holds no licence")
    removed = [sku] if sku is not None else held
    simulator.set_user(upn, licences=[name for name in held if name not in removed])
    return [f"licence removed: {name} from user {user.upn}" for name in removed]


def _member_of(simulator: Simulator, params: dict[str, Any]) -> tuple[str, dict[str, str]]:
    environment = _text(params, "environment") or ""
    identity = _text(params, "identity") or ""
    who = {"upn": identity} if "@" in identity else {"client_id": identity}
    return environment, who


def _remove_role(simulator: Simulator, params: dict[str, Any]) -> list[str]:
    environment, who = _member_of(simulator, params)
    role = _text(params, "role", required=False)
    identity = next(iter(who.values()))
    with simulator.scenario.lock:
        found = simulator.scenario.environment(environment)
        member = found.member_for_app(identity) if "client_id" in who else None
        if "upn" in who:
            member = found.member_for_user(identity)
        if member is None:
            raise KeyError(f"{identity} is no member of environment {environment}")
        roles, teams = list(member.roles), list(member.teams)
    if role is None:
        simulator.set_member(environment, **who, roles=[], teams=[])  # type: ignore[arg-type]
        through = f" and its teams ({', '.join(teams)})" if teams else ""
        return [
            f"roles removed: {', '.join(roles) or 'none'}{through} from {identity} in "
            f"{environment} (it now holds no security role)"
        ]
    kept = [name for name in roles if name.lower() != role.lower()]
    if len(kept) == len(roles):
        raise KeyError(
            f"{identity} holds no role {role!r} directly in {environment} "
            f"(holds: {', '.join(roles) or 'none'})"
        )
    simulator.set_member(environment, **who, roles=kept)  # type: ignore[arg-type]
    return [f"role removed: {role} from {identity} in {environment}"]


def _fault_filters(params: dict[str, Any]) -> dict[str, Any]:
    family = _text(params, "family", required=False) or "*"
    if family not in FAULT_FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAULT_FAMILIES)}, not {family[:30]!r}")
    filters: dict[str, Any] = {"family": family, "count": _int(params, "count", None)}
    for key in ("client_id", "username", "environment"):
        value = _text(params, key, required=False)
        if value is not None:
            filters[key] = value.lower() if key != "environment" else value
    return filters


def _describe_fault(filters: dict[str, Any]) -> str:
    family = filters["family"]
    scope = "every endpoint" if family == "*" else f"the {family} endpoint"
    only = [
        f"{key} {filters[key]}"
        for key in ("client_id", "username", "environment")
        if key in filters
    ]
    count = filters["count"]
    how_many = "every request until cleared" if count is None else f"the next {count} request(s)"
    return f"{scope}{' for ' + ', '.join(only) if only else ''}, {how_many}"


def _throttle(simulator: Simulator, params: dict[str, Any]) -> list[str]:
    filters = _fault_filters(params)
    retry_after = _int(params, "retry_after", 60)
    simulator.set_fault(mode="throttle_429", retry_after=retry_after, **filters)
    return [f"throttling: 429 with Retry-After {retry_after}s on {_describe_fault(filters)}"]


def _outage(simulator: Simulator, params: dict[str, Any]) -> list[str]:
    filters = _fault_filters(params)
    mode = _text(params, "mode", required=False) or "http_503"
    if mode not in OUTAGE_MODES:
        raise ValueError(f"mode must be one of {', '.join(OUTAGE_MODES)}, not {mode[:30]!r}")
    retry_after = _int(params, "retry_after", 0)
    simulator.set_fault(mode=mode, retry_after=retry_after, **filters)  # type: ignore[arg-type]
    return [f"outage: {mode} on {_describe_fault(filters)}"]


def _clear_faults(simulator: Simulator, params: dict[str, Any]) -> list[str]:
    with simulator.scenario.lock:
        count = len(simulator.scenario.faults)
    simulator.clear_faults()
    return [f"cleared: {count} fault(s); every endpoint answers normally"]


ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action(
            "show", "list applications, secrets, certificates, users, members and faults", _show
        ),
        Action("expire-secret", "expire an application's client secrets (or all)", _expire_secret),
        Action("revoke-secret", "delete an application's client secrets (or all)", _revoke_secret),
        Action("expire-certificate", "expire an application's certificates", _expire_certificate),
        Action("disable-app", "disable an application's service principal", _set_app(False)),
        Action("enable-app", "enable an application's service principal again", _set_app(True)),
        Action("disable-user", "disable a user account (sign-in blocked)", _set_user(False)),
        Action("enable-user", "enable a user account again", _set_user(True)),
        Action("change-password", "change a user's password", _change_password),
        Action("remove-licence", "remove a user's licences (or one)", _remove_licence),
        Action("remove-role", "remove a member's security roles in an environment", _remove_role),
        Action("throttle", "answer 429 Too Many Requests (with Retry-After)", _throttle),
        Action("outage", "answer 503 (or 500, 502, drop, hang): a service outage", _outage),
        Action("clear-faults", "end every throttle and outage", _clear_faults),
    )
}
