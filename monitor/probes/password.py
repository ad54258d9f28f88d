"""Probe kind ``password``: a user signing in with username and password (ROPC).

Lockout safety: over any 24 hours a wrong password costs at most one failed sign-in (Entra smart
lockout counts the monitor's failures with the integration's; ``docs/platform.md``,
"Passwords"). This probe sends the password at most once per run unless that sign-in succeeds;
across runs the probe pass keeps a guard in the store (:mod:`monitor.model.lockout`).
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, cast

import msal

from monitor.config.model import EnvironmentConfig, TenantConfig
from monitor.http import HttpClient
from monitor.probes.runner import Attempt, MsalProbe


class _DeprecationSilencer:
    """Ignore msal's ROPC ``DeprecationWarning`` while any password sign-in is in progress.

    The deprecation is not hidden from the operator: every password identity gets an info posture
    finding with the migration advice (``password_sign_in`` in :mod:`monitor.findings.posture`);
    the warning itself would only repeat on stderr at every probe.

    ``warnings.catch_warnings`` is not usable here: it swaps the process-wide filter list on
    entry and restores the saved list on exit, so two probes in different threads restore each
    other's lists (one loses the filter mid-call, the other leaks it). Instead one narrowly
    targeted filter (that message, that category, msal's module) is inserted by the first
    concurrent user and removed by the last.
    """

    MESSAGE = r"This API has been deprecated for public client flows"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._entry: Any = None

    @contextmanager
    def active(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0 or self._entry not in warnings.filters:
                warnings.filterwarnings(
                    "ignore", message=self.MESSAGE, category=DeprecationWarning, module=r"msal\."
                )
                self._entry = warnings.filters[0]
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    filters = cast(list[Any], warnings.filters)
                    # ValueError: the list was replaced meanwhile (a test's own warnings scope).
                    with contextlib.suppress(ValueError):
                        filters.remove(self._entry)
                    self._entry = None


_ROPC_WARNING = _DeprecationSilencer()


class UserPasswordProbe(MsalProbe):
    """Username/password (ROPC) sign-in through a public client app, then WhoAmI.

    After a failed sign-in (any outcome, transient ones included: a timed-out request may have
    reached Entra) the remaining environments are reported with ``attempted=False``. Across
    runs, after a result whose outcome is in :data:`monitor.model.lockout.LOCKOUT_TRIGGERS`, no
    further attempt is sent with the same password value (compared by keyed fingerprint) until
    the configured password changes, a cool-down ends, or an operator forces one probe
    (:func:`monitor.model.lockout.lockout_trigger` finds that result).
    """

    credential_type: ClassVar[str] = "password"

    def acquire_token(
        self, client: HttpClient, tenant: TenantConfig, environment: EnvironmentConfig
    ) -> Mapping[str, Any]:
        username = self.identity.username
        password = self.identity.password
        if not username or password is None:
            raise ValueError("the identity has no username or password")
        app = self.application(msal.PublicClientApplication, client, tenant)
        with _ROPC_WARNING.active():
            result: Mapping[str, Any] = app.acquire_token_by_username_password(
                username,
                password.reveal(),
                scopes=[f"{environment.url.rstrip('/')}/user_impersonation"],
            )
        return result

    def halts_remaining(self, attempt: Attempt) -> bool:
        # Any sign-in that did not yield a token stops the run: at most one failed attempt.
        return not attempt.signed_in
