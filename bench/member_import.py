"""Migration from another programme: `hub import members` and `import balances` of 100,000 members.

Goal (issue 15 item 8): 100,000 members in under a minute on this machine. Measured on a fresh SQLite hub
(add `--pg DSN` for PostgreSQL too): the members file (e-mail, phone read in ES, birthday, home store,
marketing consent with its wording version; 1 % bad rows), the same file again (idempotent: nothing added),
then the opening balances. Baseline in the same run: the same customer rows written by one bare SQLAlchemy
executemany into the same table (no checks, hashing, cards, consents or change feed).

    python bench/member_import.py [--members 100000] [--pg postgresql://...] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit_json, print_table  # noqa: E402

from sync.hub.storage import HubStorage  # noqa: E402
from sync.hub.tables import customers  # noqa: E402

GOAL_S = 60.0


def write_files(folder: Path, n: int) -> tuple[Path, Path]:
    rng = random.Random(15)
    members, balances = folder / "members.csv", folder / "balances.csv"
    with members.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["external_id", "display_name", "email", "phone", "birthday", "home_store_id",
                    "consent_marketing", "consent_wording_version"])
        for i in range(n):
            bad = i % 100 == 99  # 1 % of the rows: a broken e-mail address
            w.writerow([f"OLD-{i:07d}", f"Member {i}", f"m{i}@example{'' if bad else '.org'}",
                        f"6{rng.randrange(10**8):08d}", f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-"
                        f"{rng.randint(1, 28):02d}", f"s{i % 20}", "yes" if i % 3 else "no", "2026-01"])
    with balances.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["external_id", "points"])
        for i in range(n):
            w.writerow([f"OLD-{i:07d}", rng.randrange(0, 5_000)])
    return members, balances


def open_hub(target: str, pg: bool) -> HubStorage:
    if pg:
        return HubStorage.open(target, schema_name=f"bench_import_{uuid.uuid4().hex[:10]}")
    return HubStorage.open(target)


def raw_baseline(target: str, pg: bool, n: int) -> float:
    storage = open_hub(target, pg)
    try:
        rows = [{"id": f"R{i}", "card_number": f"{i:016d}", "display_name": f"Member {i}", "phone_hash": "x" * 64,
                 "email_hash": "y" * 64, "consents": "{}", "birthday": "1980-01-01", "home_store_id": "s1",
                 "external_id": f"OLD-{i:07d}", "updated_at": "2026-01-01T00:00:00.000Z"} for i in range(n)]
        start = time.perf_counter()
        with storage.db.write() as conn:
            for i in range(0, n, 2_000):
                conn.execute(customers.insert(), rows[i:i + 2_000])
        return time.perf_counter() - start
    finally:
        storage.db.drop_schema() if pg else storage.close()


def measure(target: str, pg: bool, members: Path, balances: Path) -> dict[str, float]:
    storage = open_hub(target, pg)
    try:
        for s in range(20):
            storage.create_store(f"s{s}")
        start = time.perf_counter()
        report = storage.import_members(members, region="ES")
        members_s = time.perf_counter() - start
        start = time.perf_counter()
        again = storage.import_members(members, region="ES")
        again_s = time.perf_counter() - start
        start = time.perf_counter()
        posted = storage.import_balances(balances)
        balances_s = time.perf_counter() - start
        assert again.added == 0 and report.added == again.unchanged, (report.summary(), again.summary())
        return {"members_s": members_s, "added": report.added, "rejected": len(report.rejected),
                "reimport_s": again_s, "balances_s": balances_s, "balances_posted": posted.added}
    finally:
        storage.db.drop_schema() if pg else storage.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--pg", default=None, metavar="DSN", help="also measure a PostgreSQL hub")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        members, balances = write_files(folder, args.members)
        figures = {f"sqlite_{k}": v for k, v in measure(str(folder / "hub.db"), False, members, balances).items()}
        figures["raw_insert_s"] = raw_baseline(str(folder / "raw.db"), False, args.members)
        if args.pg:
            figures.update({f"pg_{k}": v for k, v in measure(args.pg, True, members, balances).items()})
    n = args.members
    figures["members"] = n
    figures["members_per_s"] = n / figures["sqlite_members_s"]
    figures["ratio_to_raw"] = figures["sqlite_members_s"] / figures["raw_insert_s"]
    rows = [("members imported (SQLite, s)", f"{figures['sqlite_members_s']:.1f}", f"< {GOAL_S:.0f}"),
            ("members per second", f"{figures['members_per_s']:,.0f}", ""),
            ("rows rejected (1 % bad on purpose)", f"{figures['sqlite_rejected']:,}", ""),
            ("same file again, nothing added (s)", f"{figures['sqlite_reimport_s']:.1f}", ""),
            ("opening balances posted (s)", f"{figures['sqlite_balances_s']:.1f}", f"< {GOAL_S:.0f}"),
            ("baseline: bare executemany of the rows (s)", f"{figures['raw_insert_s']:.1f}", ""),
            ("import time / baseline", f"{figures['ratio_to_raw']:.1f}", "")]
    if args.pg:
        rows += [("members imported (PostgreSQL, s)", f"{figures['pg_members_s']:.1f}", f"< {GOAL_S:.0f}"),
                 ("opening balances posted (PostgreSQL, s)", f"{figures['pg_balances_s']:.1f}", "")]
    print(f"member import, {n:,} members")
    print_table(rows)
    if args.json:
        emit_json({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()})
    else:
        print(json.dumps({"goal_met": figures["sqlite_members_s"] < GOAL_S}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
