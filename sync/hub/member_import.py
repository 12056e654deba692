"""Migration from another programme: ``store-edge hub import members FILE.csv`` and ``import balances FILE.csv``.

Members CSV (UTF-8, a header row; only ``external_id`` and ``display_name`` required):
``external_id, display_name, email, phone, birthday (YYYY-MM-DD), home_store_id, card_number, language,
consent_<name> (yes/no, true/false, 1/0 or empty), consent_wording_version``.
Balances CSV: ``external_id, points`` (a whole number of points from 0 to ``MAX_OPENING_POINTS``).

Rules:
- Idempotent by ``external_id`` (``customers.external_id``, unique; a merged record's external id resolves to
  its survivor): a member already imported is left as it is (change one with ``PATCH /v1/members/{id}``);
  an opening balance is posted once (entry id ``opening-<external_id>``, reason "opening balance", source
  ``import:<file name>``, through ``ledger.post_points_many`` = ``Batch.ledger``), so importing a file again
  changes nothing.
- Every row is checked on its own; a bad row is rejected with its line number (the header is line 1), the
  column and the reason in words, and never stops the others. A header naming a column this import does not
  know stops the file before anything is written (one ``ValueError`` sentence).
- Card numbers given must be the programme's (``member_card_problem``) and unused; missing ones are allocated
  by the hub. Phones are read in ``region`` (or international form) and only their hash is kept.
- Rows are written in chunks of ``chunk`` rows, one transaction each, with bulk statements (100,000 members in
  well under a minute: ``bench/member_import.py``).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from edge.core.contacts import contact_hash, looks_like_email
from edge.core.contract import MAX_ID_CHARS, ChangeKind, member_card_problem, text_problem
from sync.hub import member_records, members
from sync.hub.changes import record_many
from sync.hub.common import now_iso
from sync.hub.db import Database, insert
from sync.hub.ids import new_id
from sync.hub.ledger import post_points_many
from sync.hub.tables import consent_history, customer_stores, customers, stores

MEMBER_COLUMNS = ("external_id", "display_name", "email", "phone", "birthday", "home_store_id", "card_number",
                  "language", "consent_wording_version")
BALANCE_COLUMNS = ("external_id", "points")
CONSENT_COLUMN = re.compile(r"consent_(?!wording_version$)([a-z][a-z0-9_]{0,31})")
MAX_OPENING_POINTS = 10_000_000
_YES, _NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0"}


@dataclass(frozen=True)
class Rejected:
    """One refused row: its line in the file (header = 1), the column at fault and why."""

    row: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.problem}"


@dataclass
class ImportReport:
    """What an import did: rows read, added (members created / balances posted), unchanged (already imported,
    or a zero balance), and every rejected row."""

    file: str
    rows: int = 0
    added: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "added": self.added, "unchanged": self.unchanged,
                "rejected": [{"row": r.row, "field": r.field, "problem": r.problem} for r in self.rejected]}

    def summary(self) -> str:
        return (f"{self.file}: {self.rows} rows, {self.added} added, {self.unchanged} already imported, "
                f"{len(self.rejected)} rejected")


# ------------------------------------------------------------------------------------------- reading
def _rows(path: Path, known: tuple[str, ...], required: tuple[str, ...], extra: re.Pattern[str] | None = None
          ) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV file; ``ValueError`` for a header with an unknown or missing column."""
    handle = path.open(newline="", encoding="utf-8-sig")
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        unknown = [h for h in header if h not in known and not (extra and extra.fullmatch(h))]
        missing = [h for h in required if h not in header]
        if unknown or missing:
            what = [f"unknown column {h!r}" for h in unknown] + [f"missing column {h!r}" for h in missing]
            raise ValueError(f"{path.name}: {'; '.join(what)}; the columns are {', '.join(known)}"
                             + (" and consent_<name>" if extra else ""))
        reader.fieldnames = header
        for row in reader:
            yield reader.line_num, row


def _chunks(rows: Iterator[tuple[int, dict[str, str]]], size: int) -> Iterator[list[tuple[int, dict[str, str]]]]:
    chunk: list[tuple[int, dict[str, str]]] = []
    for item in rows:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _clean(row: dict[Any, Any]) -> tuple[dict[str, str], tuple[str, str] | None]:
    """Stripped values, or (column, problem) for a row with more values than the header or a NUL/bad text."""
    if None in row:
        return {}, ("(row)", f"{len(row[None])} more value(s) than the header has columns")
    out = {k: (v or "").strip() for k, v in row.items()}
    for k, v in out.items():
        problem = text_problem(v)
        if problem:
            return out, (k, problem)
    return out, None


def _member_problem(row: dict[str, str], region: str) -> tuple[str, str] | None:
    """(column, problem) for the first bad value of a members row, or None."""
    ext, name = row.get("external_id", ""), row.get("display_name", "")
    if not 1 <= len(ext) <= MAX_ID_CHARS:
        return "external_id", f"must be 1 to {MAX_ID_CHARS} characters"
    problem = member_records.display_name_problem(name)
    if problem:
        return "display_name", problem
    email, phone = row.get("email", ""), row.get("phone", "")
    if email and (len(email) > 254 or not looks_like_email(email)):
        return "email", f"{email[:60]!r} is not an e-mail address"
    if phone:
        try:  # hashed once, here; the row carries the hash to the insert
            row["phone_hash"] = contact_hash("phone", phone, region)
        except ValueError as exc:
            return "phone", str(exc)
    problem = member_records.birthday_problem(row["birthday"]) if row.get("birthday") else None
    if problem:
        return "birthday", problem
    card = row.get("card_number", "")
    if card and (problem := member_card_problem(card)):
        return "card_number", problem
    if len(row.get("language", "")) > 16:
        return "language", "must be a language code such as es or en-GB"
    return _consent_problem(row)


def _consent_problem(row: dict[str, str]) -> tuple[str, str] | None:
    given = False
    for col, value in row.items():
        if CONSENT_COLUMN.fullmatch(col) and value:
            if value.lower() not in _YES | _NO:
                return col, f"{value[:20]!r} is not yes or no"
            given = True
    version = row.get("consent_wording_version", "")
    if given and not 1 <= len(version) <= 40:
        return "consent_wording_version", "say which consent wording the member agreed to (1 to 40 characters)"
    return None


# ------------------------------------------------------------------------------------------- members
def import_members(db: Database, path: Path, *, region: str = "", chunk: int = 2_000) -> ImportReport:
    """Import the members CSV at ``path`` (see the module's rules); ``region`` reads local phone numbers."""
    report = ImportReport(path.name)
    source = f"import:{path.name}"
    seen: dict[str, int] = {}
    cards: dict[str, int] = {}
    with db.read() as conn:
        known_stores = {r[0] for r in conn.execute(select(stores.c.id))}
    for rows in _chunks(_rows(path, MEMBER_COLUMNS, ("external_id", "display_name"), CONSENT_COLUMN), chunk):
        good: list[tuple[int, dict[str, str]]] = []
        for line, raw in rows:
            report.rows += 1
            row, problem = _clean(raw)
            problem = problem or _member_problem(row, region)
            problem = problem or _duplicate_problem(row, line, seen, cards, known_stores)
            if problem:
                report.rejected.append(Rejected(line, *problem))
            else:
                good.append((line, row))
        if good:
            with db.write() as conn:
                _write_members(conn, good, source, report)
    report.rejected.sort(key=lambda r: r.row)
    return report


def _duplicate_problem(row: dict[str, str], line: int, seen: dict[str, int], cards: dict[str, int],
                       known_stores: set[str]) -> tuple[str, str] | None:
    ext, card, home = row["external_id"], row.get("card_number", ""), row.get("home_store_id", "")
    if ext in seen:
        return "external_id", f"{ext!r} is also on row {seen[ext]}"
    if card and card in cards:
        return "card_number", f"{card} is also on row {cards[card]}"
    if home and home not in known_stores:
        return "home_store_id", f"there is no store {home[:64]!r}; create it with 'store-edge hub create-store'"
    seen[ext] = line
    if card:
        cards[card] = line
    return None


def _write_members(conn: Connection, good: list[tuple[int, dict[str, str]]], source: str,
                   report: ImportReport) -> None:
    held = member_records.external_ids_taken(conn, [r["external_id"] for _, r in good])
    taken = member_records.cards_taken(conn, [c for _, r in good if (c := r.get("card_number"))])
    fresh: list[tuple[int, dict[str, str]]] = []
    for line, row in good:
        if row["external_id"] in held:
            report.unchanged += 1
        elif row.get("card_number") in taken:
            report.rejected.append(Rejected(line, "card_number", f"{row['card_number']} already belongs to a member"))
        else:
            fresh.append((line, row))
    if not fresh:
        return
    cards = iter(member_records.new_card_numbers(conn, sum(1 for _, r in fresh if not r.get("card_number"))))
    now = now_iso()
    rows: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    homes: list[dict[str, str]] = []
    for _, row in fresh:
        cid = "M" + new_id().replace("-", "")
        consents = {m.group(1): v.lower() in _YES for col, v in row.items() if v and (m := CONSENT_COLUMN.fullmatch(col))}
        rows.append(_customer_row(cid, row, consents, row.get("card_number") or next(cards), now))
        history.extend({"customer_id": cid, "name": name, "granted": int(granted), "source": source,
                        "wording_version": row["consent_wording_version"], "recorded_at": now}
                       for name, granted in consents.items())
        if row.get("home_store_id"):
            homes.append({"customer_id": cid, "store_id": row["home_store_id"], "reason": "home store", "since": now})
    conn.execute(customers.insert(), rows)
    if history:
        conn.execute(consent_history.insert(), history)
    if homes:
        conn.execute(insert(conn, customer_stores).on_conflict_do_nothing(), homes)
        record_many(conn, [(ChangeKind.CUSTOMER, h["customer_id"], h["store_id"]) for h in homes])
    report.added += len(rows)


def _customer_row(cid: str, row: dict[str, str], consents: dict[str, bool], card: str,
                  now: str) -> dict[str, Any]:
    prefs = {"language": row["language"]} if row.get("language") else {}
    return {"id": cid, "card_number": card, "display_name": row["display_name"],
            "phone_hash": row.get("phone_hash"),
            "email_hash": contact_hash("email", row["email"]) if row.get("email") else None,
            "tier": "Bronze", "balance": 0, "spend_12m_cents": 0, "consents": json.dumps(consents),
            "birthday": row.get("birthday") or None, "preferences": json.dumps(prefs), "rewards": "[]",
            "home_store_id": row.get("home_store_id") or None, "external_id": row["external_id"], "updated_at": now}


# ------------------------------------------------------------------------------------------- balances
def _points_problem(row: dict[str, str]) -> tuple[str, str] | None:
    if not 1 <= len(row.get("external_id", "")) <= MAX_ID_CHARS:
        return "external_id", f"must be 1 to {MAX_ID_CHARS} characters"
    points = row.get("points", "")
    if not (points.isascii() and points.isdigit()) or len(points) > 9 or int(points) > MAX_OPENING_POINTS:
        return "points", f"{points[:20]!r} is not a whole number of points from 0 to {MAX_OPENING_POINTS:,}"
    return None


def import_balances(db: Database, path: Path, *, chunk: int = 2_000) -> ImportReport:
    """Post the opening balances of the balances CSV at ``path`` once each (see the module's rules)."""
    report = ImportReport(path.name)
    seen: dict[str, int] = {}
    for rows in _chunks(_rows(path, BALANCE_COLUMNS, BALANCE_COLUMNS), chunk):
        good: list[tuple[int, dict[str, str]]] = []
        for line, raw in rows:
            report.rows += 1
            row, problem = _clean(raw)
            problem = problem or _points_problem(row)
            if not problem and row["external_id"] in seen:
                problem = ("external_id", f"{row['external_id']!r} is also on row {seen[row['external_id']]}")
            if problem:
                report.rejected.append(Rejected(line, *problem))
                continue
            seen[row["external_id"]] = line
            good.append((line, row))
        if good:
            with db.write() as conn:
                _post_balances(conn, good, f"import:{path.name}", report)
    report.rejected.sort(key=lambda r: r.row)
    return report


def _post_balances(conn: Connection, good: list[tuple[int, dict[str, str]]], source: str,
                   report: ImportReport) -> None:
    held = member_records.external_ids_taken(conn, [r["external_id"] for _, r in good])
    entries = []
    for line, row in good:
        cid = held.get(row["external_id"])
        if cid is None:
            report.rejected.append(Rejected(line, "external_id", f"no member has external id {row['external_id']!r}; "
                                            "import the members first"))
            continue
        entries.append({"customer_id": cid, "points": int(row["points"]), "reason": "opening balance",
                        "source": source, "entry_id": f"opening-{row['external_id']}", "device_id": "import",
                        "event_id": "import"})
    posted, touched = post_points_many(conn, entries, now_iso())
    report.added += posted
    report.unchanged += len(entries) - posted
    members.customers_changed(conn, touched)
