"""`store-edge demo`: a seeded store in its own data dir, the till, and (when available) a local hub."""

from __future__ import annotations

from pathlib import Path

from edge.db import open_database
from edge.demo.seed import seed_demo
from edge.settings import Settings


def prepare_demo(settings: Settings, data_dir: Path) -> Settings:
    demo = settings.replace(data_dir=data_dir)
    db = open_database(demo.database_path)
    try:
        if db.execute("SELECT count(*) FROM products").fetchone()[0] == 0:
            seed_demo(db)
    finally:
        db.close()
    return demo


def run_demo(settings: Settings, with_hub: bool = True) -> int:
    from edge.ui.app import make_app

    make_app(settings).run()
    return 0
