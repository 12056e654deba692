"""A sale in a Colombian store: pesos shown without decimals, cash rounded by the peso's cash rule, Spanish words."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from edge.core.basket import Basket
from edge.core.catalog import Product
from edge.core.l10n import formats
from edge.core.loyalty import LoyaltyRules
from edge.db import open_database
from edge.store.sales import SaleError, SalesService

# 7,440.49 pesos: COP has two decimals in ISO 4217, none in cash
AREPAS = Product("07702001000017", "Arepas x10", 744_049, 1_900, "Panadería")
NOW = datetime(2026, 11, 20, 17, 30, tzinfo=UTC)  # 12:30 in Bogotá


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    database = open_database(tmp_path / "edge.db")
    yield database
    database.close()


@pytest.fixture
def service(db: sqlite_utils.Database) -> SalesService:
    return SalesService(db, LoyaltyRules(), store_name="Tienda Bogotá", currency="COP",
                        formats=formats("es_CO", "COP", "America/Bogota"))


def _basket() -> Basket:
    basket = Basket()
    basket.add(AREPAS)
    return basket


def test_a_cash_sale_in_pesos_is_rounded_to_the_peso_and_worded_in_spanish(service: SalesService) -> None:
    sale = service.complete(_basket(), [], payment_method="cash", tendered_cents=1_000_000, now=NOW)
    lines = sale.receipt.splitlines()
    assert "20/11/2026, 12:30" in sale.receipt  # the store's zone, not UTC
    assert any(line.startswith("TOTAL") and line.endswith("$7.440,49") for line in lines)
    assert any(line.startswith("Redondeo en efectivo") and line.endswith("$7.440") for line in lines)
    assert any(line.startswith("Cambio") and line.endswith("$2.560") for line in lines)
    assert sale.total_cents == 744_049  # the sale keeps its exact amount; only the cash paid is rounded


def test_cash_short_of_the_rounded_amount_is_refused(service: SalesService) -> None:
    service.complete(_basket(), [], payment_method="cash", tendered_cents=744_000, now=NOW)  # exactly $7.440
    with pytest.raises(SaleError, match="menor que el importe a pagar"):  # the es_CO store says it in Spanish
        service.complete(_basket(), [], payment_method="cash", tendered_cents=743_900, now=NOW)


def test_a_card_sale_pays_the_exact_amount(service: SalesService) -> None:
    sale = service.complete(_basket(), [], payment_method="card", now=NOW)
    assert "Redondeo" not in sale.receipt
    assert any(line.startswith("Pagado con tarjeta") and line.endswith("$7.440,49") for line in sale.receipt.splitlines())
