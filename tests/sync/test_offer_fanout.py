"""Offer changes reach every store that had the offer (issue 12 item 6): two stores, real sync clients, the hub
over HTTP on 127.0.0.1 on both engines."""

from __future__ import annotations

from pathlib import Path

from sync.hub.server import HubServer
from tests.support.hub import make_edge, seed

OFFER = {"id": "o-coffee", "kind": "percent_off", "name": "10% coffee", "params": {"percent": 10}}


def _active(edge: object, offer_id: str) -> int | None:
    row = edge.db.execute("SELECT active FROM offers WHERE id = ?", [offer_id]).fetchone()  # type: ignore[attr-defined]
    return None if row is None else int(row[0])


def test_an_offer_made_personal_or_inactive_leaves_every_store_that_had_it(hub: HubServer, tmp_path: Path) -> None:
    st = hub.storage
    codes = seed(st, {"s1": ["t1"], "s2": ["t2"]}, {"ada": ("s1", 10)})
    one, two = (make_edge(tmp_path, d, hub.url, codes[d]) for d in ("t1", "t2"))
    st.upsert_offer(dict(OFFER))
    for edge in (one, two):
        edge.client().sync_once()
    assert _active(one, "o-coffee") == 1 and _active(two, "o-coffee") == 1
    st.upsert_offer({**OFFER, "customer_id": "ada"})  # now personal to a customer of store 1 only
    for edge in (one, two):
        edge.client().sync_once()
    assert _active(one, "o-coffee") == 1
    row = one.db.execute("SELECT customer_id FROM offers WHERE id = 'o-coffee'").fetchone()
    assert row[0] == "ada"
    assert _active(two, "o-coffee") == 0  # store 2 dropped it: it is not for its customers any more
    st.upsert_offer({**OFFER, "active": False})  # back to everyone, but deactivated
    for edge in (one, two):
        edge.client().sync_once()
    assert _active(one, "o-coffee") == 0 and _active(two, "o-coffee") == 0
