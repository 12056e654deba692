"""``store-edge sync run | once | status | retry-dead`` and ``store-edge enroll``: the device side of sync.

The app wires the ``sync`` package here: it gives the client its settings (``settings.hub``, a
``sync.config.SyncConfig``) and a database opened with the app's pragmas and migrations.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from typing import Any

from edge.cli.common import add_data_dir_option, given, note, out, require_database, say, tr
from edge.settings import Settings


def open_client(settings: Settings, args: argparse.Namespace | None = None) -> Any:
    """A ``SyncClient`` for this device: its credential, its database, its ``[hub]`` settings.

    Raises ``sync.credentials.CredentialError`` (a ``CliError``, exit 1) when the device is not enrolled.
    """
    from edge.db.connection import open_database
    from sync import credentials
    from sync.client import SyncClient

    cred = credentials.load(settings.data_dir)
    if settings.hub.url and settings.hub.url.rstrip("/") != cred.hub_url.rstrip("/") and args is not None:
        note(args, tr(args)._("using hub {url} from the settings (enrolled at {enrolled})")
             .format(url=settings.hub.url, enrolled=cred.hub_url))
    return SyncClient(lambda: open_database(settings.database_path), cred, settings.hub)


def _progress_printer(args: argparse.Namespace) -> tuple[Any, Any]:
    """A rich progress bar on a terminal for long drains; silence otherwise."""
    stream = out(args)
    if not (hasattr(stream, "isatty") and stream.isatty()):
        return (lambda sent, total: None), (lambda: None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True,
                   console=Console(file=stream))  # fmt: skip
    state: dict[str, Any] = {}

    def update(sent: int, total: int) -> None:
        if total < 1_000:
            return
        if "task" not in state:
            bar.start()
            state["task"] = bar.add_task("sync", total=total)
        bar.update(state["task"], completed=sent, total=total)

    return update, bar.stop


def cmd_sync_once(args: argparse.Namespace, settings: Settings | None) -> int:
    from edge.core.errors import CliError
    from sync.client import SyncError

    settings = given(settings)
    client = open_client(settings, args)
    update, done = _progress_printer(args)
    try:
        report = client.sync_once(update)
    except SyncError as exc:
        done()
        raise CliError(exc.args[0] if exc.args else str(exc), 1) from None  # a Text: said in the CLI's language
    finally:
        client.compact()  # devices synced only by 'sync once' (cron) need their acked rows dropped too
        client.close()
    done()
    say(args, report.summary(tr(args)))
    return 0 if report.rejected == 0 else 3


def cmd_sync_run(args: argparse.Namespace, settings: Settings | None) -> int:
    from edge.ops import sdnotify

    settings = given(settings)
    client = open_client(settings, args)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
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


def cmd_sync_status(args: argparse.Namespace, settings: Settings | None) -> int:
    from edge.db.connection import open_database
    from sync import outbox
    from sync.client import describe_status, status_offline

    settings = given(settings)
    require_database(settings.database_path)
    db = open_database(settings.database_path)
    st = status_offline(db)
    if args.json:
        stats = outbox.stats(db)
        say(args, json.dumps({"pending": st.pending, "oldest_pending_age_s": st.oldest_pending_age_s,
                              "dead": st.dead, "last_success_at": st.last_success_at, "last_error": st.last_error,
                              "dead_letters": [{"event_id": d.event_id, "type": d.type, "reason": d.reason}
                                               for d in stats.dead_letters]}))
        return 0
    for line in describe_status(st, tr(args))[1:]:  # 'online' needs the hub; the status command reads the database only
        say(args, line)
    for d in outbox.stats(db).dead_letters:
        say(args, tr(args)._("  dead #{seq} {type} {event}: {reason}").format(seq=d.seq, type=d.type,
                                                                               event=d.event_id, reason=d.reason))
    return 0


def cmd_sync_retry_dead(args: argparse.Namespace, settings: Settings | None) -> int:
    from edge.db.connection import open_database
    from sync import outbox

    settings = given(settings)
    require_database(settings.database_path)
    db = open_database(settings.database_path)
    say(args, tr(args)._("{n} dead letter(s) queued again").format(n=outbox.retry_dead(db)))
    return 0


def register_sync(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("sync", help="send the outbox to the hub and fetch the store's changes",
                              description="The device's sync with its hub: continuously, once, or the outbox "
                                          "in words.")
    sub = p.add_subparsers(dest="sync_command", metavar="SYNC_COMMAND", required=True)
    for name, fn, text in (
        ("run", cmd_sync_run, "sync continuously (headless devices)"),
        ("once", cmd_sync_once, "push everything pending, pull changes, exit"),
        ("status", cmd_sync_status, "pending count, oldest pending, dead letters, last error"),
        ("retry-dead", cmd_sync_retry_dead, "queue the dead letters again"),
    ):
        sp = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        add_data_dir_option(sp, "the device's data directory")
        if name == "status":
            sp.add_argument("--json", action="store_true", help="one JSON object instead of lines")
        sp.set_defaults(handler=fn)
    return p


# ------------------------------------------------------------------------------------------------ enrol
def cmd_enroll(args: argparse.Namespace, settings: Settings | None) -> int:
    from sync.enroll import enroll

    settings = given(settings)
    cred = enroll(args.hub, args.code, settings.data_dir, timeout_s=settings.hub.timeout_s)
    say(args, tr(args)._("enrolled as device {device} of store {store}; credential saved")
        .format(device=cred.device_id, store=cred.store_id))
    if cred.store_id != settings.store.id or cred.device_id != settings.device.id:
        say(args, tr(args)._("note: set store.id = {store} and device.id = {device} in the config so receipts "
                             "and events agree").format(store=repr(cred.store_id), device=repr(cred.device_id)))
    return 0


def register_enroll(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("enroll", help="enrol this device with a hub using a one-time code",
                              description="Trade a one-time code from the hub administrator for this device's "
                                          "credential (saved mode 0600 in the data directory).")
    p.add_argument("--hub", required=True, help="hub URL, e.g. https://hub.example.com")
    p.add_argument("--code", required=True, help="the one-time code from the hub administrator")
    add_data_dir_option(p, "the device's data directory")
    p.set_defaults(handler=cmd_enroll)
    return p


__all__ = ["open_client", "register_enroll", "register_sync"]
