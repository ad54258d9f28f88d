"""The probe kinds, by the configuration's ``credential_type``.

Importing this module loads msal (every kind signs in with it): only what runs probes imports
it (:mod:`monitor.pipeline.probing`), never the store, the findings or the report.
"""

from __future__ import annotations

from monitor.probes.certificate import ApplicationCertificateProbe
from monitor.probes.client_secret import ApplicationSecretProbe
from monitor.probes.password import UserPasswordProbe
from monitor.probes.runner import MsalProbe

PROBE_KINDS: dict[str, type[MsalProbe]] = {
    "client_secret": ApplicationSecretProbe,
    "certificate": ApplicationCertificateProbe,
    "password": UserPasswordProbe,
}
