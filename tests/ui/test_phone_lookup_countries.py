"""Phone look-ups at the till, the way a cashier does them (F2 and the scan line, through ``TillSession`` and a
real SQLite store): a member of a Spanish, Colombian, Mexican or Dutch store is found whether the number is
typed in its local or its international form (issue 16, done-when)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from edge.core.contacts import contact_hash
from edge.db import open_database
from edge.session import TillSession
from edge.settings import load_settings
from tests.conftest import FIXED_NOW
from tests.core.test_contacts import NUMBERS

# (store country, locale, currency, zone) of each store; the numbers are tests/core/test_contacts.py's
STORES = {"ES": ("es_ES", "EUR", "Europe/Madrid"), "CO": ("es_CO", "COP", "America/Bogota"),
          "MX": ("es_MX", "MXN", "America/Mexico_City"), "NL": ("nl_NL", "EUR", "Europe/Amsterdam")}


@pytest.mark.parametrize(("region", "e164", "typed"), NUMBERS, ids=[n[0] for n in NUMBERS])
def test_a_member_is_found_at_the_till_by_any_local_or_international_form(
    tmp_path: Path, region: str, e164: str, typed: list[str]
) -> None:
    locale, currency, zone = STORES[region]
    base = load_settings(environ={})
    settings = base.replace(data_dir=tmp_path, store=dataclasses.replace(
        base.store, country=region, locale=locale, currency=currency, timezone=zone))  # fmt: skip
    db = open_database(settings.database_path)
    db["customers"].insert({"id": "M1", "display_name": "Ana Gómez", "phone_hash": contact_hash("phone", e164, region)})
    session = TillSession(settings, db, clock=lambda: FIXED_NOW)
    local = [t for t in typed if not t.lstrip().startswith(("+", "00"))]
    international = [t for t in typed if t.lstrip().startswith(("+", "00"))]
    assert local and international  # both forms are tried in every country
    for text in typed:
        for how in (session.lookup_customer, session.scan):  # F2, and typed into the scan line
            session.new_sale()
            outcome = how(text)
            assert outcome.ok and session.customer is not None and session.customer.id == "M1", (text, outcome)
    session.new_sale()
    assert not session.lookup_customer("+44 7700 900123").ok  # someone else's number finds nobody
    db.close()
