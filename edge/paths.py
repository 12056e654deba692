"""Every filesystem location store-edge uses, decided in one place (the device credential's file name is the
sync package's: ``sync.credentials.credential_path``)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "store-edge"
SYSTEM_CONFIG = Path("/etc/store-edge/config.toml")
SYSTEM_DATA_DIR = Path("/var/lib/store-edge")


def is_production() -> bool:
    """A device installed by deploy/install.sh runs as the store-edge system user with /var/lib writable."""
    return os.environ.get("STORE_EDGE_PRODUCTION") == "1" or (
        SYSTEM_DATA_DIR.is_dir() and os.access(SYSTEM_DATA_DIR, os.W_OK)
    )


def default_data_dir() -> Path:
    if is_production():
        return SYSTEM_DATA_DIR
    return Path(platformdirs.user_data_dir(APP_NAME))


def database_file(data_dir: Path) -> Path:
    return data_dir / "store.db"


def demo_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "demo"
