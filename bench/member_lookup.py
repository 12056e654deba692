"""A member from another store at the till: the hub look-up over HTTP on 127.0.0.1, and the offline fallback.

Online: ``sync.lookup.MemberLookup.lookup`` by card (request, rate-limit check, log row, relevance grant, the
store's profile, cached in the till's SQLite file), each time a different member of another store, against a
reference SQLite hub in this process (uvicorn on a thread). Baseline, same run, same hub, same HTTP client
settings: an authenticated pull round-trip (``GET /v1/changes`` with a cursor at the end of the feed).
Goal: p99 of an online look-up < 300 ms on loopback.

Offline fallback: a till whose hub is down (connection refused) scans an unknown card; the time from the scan
to the guest-sale answer ("Hub not reachable: sale goes on as guest ...") through ``TillSession`` (scan, ask the
hub, the answer in words). Also measured: the same when the sync worker already knows the hub is offline (no
request at all), and a hub that accepts connections but never answers (bounded by ``[hub] lookup_timeout_s``).
"""

from __future__ import annotations

import argparse
import dataclasses
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import httpx  # noqa: E402
from _common import emit_json, percentile, print_table  # noqa: E402

from edge.db import open_database  # noqa: E402
from edge.demo.seed import demo_card  # noqa: E402
from edge.session import TillSession  # noqa: E402
from edge.settings import load_settings  # noqa: E402
from sync import protocol  # noqa: E402
from sync.config import SyncConfig  # noqa: E402
from sync.credentials import Credential  # noqa: E402
from sync.enroll import enroll  # noqa: E402
from sync.hub.server import HubServer  # noqa: E402
from sync.hub.storage import HubStorage  # noqa: E402
from sync.lookup import MemberLookup  # noqa: E402


def _ms(seconds: list[float]) -> list[float]:
    return [s * 1000 for s in seconds]


def online(tmp: Path, members: int) -> dict[str, float]:
    storage = HubStorage.open(tmp / "hub.db")
    storage.create_store("s1")
    storage.create_store("s2")
    code = storage.create_device("s2", "t2")
    for n in range(members):
        storage.upsert_customer({"id": f"M{n}", "display_name": f"Member {n}", "card_number": demo_card(10_000 + n),
                                 "home_store_id": "s1"})
    with HubServer(storage) as server:
        cred = enroll(server.url, code, tmp / "t2")
        db = open_database(tmp / "t2" / "store.db")
        headers = {"Authorization": f"Bearer {cred.token}", protocol.VERSION_HEADER: str(protocol.PROTOCOL_VERSION)}
        with httpx.Client(base_url=server.url, headers=headers, timeout=2.0) as http:
            cursor = None
            while True:  # to the end of the feed: each baseline pull is then one empty page
                page = http.get("/v1/changes", params={"limit": "5000", **({"cursor": cursor} if cursor else {})}).json()
                cursor = page["cursor"]
                if not page["has_more"]:
                    break
            pulls = []
            for _ in range(members):
                t = time.perf_counter()
                http.get("/v1/changes", params={"limit": "500", "cursor": cursor}).raise_for_status()
                pulls.append(time.perf_counter() - t)
        lookup = MemberLookup(cred, SyncConfig(), hub_url=server.url)
        found = []
        for n in range(members):
            t = time.perf_counter()
            result = lookup.lookup(db, "card", demo_card(10_000 + n))
            found.append(time.perf_counter() - t)
            assert result.outcome == "found", result
        lookup.close()
    storage.close()
    return {"p50_ms": percentile(_ms(found), 50), "p99_ms": percentile(_ms(found), 99),
            "baseline_pull_p50_ms": percentile(_ms(pulls), 50), "baseline_pull_p99_ms": percentile(_ms(pulls), 99),
            "lookups": members}


def _till(tmp: Path, url: str, timeout_s: float, *, online_flag: bool) -> TillSession:
    base = load_settings(environ={})
    settings = base.replace(data_dir=tmp, hub=dataclasses.replace(base.hub, lookup_timeout_s=timeout_s))
    session = TillSession(settings, open_database(settings.database_path))
    cred = Credential(url, "t9", "s9", "dt_bench", "2026-01-01T00:00:00Z")
    session.member_lookup = MemberLookup(cred, settings.hub, hub_url=url)
    session.hub_online = online_flag
    return session


def _fallback(session: TillSession, rounds: int) -> list[float]:
    times = []
    for n in range(rounds):
        t = time.perf_counter()
        outcome = session.scan(demo_card(50_000 + n))
        if outcome.kind == "ask_hub" and outcome.ask_hub is not None:
            outcome = session.member_from_hub(session.ask_hub(*outcome.ask_hub))
        times.append(time.perf_counter() - t)
        assert "Hub not reachable" in outcome.message, outcome.message
        session.new_sale()
    return times


def offline(tmp: Path, rounds: int) -> dict[str, float]:
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    refused = _fallback(_till(tmp / "a", f"http://127.0.0.1:{closed}", 2.0, online_flag=True), rounds)
    known = _fallback(_till(tmp / "b", f"http://127.0.0.1:{closed}", 2.0, online_flag=False), rounds)
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        hung = _fallback(_till(tmp / "c", f"http://127.0.0.1:{port}", 0.5, online_flag=True), 3)
    return {"offline_fallback_ms": percentile(_ms(refused), 99), "offline_fallback_p50_ms": percentile(_ms(refused), 50),
            "offline_known_fallback_ms": percentile(_ms(known), 99), "silent_hub_fallback_s": max(hung),
            "silent_hub_timeout_s": 0.5}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line last")
    parser.add_argument("--members", type=int, default=1000, help="look-ups (each a different member)")
    parser.add_argument("--rounds", type=int, default=200, help="offline fallback rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = {**online(Path(tmp) / "on", args.members), **offline(Path(tmp) / "off", args.rounds)}
    figures["ratio"] = figures["p99_ms"] / figures["baseline_pull_p99_ms"]
    print_table([
        ("online look-up p99 (ms)", f"{figures['p99_ms']:.1f}", "< 300"),
        ("online look-up p50 (ms)", f"{figures['p50_ms']:.1f}", ""),
        ("baseline: authenticated pull p99 (ms)", f"{figures['baseline_pull_p99_ms']:.1f}", "same run"),
        ("look-up p99 / pull p99", f"{figures['ratio']:.2f}", ""),
        ("offline fallback, hub down, p99 (ms)", f"{figures['offline_fallback_ms']:.1f}", "scan to guest sale"),
        ("offline fallback, known offline, p99 (ms)", f"{figures['offline_known_fallback_ms']:.1f}", "no request"),
        ("silent hub fallback (s)", f"{figures['silent_hub_fallback_s']:.2f}",
         f"timeout {figures['silent_hub_timeout_s']:g} s"),
    ])
    if args.json:
        emit_json(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
