"""``store-edge simulate store-day``: the whole store day under faults, then the reconciliation table.

Wire it with ``simulate_cli.register(subparsers)`` (top-level subparsers); handlers are
``handler(args, settings) -> int`` like the rest of ``store-edge``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from edge.core.errors import CliError
from edge.settings import Settings


def handler(args: argparse.Namespace, settings: Settings | None = None) -> int:
    from edge.simulate.orchestrator import DayConfig, run_store_day

    sizes = {k: v for k, v in (("seed", args.seed), ("sales", args.sales), ("adverts", args.adverts),
                               ("kills", args.kills), ("kills_mid_sale", args.kills_mid_sale),
                               ("kills_mid_batch", args.kills_mid_batch), ("duration", args.duration),
                               ("hub_db", args.hub_db), ("hub_workers", args.hub_workers))
             if v is not None}
    if sizes.get("hub_workers", 1) > 1 and not sizes.get("hub_db"):
        raise CliError("--hub-workers above 1 needs --hub-db postgresql://... (several processes cannot share "
                       "one SQLite file)", 2)
    config = DayConfig.reduced(**sizes) if args.reduced else DayConfig.full(**sizes)
    if args.data_dir:
        run_dir, temporary = Path(args.data_dir), False
        if run_dir.exists() and any(run_dir.iterdir()):
            raise CliError(f"{run_dir} is not empty; a run needs a fresh directory", 2)
    else:
        run_dir, temporary = Path(tempfile.mkdtemp(prefix="store-day-")), True
    status = 1
    try:
        status = run_store_day(config, run_dir)
    finally:
        if temporary and status == 0 and not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"run directory kept: {run_dir}", file=sys.stderr)
    return status


def register(subparsers: Any) -> argparse.ArgumentParser:
    group = subparsers.add_parser("simulate", help="simulations of store operation under faults",
                                  description="Simulations of a store's operation under faults, reconciled at "
                                              "the end.")
    sub = group.add_subparsers(dest="simulate_command", metavar="SIMULATION", required=True)
    p = sub.add_parser("store-day", help="a hub, two tills and a presence box through a faulty trading day",
                       description="A hub, two tills and a presence box through a compressed trading day with "
                                   "kill -9s and network faults, then the reconciliation table (exit 0: all "
                                   "books agree).")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--reduced", dest="reduced", action="store_true", default=True,
                      help="the CI day: hundreds of sales, tens of thousands of adverts, ~1 minute (default)")
    size.add_argument("--full", dest="reduced", action="store_false",
                      help="the soak day: thousands of sales, hundreds of thousands of adverts, 24 kill -9s")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 7)")
    p.add_argument("--sales", type=int, default=None, help="sales per till")
    p.add_argument("--adverts", type=int, default=None, help="BLE adverts over the day (about)")
    p.add_argument("--kills", type=int, default=None, help="kill -9s of edge processes at random moments")
    p.add_argument("--kills-mid-sale", type=int, default=None,
                   help="kill -9s of a till inside a sale's transaction")
    p.add_argument("--kills-mid-batch", type=int, default=None,
                   help="kill -9s of a device while its push is on the wire")
    p.add_argument("--duration", type=float, default=None, help="seconds of trading (real time)")
    p.add_argument("--hub-db", default=None, metavar="DSN",
                   help="run the hub on this PostgreSQL database (postgresql://..., empty); default SQLite")
    p.add_argument("--hub-workers", type=int, default=None, metavar="N",
                   help="hub serve --workers N (PostgreSQL only; default 1)")
    p.add_argument("--data-dir", default=None, help="run directory (kept); default a temporary one")
    p.add_argument("--keep", action="store_true", help="keep the temporary run directory even on success")
    p.set_defaults(handler=handler)
    return p


def main(argv: list[str] | None = None) -> int:
    """``store-edge simulate ARGV...`` through the one dispatcher."""
    from edge.cli.main import main as store_edge

    return store_edge(["simulate", *(argv or [])])


if __name__ == "__main__":
    sys.exit(main())
