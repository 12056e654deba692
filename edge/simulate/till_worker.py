"""One till of the simulated day, as its own process: paced sales through ``TillSession`` and a ``SyncWorker``.

``python -m edge.simulate.till_worker --data-dir D --hub-url URL --device-id till-1 --store-id store-1 ...``

Survives kill -9: the day's progress is the number of this till's sales in its own database (a sale is one
transaction), so a restarted worker continues with the next sale and never redoes one. Sale ``i`` is built
from ``Random(seed, device, i)``, so the restarted worker sells what the killed one would have sold.

Options for the faulty devices: ``--clock-offset-s 300`` (this box's clock is 5 minutes fast: sale times,
ledger times and outbox device times all move) and ``--disk-full-at I`` (when sale ``I`` is due, the file
size limit drops to the database's current size, so writes fail with EFBIG; sales that cannot be written
fail as a whole, the worker counts the refusals and, after ``--disk-full-refusals``, "frees the space" by
lifting the limit again).

Kills mid-sale: while ``kill-mid-sale.json`` {"point": "after_lines" | "after_ledger_earn"} exists in the data
directory, the next sale reaching that point of ``SalesService.complete`` (inside its SQLite transaction)
writes ``mid-sale.json`` {pid, point, sale_id, sale_no} and waits there (at most ``PAUSE_MAX_S``) for the
orchestrator's kill -9; the killed sale must leave no trace anywhere.

The close: when the day's sales are done the worker records ``finished`` in its state file and keeps its
``SyncWorker`` running (pushing and pulling through the proxy) until ``close.json`` appears, so the devices
converge through their own sync. Exit codes: 0 closed with the outbox drained; 4 the deadline passed first
(or the outbox still held events at the close).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import resource
import signal
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlite_utils

from edge.db.connection import open_database
from edge.session import TillSession
from edge.settings import DeviceSettings, Settings, StoreSettings
from edge.simulate.common import DOUBLE_SPEND_CUSTOMER, SIM_HUB, read_json, wait_until, write_json
from edge.store.sales import SaleError, SalesService
from sync import credentials, outbox
from sync.client import SyncClient, SyncStatus, SyncWorker
from sync.lookup import MemberLookup

log = logging.getLogger("till_worker")

DISK_FULL_MAX_S = 20.0  # the technician frees space at the latest this long after the disk filled
PAUSE_POINTS = ("after_lines", "after_ledger_earn")
PAUSE_MAX_S = 8.0
BROKEN_LINK = "http://127.0.0.1:9"  # the discard port, closed here: a look-up over it is refused at once  # a mid-sale pause nobody kills ends by itself: the orchestrator gave up on it


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="till_worker")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--hub-url", required=True)
    p.add_argument("--device-id", required=True)
    p.add_argument("--store-id", required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--sales", type=int, required=True)
    p.add_argument("--day-start", type=float, required=True, help="wall time the day began (unix seconds)")
    p.add_argument("--duration", type=float, required=True, help="seconds the trading day lasts")
    p.add_argument("--deadline", type=float, required=True, help="wall time after which the worker gives up")
    p.add_argument("--coupon-prefix", default="")
    p.add_argument("--clock-offset-s", type=float, default=0.0)
    p.add_argument("--disk-full-at", type=int, default=-1)
    p.add_argument("--disk-full-refusals", type=int, default=5)
    p.add_argument("--visitor-cards", default="", help="comma-separated cards of members this store was never sent")
    return p


class Till:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data_dir: Path = args.data_dir
        self.db_path = self.data_dir / "store.db"
        self.state_path = self.data_dir / "worker-state.json"
        self.offset = timedelta(seconds=args.clock_offset_s)
        self.settings = Settings(
            data_dir=self.data_dir,
            store=StoreSettings(id=args.store_id, name=f"Store {args.store_id}"),
            device=DeviceSettings(id=args.device_id),
            hub=SIM_HUB,
        )
        self.cred = credentials.load(self.data_dir)
        self.online = False
        self.sync: SyncWorker | None = None
        self.db: sqlite_utils.Database | None = None
        self.session: TillSession | None = None
        self.sale_no = -1  # the sale being written, for the mid-sale marker
        self.state = read_json(self.state_path, {"refusals": 0, "disk_full": "pending", "feedback": 0,
                                                 "retried_plain": 0, "restarts": -1})
        self.state["restarts"] = int(self.state.get("restarts", -1)) + 1
        self._save_state()
        # members of another store who shop here: identified through the hub look-up (edge/simulate/members.py)
        self.visitors = [c for c in str(args.visitor_cards).split(",") if c]
        self.lookup = MemberLookup(self.cred, SIM_HUB, hub_url=args.hub_url) if self.visitors else None
        self.guest_visitor: str | None = None  # the visitor on the sale being written, served as a guest

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def _save_state(self) -> None:
        # the state file is tiny and lives outside the database: it must be writable while the disk is "full"
        write_json(self.state_path, self.state)

    # -- database and sync, both reopened after a write failure -------------------------------------
    def open(self) -> None:
        self.close_db()
        self.db = open_database(self.db_path)
        self.session = TillSession(self.settings, self.db, clock=self.now)
        # the same service the session built, plus the hook where a kill -9 lands inside the transaction
        self.session.sales = SalesService(self.db, self.session.rules, store_name=self.settings.store.name,
                                          currency=self.settings.store.currency,
                                          receipt_width=self.settings.till.receipt_width, fault=self._fault)
        self.session.member_lookup = self.lookup

    def _fault(self, point: str) -> None:
        """Inside the sale's transaction: pause for the orchestrator's kill -9 when it asked for this point."""
        request = self.data_dir / "kill-mid-sale.json"
        if point not in PAUSE_POINTS or not request.exists() or read_json(request).get("point") != point:
            return
        assert self.db is not None
        # the uncommitted sale row is visible to this connection only: its id proves the rollback later
        row = self.db.execute("SELECT id FROM sales ORDER BY rowid DESC LIMIT 1").fetchone()
        marker = self.data_dir / "mid-sale.json"
        write_json(marker, {"pid": os.getpid(), "point": point, "sale_id": row[0] if row else None,
                            "sale_no": self.sale_no})
        until = time.monotonic() + PAUSE_MAX_S
        while request.exists() and time.monotonic() < until:
            time.sleep(0.01)
        marker.unlink(missing_ok=True)  # not killed after all: finish the sale

    def close_db(self) -> None:
        if self.db is not None:
            with contextlib.suppress(Exception):
                self.db.close()
        self.db, self.session = None, None

    def start_sync(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                client = SyncClient(lambda: open_database(self.db_path), self.cred, SIM_HUB, hub_url=self.args.hub_url)
                break
            except sqlite3.Error:
                # resume_in_flight writes at start-up; with the disk full that waits for space
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

        def listen(status: SyncStatus) -> None:
            self.online = bool(status.online)

        client.add_listener(listen)
        self.sync = SyncWorker(client).start()

    def stop_sync(self) -> None:
        if self.sync is not None:
            self.sync.stop(timeout=10)
            self.sync = None

    # -- the day --------------------------------------------------------------------------------------
    def progress(self) -> int:
        assert self.db is not None
        return int(self.db.execute(
            "SELECT count(*) FROM sales WHERE customer_id IS NULL OR customer_id != ?", [DOUBLE_SPEND_CUSTOMER]
        ).fetchone()[0])

    def wait_for_catalog(self) -> None:
        """The first pull brings the catalog, customers and coupons; a till cannot sell before it."""
        assert self.db is not None
        while time.time() < self.args.deadline:
            if self.db.execute("SELECT count(*) FROM products").fetchone()[0] > 0 and self.db.execute(
                "SELECT count(*) FROM customers WHERE card_number IS NOT NULL"
            ).fetchone()[0] > 0:
                return
            time.sleep(0.2)
        raise SystemExit(4)

    def run(self) -> int:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the file size limit, write() fails with EFBIG
        self.open()
        if self.state.get("disk_full") == "active":
            self._fill_disk()
        self.start_sync()
        self.wait_for_catalog()
        n, args = args_sales(self.args), self.args
        while time.time() < args.deadline:
            self.directive()
            try:
                i = self.progress()
            except sqlite3.Error:
                self._reopen_after_failure()
                continue
            if i >= n:
                break
            wait_until(args.day_start + args.duration * i / n, args.deadline)
            if time.time() < args.day_start + args.duration * i / n:
                continue
            if i == args.disk_full_at and self.state.get("disk_full") == "pending":
                self.state["disk_full"] = "active"
                self.state["disk_full_since"] = time.time()
                self._save_state()
                self._fill_disk()
            self.sale_no = i
            self.sell(i)
        else:
            return 4
        self.state["finished"] = True
        self._save_state()
        return self.keep_syncing()

    def keep_syncing(self) -> int:
        """Sales done: the sync thread keeps pushing and pulling until the orchestrator closes the day."""
        assert self.sync is not None
        while time.time() < self.args.deadline:
            self.directive()
            if (self.data_dir / "close.json").exists():
                self.stop_sync()
                try:
                    pending = outbox.pending_count(self.db) if self.db is not None else 1
                except sqlite3.Error:
                    pending = 1
                return 0 if pending == 0 else 4
            time.sleep(0.1)
        return 4

    def sell(self, i: int) -> None:
        for plain in (False, True):
            try:
                self._sale(i, plain)
                return
            except SaleError as exc:
                # the screen was stale (a coupon used, points spent meanwhile): the cashier tries again
                log.info("sale %d refused (%s); retrying without coupon and points", i, exc)
                self.state["retried_plain"] += 1
                self._save_state()
                if self.session is not None:
                    self.session.new_sale()
            except sqlite3.Error as exc:
                self._refused(i, exc)
                return

    def _refused(self, i: int, exc: Exception) -> None:
        """The write failed (disk full): nothing of the sale is stored; count it and try sale i again later."""
        log.warning("sale %d could not be written: %s", i, exc)
        self.state["refusals"] = int(self.state.get("refusals", 0)) + 1
        active = self.state.get("disk_full") == "active"
        if active and (self.state["refusals"] >= self.args.disk_full_refusals
                       or time.time() - float(self.state.get("disk_full_since", 0)) > DISK_FULL_MAX_S):
            self.state["disk_full"] = "over"
            _set_fsize(resource.RLIM_INFINITY)
        self._save_state()
        self._reopen_after_failure()
        time.sleep(0.05)

    def _reopen_after_failure(self) -> None:
        # a connection that hit an I/O error is not trusted again: reopen it (the sync thread has its own)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.open()
                return
            except (sqlite3.Error, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _fill_disk(self) -> None:
        """The disk fills up: fold the WAL into the database, then forbid growing any file beyond that."""
        assert self.db is not None
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = self.db_path.stat().st_size
        _set_fsize(max(size, 64 * 1024))

    def _sale(self, i: int, plain: bool) -> None:
        assert self.db is not None and self.session is not None
        s = self.session
        s.new_sale()
        s.hub_online = self.online
        rng = random.Random(f"{self.args.seed}:{self.args.device_id}:{i}")
        products = self.db.execute("SELECT gtin, category, price_cents FROM products ORDER BY gtin").fetchall()
        self._identify(i, rng)
        for _ in range(rng.randint(1, 6)):
            gtin = rng.choice(products)[0]
            s.add_gtin(gtin, rng.randint(1, 3))
        if s.customer is not None:
            # a customer who got a presence offer on the shop floor came for it: put a matching item in
            for offer in s.personal_offers():
                category = offer.params.get("category") if isinstance(offer.params, dict) else None
                matching = [p for p in products if p[1] == category]
                if matching:
                    s.add_gtin(rng.choice(matching)[0])
        total = s.settlement().amount_due_cents
        if not plain and self.args.coupon_prefix and rng.random() < 0.08 and total >= 1500:
            row = self.db.execute(
                "SELECT code FROM coupons WHERE code LIKE ? AND redeemed_at IS NULL ORDER BY code LIMIT 1",
                [self.args.coupon_prefix + "%"],
            ).fetchone()
            if row:
                s.apply_coupon(row[0])
        if not plain and s.customer is not None and rng.random() < 0.15:
            limit = s.redemption_limit()
            if limit.max_points >= self.settings.loyalty.min_redeem_points:
                s.redeem(rng.randint(self.settings.loyalty.min_redeem_points, limit.max_points))
        if s.customer is not None and not self.state.get("reward_claimed"):
            self._claim_reward()
        method = rng.choice(["card", "card", "cash"])
        due = s.settlement().amount_due_cents
        sale = s.complete(method, tendered_cents=due + rng.choice([0, 0, 500]) if method == "cash" else None)
        self._after_sale(sale.sale_id)
        if rng.random() < 0.25:
            s.record_feedback(rng.randint(0, 10))
            self.state["feedback"] = int(self.state.get("feedback", 0)) + 1

    def _identify(self, i: int, rng: random.Random) -> None:
        """Who is at the till for sale ``i``: a member of another store due here, a member of this store (card
        scanned) or a guest."""
        assert self.db is not None and self.session is not None
        s = self.session
        self.guest_visitor = None
        visitor = self._visitor_due(i)
        if visitor is not None:
            self._meet_visitor(visitor)
            return
        customer_id = self._pick_customer(rng) if rng.random() < 0.6 else None
        if customer_id is not None:
            card = self.db.execute("SELECT card_number FROM customers WHERE id = ?", [customer_id]).fetchone()[0]
            outcome = s.scan(card) if card else s.lookup_customer(customer_id)
            if not outcome.ok:
                s.lookup_customer(customer_id)

    def _pick_customer(self, rng: random.Random) -> str | None:
        assert self.db is not None
        if rng.random() < 0.3:
            # customers holding a personal offer from the shop floor (delivered by the hub) walk to the till
            rows = self.db.execute(
                "SELECT DISTINCT customer_id FROM offers WHERE customer_id IS NOT NULL AND active = 1 "
                "AND id NOT LIKE 'OFF-%' AND valid_until > ? ORDER BY customer_id",
                [self.now().isoformat()],
            ).fetchall()
            rows = [r for r in rows if r[0] != DOUBLE_SPEND_CUSTOMER]
            if rows:
                return str(rng.choice(rows)[0])
        ids = [r[0] for r in self.db.execute(
            "SELECT id FROM customers WHERE card_number IS NOT NULL AND id != ? ORDER BY id", [DOUBLE_SPEND_CUSTOMER]
        ).fetchall()]
        return str(rng.choice(ids)) if ids else None

    def _visitor_due(self, i: int) -> str | None:
        """The card of a member of another store due at sale ``i`` and not yet served here: visitor ``k`` comes
        at sale ``n * (k + 1) / (V + 2)`` and again at every sale after it until a sale to them is stored."""
        assert self.db is not None
        n, v = args_sales(self.args), len(self.visitors)
        for k, card in enumerate(self.visitors):
            if i < n * (k + 1) // (v + 2):
                break
            if self.db.execute("SELECT 1 FROM sales s JOIN customers c ON c.id = s.customer_id "
                               "WHERE c.card_number = ? LIMIT 1", [card]).fetchone() is None:
                return card
        return None

    def _meet_visitor(self, card: str) -> None:
        """The member's card is scanned; unknown here, the till asks the hub as its cashier would (the session's
        ``ask_hub`` / ``member_from_hub``). Not identified (the hub unreachable): a guest sale with a claim code,
        which the member scans at their next visit, once identified (``TillSession.claim_receipt``).

        The first visitor's first look-ups meet a broken store link (a closed port: connection refused) until
        their guest receipt is recorded, so every day has a guest sale claimed later."""
        assert self.session is not None
        s = self.session
        receipts: dict[str, str] = self.state.setdefault("receipts", {})
        broken = card == self.visitors[0] and card not in receipts
        if broken:
            s.member_lookup = MemberLookup(self.cred, SIM_HUB, hub_url=BROKEN_LINK)
        try:
            outcome = s.scan(card)
            if outcome.kind == "ask_hub" and outcome.ask_hub is not None:
                result = s.ask_hub(*outcome.ask_hub)
                lookups = self.state.setdefault("lookups", {})
                lookups[result.outcome] = int(lookups.get(result.outcome, 0)) + 1
                self._save_state()
                s.member_from_hub(result)
        finally:
            if broken and s.member_lookup is not None:
                s.member_lookup.close()
                s.member_lookup = self.lookup
        if s.customer is None:
            self.guest_visitor = card
        elif card in receipts and card not in self.state.setdefault("claimed", []):
            s.scan(receipts[card])  # the receipt's claim code: a receipt.claimed event, the hub adds its points once
            self.state["claimed"].append(card)
            self._save_state()

    def _after_sale(self, sale_id: str) -> None:
        """A visitor served as a guest: keep their receipt's claim code for their next visit."""
        card, self.guest_visitor = self.guest_visitor, None
        if card is None or self.db is None:
            return
        row = self.db.execute("SELECT claim_code FROM sales WHERE id = ?", [sale_id]).fetchone()
        if row and row[0]:
            self.state.setdefault("receipts", {})[card] = row[0]
            self._save_state()

    def _claim_reward(self) -> None:
        """Once per till, a member claims the cheapest reward of the catalogue they can afford."""
        assert self.session is not None
        for reward in sorted(self.session.rewards(), key=lambda r: (r.points, r.id)):
            if self.session.claim_reward(reward.id).ok:
                self.state["reward_claimed"] = reward.id
                self._save_state()
                return

    # -- the orchestrator's directives ----------------------------------------------------------------
    def directive(self) -> None:
        """``directive.json`` {"customer", "points"}: spend that customer's points here (the double spend)."""
        path = self.data_dir / "directive.json"
        done_path = self.data_dir / "directive-done.json"
        if not path.exists() or done_path.exists() or self.db is None or self.session is None:
            return
        doc = read_json(path)
        cid, points = str(doc.get("customer", "")), int(doc.get("points", 0))
        try:
            row = self.db.execute(
                "SELECT id FROM sales WHERE customer_id = ? AND points_redeemed > 0", [cid]).fetchone()
            if row is None:
                row = (self._spend(cid, points),)
        except (SaleError, sqlite3.Error) as exc:
            log.warning("the directive failed for now: %s", exc)
            return
        write_json(done_path, {"sale_id": row[0], "online": self.online})

    def _spend(self, customer_id: str, points: int) -> str:
        assert self.db is not None and self.session is not None
        s = self.session
        s.new_sale()
        s.hub_online = self.online
        outcome = s.lookup_customer(customer_id)
        if not outcome.ok:
            raise SaleError(outcome.message)
        expensive = self.db.execute("SELECT gtin FROM products ORDER BY price_cents DESC LIMIT 4").fetchall()
        k = 0
        while s.settlement().amount_due_cents < 2 * points + 200 and k < 40:
            s.add_gtin(expensive[k % len(expensive)][0])
            k += 1
        outcome = s.redeem(points)
        if not outcome.ok:
            raise SaleError(outcome.message)
        return s.complete("card").sale_id


def args_sales(args: argparse.Namespace) -> int:
    return max(0, int(args.sales))


def _set_fsize(limit: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s {args.device_id} %(levelname)s %(message)s")
    if args.clock_offset_s:
        # this box's clock is wrong: every timestamp it writes, the outbox's device time included, is off
        skew = timedelta(seconds=args.clock_offset_s)
        outbox.utc_now_iso = lambda: (datetime.now(UTC) + skew).isoformat(  # type: ignore[assignment]
            timespec="milliseconds").replace("+00:00", "Z")
    till = Till(args)
    try:
        return till.run()
    finally:
        till.stop_sync()
        till.close_db()
        if till.lookup is not None:
            till.lookup.close()


if __name__ == "__main__":
    sys.exit(main())
