"""CLI commands for sync, enrolment and the reference hub.

The lead wires them in with ``register_sync(sub)``, ``register_hub(sub)`` and ``register_enroll(sub)``
(``sub`` being the top-level argparse subparsers). Every command is a plain function ``(args) -> int`` that
tests call in-process through ``main([...])``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from edge.settings import ConfigError, Settings, load_settings

HUB_DB_ENV = "STORE_EDGE_HUB_DB"
WORKER_HEALTHCHECK_S = 60  # hub serve --workers: seconds a worker may take to answer its supervisor's ping


def _settings(args: argparse.Namespace) -> Settings:
    config = getattr(args, "config", None)
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = str(args.data_dir)
    return load_settings(Path(config) if config else None, overrides=overrides or None)


def _out(args: argparse.Namespace) -> TextIO:
    return getattr(args, "stdout", None) or sys.stdout


def _err(args: argparse.Namespace, message: str) -> int:
    print(f"error: {message}", file=getattr(args, "stderr", None) or sys.stderr)
    return 1


def _failure_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "this database/file/server cannot be used": one line and exit 1, no traceback."""
    import sqlite3

    from edge.db.connection import DatabaseError, SchemaTooNewError

    types: list[type[BaseException]] = [DatabaseError, SchemaTooNewError, sqlite3.DatabaseError, OSError]
    try:
        import psycopg
    except ImportError:  # a SQLite-only install
        pass
    else:
        types.append(psycopg.OperationalError)
    return tuple(types)


def _guarded(fn: Any) -> Any:
    """Wrap a command so bad input ends in one clear line: config errors exit 2, unusable stores exit 1."""

    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return int(fn(args) or 0)
        except ConfigError as exc:
            _err(args, str(exc))
            return 2
        except _failure_types() as exc:
            # psycopg's messages span lines (with hints); the technician gets them on one
            text = " ".join(str(exc).split()) or type(exc).__name__
            if type(exc).__module__.startswith("psycopg"):
                text = f"cannot use the hub database: {text}"
            return _err(args, text)

    return wrapper


def _require_database(path: Path) -> None:
    # opening would create an empty store.db and report "0 pending" for a mistyped --data-dir
    if not path.exists():
        raise FileNotFoundError(f"no database at {path}; is this the data dir?")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=None, help="the device's data directory")
    if not any(a.dest == "config" for a in p._actions):
        p.add_argument("--config", default=None, help="config file (default /etc/store-edge/config.toml)")


# ------------------------------------------------------------------------------------------------ sync
def _client(args: argparse.Namespace) -> Any:
    from sync import credentials
    from sync.client import SyncClient

    settings = _settings(args)
    cred = credentials.load(settings.data_dir)
    if settings.hub.url and settings.hub.url.rstrip("/") != cred.hub_url.rstrip("/"):
        print(f"note: using hub {settings.hub.url} from the settings (enrolled at {cred.hub_url})",
              file=sys.stderr)
    return SyncClient(settings.database_path, cred, settings.hub)


def _progress_printer(args: argparse.Namespace) -> tuple[Any, Any]:
    """A rich progress bar on a terminal for long drains; silence otherwise."""
    out = _out(args)
    if not (hasattr(out, "isatty") and out.isatty()):
        return (lambda sent, total: None), (lambda: None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True,
                   console=Console(file=out))  # fmt: skip
    state: dict[str, Any] = {}

    def update(sent: int, total: int) -> None:
        if total < 1_000:
            return
        if "task" not in state:
            bar.start()
            state["task"] = bar.add_task("sync", total=total)
        bar.update(state["task"], completed=sent, total=total)

    return update, bar.stop


def cmd_sync_once(args: argparse.Namespace) -> int:
    from sync.client import SyncError
    from sync.credentials import CredentialError

    try:
        client = _client(args)
    except CredentialError as exc:
        return _err(args, str(exc))
    update, done = _progress_printer(args)
    try:
        report = client.sync_once(update)
    except SyncError as exc:
        done()
        return _err(args, str(exc))
    finally:
        client.compact()  # devices synced only by 'sync once' (cron) need their acked rows dropped too
        client.close()
    done()
    print(f"sent {report.accepted} new, {report.duplicate} already on the hub, {report.rejected} rejected; "
          f"received {report.pulled} changes", file=_out(args))
    return 0 if report.rejected == 0 else 3


def cmd_sync_run(args: argparse.Namespace) -> int:
    from sync.credentials import CredentialError

    try:
        client = _client(args)
    except CredentialError as exc:
        return _err(args, str(exc))
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    from edge.ops import sdnotify

    update, done = _progress_printer(args)
    # under systemd the watchdog is fed while the loop makes progress: each attempt (success or failure)
    # reports to the listeners; a loop stuck far longer than its longest back-off stops the pings
    last = [time.monotonic()]
    unsubscribe = client.add_listener(lambda _status: last.__setitem__(0, time.monotonic()))
    hub = client.settings
    pinger = sdnotify.WatchdogPinger(
        lambda: time.monotonic() - last[0] < hub.backoff_cap_s + 2 * hub.timeout_s + 60
    ).start()
    sdnotify.ready("sync running")
    try:
        client.run(stop, progress=update)
    finally:
        pinger.stop()
        sdnotify.stopping()
        unsubscribe()
        done()
        client.close()
    return 0


def cmd_sync_status(args: argparse.Namespace) -> int:
    from edge.db.connection import open_database
    from sync import outbox
    from sync.client import describe_status, status_offline

    settings = _settings(args)
    _require_database(settings.database_path)
    db = open_database(settings.database_path)
    st = status_offline(db)
    out = _out(args)
    if getattr(args, "json", False):
        stats = outbox.stats(db)
        print(json.dumps({"pending": st.pending, "oldest_pending_age_s": st.oldest_pending_age_s,
                          "dead": st.dead, "last_success_at": st.last_success_at, "last_error": st.last_error,
                          "dead_letters": [{"event_id": d.event_id, "type": d.type, "reason": d.reason}
                                           for d in stats.dead_letters]}), file=out)
        return 0
    for line in describe_status(st)[1:]:  # 'online' needs the hub; the status command reads the database only
        print(line, file=out)
    for d in outbox.stats(db).dead_letters:
        print(f"  dead #{d.seq} {d.type} {d.event_id}: {d.reason}", file=out)
    return 0


def cmd_sync_retry_dead(args: argparse.Namespace) -> int:
    from edge.db.connection import open_database
    from sync import outbox

    path = _settings(args).database_path
    _require_database(path)
    db = open_database(path)
    n = outbox.retry_dead(db)
    print(f"{n} dead letter(s) queued again", file=_out(args))
    return 0


def register_sync(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("sync", help="send the outbox to the hub and fetch the store's changes")
    sub = p.add_subparsers(dest="sync_command", required=True)
    for name, fn, text in (
        ("run", cmd_sync_run, "sync continuously (headless devices)"),
        ("once", cmd_sync_once, "push everything pending, pull changes, exit"),
        ("status", cmd_sync_status, "pending count, oldest pending, dead letters, last error"),
        ("retry-dead", cmd_sync_retry_dead, "queue the dead letters again"),
    ):
        sp = sub.add_parser(name, help=text)
        _common(sp)
        if name == "status":
            sp.add_argument("--json", action="store_true")
        sp.set_defaults(func=_guarded(fn))
    return p


# ------------------------------------------------------------------------------------------------ enrol
def cmd_enroll(args: argparse.Namespace) -> int:
    from sync.enroll import EnrolmentError, enroll

    try:
        settings = _settings(args)
        cred = enroll(args.hub, args.code, settings.data_dir, timeout_s=settings.hub.timeout_s)
    except EnrolmentError as exc:
        return _err(args, str(exc))
    print(f"enrolled as device {cred.device_id} of store {cred.store_id}; credential saved", file=_out(args))
    if cred.store_id != settings.store.id or cred.device_id != settings.device.id:
        print(f"note: set store.id = {cred.store_id!r} and device.id = {cred.device_id!r} in the config "
              "so receipts and events agree", file=_out(args))
    return 0


def register_enroll(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("enroll", help="enrol this device with a hub using a one-time code")
    p.add_argument("--hub", required=True, help="hub URL, e.g. https://hub.example.com")
    p.add_argument("--code", required=True, help="the one-time code from the hub administrator")
    _common(p)
    p.set_defaults(func=_guarded(cmd_enroll))
    return p


# ------------------------------------------------------------------------------------------------ hub
def _hub_target(args: argparse.Namespace) -> str:
    return args.db or os.environ.get(HUB_DB_ENV) or str(_settings(args).data_dir / "hub.db")


def _hub_storage(args: argparse.Namespace) -> Any:
    from sync.hub.storage import HubStorage

    return HubStorage.open(_hub_target(args))


def _hub_cmd(fn: Any) -> Any:
    @_guarded
    def wrapper(args: argparse.Namespace) -> int:
        from sync.hub.storage import HubError

        storage = _hub_storage(args)  # inside the guard: an unreachable database is one line, not a traceback
        try:
            return int(fn(args, storage) or 0)
        except HubError as exc:
            return _err(args, str(exc))
        except (OSError, ValueError) as exc:
            return _err(args, str(exc))
        finally:
            storage.close()

    return wrapper


def _serve(args: argparse.Namespace, storage: Any) -> int:
    import uvicorn

    from sync.hub.app import make_hub_app

    storage.ensure_signing_key()
    if args.workers > 1:
        return _serve_workers(args)
    app = make_hub_app(storage, webhook_url=args.webhook_url)
    print(f"hub listening on http://{args.host}:{args.port}", file=_out(args))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key)
    return 0


def _serve_workers(args: argparse.Namespace) -> int:
    """N uvicorn worker processes on one socket; each builds its own storage (sync/hub/asgi.py). The schema
    and the signing key were made once, here in the parent, before the workers start."""
    import uvicorn

    from sync.hub.asgi import worker_environment

    os.environ.update(worker_environment(_hub_target(args), args.webhook_url))
    print(f"hub listening on http://{args.host}:{args.port} ({args.workers} worker processes)", file=_out(args))
    # a worker busy with batches on a loaded machine may answer the supervisor's ping late; the default 5 s
    # would have it killed mid-request, dropping the batches it was committing
    uvicorn.run("sync.hub.asgi:create_app", factory=True, workers=args.workers, host=args.host, port=args.port,
                log_level="warning", ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key,
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)
    return 0


def _workers_checked(serve: Any) -> Any:
    """Refuse an impossible --workers (e.g. several processes on one SQLite file) before the database is opened."""

    @_guarded
    def wrapper(args: argparse.Namespace) -> int:
        from sync.hub.asgi import check_workers

        problem = check_workers(_hub_target(args), args.workers)
        return _err(args, problem) if problem else int(serve(args) or 0)

    return wrapper


def _p(args: argparse.Namespace, text: str) -> None:
    print(text, file=_out(args))


def _create_store(args: argparse.Namespace, s: Any) -> None:
    s.create_store(args.id, args.name)
    _p(args, f"store {args.id} created")


def _create_device(args: argparse.Namespace, s: Any) -> None:
    code = s.create_device(args.store, args.device, code_ttl_hours=args.ttl_hours)
    _p(args, f"device {args.device} of store {args.store}; enrolment code (valid {args.ttl_hours:g} h, once): {code}")


def _revoke_device(args: argparse.Namespace, s: Any) -> None:
    s.revoke_device(args.device)
    _p(args, f"device {args.device} revoked")


def _create_customer(args: argparse.Namespace, s: Any) -> None:
    s.upsert_customer({"id": args.id, "display_name": args.name, "card_number": args.card,
                       "home_store_id": args.home_store, "tier": args.tier})
    if args.points:
        s.adjust_balance(args.id, args.points, "opening balance")
    _p(args, f"customer {args.id} saved")


def _create_offer(args: argparse.Namespace, s: Any) -> None:
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--params is not valid JSON ({exc})") from None
    s.upsert_offer({"id": args.id, "kind": args.kind, "name": args.name, "params": params,
                    "customer_id": args.customer, "priority": args.priority})
    if args.coupon:
        s.create_coupon(args.coupon, args.id, args.customer)
    _p(args, f"offer {args.id} saved")


def _import_catalog(args: argparse.Namespace, s: Any) -> None:
    _p(args, f"{s.import_catalog_csv(Path(args.csv))} products imported")


def _create_api_key(args: argparse.Namespace, s: Any) -> None:
    _p(args, s.create_api_key(args.name))


def _exceptions(args: argparse.Namespace, s: Any) -> None:
    rows = s.exceptions(args.kind)
    if args.json:
        _p(args, json.dumps(rows))
        return
    if not rows:
        _p(args, "no exceptions")
    for r in rows:
        _p(args, f"{r['detected_at']} {r['kind']}: {r['detail']}")


def _rotate_key(args: argparse.Namespace, s: Any) -> None:
    _p(args, f"new signing key {s.rotate_signing_key(valid_days=args.valid_days)}")


def _set_webhook(args: argparse.Namespace, s: Any) -> None:
    s.set_config("webhook_url", args.url)
    if args.secret is not None:
        if len(args.secret) < 16:
            raise ValueError("--secret must be at least 16 characters (e.g. from 'openssl rand -hex 32')")
        s.set_config("webhook_secret", args.secret)
    signed = "signed with the shared secret" if (args.secret or s.get_config("webhook_secret")) else "unsigned"
    _p(args, f"presence notifications go to {args.url}, {signed} (restart 'hub serve' to apply)")


def _seed_demo(args: argparse.Namespace, s: Any) -> None:
    from sync.hub.server import seed_demo

    _p(args, f"demo data seeded; enrolment code for till-1: {seed_demo(s)}")


def register_hub(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("hub", help="the reference hub: serve it and administer it")
    sub = p.add_subparsers(dest="hub_command", required=True)

    def add(name: str, fn: Any, text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=text)
        sp.add_argument("--db", default=None,
                        help=f"SQLite file or postgresql:// DSN (default ${HUB_DB_ENV} or DATA_DIR/hub.db)")
        _common(sp)
        sp.set_defaults(func=_hub_cmd(fn))
        return sp

    sp = add("serve", _serve, "run the hub (HTTP API)")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8700)
    sp.add_argument("--webhook-url", default=None, help="where presence notifications are delivered")
    sp.add_argument("--tls-cert", default=None)
    sp.add_argument("--tls-key", default=None)
    sp.add_argument("--workers", type=int, default=1,
                    help="hub processes serving the port (default 1); more than 1 needs a PostgreSQL --db, "
                         "e.g. one per CPU core")
    sp.set_defaults(func=_workers_checked(sp.get_default("func")))
    sp = add("create-store", _create_store, "create or rename a store")
    sp.add_argument("id")
    sp.add_argument("--name", default=None)
    sp = add("create-device", _create_device, "register a device and print its one-time enrolment code")
    sp.add_argument("--store", required=True)
    sp.add_argument("--device", required=True)
    sp.add_argument("--ttl-hours", type=float, default=72.0)
    sp = add("revoke-device", _revoke_device, "refuse a device from now on")
    sp.add_argument("device")
    sp = add("create-customer", _create_customer, "create or update a customer")
    sp.add_argument("--id", required=True)
    sp.add_argument("--name", required=True)
    sp.add_argument("--card", default=None)
    sp.add_argument("--home-store", default=None)
    sp.add_argument("--tier", default="Bronze")
    sp.add_argument("--points", type=int, default=0)
    sp = add("create-offer", _create_offer, "create or update an offer (optionally with a coupon code)")
    sp.add_argument("--id", required=True)
    sp.add_argument("--kind", required=True,
                    choices=["percent_off", "amount_off_basket", "buy_x_get_y", "points_multiplier"])
    sp.add_argument("--name", required=True)
    sp.add_argument("--params", default="{}")
    sp.add_argument("--customer", default=None)
    sp.add_argument("--priority", type=int, default=0)
    sp.add_argument("--coupon", default=None)
    sp = add("import-catalog", _import_catalog, "import gtin,name,price_cents,vat_rate_bp,category CSV")
    sp.add_argument("csv")
    sp = add("create-api-key", _create_api_key, "an API key for /v1/orders and the admin API")
    sp.add_argument("name")
    sp = add("exceptions", _exceptions, "the exceptions report (overdrafts, reused coupons, ...)")
    sp.add_argument("--kind", default=None)
    sp.add_argument("--json", action="store_true")
    sp = add("rotate-key", _rotate_key, "create a new loyalty-token signing key")
    sp.add_argument("--valid-days", type=int, default=90)
    sp = add("set-webhook", _set_webhook, "the URL presence notifications are delivered to")
    sp.add_argument("url")
    sp.add_argument("--secret", default=None,
                    help="shared secret: each delivery carries X-Store-Edge-Signature: sha256=HMAC-SHA256(body)")
    add("seed-demo", _seed_demo, "demo store, customers, catalog and an enrolment code")
    from sync.hub.admin_cli import register as register_presence_admin

    register_presence_admin(add)  # tags, EID keys, store beacons, rules, consent, revocations, erasure
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="store-edge")
    sub = parser.add_subparsers(dest="command", required=True)
    register_sync(sub)
    register_hub(sub)
    register_enroll(sub)
    return parser


def main(argv: list[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run one command in-process (tests, ``python -m sync.cli``)."""
    args = build_parser().parse_args(argv)
    args.stdout, args.stderr = stdout, stderr
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
