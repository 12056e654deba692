"""Secrets at rest (issue 12 item 4): the hub's signing keys, the apps' EID identity keys and the webhook secret
are stored encrypted with a key the operator provides, never in clear in ``hub.db`` or PostgreSQL.

The operator key is a Fernet key (``cryptography``: AES-128-CBC + HMAC-SHA256, with a timestamp; 32 random
bytes, URL-safe base64) given in ``STORE_EDGE_HUB_KEY`` or in a file named by ``STORE_EDGE_HUB_KEY_FILE`` (0600).
Several keys may be given, comma-separated or one per line: the first seals, all open, so a key is rotated by
putting the new one first and running ``store-edge hub migrate``, which re-seals every value under it.

A sealed value is stored as ``sealed:v1:<key id>:<Fernet token>``; the key id is the first 8 hex digits of
the key's SHA-256 (it names the key, it does not reveal it). A value without the prefix is clear text: a hub
that ran without a key (demo and tests), or a database from before this module; ``hub migrate`` seals them.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Connection, select, update

from sync.hub.common import HubError
from sync.hub.tables import config, presence_identities, signing_keys

KEY_ENV = "STORE_EDGE_HUB_KEY"
KEY_FILE_ENV = "STORE_EDGE_HUB_KEY_FILE"
PREFIX = "sealed:v1:"
SEALED_CONFIG_KEYS = ("webhook_secret",)  # ``config`` rows that hold secrets
OPTION = "hub_sealer"  # the engine's execution option carrying the hub's Sealer
HOW_TO = (f"make a key with 'store-edge hub new-key', put it in {KEY_ENV} (or in a 0600 file named by "
          f"{KEY_FILE_ENV}), then run 'store-edge hub migrate' to encrypt the keys already stored")


class SealingError(HubError):
    """The operator key is missing, unusable, or not the one a stored value was sealed with (a sentence)."""

    def __init__(self, message: str) -> None:
        super().__init__("hub_key", message, 500)


def key_id(key: bytes) -> str:
    """The id a sealed value names its key by: 8 hex digits of SHA-256 of the key text."""
    return hashlib.sha256(key.strip()).hexdigest()[:8]


def new_key() -> str:
    """A fresh operator key (``Fernet.generate_key``) as text."""
    return Fernet.generate_key().decode()


class Sealer:
    """Seals and opens the hub's stored secrets. ``keys``: operator keys, the first seals; none: values are
    stored in clear (``active`` False, demo and test hubs) and a sealed value cannot be opened."""

    def __init__(self, keys: list[bytes] | None = None) -> None:
        self._fernets: dict[str, Fernet] = {}
        self.current: str | None = None
        for raw in keys or []:
            try:
                fernet = Fernet(raw.strip())
            except (ValueError, TypeError):
                raise SealingError(f"the hub key {key_id(raw)} is not a key made by 'store-edge hub new-key' "
                                   "(32 bytes, URL-safe base64)") from None
            kid = key_id(raw)
            self._fernets.setdefault(kid, fernet)
            self.current = self.current or kid

    @property
    def active(self) -> bool:
        return self.current is not None

    def seal(self, text: str | None) -> str | None:
        """``text`` sealed under the current key (clear text when there is no key; None stays None)."""
        if text is None or self.current is None or text.startswith(PREFIX):
            return text
        token = self._fernets[self.current].encrypt(text.encode()).decode()
        return f"{PREFIX}{self.current}:{token}"

    def open(self, stored: str | None) -> str | None:
        """The clear text of a stored value (clear text passes as is); ``SealingError`` when its key is not
        given or the value was altered."""
        if stored is None or not stored.startswith(PREFIX):
            return stored
        kid, _, token = stored[len(PREFIX):].partition(":")
        fernet = self._fernets.get(kid)
        if fernet is None:
            raise SealingError(f"a stored key is encrypted with hub key {kid}, which {KEY_ENV} does not hold: "
                               f"give that key (after the current one) in {KEY_ENV}")
        try:
            return fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SealingError(f"a stored key encrypted with hub key {kid} was altered and cannot be read") from None

    def needs_reseal(self, stored: str | None) -> bool:
        """True for a value in clear, or sealed under another key than the current one (``hub migrate``)."""
        if stored is None or self.current is None:
            return False
        return not stored.startswith(f"{PREFIX}{self.current}:")


def _key_file(path: Path) -> bytes:
    """The key file's bytes; a file readable by others is tightened to 0600 first (or refused)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            try:
                path.chmod(0o600)
            except OSError:
                raise SealingError(f"the hub key file {path} is readable by others (mode {mode:o}) and cannot be "
                                   "made private: 'chmod 600' it") from None
        return path.read_bytes()
    except FileNotFoundError:
        raise SealingError(f"the hub key file {path} ({KEY_FILE_ENV}) does not exist") from None
    except PermissionError:
        raise SealingError(f"the hub key file {path} cannot be read by this user") from None


def sealer_from_env(environ: Mapping[str, str] | None = None) -> Sealer:
    """The Sealer the operator configured: ``STORE_EDGE_HUB_KEY`` (keys comma- or newline-separated), else the
    file named by ``STORE_EDGE_HUB_KEY_FILE``; neither: no key (values in clear). ``SealingError`` for a bad key."""
    env = os.environ if environ is None else environ
    text = env.get(KEY_ENV, "").encode()
    if not text.strip() and env.get(KEY_FILE_ENV):
        text = _key_file(Path(env[KEY_FILE_ENV]))
    keys = [k for k in text.replace(b",", b"\n").split(b"\n") if k.strip()]
    return Sealer(keys)


def sealer_of(conn: Connection) -> Sealer:
    """The Sealer of the hub this connection belongs to (set on its engine by ``HubStorage``)."""
    found = conn.get_execution_options().get(OPTION)
    return found if isinstance(found, Sealer) else _CLEAR


_CLEAR = Sealer()


def _secret_columns() -> list[tuple[Any, Any, Any]]:
    """(table, key column, secret column) of every secret the hub stores."""
    return [(signing_keys, signing_keys.c.kid, signing_keys.c.private_pem),
            (presence_identities, presence_identities.c.id, presence_identities.c.eid_identity_key)]


def _config_rows(conn: Connection) -> list[tuple[str, str]]:
    return [(k, v) for k, v in conn.execute(select(config.c.key, config.c.value)
                                            .where(config.c.key.in_(SEALED_CONFIG_KEYS)))]


def clear_count(conn: Connection) -> int:
    """How many stored secrets are in clear text."""
    n = sum(1 for _, v in _config_rows(conn) if not v.startswith(PREFIX))
    for _table, _, col in _secret_columns():
        n += sum(1 for (v,) in conn.execute(select(col).where(col.is_not(None))) if not str(v).startswith(PREFIX))
    return n


def sealed_count(conn: Connection) -> int:
    """How many stored secrets are sealed (a hub holding any needs its key to run)."""
    n = sum(1 for _, v in _config_rows(conn) if v.startswith(PREFIX))
    for _, _, col in _secret_columns():
        n += sum(1 for (v,) in conn.execute(select(col).where(col.like(PREFIX + "%"))))
    return n


def start_problem(conn: Connection, sealer: Sealer, *, production: bool) -> tuple[str | None, str | None]:
    """(refusal, note) for starting a hub on this database: a refusal when secrets are sealed but no key is
    given, or in production without a key; a note in demo mode (no key: stored in clear) or when secrets
    are still in clear although a key is given (``hub migrate`` seals them)."""
    if sealer.active:
        clear = clear_count(conn)
        return None, (f"{clear} stored key(s) are still unencrypted: run 'store-edge hub migrate'" if clear else None)
    if sealed_count(conn):
        return (f"this hub database holds encrypted keys but no hub key was given: set {KEY_ENV} (or "
                f"{KEY_FILE_ENV}) to the key they were encrypted with"), None
    if production:
        return f"a production hub keeps its signing and beacon keys encrypted: {HOW_TO}", None
    return None, (f"demo mode: no hub key ({KEY_ENV}), so signing and beacon keys are stored unencrypted; "
                  "use --production for a real hub")


def reseal_all(conn: Connection, sealer: Sealer) -> int:
    """Seal every stored secret in clear, and re-seal those under an older key, with ``sealer``'s current
    key (``hub migrate``); returns how many changed. ``SealingError`` when a value's key is not given."""
    changed = 0
    for key, value in _config_rows(conn):
        if sealer.needs_reseal(value):
            conn.execute(update(config).where(config.c.key == key).values(value=sealer.seal(sealer.open(value))))
            changed += 1
    for table, key_col, col in _secret_columns():
        for key, value in conn.execute(select(key_col, col).where(col.is_not(None))).all():
            if sealer.needs_reseal(value):
                conn.execute(update(table).where(key_col == key).values({col.name: sealer.seal(sealer.open(value))}))
                changed += 1
    return changed
