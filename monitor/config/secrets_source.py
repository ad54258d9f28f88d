"""Reading secrets from where the configuration says they are.

A secret is referenced as ``{ credential = "NAME" }`` (a file in systemd's
``$CREDENTIALS_DIRECTORY``, from ``LoadCredential=`` / ``LoadCredentialEncrypted=``),
``{ file = "PATH" }``, ``{ env = "NAME" }``, or written inline (only in a config file that no one
else can read). Files are opened with ``O_NOFOLLOW`` and checked on the open descriptor, as OpenSSH
checks private keys: a regular file, owned by us or root, with no group/other permission bits.
"""

from __future__ import annotations

import errno
import os
import shlex
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from monitor.secrets import Secret

SecretKind = Literal["inline", "env", "file", "credential"]

MAX_SECRET_BYTES = 1024 * 1024  # a PFX with a long chain is a few KiB; anything this big is wrong


@dataclass(frozen=True)
class SecretRef:
    """A reference to a secret, as written in the configuration (not yet read).

    ``name`` is the variable name, the absolute file path or the credential name; ``inline``
    holds the value of an inline secret. ``binary`` secrets (certificates, keys) are kept as bytes;
    text secrets must be UTF-8 and lose one trailing newline.
    """

    kind: SecretKind
    name: str
    inline: Secret | None
    binary: bool = False

    @property
    def source(self) -> str:
        return "inline" if self.kind == "inline" else f"{self.kind}:{self.name}"


class SecretSourceError(Exception):
    """A secret could not be read; the parts of a :class:`~monitor.config.problems.Problem`."""

    def __init__(self, expected: str, found: str, hint: str = "") -> None:
        super().__init__(expected, found, hint)
        self.expected = expected
        self.found = found
        self.hint = hint


@dataclass(frozen=True)
class ConfigFileAccess:
    """Who can read the configuration file, which decides whether inline secrets are allowed."""

    mode: int  # permission bits, e.g. 0o600
    uid: int

    def private_for(self, euid: int) -> bool:
        return self.mode & 0o077 == 0 and self.uid == euid


@dataclass(frozen=True)
class SecretSources:
    """Everything needed to turn a :class:`SecretRef` into a :class:`Secret`."""

    environ: Mapping[str, str]
    credentials_directory: Path | None
    config_access: ConfigFileAccess | None  # None: unknown, so inline secrets are refused
    euid: int

    def resolve(self, ref: SecretRef) -> Secret:
        """Return the secret *ref* points to. Raise :class:`SecretSourceError` if it cannot."""
        if ref.kind == "inline":
            assert ref.inline is not None
            self._check_inline()
            return ref.inline
        if ref.kind == "env":
            # The variable is left in os.environ on purpose. Popping it would
            # make a reload on SIGHUP fail, because the daemon reads its configuration again then.
            # Prefer credentials or files: they are not inherited by child processes at all.
            value = self.environ.get(ref.name)
            if value is None:
                raise SecretSourceError(
                    f"the environment variable {ref.name} to be set",
                    "it unset",
                    f"set {ref.name} in the service's environment, or better use "
                    '{ credential = "..." } (systemd LoadCredential=)',
                )
            data = value.encode()
        elif ref.kind == "credential":
            if self.credentials_directory is None:
                raise SecretSourceError(
                    "$CREDENTIALS_DIRECTORY to be set (systemd LoadCredential=)",
                    "it unset",
                    f"a command that signs in needs the service's credentials: run it as the "
                    f"service with systemd-run -p User=monitor -p LoadCredential={ref.name}:PATH "
                    '... (README, "Running as a service"), or as root with '
                    "CREDENTIALS_DIRECTORY=/etc/monitor/credentials; report, silence, ack and "
                    "check --stored need none",
                )
            data = read_private_file(self.credentials_directory / ref.name, credential=True)
        else:
            data = read_private_file(Path(ref.name), credential=False, euid=self.euid)
        return _to_secret(data, ref)

    def _check_inline(self) -> None:
        access = self.config_access
        if access is not None and access.private_for(self.euid):
            return
        if access is None:
            found = "an inline secret in a config file whose permissions are unknown"
        elif access.uid != self.euid:
            found = (
                f"an inline secret in a config file owned by uid {access.uid} "
                f"(the monitor runs as uid {self.euid})"
            )
        else:
            found = f"an inline secret in a config file with permissions {access.mode:04o}"
        raise SecretSourceError(
            '{ credential = "NAME" } or { file = "PATH" } (an inline secret needs a config file '
            "only its owner can read: mode 0600 or 0400, owned by the monitor's user)",
            found,
            "move the value into a file with mode 0600 or a systemd credential and refer to it, "
            "or make the config file private (chmod 600, owned by the monitor's user)",
        )


def _to_secret(data: bytes, ref: SecretRef) -> Secret:
    if ref.binary:
        if not data:
            raise SecretSourceError("non-empty content", "an empty value", _empty_hint(ref))
        return Secret(data, ref.source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretSourceError(
            "UTF-8 text", "bytes that are not UTF-8 text", "save the secret as UTF-8 text"
        ) from None
    # One trailing newline is what `echo` and editors add to a file; more would be deliberate
    # content. An environment variable's value is taken as it is.
    if ref.kind in ("file", "credential"):
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith("\n"):
            text = text[:-1]
    if not text:
        raise SecretSourceError("a non-empty secret", "an empty value", _empty_hint(ref))
    return Secret(text, ref.source)


def _empty_hint(ref: SecretRef) -> str:
    return f"put the secret in {ref.source}"


def read_private_file(path: Path, *, credential: bool, euid: int | None = None) -> bytes:
    """Return the content of the secret file *path*, checked on the open descriptor.

    Refuse (raise :class:`SecretSourceError`) a symbolic link, anything but a regular file, a file
    with group or other permission bits (a systemd *credential* only needs to be unreadable by
    others: systemd makes root-owned 0400/0440 copies), a file owned by someone other than *euid*
    or root (not checked for credentials), and a file in a directory others can write to.
    """
    if euid is None:
        euid = os.geteuid()
    quoted = shlex.quote(str(path))
    # O_NONBLOCK: opening a FIFO must not hang the loader; it is then refused as not regular.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise SecretSourceError(
            "an existing file",
            f"no file at '{path}'",
            "systemd LoadCredential= names the credential after the colon: LoadCredential=NAME:PATH"
            if credential
            else "check the path; a relative path is relative to the configuration file",
        ) from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise SecretSourceError(
                "a regular file",
                f"a symbolic link at '{path}'",
                "refer to the file the link points to (secret files are opened without "
                "following links)",
            ) from None
        hint = ""
        if error.errno == errno.EACCES:
            hint = (
                "credentials stay readable by root alone: run this as root, or as the service "
                'through systemd-run with its LoadCredential= (README, "Running as a '
                'service"); leave their owner and mode as they are'
                if credential
                else "check the file's owner and permissions"
            )
        raise SecretSourceError(
            "a file the monitor can read", f"'{path}': {error.strerror}", hint
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SecretSourceError(
                "a regular file", f"'{path}' is not a regular file", "point to the secret file"
            )
        mode = stat.S_IMODE(info.st_mode)
        if credential:
            if mode & 0o007:
                raise SecretSourceError(
                    "a credential file others cannot read",
                    f"permissions {mode:04o} for '{path}' are too open",
                    "systemd creates credential files with mode 0400; check how the credential "
                    "directory was populated",
                )
        else:
            if info.st_uid not in (euid, 0):
                raise SecretSourceError(
                    "a file owned by the monitor's user or root",
                    f"'{path}' owned by uid {info.st_uid} (the monitor runs as uid {euid})",
                    f"run chown {euid} {quoted}",
                )
            if mode & 0o077:
                raise SecretSourceError(
                    "a file only its owner can read",
                    f"permissions {mode:04o} for '{path}' are too open",
                    f"run chmod 600 {quoted}",
                )
            _check_directory(path)
        if info.st_size > MAX_SECRET_BYTES:
            raise SecretSourceError(
                f"at most {MAX_SECRET_BYTES} bytes",
                f"{info.st_size} bytes in '{path}'",
                "point to the secret file itself",
            )
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_SECRET_BYTES:
                raise SecretSourceError(
                    f"at most {MAX_SECRET_BYTES} bytes",
                    f"more in '{path}'",
                    "point to the secret file itself",
                )
        return b"".join(chunks)
    finally:
        os.close(fd)


def _check_directory(path: Path) -> None:
    """Refuse a secret file in a directory others may write to (they could swap the file)."""
    directory = path.parent
    try:
        info = os.stat(directory)
    except OSError:
        return  # the file was opened, so the directory exists; nothing more to learn
    mode = stat.S_IMODE(info.st_mode)
    # A sticky directory (/tmp) lets others create files but not replace ours.
    if mode & 0o022 and not mode & stat.S_ISVTX:
        raise SecretSourceError(
            "a secret file in a directory only its owner can write to",
            f"permissions {mode:04o} for directory '{directory}' let others replace the file",
            f"run chmod go-w {shlex.quote(str(directory))}",
        )
