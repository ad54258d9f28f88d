"""Secret references: where secrets are read from, the permission checks, and never leaking."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from config_testkit import (
    MINIMAL,
    MINIMAL_ENVIRON,
    SECRET_VALUE,
    WriteConfig,
    WriteSecret,
    error_of,
    load,
)

from monitor.config.secrets_source import read_private_file

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
NOBODY = 65534

FROM_ENV = '{ env = "SALES_SECRET" }'


def with_secret(reference: str) -> str:
    """Return MINIMAL with the identity's secret reference replaced by *reference*."""
    return MINIMAL.replace(FROM_ENV, reference)


def secret_of(path: Path, **kwargs: object) -> str:
    """Load *path* and return the sales-sync identity's secret value."""
    secret = load(path, **kwargs).identities["sales-sync"].secret  # type: ignore[arg-type]
    assert secret is not None
    return secret.reveal()


def only_problem(path: Path, **kwargs: object) -> str:
    """Return the single rendered problem line of loading *path* (without indentation)."""
    error = error_of(path, **kwargs)  # type: ignore[arg-type]
    assert len(error.problems) == 1, error.render()
    return error.problems[0].render()


# --- environment variables -------------------------------------------------------------------


def test_env_secret(write_config: WriteConfig) -> None:
    """{ env = NAME } reads the variable from the given environment, as is."""
    assert secret_of(write_config(MINIMAL), environ={"SALES_SECRET": "a b\n"}) == "a b\n"


def test_env_secret_unset(write_config: WriteConfig) -> None:
    """An unset variable is a problem that names the variable."""
    assert only_problem(write_config(MINIMAL), environ={}) == (
        "identities.sales-sync.secret: expected the environment variable SALES_SECRET to be set, "
        "found it unset; hint: set SALES_SECRET in the service's environment, or better use "
        '{ credential = "..." } (systemd LoadCredential=)'
    )


def test_env_secret_is_left_in_the_process_environment(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an explicit environ, os.environ is read and left alone (a reload needs it again)."""
    monkeypatch.setenv("SALES_SECRET", SECRET_VALUE)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    from monitor.config import load_config

    config = load_config(write_config(MINIMAL))

    secret = config.identities["sales-sync"].secret
    assert secret is not None
    assert (SECRET_VALUE, "env:SALES_SECRET") == (secret.reveal(), secret.source)
    assert os.environ["SALES_SECRET"] == SECRET_VALUE


def test_empty_env_secret(write_config: WriteConfig) -> None:
    """An empty variable is not a secret."""
    assert only_problem(write_config(MINIMAL), environ={"SALES_SECRET": ""}).startswith(
        "identities.sales-sync.secret: expected a non-empty secret, found an empty value"
    )


# --- files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("value\n", "value"),
        ("value\r\n", "value"),
        ("value\n\n", "value\n"),
        ("value", "value"),
        (" spaced value ", " spaced value "),
    ],
)
def test_file_secret_loses_one_trailing_newline(
    write_config: WriteConfig, write_secret: WriteSecret, content: str, expected: str
) -> None:
    """A text secret from a file loses exactly one trailing newline, nothing else."""
    secret = write_secret("secret", content)

    assert secret_of(write_config(with_secret(f'{{ file = "{secret}" }}'))) == expected


def test_relative_secret_file(write_config: WriteConfig, write_secret: WriteSecret) -> None:
    """A relative secret path is relative to the config file's directory."""
    write_secret("secrets/sales", "relative")

    assert secret_of(write_config(with_secret('{ file = "secrets/sales" }'))) == "relative"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o610])
def test_file_readable_by_others_is_refused(
    write_config: WriteConfig, write_secret: WriteSecret, mode: int
) -> None:
    """Any group or other permission bit refuses the file, OpenSSH-style."""
    secret = write_secret("secret", SECRET_VALUE, mode=mode)
    path = write_config(with_secret(f'{{ file = "{secret}" }}'))

    assert only_problem(path) == (
        f"identities.sales-sync.secret: expected a file only its owner can read, found "
        f"permissions {mode:04o} for '{secret}' are too open; hint: run chmod 600 {secret}"
    )


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_file_is_accepted(
    write_config: WriteConfig, write_secret: WriteSecret, mode: int
) -> None:
    """Owner-only files (0600, 0400) are read."""
    secret = write_secret("secret", SECRET_VALUE, mode=mode)

    assert secret_of(write_config(with_secret(f'{{ file = "{secret}" }}'))) == SECRET_VALUE


def test_symlink_is_refused(
    write_config: WriteConfig, write_secret: WriteSecret, tmp_path: Path
) -> None:
    """A secret path that is a symbolic link is refused, even to a private file."""
    target = write_secret("real-secret", SECRET_VALUE)
    link = tmp_path / "link"
    link.symlink_to(target)
    path = write_config(with_secret(f'{{ file = "{link}" }}'))

    assert only_problem(path) == (
        f"identities.sales-sync.secret: expected a regular file, found a symbolic link at "
        f"'{link}'; hint: refer to the file the link points to (secret files are opened without "
        "following links)"
    )


def test_missing_file(write_config: WriteConfig, tmp_path: Path) -> None:
    """A missing secret file names the path it looked at."""
    path = write_config(with_secret('{ file = "nope" }'))

    assert only_problem(path) == (
        f"identities.sales-sync.secret: expected an existing file, found no file at "
        f"'{tmp_path / 'nope'}'; hint: check the path; a relative path is relative to the "
        "configuration file"
    )


def test_directory_writable_by_others_is_refused(write_config: WriteConfig, tmp_path: Path) -> None:
    """A private file in a directory others can write to could be swapped: refused."""
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(0o777)
    secret = directory / "secret"
    secret.write_text(SECRET_VALUE)
    secret.chmod(0o600)
    path = write_config(with_secret(f'{{ file = "{secret}" }}'))

    assert only_problem(path) == (
        "identities.sales-sync.secret: expected a secret file in a directory only its owner can "
        f"write to, found permissions 0777 for directory '{directory}' let others replace the "
        f"file; hint: run chmod go-w {directory}"
    )


def test_sticky_directory_is_accepted(write_config: WriteConfig, tmp_path: Path) -> None:
    """In a sticky directory (like /tmp) others cannot replace our file: accepted."""
    directory = tmp_path / "sticky"
    directory.mkdir()
    directory.chmod(0o1777)
    secret = directory / "secret"
    secret.write_text(SECRET_VALUE)
    secret.chmod(0o600)

    assert secret_of(write_config(with_secret(f'{{ file = "{secret}" }}'))) == SECRET_VALUE


@as_root
def test_file_owned_by_someone_else_is_refused(
    write_config: WriteConfig, write_secret: WriteSecret
) -> None:
    """A secret file owned by another user (not root) is refused."""
    secret = write_secret("secret", SECRET_VALUE)
    os.chown(secret, NOBODY, NOBODY)
    path = write_config(with_secret(f'{{ file = "{secret}" }}'))

    assert only_problem(path) == (
        f"identities.sales-sync.secret: expected a file owned by the monitor's user or root, "
        f"found '{secret}' owned by uid {NOBODY} (the monitor runs as uid 0); hint: run chown 0 "
        f"{secret}"
    )


def test_owner_check_allows_root_and_self(write_secret: WriteSecret) -> None:
    """The owner may be the running user or root (a root-managed /etc/monitor)."""
    secret = write_secret("secret", "x" * 8)
    owner = secret.stat().st_uid

    assert read_private_file(secret, credential=False, euid=owner) == b"x" * 8
    if owner == 0:
        assert read_private_file(secret, credential=False, euid=12345) == b"x" * 8
    else:
        with pytest.raises(Exception, match="owned by uid"):
            read_private_file(secret, credential=False, euid=owner + 1)


def test_not_utf8(write_config: WriteConfig, write_secret: WriteSecret) -> None:
    """A text secret must be UTF-8."""
    secret = write_secret("secret", b"\xff\xfe")
    path = write_config(with_secret(f'{{ file = "{secret}" }}'))

    assert only_problem(path) == (
        "identities.sales-sync.secret: expected UTF-8 text, found bytes that are not UTF-8 text; "
        "hint: save the secret as UTF-8 text"
    )


def test_empty_file(write_config: WriteConfig, write_secret: WriteSecret) -> None:
    """A file holding only a newline is an empty secret."""
    secret = write_secret("secret", "\n")
    path = write_config(with_secret(f'{{ file = "{secret}" }}'))

    assert only_problem(path) == (
        "identities.sales-sync.secret: expected a non-empty secret, found an empty value; hint: "
        f"put the secret in file:{secret}"
    )


def test_binary_secret_keeps_its_bytes(
    write_config: WriteConfig, write_secret: WriteSecret
) -> None:
    """The fingerprint key is binary: read as bytes, trailing newline kept, UTF-8 not required."""
    raw = b"\xff" * 20 + b"\n"
    key = write_secret("fingerprint.key", raw)
    path = write_config(f'[database]\nfingerprint_key = {{ file = "{key}" }}\n{MINIMAL}')

    config = load(path, MINIMAL_ENVIRON)

    assert config.database.fingerprint_key is not None
    assert config.database.fingerprint_key.reveal_bytes() == raw


# --- systemd credentials ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o400, 0o440, 0o600])
def test_credential(write_config: WriteConfig, credentials_dir: Path, mode: int) -> None:
    """{ credential = NAME } reads $CREDENTIALS_DIRECTORY/NAME; 0440 (group) is fine."""
    credential = credentials_dir / "sales-secret"
    credential.write_text(SECRET_VALUE + "\n")
    credential.chmod(mode)
    path = write_config(with_secret('{ credential = "sales-secret" }'))

    assert secret_of(path, credentials_directory=credentials_dir) == SECRET_VALUE
    assert (
        load(path, credentials_directory=credentials_dir).identities["sales-sync"].credential()
    ).source == "credential:sales-secret"


def test_credentials_directory_from_the_environment(
    write_config: WriteConfig, credentials_dir: Path
) -> None:
    """Without the argument, $CREDENTIALS_DIRECTORY (set by systemd) is used."""
    credential = credentials_dir / "sales-secret"
    credential.write_text("from-systemd")
    credential.chmod(0o400)
    path = write_config(with_secret('{ credential = "sales-secret" }'))

    assert secret_of(path, environ={"CREDENTIALS_DIRECTORY": str(credentials_dir)}) == (
        "from-systemd"
    )


def test_credential_readable_by_others_is_refused(
    write_config: WriteConfig, credentials_dir: Path
) -> None:
    """A world-readable credential file is refused."""
    credential = credentials_dir / "sales-secret"
    credential.write_text(SECRET_VALUE)
    credential.chmod(0o444)
    path = write_config(with_secret('{ credential = "sales-secret" }'))

    assert only_problem(path, credentials_directory=credentials_dir) == (
        "identities.sales-sync.secret: expected a credential file others cannot read, found "
        f"permissions 0444 for '{credential}' are too open; hint: systemd creates credential "
        "files with mode 0400; check how the credential directory was populated"
    )


@as_root
def test_credential_owner_is_not_checked(write_config: WriteConfig, credentials_dir: Path) -> None:
    """systemd's credential copies belong to root, whoever runs the service: no owner check."""
    credential = credentials_dir / "sales-secret"
    credential.write_text(SECRET_VALUE)
    credential.chmod(0o440)
    os.chown(credential, NOBODY, NOBODY)
    path = write_config(with_secret('{ credential = "sales-secret" }'))

    assert secret_of(path, credentials_directory=credentials_dir) == SECRET_VALUE


def test_credentials_directory_unset(write_config: WriteConfig) -> None:
    """A credential reference without $CREDENTIALS_DIRECTORY says how to provide one."""
    path = write_config(with_secret('{ credential = "sales-secret" }'))

    assert only_problem(path, environ={}) == (
        "identities.sales-sync.secret: expected $CREDENTIALS_DIRECTORY to be set (systemd "
        "LoadCredential=), found it unset; hint: a command that signs in needs the service's "
        "credentials: run it as the service with systemd-run -p User=monitor -p "
        'LoadCredential=sales-secret:PATH ... (README, "Running as a service"), or as root with '
        "CREDENTIALS_DIRECTORY=/etc/monitor/credentials; report, silence, ack and check --stored "
        "need none"
    )


def test_missing_credential(write_config: WriteConfig, credentials_dir: Path) -> None:
    """A credential that systemd did not provide names the LoadCredential= syntax."""
    path = write_config(with_secret('{ credential = "sales-secret" }'))

    assert only_problem(path, credentials_directory=credentials_dir) == (
        "identities.sales-sync.secret: expected an existing file, found no file at "
        f"'{credentials_dir / 'sales-secret'}'; hint: systemd LoadCredential= names the "
        "credential after the colon: LoadCredential=NAME:PATH"
    )


def test_credential_symlink_is_refused(
    write_config: WriteConfig, credentials_dir: Path, write_secret: WriteSecret
) -> None:
    """Credentials are opened without following links too."""
    target = write_secret("elsewhere", SECRET_VALUE)
    (credentials_dir / "sales-secret").symlink_to(target)
    path = write_config(with_secret('{ credential = "sales-secret" }'))

    assert "found a symbolic link at" in only_problem(path, credentials_directory=credentials_dir)


# --- inline secrets --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_inline_secret_in_a_private_config(write_config: WriteConfig, mode: int) -> None:
    """An inline secret is accepted when only the owner can read the config file."""
    path = write_config(with_secret(f'"{SECRET_VALUE}"'), mode=mode)

    secret = load(path).identities["sales-sync"].secret
    assert secret is not None
    assert (secret.reveal(), secret.source) == (SECRET_VALUE, "inline")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_inline_secret_in_a_readable_config_is_refused(
    write_config: WriteConfig, mode: int
) -> None:
    """An inline secret in a config file others may read is refused with a way out."""
    path = write_config(with_secret(f'"{SECRET_VALUE}"'), mode=mode)

    assert only_problem(path) == (
        'identities.sales-sync.secret: expected { credential = "NAME" } or { file = "PATH" } (an '
        "inline secret needs a config file only its owner can read: mode 0600 or 0400, owned by "
        f"the monitor's user), found an inline secret in a config file with permissions {mode:04o}"
        "; hint: move the value into a file with mode 0600 or a systemd credential and refer to "
        "it, or make the config file private (chmod 600, owned by the monitor's user)"
    )


@as_root
def test_inline_secret_in_a_config_owned_by_someone_else(write_config: WriteConfig) -> None:
    """A private config file owned by another user does not make inline secrets safe."""
    path = write_config(with_secret(f'"{SECRET_VALUE}"'))
    os.chown(path, NOBODY, NOBODY)

    assert (
        "found an inline secret in a config file owned by uid 65534 (the monitor runs as uid 0)"
        in (only_problem(path))
    )


def test_references_are_fine_in_a_readable_config(write_config: WriteConfig) -> None:
    """A config file without inline secrets may be world-readable."""
    path = write_config(MINIMAL, mode=0o644)

    assert secret_of(path, environ=MINIMAL_ENVIRON) == SECRET_VALUE


# --- never leaking ---------------------------------------------------------------------------

LEAKS = [
    pytest.param(with_secret(f'"{SECRET_VALUE}"'), 0o644, id="inline-in-readable-config"),
    pytest.param(with_secret("86753091234567"), 0o600, id="secret-as-number"),
    pytest.param(with_secret(f'["{SECRET_VALUE}"]'), 0o600, id="secret-in-an-array"),
    pytest.param(with_secret(f'{{ value = "{SECRET_VALUE}" }}'), 0o600, id="unknown-source-key"),
    pytest.param(with_secret(f'{{ env = "{SECRET_VALUE}" }}'), 0o600, id="secret-as-env-name"),
    pytest.param(
        MINIMAL.replace(
            'client_id = "5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d"', f'client_id = "{SECRET_VALUE}"'
        ),
        0o600,
        id="secret-as-client-id",
    ),
    pytest.param(
        MINIMAL + f'client_secret = "{SECRET_VALUE}"', 0o600, id="secret-under-unknown-key"
    ),
    pytest.param(
        MINIMAL.replace('kind = "application"', 'kind = "user"')
        + f'username = "{SECRET_VALUE}"\npassword = {{ env = "SALES_SECRET" }}',
        0o600,
        id="secret-as-username",
    ),
    pytest.param(with_secret(f'"{SECRET_VALUE}'), 0o600, id="toml-syntax-error-on-the-secret-line"),
    pytest.param(
        "[network]\nproxy = " + f'"http://user:{SECRET_VALUE}@proxy:3128/path"\n' + MINIMAL,
        0o600,
        id="proxy-password",
    ),
]


@pytest.mark.parametrize(("text", "mode"), LEAKS)
def test_secret_values_never_appear_in_problems(
    write_config: WriteConfig, text: str, mode: int
) -> None:
    """Wherever a secret value is misplaced, no problem text or repr shows it (scrub or not)."""
    secret_bits = [SECRET_VALUE, "hunter2", "86753091234567"]
    path = write_config(text, mode=mode)

    error = error_of(path, MINIMAL_ENVIRON)

    unscrubbed = "\n".join(problem.render() for problem in error.problems)
    for text_form in (error.render(), unscrubbed, repr(error), repr(error.problems)):
        for bit in secret_bits:
            assert bit not in text_form


def test_loaded_config_repr_shows_no_secret(
    write_config: WriteConfig, write_secret: WriteSecret
) -> None:
    """The loaded configuration's repr masks every secret."""
    secret = write_secret("secret", SECRET_VALUE)
    config = load(write_config(with_secret(f'{{ file = "{secret}" }}')))

    assert SECRET_VALUE not in repr(config)
    assert "hunter2" not in repr(config)
