"""Complete sales against a store database until killed. Used by test_crash.py (run as a script).

Usage: python sale_loop.py DB_PATH SEED. Prints "ready" once the first sale has committed.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from edge.core.basket import Basket
from edge.core.loyalty import LoyaltyRules
from edge.db import open_database
from edge.demo.seed import demo_gtin
from edge.store.repository import Repository
from edge.store.sales import SaleError, SalesService


def main(db_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    db = open_database(db_path)
    repo = Repository(db)
    service = SalesService(db, LoyaltyRules(min_redeem_points=1))
    products = [p for p in (repo.product(demo_gtin(n)) for n in range(1, 211)) if p is not None]
    customers = [f"C{1000 + i}" for i in range(1, 11)]
    announced = False
    while True:
        customer_id = rng.choice([*customers, None])
        basket = Basket()
        if customer_id:
            customer = repo.customer(customer_id)
            assert customer is not None
            basket.customer = customer.context
            basket.points_to_redeem = rng.choice([0, 0, 1, 50, 150])
        for _ in range(rng.randint(1, 5)):
            basket.add(rng.choice(products), rng.randint(1, 3))
        try:
            service.complete(basket, repo.offers_for(customer_id), payment_method=rng.choice(["cash", "card"]),
                             hub_online=rng.random() < 0.3)  # fmt: skip
        except SaleError:
            continue  # a refused redemption: nothing written, try the next basket
        if not announced:
            print("ready", flush=True)
            announced = True


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
