"""A fuzzer that knows the protocol (issue 12 item 7): a hypothesis state machine plays several devices of
several stores against the real hub over HTTP on 127.0.0.1, on SQLite and PostgreSQL.

Hostile devices (raw HTTP with their own enrolled tokens) send batches mixing valid events with invalid ones
(out-of-range, NaN and huge numbers, NUL and lone surrogates, unknown types, forged envelopes, other stores'
customers, sale totals unrelated to their lines), replays of earlier events, earlier ledger entries and sales
under new event ids; they pull the feed. Honest tills (a real ``store.db`` and ``SyncClient``) sell and sync.

After every step: no answer was a 5xx (every push and pull answered 200); each event got the verdict its kind
calls for, a bad one never stopping the good ones in its batch, and every refusal is in the exceptions report; every customer's balance at the hub equals the
sum of their ledger and the model's (every accepted entry applied once, nothing rejected or replayed
applied); no device saw another store's customer (its pulls, the honest tills' databases); honest tills
sent everything and hold the hub's balance. Deterministic (``derandomize``, no example database) and about
a dozen seconds per engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import case, func, select

from edge.core.contract import EventType
from sync import outbox
from sync.hub.server import HubServer
from sync.hub.storage import HubStorage
from sync.hub.tables import customer_stores, customers, exceptions, ledger
from tests.support.hub import Edge, close_hub_storage, make_edge, open_hub_storage, seed
from tests.support.raw_device import Till, earn, priced_sale

STORES = ("s1", "s2", "s3")
HOME = {"c1": "s1", "c2": "s2", "c3": "s3"}  # each customer relevant to their home store only
OPENING = 1_000
HOSTILE = {"x1": "s1", "x3": "s3"}
HONEST = {"h1": "s1", "h2": "s2"}
BAD_POINTS = [0, -1, 100_001, 2**53, 2**62, 2**63, 2**64, 10**30, 1.5, "7", True, None, float("nan"),
              float("inf")]
BAD_TEXT = ["\x00", "\ud800", "x" * 5_000]


@dataclass
class World:
    """The hub and its devices, shared by every example of one engine (the hub keeps what they did)."""

    hub: HubServer
    hostile: dict[str, Till]
    honest: dict[str, Edge]
    cursors: dict[str, str] = field(default_factory=dict)
    accepted_types: set[str] = field(default_factory=set)  # over every example


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("fuzz")
    storage = open_hub_storage(request.param, tmp)
    devices = {s: [d for d, ds in {**HOSTILE, **HONEST}.items() if ds == s] for s in STORES}
    codes = seed(storage, devices, {c: (s, OPENING) for c, s in HOME.items()})
    with HubServer(storage) as hub:
        hostile = {d: Till(hub, codes[d], d, s) for d, s in HOSTILE.items()}
        honest = {d: make_edge(tmp, d, hub.url, codes[d]) for d in HONEST}
        yield World(hub, hostile, honest)
        for till in hostile.values():
            till.client.close()
    close_hub_storage(storage)


@dataclass
class Sent:
    """One event of a batch and the verdict its kind calls for: ``accepted``, ``rejected`` or ``either``
    (accepted or duplicate: a replay that must change nothing); ``effect``: (customer, points) it applies."""

    event: dict[str, Any]
    verdict: str
    effect: tuple[str, int] | None = None
    sale: dict[str, Any] | None = None


KINDS = ("earn", "burn", "sale", "guest_sale", "out_of_scope", "bad_points", "bad_total", "bad_text", "huge_seq",
         "unknown_type", "forged_store", "forged_device", "replay", "entry_again", "sale_again", "nan_line")


def hub_balances(storage: HubStorage) -> dict[str, int]:
    with storage.read() as conn:
        return {cid: int(b or 0) for cid, b in conn.execute(select(customers.c.id, customers.c.balance))}


def ledger_sums(storage: HubStorage) -> dict[str, int]:
    signed = func.sum(case((ledger.c.kind == "earn", ledger.c.points), else_=-ledger.c.points))
    with storage.read() as conn:
        return {cid: int(s) for cid, s in conn.execute(select(ledger.c.customer_id, signed)
                                                       .group_by(ledger.c.customer_id))}


def relevant(storage: HubStorage) -> dict[str, set[str]]:
    with storage.read() as conn:
        pairs = conn.execute(select(customer_stores.c.store_id, customer_stores.c.customer_id)).all()
    out: dict[str, set[str]] = {s: set() for s in STORES}
    for store, cid in pairs:
        out.setdefault(store, set()).add(cid)
    return out


def customers_named(change: dict[str, Any]) -> set[str]:
    """The customers a pulled change reveals: a profile's key, any ``customer_id`` in its data."""
    data = change.get("data")
    if data is None:
        return set()
    named = {change["key"]} if change["kind"] == "customer" else set()
    if isinstance(data, dict) and isinstance(data.get("customer_id"), str):
        named.add(data["customer_id"])
    return named


class HostileDevices(RuleBasedStateMachine):
    """The steps; ``world`` is set by the test before the machine runs."""

    world: World

    def __init__(self) -> None:
        super().__init__()
        self.model = hub_balances(self.world.hub.storage)
        # this example's own history (what its replays draw from: hypothesis needs the same draws to replay)
        self.sent: list[tuple[str, dict[str, Any]]] = []  # (device, event) accepted
        self.sales: list[tuple[str, dict[str, Any]]] = []  # (device, sale payload) accepted

    # ------------------------------------------------------------------ building events
    def _own(self, device: str) -> str:
        return next(c for c, s in HOME.items() if s == HOSTILE[device])

    def _make(self, device: str, kind: str, data: st.DataObject) -> Sent:
        """One event of ``kind`` from ``device`` and what the hub must make of it."""
        till, cid = self.world.hostile[device], self._own(device)
        if kind in ("earn", "burn"):
            points = data.draw(st.integers(1, 100_000), label="points")
            ev = till.event(EventType.LEDGER_EARN if kind == "earn" else EventType.LEDGER_BURN, earn(cid, points))
            return Sent(ev, "accepted", (cid, points if kind == "earn" else -points))
        if kind in ("sale", "guest_sale"):
            sale = priced_sale(cid if kind == "sale" else None)
            return Sent(till.event(EventType.SALE_COMPLETED, sale), "accepted", sale=sale)
        if kind == "out_of_scope":
            other = data.draw(st.sampled_from([c for c in HOME if c != cid]), label="other store's customer")
            etype = data.draw(st.sampled_from([EventType.LEDGER_EARN, EventType.LEDGER_BURN]), label="type")
            return Sent(till.event(etype, earn(other, 1)), "rejected")
        if kind == "bad_points":
            bad = data.draw(st.sampled_from(BAD_POINTS), label="points")
            return Sent(till.event(EventType.LEDGER_EARN, {**earn(cid, 1), "points": bad}), "rejected")
        if kind == "bad_total":
            total = data.draw(st.sampled_from([-1, -100_000_000, 1_898 + 500, 2**63]), label="total")
            return Sent(till.event(EventType.SALE_COMPLETED, priced_sale(cid, total=total)), "rejected")
        if kind == "bad_text":
            text = data.draw(st.sampled_from(BAD_TEXT), label="text")
            where = data.draw(st.sampled_from(["reason", "customer_id", "entry_id"]), label="field")
            return Sent(till.event(EventType.LEDGER_EARN, {**earn(cid, 1), where: f"a{text}b"}), "rejected")
        if kind == "huge_seq":
            return Sent(till.event(EventType.LEDGER_EARN, earn(cid, 1), seq=2**63), "rejected")
        if kind == "unknown_type":  # stored for a newer hub (docs/sync-protocol.md), never applied here
            return Sent(till.event("ledger.mint", earn(cid, 50_000)), "accepted")
        if kind in ("forged_store", "forged_device"):
            forged = {"store_id": "s2"} if kind == "forged_store" else {"device_id": "h1"}
            return Sent(till.event(EventType.LEDGER_EARN, earn(cid, 1), **forged), "rejected")
        return self._replay(device, kind, data)

    def _replay(self, device: str, kind: str, data: st.DataObject) -> Sent:
        """Something seen before: the same event, its entry under a new event id, its sale under a new one."""
        till = self.world.hostile[device]
        mine = [ev for d, ev in self.sent if d == device]
        sales = [s for d, s in self.sales if d == device]
        if kind == "sale_again" and sales:
            sale = data.draw(st.sampled_from(sales), label="sale again")
            return Sent(till.event(EventType.SALE_COMPLETED, sale), "either")  # reported, spend counted once
        if kind == "nan_line" or not mine:
            sale = priced_sale(self._own(device))
            sale["lines"][0]["gross_cents"] = float("nan")
            return Sent(till.event(EventType.SALE_COMPLETED, sale), "rejected")
        old = data.draw(st.sampled_from(mine), label="earlier event")
        if kind == "replay":
            return Sent(old, "either")
        return Sent(till.event(old["type"], dict(old["payload"])), "either")  # same entry id: applied once

    # ------------------------------------------------------------------ rules
    @rule(device=st.sampled_from(sorted(HOSTILE)), data=st.data(),
          kinds=st.lists(st.sampled_from(KINDS), min_size=0, max_size=5))
    def hostile_batch(self, device: str, data: st.DataObject, kinds: list[str]) -> None:
        """A batch with at least one good event among whatever else; each verdict as its kind calls for."""
        good = data.draw(st.sampled_from(["earn", "burn", "sale"]), label="the good one")
        at = data.draw(st.integers(0, len(kinds)), label="its place")
        batch = [self._make(device, k, data) for k in [*kinds[:at], good, *kinds[at:]]]
        results = self.world.hostile[device].push_raw(json.dumps({"protocol": 1, "events": [s.event for s in batch]}))
        assert len(results) == len(batch)
        self._all_refusals_reported(device, [r["id"] for r in results if r["status"] == "rejected"])
        for sent, result in zip(batch, results, strict=True):
            status = result["status"]
            if sent.verdict == "either":
                assert status in ("accepted", "duplicate"), (sent.event, result)
                continue
            assert status == sent.verdict, (sent.event, result)
            if status == "rejected":
                assert result.get("reason"), result
                continue
            self.sent.append((device, sent.event))
            self.world.accepted_types.add(sent.event["type"])
            if sent.sale is not None:
                self.sales.append((device, sent.sale))
            if sent.effect is not None:
                cid, delta = sent.effect
                self.model[cid] += delta

    def _all_refusals_reported(self, device: str, rejected: list[str]) -> None:
        """Every refusal is a row of the exceptions report naming the device and the event."""
        with self.world.hub.storage.read() as conn:
            reported = {r[0] for r in conn.execute(select(exceptions.c.entry_id).where(
                exceptions.c.device_id == device, exceptions.c.kind.in_(["rejected_event", "out_of_scope"])))}
        assert {eid[:80] for eid in rejected} <= reported

    @rule(device=st.sampled_from(sorted(HOSTILE)))
    def hostile_pull(self, device: str) -> None:
        """Whatever it sent, a device's pull answers 200 and shows only its own store's customers."""
        till, store = self.world.hostile[device], HOSTILE[device]
        allowed = relevant(self.world.hub.storage)[store]
        cursor = self.world.cursors.get(device, "")
        while True:
            answer = till.client.get("/v1/changes", params={"cursor": cursor} if cursor else {}, headers=till.auth)
            assert answer.status_code == 200, answer.text
            page = answer.json()
            for change in page["changes"]:
                assert customers_named(change) <= allowed, (device, change)
            cursor = page["cursor"]
            if not page["has_more"]:
                break
        self.world.cursors[device] = cursor

    @rule(device=st.sampled_from(sorted(HONEST)), points=st.integers(1, 500))
    def honest_sale(self, device: str, points: int) -> None:
        """An honest till sells, earns and syncs: everything accepted, and it holds the hub's balance."""
        edge, store = self.world.honest[device], HONEST[device]
        cid = next(c for c, s in HOME.items() if s == store)
        sale_id = edge.sale(cid, 1_000)
        edge.ledger("earn", cid, points, sale_id)
        report = edge.client().sync_once()
        assert report.rejected == 0, report
        assert outbox.stats(edge.db, dead_limit=0).unsent == 0
        self.model[cid] += points
        assert edge.confirmed_points(cid) == self.world.hub.storage.balance(cid)
        held = {r[0] for r in edge.db.execute("SELECT id FROM customers").fetchall()}
        assert held <= relevant(self.world.hub.storage)[store], (device, held)

    # ------------------------------------------------------------------ invariants
    @invariant()
    def balances_are_the_ledger_and_the_model(self) -> None:
        balances, sums = hub_balances(self.world.hub.storage), ledger_sums(self.world.hub.storage)
        for cid, balance in balances.items():
            assert balance == sums.get(cid, 0), (cid, balance, sums.get(cid))
        assert balances == self.model

    @invariant()
    def nothing_out_of_scope_was_applied(self) -> None:
        allowed = relevant(self.world.hub.storage)
        with self.world.hub.storage.read() as conn:
            rows = conn.execute(select(ledger.c.store_id, ledger.c.customer_id).distinct()).all()
        for store, cid in rows:
            assert store == "hub" or cid in allowed.get(store, set()), (store, cid)


def test_hostile_devices_never_break_the_hub(world: World) -> None:
    HostileDevices.world = world
    run_state_machine_as_test(HostileDevices, settings=settings(
        max_examples=20, stateful_step_count=10, derandomize=True, database=None, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], print_blob=False))
    # the machine did test something: every good kind was accepted somewhere
    assert {EventType.LEDGER_EARN, EventType.LEDGER_BURN, EventType.SALE_COMPLETED} <= world.accepted_types
    assert world.hub.storage.exceptions("out_of_scope")  # the refusals were reported, not only answered
