"""The simulated store day: a hub, two tills and a shop-floor presence box as real processes on 127.0.0.1.

Timeline (``duration`` real seconds of trading, then the close):

1. Set-up: the hub database is seeded (the demo store as ``store-1``, an empty ``store-2``, a web order for
   pick-up in ``store-2`` per customer so both stores know everyone, single-use coupons split between the
   tills), three devices are created and enrolled with one-time codes, and the hub starts as
   ``python -m edge.cli hub serve`` with its presence webhook pointed at this process.
2. Trading: each device syncs through its own :class:`FaultProxy` (drops, duplicates, 5xx, garbage).
   Scheduled faults: partitions of varying length, three kinds of kill -9 of worker processes (they restart
   and resume): *mid-sale* (a till is paused inside ``SalesService.complete``'s transaction, see
   ``till_worker``, and killed there), *mid-batch* (the device's proxy holds a push the hub has already
   handled, ``FaultProxy.on_forwarded``, and the device is killed before the answer reaches it) and *other*
   (at a random moment); a kill -9 and restart of the hub; the double spend (both tills partitioned, both
   spend the same customer's points, then healed); web orders posted to the hub all day; four rounds of a
   hostile device of ``store-1`` whose token was stolen (``edge/simulate/rogue.py``), none of which may count;
   the members' day (``edge/simulate/members.py``: store 1's members met at till-2 through the hub look-up,
   their web orders, returns and cancel, tonight's expiry run early, an upgrade to Gold).
   Fixed faults: ``till-1``'s clock is 5 minutes fast; ``till-2``'s disk fills up part way.
3. Close: workers finish their sales/adverts and keep syncing; the orchestrator switches the proxies' faults
   off and waits (bounded) until the devices' own sync has converged: every outbox empty, every device's
   pull cursor at the hub's latest change, every webhook delivered. Only then are the workers told to stop;
   a day that does not converge in time is reported as such by the reconciliation.

Presence offers reach the tills this way (the honest path; the hub itself does not relay them): the
presence box sends ``presence.notification_requested``; the hub delivers it to its webhook; the webhook
receiver here plays the app backend and publishes the offer as a personal hub offer
(``HubStorage.upsert_offer`` with the same offer id); the tills pull it like any personal offer and
customers holding one are more likely to come to a till, where the discount applies.

Every child runs in its own process group with PR_SET_PDEATHSIG, and the ``finally`` block kills every group.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

import httpx
from sqlalchemy import Connection, Engine
from sqlalchemy import text as sa_text
from sqlalchemy.exc import SQLAlchemyError

from edge.core.contract import EventType
from edge.demo.seed import demo_dataset, seed_hub
from edge.simulate.common import (
    DOUBLE_SPEND_CUSTOMER,
    FLOOR_1,
    STORE_1,
    STORE_2,
    TILL_1,
    TILL_2,
    die_with_parent,
    read_json,
    write_json,
)
from edge.simulate.members import MemberDay, MemberPlan, seed_members
from edge.simulate.presence_worker import PRESENCE_RULES
from edge.simulate.rogue import Rogue
from sync.faultproxy import FaultProxy, Faults
from sync.hub.storage import HubStorage

ROOT = Path(__file__).resolve().parents[2]
CLOCK_FAST_S = 300.0
HUB_DOWN_S = 1.0
CATCH_S = 4.0  # how long a targeted kill waits for its moment (a sale at the point, a push on the wire)
RETRY_S = 1.0  # a targeted kill that missed its moment is tried again this much later, up to MAX_TRIES
MAX_TRIES = 4


@dataclass
class DayConfig:
    seed: int = 7
    sales: int = 250  # per till
    adverts: int = 40_000
    kills: int = 3  # at random moments
    kills_mid_sale: int = 3
    kills_mid_batch: int = 3
    partitions: int = 4
    orders: int = 30
    duration: float = 30.0  # seconds of trading
    sim_hours: float = 3.0  # the presence box's simulated day, squeezed into ``duration``
    coupons: int = 60  # per till
    budget_s: float = 200.0  # the whole run, close included, gives up after this
    converge_s: float = 75.0  # the devices' own sync must converge within this (> the hub's 60 s delivery lease)
    hub_db: str = ""  # a postgresql:// DSN of an empty database for the hub; "" is a SQLite file in the run dir
    hub_workers: int = 1  # hub serve --workers (more than 1 needs PostgreSQL)

    @classmethod
    def reduced(cls, **kw: Any) -> DayConfig:
        return cls(**kw)

    @classmethod
    def full(cls, **kw: Any) -> DayConfig:
        base: dict[str, Any] = {"sales": 2_500, "adverts": 300_000, "kills": 8, "kills_mid_sale": 8,
                                "kills_mid_batch": 8, "partitions": 14, "orders": 400, "duration": 240.0,
                                "sim_hours": 12.0, "coupons": 300, "budget_s": 900.0, "converge_s": 90.0}
        base.update(kw)
        return cls(**base)


@dataclass
class Worker:
    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    done: bool = False
    rc: int | None = None
    restart_at: float | None = None
    crashes: int = 0

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        fh = self.log.open("ab")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        self.popen = subprocess.Popen(self.argv, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                                      start_new_session=True, preexec_fn=die_with_parent)
        fh.close()
        self.restart_at = None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def terminate(self, grace_s: float = 5.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.kill9()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebhookReceiver:
    """The app backend: receives presence notifications and publishes presence offers through the hub."""

    def __init__(self, storage: HubStorage, log_path: Path) -> None:
        self.storage = storage
        self.log_path = log_path
        self.lock = threading.Lock()
        self.offer_kinds: dict[str, Any] = {str(r["campaign_id"]): r["offer"] for r in PRESENCE_RULES}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                try:
                    doc = json.loads(self.rfile.read(length))
                    receiver.receive(doc, self.headers.get("idempotency-key") or "")
                except Exception as exc:  # the hub retries a non-2xx answer
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(str(exc).encode())
                    return
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/presence"
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook", daemon=True)

    def receive(self, doc: dict[str, Any], key: str) -> None:
        payload = doc.get("payload") or {}
        with self.lock:
            if doc.get("type") == EventType.PRESENCE_NOTIFICATION_REQUESTED:
                offer = self.offer_kinds.get(str(payload.get("campaign_id")))
                if offer and payload.get("offer_id") and payload.get("customer_id"):
                    self.storage.upsert_offer({"id": payload["offer_id"], "kind": offer["kind"],
                                               "name": offer["name"], "params": offer["params"],
                                               "customer_id": payload["customer_id"],
                                               "valid_until": payload.get("valid_until")})
            with self.log_path.open("a") as fh:
                fh.write(json.dumps({"key": key, "event_id": doc.get("event_id"), "type": doc.get("type")}) + "\n")

    def start(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class BatchCatcher:
    """A proxy's ``on_forwarded`` hook: when armed, holds the next push the hub has answered until released."""

    def __init__(self) -> None:
        self.armed = threading.Event()
        self.caught = threading.Event()
        self.release = threading.Event()
        self.answer = ""

    async def __call__(self, request: bytes, response: bytes) -> None:
        if not self.armed.is_set() or not request.startswith(b"POST /v1/events"):
            return
        self.armed.clear()
        self.answer = response.split(b"\r\n", 1)[0].decode("latin-1")
        self.caught.set()
        for _ in range(int(2 * CATCH_S / 0.02)):  # bounded: released after the kill, or given up
            if self.release.is_set():
                return
            await asyncio.sleep(0.02)


@dataclass
class RunLog:
    kills: list[dict[str, Any]] = field(default_factory=list)
    missed_kills: list[dict[str, Any]] = field(default_factory=list)
    partitions: list[dict[str, Any]] = field(default_factory=list)
    hub_restarts: int = 0
    double_spend: dict[str, Any] = field(default_factory=dict)
    orders_acked: list[str] = field(default_factory=list)
    orders_failed: list[str] = field(default_factory=list)
    orders_returned: list[str] = field(default_factory=list)
    crashes: list[dict[str, Any]] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    convergence: dict[str, Any] = field(default_factory=dict)
    undelivered_webhooks: int = 0
    seconds: float = 0.0
    members: dict[str, Any] = field(default_factory=dict)  # edge/simulate/members.py: MemberDay.record
    tiers_at_start: dict[str, str] = field(default_factory=dict)  # every member's tier once the hub is seeded


class StoreDay:
    def __init__(self, config: DayConfig, run_dir: Path, out: TextIO = sys.stdout) -> None:
        self.config = config
        self.run_dir = run_dir
        self.out = out
        self.rng = random.Random(f"day:{config.seed}")
        self.log = RunLog()
        # the hub's database; on PostgreSQL its tables are copied into hub_db (SQLite) at the end, which is
        # what the reconciliation reads
        self.hub_db = run_dir / "hub" / "hub.db"
        self.hub_target = config.hub_db or str(self.hub_db)
        self.hub_port = free_port()
        self.hub_url = f"http://127.0.0.1:{self.hub_port}"
        self.devices: dict[str, dict[str, Any]] = {
            TILL_1: {"store": STORE_1, "role": "till", "clock_offset_s": CLOCK_FAST_S, "disk_full": False},
            TILL_2: {"store": STORE_2, "role": "till", "clock_offset_s": 0.0, "disk_full": True},
            FLOOR_1: {"store": STORE_1, "role": "presence", "clock_offset_s": 0.0, "disk_full": False},
        }
        self.workers: dict[str, Worker] = {}
        self.proxies: dict[str, FaultProxy] = {}
        self.catchers: dict[str, BatchCatcher] = {}
        self.pending_events: list[tuple[float, str, Any]] = []
        self.hub: Worker | None = None
        self.storage: HubStorage | None = None
        self.receiver: WebhookReceiver | None = None
        self.api_key = ""
        self.rogue_code = ""
        self.rogue: Rogue | None = None
        self.member_day: MemberDay | None = None

    def say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=self.out, flush=True)

    def device_dir(self, name: str) -> Path:
        return self.run_dir / "devices" / name

    # -- set-up -------------------------------------------------------------------------------------
    def seed(self) -> dict[str, str]:
        self.hub_db.parent.mkdir(parents=True, exist_ok=True)
        storage = self.storage = HubStorage.open(self.hub_target)
        seed_hub(storage, STORE_1, seed=self.config.seed)
        storage.create_store(STORE_2, "Store 2")
        for c in demo_dataset(self.config.seed)["customers"]:
            # a pick-up order in store 2 makes every customer relevant there: till-2 can serve them too
            storage.record_order({"order_id": f"PICKUP-{c['id']}", "customer_id": c["id"], "channel": "web",
                                  "total_cents": 1999, "status": "ready", "pickup_store_id": STORE_2,
                                  "lines": []})
        for prefix in ("SIM1", "SIM2"):
            for k in range(self.config.coupons):
                storage.create_coupon(f"{prefix}-{k:05d}", "OFF-COUPON3", None, True)
        self.api_key = storage.create_api_key("simulation")
        self.rogue_code = Rogue.seed_hub(storage)
        self.seed_members(storage)
        return {name: storage.create_device(d["store"], name) for name, d in self.devices.items()}

    def seed_members(self, storage: HubStorage) -> None:
        """Members of store 1 only, with old and new point lots, whose day ``MemberDay`` plays
        (``edge/simulate/members.py``); and every member's tier before the day."""
        from datetime import UTC, datetime

        seed_members(storage, datetime.now(UTC))
        self.member_day = MemberDay(MemberPlan(self.config.seed), storage, self._post)
        self.log.members = self.member_day.record
        with storage.db.engine.connect() as conn:
            self.log.tiers_at_start = {str(cid): str(tier) for cid, tier in conn.execute(
                sa_text("SELECT id, tier FROM customers"))}

    def start_hub(self) -> None:
        assert self.receiver is not None
        if self.hub is None:
            self.hub = Worker("hub", [sys.executable, "-m", "edge.cli", "hub", "serve", "--db", self.hub_target,
                                      "--port", str(self.hub_port), "--webhook-url", self.receiver.url,
                                      "--workers", str(self.config.hub_workers)],
                              self.run_dir / "hub" / "hub.log")
        self.hub.start()
        # each worker process imports the hub and opens its pool: on a loaded 2-core box that takes seconds
        deadline = time.monotonic() + 20 + 15 * self.config.hub_workers
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.hub_url}/v1/health", timeout=1).status_code == 200:
                    return
            if not self.hub.running:
                break
            time.sleep(0.1)
        raise RuntimeError(f"the hub did not start; see {self.hub.log}")

    def enrol(self, codes: dict[str, str]) -> None:
        from sync.enroll import enroll

        for name, code in codes.items():
            enroll(self.hub_url, code, self.device_dir(name))
        assert self.storage is not None
        stolen = enroll(self.hub_url, self.rogue_code, self.run_dir / "rogue")  # the token an attacker holds
        self.rogue = Rogue(self.hub_url, stolen.token, self.storage, self.config.seed)

    def faults(self, name: str) -> Faults:
        return Faults(drop_request=0.02, drop_response=0.03, delay=0.05, http_503=0.02, error_after_forward=0.02,
                      garbage=0.01, duplicate=0.03, delay_range_s=(0.02, 0.2),
                      seed=self.rng.randrange(1 << 30))

    def worker_argv(self, name: str, day_start: float, deadline: float) -> list[str]:
        c, d = self.config, self.devices[name]
        common = ["--data-dir", str(self.device_dir(name)), "--hub-url", self.proxies[name].url,
                  "--store-id", str(d["store"]), "--seed", str(c.seed), "--day-start", f"{day_start:.3f}",
                  "--duration", str(c.duration), "--deadline", f"{deadline:.3f}"]
        if d["role"] == "presence":
            return [sys.executable, "-m", "edge.simulate.presence_worker", *common, "--adverts", str(c.adverts),
                    "--sim-hours", str(c.sim_hours)]
        argv = [sys.executable, "-m", "edge.simulate.till_worker", *common, "--device-id", name,
                "--sales", str(c.sales), "--coupon-prefix", "SIM1-" if name == TILL_1 else "SIM2-"]
        if d["clock_offset_s"]:
            argv += ["--clock-offset-s", str(d["clock_offset_s"])]
        if d["disk_full"]:
            argv += ["--disk-full-at", str(int(c.sales * 0.35)), "--disk-full-refusals", "5"]
        if name == TILL_2 and self.member_day is not None:  # store 1's members come to store 2 too
            argv += ["--visitor-cards", ",".join(self.member_day.record["visitor_cards"])]
        return argv

    # -- the day ------------------------------------------------------------------------------------
    def schedule(self, day_start: float) -> list[tuple[float, str, Any]]:
        c, d = self.config, self.config.duration
        events: list[tuple[float, str, Any]] = []
        tills = [n for n, dev in self.devices.items() if dev["role"] == "till"]
        for _ in range(c.kills):
            events.append((day_start + self.rng.uniform(0.04, 0.85) * d, "kill", self.rng.choice(list(self.devices))))
        for k in range(c.kills_mid_sale):
            point = ("after_lines", "after_ledger_earn")[k % 2]
            events.append((day_start + self.rng.uniform(0.06, 0.8) * d, "kill_mid_sale",
                           (self.rng.choice(tills), point, 1)))
        for _ in range(c.kills_mid_batch):
            events.append((day_start + self.rng.uniform(0.06, 0.8) * d, "kill_mid_batch",
                           (self.rng.choice(list(self.devices)), 1)))
        for _ in range(c.partitions):
            length = self.rng.uniform(0.02, 0.1) * d
            events.append((day_start + self.rng.uniform(0.02, 0.85) * d, "partition",
                           (self.rng.choice(list(self.devices)), length)))
        events.append((day_start + 0.45 * d, "hub_restart", None))
        events.append((day_start + 0.6 * d, "double_spend", None))
        for share in (0.2, 0.4, 0.65, 0.9):  # the hostile device's rounds (edge/simulate/rogue.py)
            events.append((day_start + share * d, "rogue", None))
        for k in range(c.orders):
            events.append((day_start + 0.95 * d * k / max(1, c.orders), "order", k))
        if self.member_day is not None:
            events += [(day_start + at * d, "member_step", k) for k, (at, _, _) in enumerate(self.member_day.plan.steps)]
        events.sort(key=lambda e: e[0])
        return events

    def run(self) -> int:
        started = time.time()
        codes = self.seed()
        assert self.storage is not None
        self.receiver = WebhookReceiver(self.storage, self.run_dir / "webhook.jsonl").start()
        self.start_hub()
        self.enrol(codes)
        for name in self.devices:
            self.proxies[name] = FaultProxy("127.0.0.1", self.hub_port, self.faults(name)).start()
            self.catchers[name] = BatchCatcher()
            self.proxies[name].on_forwarded = self.catchers[name]
        day_start = time.time() + 1.0
        # trading gives up early enough to leave the close its whole convergence window
        deadline = started + self.config.budget_s - self.config.converge_s - 20
        for name in self.devices:
            self.workers[name] = Worker(name, self.worker_argv(name, day_start, started + self.config.budget_s),
                                        self.device_dir(name) / "worker.log")
            self.workers[name].start()
        engine = f"PostgreSQL, {self.config.hub_workers} worker processes" if self.config.hub_db else "SQLite"
        self.say(f"hub {self.hub_url} ({engine}), devices {', '.join(self.devices)}; trading for {self.config.duration:g} s")
        self.trade(self.schedule(day_start), deadline)
        self.close()
        if self.config.hub_db:
            self.say(f"hub tables copied from PostgreSQL into {self.hub_db} for the reconciliation")
            copy_hub_tables(self.storage.db.engine, self.hub_db)
        self.log.seconds = round(time.time() - started, 1)
        self.write_run_file()
        return 0

    def trade(self, events: list[tuple[float, str, Any]], deadline: float) -> None:
        heal_at: dict[str, float] = {}
        pending = self.pending_events = list(events)
        while time.time() < deadline:
            now = time.time()
            while pending and pending[0][0] <= now:
                _, kind, arg = pending.pop(0)
                getattr(self, f"_do_{kind}")(arg, heal_at)
            now = time.time()
            for name, until in list(heal_at.items()):
                if now >= until:
                    self._heal(name)
                    del heal_at[name]
            for w in self.workers.values():
                self._watch(w)
            if not pending and all(self.finished(n) for n in self.workers):
                break
            time.sleep(0.02)
        for name in heal_at:
            self._heal(name)
        for p in pending:  # a targeted kill still waiting for a retry when the day ended
            if p[1].startswith("kill_"):
                self.log.missed_kills.append({"kind": p[1][5:], "device": p[2][0], "reason": "the day ended"})
        self.log.unfinished = [n for n in self.workers if not self.finished(n)]

    def finished(self, name: str) -> bool:
        w = self.workers[name]
        return w.done or (w.running and bool(read_json(self.device_dir(name) / "worker-state.json")
                                             .get("finished")))

    def _heal(self, name: str) -> None:
        self.proxies[name].offline = False
        for part in self.log.partitions:
            if part["device"] == name and "healed_at" not in part:
                part["healed_at"] = round(time.time(), 3)

    def _reschedule(self, kind: str, arg: tuple[Any, ...], reason: str) -> None:
        tries = int(arg[-1])
        if tries >= MAX_TRIES:
            self.log.missed_kills.append({"kind": kind, "device": arg[0], "reason": reason})
            return
        self.pending_events.append((time.time() + RETRY_S, f"kill_{kind}", (*arg[:-1], tries + 1)))
        self.pending_events.sort(key=lambda e: e[0])

    def _watch(self, w: Worker) -> None:
        if w.done:
            return
        if w.restart_at is not None:
            if time.time() >= w.restart_at:
                w.start()
            return
        if w.popen is None or w.running:
            return
        rc = w.popen.returncode
        if rc == 0:
            w.done, w.rc = True, 0
        elif rc == 4 or w.crashes >= 3:
            w.done, w.rc = True, rc
            self.log.crashes.append({"worker": w.name, "rc": rc, "final": True})
        else:
            # an exit we did not cause: note it (the reconciliation fails on it) and restart the worker
            w.crashes += 1
            self.log.crashes.append({"worker": w.name, "rc": rc, "final": False})
            self.say(f"{w.name} exited with {rc} unprompted; restarting (see {w.log})")
            w.restart_at = time.time() + 0.2

    def _killable(self, names: list[str]) -> list[str]:
        return [n for n in names if self.workers[n].running and self.workers[n].restart_at is None]

    def _kill(self, target: str, kind: str, detail: dict[str, Any]) -> None:
        w = self.workers[target]
        assert w.popen is not None
        pid = w.popen.pid
        w.kill9()
        w.restart_at = time.time() + self.rng.uniform(0.2, 0.8)
        state = read_json(self.device_dir(target) / "worker-state.json")
        self.log.kills.append({"worker": target, "kind": kind, "pid": pid, "at": round(time.time(), 3), **detail,
                               "progress": {k: state.get(k) for k in ("sim_t", "refusals", "disk_full")
                                            if k in state}})

    def _do_kill(self, name: str, heal_at: dict[str, float]) -> None:
        if self.log.double_spend.get("active"):
            return
        running = self._killable(list(self.workers))
        if not running:
            return
        self._kill(name if name in running else self.rng.choice(running), "other", {})

    def _do_kill_mid_sale(self, arg: tuple[str, str, int], heal_at: dict[str, float]) -> None:
        """Ask a till to pause inside a sale's transaction at ``point`` and kill it there."""
        name, point, _ = arg
        tills = [n for n in self._killable([name, *(n for n, d in self.devices.items() if d["role"] == "till")])
                 if not self.finished(n)]
        if not tills:
            self._reschedule("mid_sale", arg, "no till was selling")
            return
        target = tills[0]
        d = self.device_dir(target)
        request, marker = d / "kill-mid-sale.json", d / "mid-sale.json"
        popen = self.workers[target].popen
        pid = popen.pid if popen is not None else -1
        write_json(request, {"point": point})
        until = time.monotonic() + CATCH_S
        seen: dict[str, Any] = {}
        while time.monotonic() < until and self.workers[target].running:
            seen = read_json(marker)
            if seen.get("pid") == pid:
                break
            time.sleep(0.005)
        try:
            if seen.get("pid") == pid and self.workers[target].running:
                self._kill(target, "mid_sale", {"point": seen.get("point"), "sale_id": seen.get("sale_id"),
                                                "sale_no": seen.get("sale_no")})
                return
        finally:
            request.unlink(missing_ok=True)
            marker.unlink(missing_ok=True)
        self._reschedule("mid_sale", arg, f"no sale reached {point} on {target}")

    def _do_kill_mid_batch(self, arg: tuple[str, int], heal_at: dict[str, float]) -> None:
        """Hold a push the hub has handled at the device's proxy and kill the device before it hears back."""
        name, _ = arg
        if self.log.double_spend.get("active"):
            self._reschedule("mid_batch", arg, "double spend in progress")
            return
        ready = [n for n in self._killable([name, *self.devices]) if not self.proxies[n].offline]
        if not ready:
            self._reschedule("mid_batch", arg, "no device online")
            return
        target = ready[0]
        catcher = self.catchers[target]
        catcher.release.clear()
        catcher.caught.clear()
        catcher.armed.set()
        caught = catcher.caught.wait(CATCH_S)
        catcher.armed.clear()
        try:
            if caught and self.workers[target].running:
                self._kill(target, "mid_batch", {"answer": catcher.answer,
                                                 "in_flight": self._in_flight(target)})
                return
        finally:
            catcher.release.set()
        self._reschedule("mid_batch", arg, f"no push from {target} was caught")

    def _in_flight(self, name: str) -> int:
        """Outbox events the device had marked in flight when it was killed (the batch on the wire)."""
        with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(
                f"file:{self.device_dir(name) / 'store.db'}?mode=ro", uri=True, timeout=5)) as conn:
            return int(conn.execute("SELECT count(*) FROM outbox WHERE state = 'in_flight'").fetchone()[0])
        return -1

    def _do_partition(self, arg: tuple[str, float], heal_at: dict[str, float]) -> None:
        name, length = arg
        self.proxies[name].offline = True
        heal_at[name] = max(heal_at.get(name, 0.0), time.time() + length)
        self.log.partitions.append({"device": name, "seconds": round(length, 2), "at": round(time.time(), 3)})

    def _do_hub_restart(self, arg: Any, heal_at: dict[str, float]) -> None:
        assert self.hub is not None
        self.say("kill -9 of the hub; restarting it")
        self.hub.kill9()
        time.sleep(HUB_DOWN_S)
        self.start_hub()
        self.log.hub_restarts += 1

    def _do_double_spend(self, arg: Any, heal_at: dict[str, float]) -> None:
        """Partition both tills, spend the same customer's points in both stores, heal."""
        assert self.storage is not None
        for till in (TILL_1, TILL_2):
            if not self.proxies[till].offline:
                self.log.partitions.append({"device": till, "seconds": None, "at": round(time.time(), 3),
                                            "double_spend": True})
        balance = self.storage.balance(DOUBLE_SPEND_CUSTOMER) or 0
        points = max(100, min(2_000, balance * 2 // 3))
        self.log.double_spend = {"customer": DOUBLE_SPEND_CUSTOMER, "hub_balance_before": balance,
                                 "points_each": points, "active": True}
        self.say(f"partitioning both tills; each spends {points} of {DOUBLE_SPEND_CUSTOMER}'s {balance} points")
        for till in (TILL_1, TILL_2):
            self.proxies[till].offline = True
        time.sleep(1.0)  # the tills notice they are offline (the offline cap then applies)
        for till in (TILL_1, TILL_2):
            write_json(self.device_dir(till) / "directive.json", {"customer": DOUBLE_SPEND_CUSTOMER,
                                                                  "points": points})
        deadline = time.time() + 30
        done: dict[str, Any] = {}
        while time.time() < deadline and len(done) < 2:
            for till in (TILL_1, TILL_2):
                path = self.device_dir(till) / "directive-done.json"
                if path.exists():
                    done[till] = read_json(path)
                self._watch(self.workers[till])
            time.sleep(0.05)
        for till in (TILL_1, TILL_2):
            if till not in heal_at:
                self._heal(till)
        self.log.double_spend.update({"done": done, "active": False})

    def _do_rogue(self, arg: Any, heal_at: dict[str, float]) -> None:
        """A round of the hostile device: straight to the hub, no proxy (an attacker needs no faults)."""
        assert self.rogue is not None
        self.rogue.attack()

    def _order_doc(self, k: int) -> dict[str, Any]:
        """Web/app order ``k``: 1-3 catalogue lines at catalogue prices; every third spends 100 points."""
        rng = random.Random(f"order:{self.config.seed}:{k}")
        data = demo_dataset(self.config.seed)
        picked = rng.sample(list(data["products"]), rng.randint(1, 3))
        lines = [{"line_no": n, "gtin": p["gtin"], "qty": rng.randint(1, 3), "unit_price_cents": p["price_cents"]}
                 for n, p in enumerate(picked, start=1)]
        return {"order_id": f"WEB-SIM-{k:05d}", "customer_id": rng.choice([c["id"] for c in data["customers"]]),
                "channel": rng.choice(["web", "app"]), "status": "placed",
                "pickup_store_id": rng.choice([None, STORE_1, STORE_2]), "lines": lines,
                "points_redeemed": 100 if k % 3 == 0 else 0}

    def _post(self, path: str, doc: dict[str, Any], timeout: float = 2) -> httpx.Response | None:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.post(f"{self.hub_url}{path}", json=doc, timeout=timeout,
                              headers={"Authorization": f"Bearer {self.api_key}", "X-Store-Edge-Protocol": "1"})
        return None

    def _priced(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        """The order with the total the hub quotes (its offers apply, as at the till); without the burn when
        the customer cannot spend the points; None when the hub did not answer."""
        quote = self._post("/v1/orders/quote", doc)
        if quote is not None and quote.status_code in (409, 422) and doc.get("points_redeemed"):
            doc = {**doc, "points_redeemed": 0}
            quote = self._post("/v1/orders/quote", doc)
        if quote is None or quote.status_code != 200:
            return None
        return {**doc, "total_cents": quote.json()["total_cents"]}

    def _place(self, doc: dict[str, Any], timeout: float = 2) -> bool:
        """Place a (priced) order; every fourth order then has its first unit of line 1 returned."""
        resp = self._post("/v1/orders", doc, timeout)
        if resp is None or resp.status_code not in (200, 201):
            return False
        self.log.orders_acked.append(doc["order_id"])
        if int(doc["order_id"].rsplit("-", 1)[1]) % 4 == 0:
            back = self._post(f"/v1/orders/{doc['order_id']}/returns",
                              {"return_id": "R1", "lines": [{"line_no": 1, "qty": 1}]}, timeout)
            if back is not None and back.status_code in (200, 201):
                self.log.orders_returned.append(doc["order_id"])
        return True

    def _do_order(self, k: int, heal_at: dict[str, float]) -> None:
        doc = self._order_doc(k)
        for _ in range(3):  # a few quick tries; the rest are retried at the close (orders are idempotent)
            priced = self._priced(doc)
            if priced is not None:
                doc = priced
                if self._place(priced):
                    return
            time.sleep(0.1)
        self.log.orders_failed.append(json.dumps(doc))

    def _do_member_step(self, k: int, heal_at: dict[str, float]) -> None:
        """A step of the members' day (an order, a return, a cancel, the expiry run: ``MemberDay``)."""
        assert self.member_day is not None
        self.member_day.run(k)

    # -- the close ------------------------------------------------------------------------------------
    def close(self) -> None:
        for doc_text in list(self.log.orders_failed):
            doc = json.loads(doc_text)
            priced = doc if "total_cents" in doc else self._priced(doc)
            if priced is not None and self._place(priced, timeout=5):
                self.log.orders_failed.remove(doc_text)
        if self.member_day is not None:
            self.member_day.retry_failed()
        for name, proxy in self.proxies.items():
            proxy.set_faults(Faults())
            self._heal(name)
        self.converge(self.config.converge_s)
        for name in self.devices:
            write_json(self.device_dir(name) / "close.json", {"at": time.time()})
        until = time.time() + 20
        while time.time() < until and any(w.running for w in self.workers.values()):
            time.sleep(0.1)
        for w in self.workers.values():
            w.terminate()
            if w.popen is not None and w.popen.returncode not in (0, None) and not w.done:
                self.log.crashes.append({"worker": w.name, "rc": w.popen.returncode, "final": True, "at_close": True})
        self.wait_webhooks(time.time() + 5)
        if self.hub is not None:
            self.hub.terminate()

    def converge(self, limit_s: float) -> None:
        """Faults are off: wait until the devices' own sync has delivered and fetched everything."""
        started = time.time()
        lag: dict[str, Any] = {}
        while True:
            for w in self.workers.values():
                self._watch(w)
            lag = self.lag()
            if not lag or time.time() - started > limit_s:
                break
            time.sleep(0.25)
        self.log.convergence = {"converged": not lag, "seconds": round(time.time() - started, 1),
                                "limit_s": limit_s, "lagging": lag}
        self.say(f"devices' own sync {'converged' if not lag else 'did NOT converge'} in "
                 f"{time.time() - started:.1f} s" + (f": {lag}" if lag else ""))

    def lag(self) -> dict[str, Any]:
        """What is still on its way: per device unsent events and hub changes not pulled yet (counted after the
        device's cursor in the feed's own (txid, version) order); webhooks not delivered."""
        out: dict[str, Any] = {}
        assert self.storage is not None
        try:
            with self.storage.db.engine.connect() as hub:
                for name, d in self.devices.items():
                    behind = self._device_lag(hub, name, d["store"])
                    if behind:
                        out[name] = behind
                undelivered = hub.execute(sa_text("SELECT count(*) FROM presence_notifications WHERE "
                                                  "delivered_at IS NULL")).scalar_one()
        except SQLAlchemyError as exc:
            return {**out, "hub": f"unreadable: {exc}"}
        if undelivered:
            out["webhooks"] = {"undelivered": int(undelivered)}
        return out

    def _device_lag(self, hub: Connection, name: str, store_id: str) -> dict[str, Any] | str | None:
        from sync.hub.feed import decode_cursor

        try:
            with contextlib.closing(sqlite3.connect(f"file:{self.device_dir(name) / 'store.db'}?mode=ro",
                                                    uri=True, timeout=10)) as conn:
                unsent = conn.execute("SELECT count(*) FROM outbox WHERE state IN ('pending', 'in_flight')"
                                      ).fetchone()[0]
                row = conn.execute("SELECT value FROM sync_state WHERE key = 'pull_cursor'").fetchone()
        except sqlite3.Error as exc:
            return f"unreadable: {exc}"
        txid, version = decode_cursor(str(row[0]) if row else None)
        behind = hub.execute(sa_text(
            "SELECT count(*) FROM changes WHERE (store_id IS NULL OR store_id = :store) AND "
            "(txid > :txid OR (txid = :txid AND version > :version))"),
            {"store": store_id, "txid": txid, "version": version}).scalar_one()
        if unsent or behind:
            return {"unsent": int(unsent), "changes_behind": int(behind)}
        return None

    def wait_webhooks(self, until: float) -> None:
        assert self.storage is not None
        while time.time() < until:
            left = sum(1 for n in self.storage.notifications() if n["delivered_at"] is None)
            self.log.undelivered_webhooks = left
            if left == 0:
                return
            time.sleep(0.2)

    def write_run_file(self) -> None:
        doc = {
            "config": {k: v for k, v in asdict(self.config).items()},
            "devices": {n: {**d, "data_dir": str(self.device_dir(n))} for n, d in self.devices.items()},
            "hub_db": str(self.hub_db),
            "hub_engine": "postgresql" if self.config.hub_db else "sqlite",
            "hub_workers": self.config.hub_workers,
            "webhook_log": str(self.run_dir / "webhook.jsonl"),
            "proxy_faults": {n: dict(p.counts) for n, p in self.proxies.items()},
            "rogue": self.rogue.log if self.rogue is not None else {},
            **asdict(self.log),
        }
        write_json(self.run_dir / "run.json", doc)

    def cleanup(self) -> None:
        for w in self.workers.values():
            w.kill9()
        if self.hub is not None:
            self.hub.kill9()
        for p in self.proxies.values():
            with contextlib.suppress(Exception):
                p.stop()
        if self.receiver is not None:
            with contextlib.suppress(Exception):
                self.receiver.stop()
        if self.storage is not None:
            with contextlib.suppress(Exception):
                self.storage.close()


def copy_hub_tables(source: Engine, target: Path) -> None:
    """Copy every hub table (``sync.hub.tables.metadata``) from ``source`` (the PostgreSQL hub, after the day)
    into a new SQLite file ``target``, which the reconciliation reads as it reads a SQLite hub."""
    from sqlalchemy import create_engine, select

    from sync.hub.tables import metadata

    dest = create_engine(f"sqlite:///{target}")
    try:
        metadata.create_all(dest)
        with source.connect() as src, dest.begin() as out:
            for table in metadata.sorted_tables:
                rows = [dict(r) for r in src.execute(select(table)).mappings()]
                if rows:
                    out.execute(table.insert(), rows)
    finally:
        dest.dispose()


def run_store_day(config: DayConfig, run_dir: Path, out: TextIO = sys.stdout) -> int:
    """Run the day in ``run_dir`` and reconcile; returns the exit status (0: everything reconciles)."""
    from edge.simulate.reconcile import reconcile

    run_dir.mkdir(parents=True, exist_ok=True)
    day = StoreDay(config, run_dir, out)
    try:
        day.run()
    finally:
        day.cleanup()
    report = reconcile(run_dir)
    print(report.text, file=out, flush=True)
    return report.status
