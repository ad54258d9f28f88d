"""Tell a notification receiver whose certificate is not trusted from one that cannot be reached.

apprise reports both as a connection error (the reason is only in its debug log, which the
monitor does not switch on: it would carry URLs). So after a failed send the sender asks the
question again itself, with the trust apprise used: a TLS handshake with the receiver, verifying
its certificate the way the send did. HTTPS receivers: requests' trust, ``REQUESTS_CA_BUNDLE``
(or ``CURL_CA_BUNDLE``) when set, else requests' default bundle. SMTP: Python's default context,
the system store, after ``STARTTLS`` (or directly on an SMTPS port). Only the handshake is made:
nothing is sent, no credential is presented.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from typing import Any, Literal

PROBE_TIMEOUT_SECONDS = 5.0

CertificateProblem = Literal["untrusted", "expired", "hostname", "invalid"]
# OpenSSL verification results (X509_V_ERR_*) that mean "no trusted CA issued this".
_UNTRUSTED_CODES = frozenset({2, 18, 19, 20, 21})
_EXPIRED = 10
_NAME_MISMATCH = frozenset({62, 64})  # host name, IP address


def _https_context() -> ssl.SSLContext:
    """Return the context requests verifies with (apprise's HTTPS sends go through requests)."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if not bundle:
        from requests.utils import DEFAULT_CA_BUNDLE_PATH

        bundle = DEFAULT_CA_BUNDLE_PATH
    if os.path.isdir(bundle):
        return ssl.create_default_context(capath=bundle)
    return ssl.create_default_context(cafile=bundle)


def certificate_problem(plugin: Any, *, smtp: bool, timeout: float) -> CertificateProblem | None:
    """Return what is wrong with the certificate the receiver of apprise *plugin* presents,
    judged with the send's trust: ``untrusted`` (no trusted CA issued it), ``expired``,
    ``hostname`` (issued for another name) or ``invalid``; None when the handshake succeeds
    or the question cannot be answered (no TLS, unreachable, another error)."""
    timeout = max(0.5, min(timeout, PROBE_TIMEOUT_SECONDS))
    try:
        if smtp:
            _smtp_handshake(plugin, timeout)
            return None
        if not getattr(plugin, "secure", False):
            return None
        host = getattr(plugin, "host", None)
        if not isinstance(host, str) or not host:
            return None
        port = getattr(plugin, "port", None) or 443
        with (
            socket.create_connection((host, int(port)), timeout=timeout) as raw,
            _https_context().wrap_socket(raw, server_hostname=host),
        ):
            return None
    except ssl.SSLCertVerificationError as error:
        code = error.verify_code
        if code in _UNTRUSTED_CODES:
            return "untrusted"
        if code == _EXPIRED:
            return "expired"
        return "hostname" if code in _NAME_MISMATCH else "invalid"
    except (OSError, ValueError, smtplib.SMTPException):
        return None


def _smtp_handshake(plugin: Any, timeout: float) -> None:
    """Make the TLS handshake an SMTP send makes (STARTTLS, or SMTPS in mode ``ssl``)."""
    host = getattr(plugin, "smtp_host", None) or getattr(plugin, "host", None)
    mode = str(getattr(plugin, "secure_mode", "starttls"))
    if not isinstance(host, str) or not host or mode == "insecure":
        return
    context = ssl.create_default_context()
    port = int(getattr(plugin, "port", None) or (465 if mode == "ssl" else 587))
    if mode == "ssl":
        with smtplib.SMTP_SSL(host, port, timeout=timeout, context=context):
            return
    with smtplib.SMTP(host, port, timeout=timeout) as client:
        client.ehlo()
        client.starttls(context=context)
