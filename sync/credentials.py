"""The per-device credential: written once by enrolment, mode 0600, read by every sync request."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

from edge.core.errors import CliError
from edge.core.i18n import N_, Text

CREDENTIAL_FILE = "device-credential.json"  # in the device's data dir


class CredentialError(CliError):
    """The credential is missing or unusable; ``str()`` tells the technician what to do (exit code 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 1)


@dataclass(frozen=True)
class Credential:
    hub_url: str
    device_id: str
    store_id: str
    token: str
    enrolled_at: str

    def __repr__(self) -> str:  # never print the token into a log
        return f"Credential(hub_url={self.hub_url!r}, device_id={self.device_id!r}, store_id={self.store_id!r})"


def credential_path(data_dir: Path) -> Path:
    """Where the credential of the device whose data dir is ``data_dir`` lives."""
    return Path(data_dir) / CREDENTIAL_FILE


def save(data_dir: Path, cred: Credential) -> Path:
    """Atomically replace the credential file; it is created 0600 so the token is never world-readable."""
    path = credential_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode is masked by umask and ignored for an existing file
        os.write(fd, json.dumps(asdict(cred), indent=2).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def load(data_dir: Path) -> Credential:
    path = credential_path(data_dir)
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialError(
            Text(N_("this device is not enrolled (no {path}); run 'store-edge enroll --hub URL --code CODE'"), path=path)
        ) from None
    except OSError as exc:
        raise CredentialError(Text(N_("the device credential {path} cannot be read ({problem})"), path=path,
                                   problem=exc.strerror)) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialError(
            Text(N_("the device credential {path} is readable by other users; run 'chmod 600 {path}' (or re-enrol)"),
                 path=path)
        )
    try:
        doc = json.loads(text)
        return Credential(**{k: str(doc[k]) for k in ("hub_url", "device_id", "store_id", "token", "enrolled_at")})
    except (ValueError, KeyError, TypeError):
        raise CredentialError(Text(N_("the device credential {path} is damaged; re-enrol this device"),
                                   path=path)) from None
