"""``store-edge hub ...``: the reference hub's command wiring (serve it, administer it).

Every hub command shares ``--db`` (a SQLite file or a ``postgresql://`` DSN; default ``$STORE_EDGE_HUB_DB`` or
``DATA_DIR/hub.db``) and one error handling: the storage is opened inside the dispatcher's guard (an unreachable
database is one line, exit 1), and a ``HubError`` or ``ValueError`` from a command is one line, exit 1.
Commands are ``fn(args, storage)``; ``add(name, fn, help)`` registers one (the presence and consent commands
come from ``sync/hub/admin_cli.py`` through the same ``add``).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.cli.common import LAZY, add_data_dir_option, load_for, out, say, tr
from edge.core.contract import OFFER_KINDS
from edge.core.errors import CliError
from edge.core.i18n import N_, Text
from edge.settings import Settings

HUB_DB_ENV = "STORE_EDGE_HUB_DB"
WORKER_HEALTHCHECK_S = 60  # hub serve --workers: seconds a worker may take to answer its supervisor's ping
Command = Callable[[argparse.Namespace, Any], Any]


def _hub_target(args: argparse.Namespace) -> str:
    target = args.db or os.environ.get(HUB_DB_ENV)
    if not target:
        target = str(load_for(args).data_dir / "hub.db")  # the device settings only when they are needed
    return str(target)


def _hub_storage(args: argparse.Namespace) -> Any:
    from sync.hub.storage import HubError, HubStorage

    try:
        return HubStorage.open(_hub_target(args))
    except HubError as exc:  # a schema this code cannot use: 'hub migrate', or a newer store-edge
        raise CliError(str(exc), 1) from None


def _migrate(args: argparse.Namespace, settings: Settings | None) -> int:
    """``hub migrate``: the schema upgraded in place (implementation in ``sync/hub/migrate.py``)."""
    from sync.hub.migrate import migrate_command
    from sync.hub.storage import HubError

    try:
        return migrate_command(_hub_target(args), out(args))
    except HubError as exc:
        raise CliError(str(exc), 1) from None


def _new_key(args: argparse.Namespace, settings: Settings | None) -> int:
    """``hub new-key``: a fresh operator key on stdout (``sync.hub.sealing.new_key``)."""
    from sync.hub.sealing import new_key

    print(new_key(), file=out(args))
    return 0


def _hub_command(fn: Command) -> Callable[[argparse.Namespace, Settings | None], int]:
    """A hub command as a dispatcher handler: open the storage, run ``fn``, say a refusal in one line."""

    def handler(args: argparse.Namespace, settings: Settings | None) -> int:
        from sync.hub.storage import HubError

        storage = _hub_storage(args)  # inside the dispatcher's guard: an unreachable database is one line
        try:
            return int(fn(args, storage) or 0)
        except (HubError, ValueError) as exc:  # a Text keeps its template: said in the CLI's language
            raise CliError(exc.args[0] if exc.args and isinstance(exc.args[0], Text) else str(exc), 1) from None
        finally:
            storage.close()

    return handler


def _serve(args: argparse.Namespace, storage: Any) -> int:
    import uvicorn

    from sync.hub.app import make_hub_app

    _check_hub_key(args, storage)
    storage.ensure_signing_key()
    if args.workers > 1:
        return _serve_workers(args)
    app = make_hub_app(storage, webhook_url=args.webhook_url, jobs_interval_s=args.jobs_interval)
    say(args, tr(args)._("hub listening on http://{host}:{port}").format(host=args.host, port=args.port))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key)
    return 0


def _production(args: argparse.Namespace) -> bool:
    """``--production``, or listening beyond this machine (a real hub)."""
    import ipaddress

    if args.production:
        return True
    try:
        return not ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        return args.host != "localhost"


def _check_hub_key(args: argparse.Namespace, storage: Any) -> None:
    """Refuse to serve without the operator key where it is needed (``sync.hub.sealing.start_problem``)."""
    from sync.hub import sealing

    with storage.db.read() as conn:
        refusal, note = sealing.start_problem(conn, storage.sealer, production=_production(args))
    if refusal:
        raise CliError(refusal, 1)
    if note:
        say(args, note)


def _serve_workers(args: argparse.Namespace) -> int:
    """N uvicorn worker processes on one socket; each builds its own storage (sync/hub/asgi.py). The schema
    and the signing key were made once, here in the parent, before the workers start."""
    import uvicorn

    from sync.hub.asgi import worker_environment

    os.environ.update(worker_environment(_hub_target(args), args.webhook_url, args.jobs_interval))
    say(args, tr(args)._("hub listening on http://{host}:{port} ({n} worker processes)").format(
        host=args.host, port=args.port, n=args.workers))
    # a worker busy with batches on a loaded machine may answer the supervisor's ping late; the default 5 s
    # would have it killed mid-request, dropping the batches it was committing
    uvicorn.run("sync.hub.asgi:create_app", factory=True, workers=args.workers, host=args.host, port=args.port,
                log_level="warning", ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key,
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_S)
    return 0


def _workers_checked(serve: Callable[[argparse.Namespace, Settings | None], int]
                     ) -> Callable[[argparse.Namespace, Settings | None], int]:
    """Refuse an impossible --workers (e.g. several processes on one SQLite file) before the database is opened."""

    def handler(args: argparse.Namespace, settings: Settings | None) -> int:
        from sync.hub.asgi import check_workers

        problem = check_workers(_hub_target(args), args.workers)
        if problem:
            raise CliError(problem, 1)
        return serve(args, settings)

    return handler


def _store_locale(args: argparse.Namespace) -> dict[str, str | None]:
    return {"locale": args.locale, "currency": args.currency, "timezone": args.timezone}


def _create_store(args: argparse.Namespace, s: Any) -> None:
    s.create_store(args.id, args.name, **_store_locale(args))
    say(args, tr(args)._("store {id} created").format(id=args.id))


def _set_store(args: argparse.Namespace, s: Any) -> None:
    s.set_store(args.id, args.name, **_store_locale(args))
    say(args, tr(args)._("store {id} changed; its tills use it from their next pull and start").format(id=args.id))


def _store_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("id", help="the store's id, e.g. store-42")
    sp.add_argument("--name", default=None, help="the store's display name")
    sp.add_argument("--locale", default=None, help="the store's CLDR locale: texts and formats, e.g. es_ES, es_CO")
    sp.add_argument("--currency", default=None, help="ISO 4217 currency of its prices, e.g. EUR, COP")
    sp.add_argument("--timezone", default=None, help="IANA time zone its dates are shown in, e.g. Europe/Madrid")


def _create_device(args: argparse.Namespace, s: Any) -> None:
    code = s.create_device(args.store, args.device, code_ttl_hours=args.ttl_hours)
    say(args, tr(args)._("device {device} of store {store}; enrolment code (valid {hours} h, once): {code}").format(
        device=args.device, store=args.store, hours=_number(args, args.ttl_hours), code=code))


def _revoke_device(args: argparse.Namespace, s: Any) -> None:
    s.revoke_device(args.device)
    say(args, tr(args)._("device {device} revoked").format(device=args.device))


def _create_customer(args: argparse.Namespace, s: Any) -> None:
    from sync.hub.member_records import display_name_problem

    problem = None if args.name is None else display_name_problem(args.name)
    if problem:
        raise CliError(tr(args)._("--name {problem}").format(problem=problem), 2)
    given = {"display_name": args.name, "card_number": args.card, "home_store_id": args.home_store,
             "tier": args.tier}
    # only what was given: on an existing customer the rest (consents, birthday, rewards, ...) stays as it is
    s.upsert_customer({"id": args.id, **{k: v for k, v in given.items() if v is not None}})
    if args.points:
        s.adjust_balance(args.id, args.points, "opening balance")
    say(args, tr(args)._("customer {id} saved").format(id=args.id))


def _create_offer(args: argparse.Namespace, s: Any) -> None:
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as exc:
        raise ValueError(Text(N_("--params is not valid JSON ({problem})"), problem=str(exc))) from None
    # with --coupon the offer needs the code: without it the discount would reach every basket, guests included
    limits = {k: v for k, v in (("per_customer", args.per_customer), ("period_days", args.period_days),
                                 ("total", args.budget)) if v is not None}
    s.upsert_offer({"id": args.id, "kind": args.kind, "name": args.name, "params": params,
                    "customer_id": args.customer, "priority": args.priority, "requires_coupon": bool(args.coupon),
                    "limits": limits, "valid_from": args.valid_from, "valid_until": args.valid_until})
    if args.coupon:
        s.create_coupon(args.coupon, args.id, args.customer)
    say(args, tr(args)._("offer {id} saved").format(id=args.id))


def _delete_offer(args: argparse.Namespace, s: Any) -> None:
    revoked = s.delete_offer(args.id)
    t = tr(args)
    say(args, t._("offer {id} deleted: the tills stop applying it at their next sync").format(id=args.id)
        + (t._("; {n} unredeemed coupon(s) revoked").format(n=revoked) if revoked else ""))


def _import_catalog(args: argparse.Namespace, s: Any) -> None:
    say(args, tr(args)._("{n} products imported").format(n=s.import_catalog_csv(Path(args.csv))))


def _create_api_key(args: argparse.Namespace, s: Any) -> None:
    say(args, s.create_api_key(args.name, [p for value in args.scope or ["orders,sightings"]
                                           for p in value.split(",")]))


def _exceptions(args: argparse.Namespace, s: Any) -> None:
    rows = s.exceptions(args.kind)
    if args.json:
        say(args, json.dumps(rows))
        return
    if not rows:
        say(args, tr(args)._("no exceptions"))
    for r in rows:
        say(args, f"{r['detected_at']} {r['kind']}: {r['detail']}")


def _formats(args: argparse.Namespace, currency: str = "EUR") -> Any:
    """The CLI language's number and money formats (``edge.core.l10n.Formats``; English when unknown to CLDR)."""
    from edge.core.l10n import Formats, check_locale

    try:
        return Formats(check_locale(tr(args).locale), currency.upper())
    except ValueError:
        return Formats("en", currency.upper())


def _number(args: argparse.Namespace, value: float) -> str:
    """``value`` with the CLI language's grouping and decimal marks (``122.542`` in es, ``122,542`` in en)."""
    return str(_formats(args).number(value))


def _point_value_words(args: argparse.Namespace, point_value_cents: float, currency: str, months: int) -> str:
    """"a point is worth €0.01; points expire after 12 months" in the CLI's language (Babel's currency format
    for that locale, exact fractions of a cent kept; month or months as the figure needs)."""
    from decimal import Decimal

    from babel.numbers import format_currency

    value = Decimal(str(point_value_cents)) / 100
    worth = format_currency(value, currency, locale=_formats(args).locale, decimal_quantization=False)
    t = tr(args)
    return t._("a point is worth {worth}").format(worth=worth) + "; " + t.ngettext(
        "points expire after {n} month", "points expire after {n} months", months).format(n=months)


def _when(f: Any, iso_time: str) -> str:
    """An ISO 8601 time from the hub in the CLI's date format, UTC (the text itself if it cannot be read)."""
    from edge.core.programme import parse_time

    when = parse_time(iso_time)
    return f"{f.datetime(when)} UTC" if when is not None else iso_time


def _report(args: argparse.Namespace, s: Any) -> None:
    """``hub report liability``: one JSON document (``--json``) or a table, a row per store and the total;
    points, money and dates in the CLI's language (README, "Languages")."""
    doc = s.liability()
    if args.json:
        say(args, json.dumps(doc))
        return
    t, f = tr(args), _formats(args, args.currency)
    windows = list(doc["total"]["expiring"])
    say(args, t._("points liability of programme {programme} as of {as_of} ({terms})").format(
        programme=doc["programme"], as_of=_when(f, doc["as_of"]),
        terms=_point_value_words(args, doc["point_value_cents"], f.currency, doc["expiry_months"])))
    header = [t._("store"), t._("points"), t._("value"), *(t._("expiring {n} d").format(n=d) for d in windows)]
    rows = [[r["store_id"], f.number(r["points"]), f.money(r["value_cents"]),
             *(f"{f.number(r['expiring'][d])} ({f.money(r['expiring_value_cents'][d])})" for d in windows)]
            for r in [*doc["stores"], {**doc["total"], "store_id": t._("total")}]]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        say(args, "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths,
                                                                                                          strict=True))))
    if doc["overdrawn_points"]:
        say(args, t._("overdrawn: {n} points spent beyond balances (see 'hub exceptions')").format(
            n=f.number(doc["overdrawn_points"])))


def _rotate_key(args: argparse.Namespace, s: Any) -> None:
    say(args, tr(args)._("new signing key {kid}").format(kid=s.rotate_signing_key(valid_days=args.valid_days)))


def _set_webhook(args: argparse.Namespace, s: Any) -> None:
    s.set_config("webhook_url", args.url)
    if args.secret is not None:
        if len(args.secret) < 16:
            raise ValueError(Text(N_("--secret must be at least 16 characters (e.g. from 'openssl rand -hex 32')")))
        s.set_config("webhook_secret", args.secret)
    t = tr(args)
    if args.secret or s.get_config("webhook_secret"):
        text = t._("presence notifications go to {url}, signed with the shared secret (restart 'hub serve' to apply)")
    else:
        text = t._("presence notifications go to {url}, unsigned (restart 'hub serve' to apply)")
    say(args, text.format(url=args.url))


def _programme(args: argparse.Namespace, s: Any) -> None:
    """``hub programme show|set KEY=VALUE ...``: every refused value on its own line, then nothing changes."""
    from edge.cli.common import PREFIX, err

    t = tr(args)
    if args.action == "set":
        if not args.values:
            raise CliError(Text(N_("say what to set, e.g. 'hub programme set expiry_months=24 pending_days=14'")), 2)
        try:
            rules = s.set_programme(args.values)
        except ValueError as exc:
            lines = getattr(exc, "problems", None) or str(exc).splitlines()
            for line in lines:
                print(PREFIX + t._("programme {problem}").format(problem=t.text(line)), file=err(args))
            raise CliError(Text(N_("{n} programme value(s) refused; nothing was changed"), n=len(lines)), 2) from None
        say(args, t._("programme saved; the tills receive it on their next pull"))
    else:
        rules = s.programme_rules()
    doc = rules.to_doc()
    if args.json:
        say(args, json.dumps(doc, sort_keys=True))
        return
    _say_programme(args, doc)


def _say_programme(args: argparse.Namespace, doc: dict[str, Any]) -> None:
    """The rules one per line: ``tiers: Bronze from 0 cents x1, ...`` then ``key: value  (what it is)``, the
    words in the CLI's language, the keys as ``hub programme set`` takes them."""
    from edge.core.programme import INT_RULES

    t = tr(args)
    say(args, t._("tiers: {tiers}").format(tiers=", ".join(
        t._("{name} from {cents} cents x{multiplier}").format(
            name=x["name"], cents=_number(args, x["threshold_cents"]), multiplier=_number(args, x["multiplier"]))
        for x in doc["tiers"])))
    for key, value in doc.items():
        if key != "tiers":
            what = INT_RULES[key][2] if key in INT_RULES else ""
            say(args, f"{key}: {value}" + (f"  ({t._(what)})" if what else ""))


def _run_jobs(args: argparse.Namespace, s: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from edge.core.programme import parse_time

    now = parse_time(args.now) if args.now else None
    if args.now and now is None:
        raise CliError(Text(N_("--now {value!r} is not an ISO 8601 time, e.g. 2027-01-31T00:00:00Z"), value=args.now), 2)
    if now is not None and now > datetime.now(UTC) + timedelta(days=1) and not args.future:
        # expiry cannot be undone: points expired "in 2029" are gone from today's balances
        raise CliError(Text(N_("--now {value} is in the future: points due by then would expire today and cannot "
                               "be given back; add --future if that is what you want (e.g. on a copy of the "
                               "database)"), value=args.now), 2)
    done = s.run_jobs(now)
    say(args, json.dumps(done) if args.json else tr(args)._(
        "{points} points expired from {lots} lots; {profiles} member profiles changed (tier or spend)").format(
        points=_number(args, done["expired_points"]), lots=done["expired_lots"], profiles=done["profiles_changed"]))


def _seed_demo(args: argparse.Namespace, s: Any) -> None:
    from edge.demo.seed import seed_demo_hub  # the one demo dataset (the hub itself holds none)

    say(args, tr(args)._("demo data seeded; enrolment code for till-1: {code}").format(code=seed_demo_hub(s)))


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``hub`` and its commands to the top-level ``subparsers``."""
    p = subparsers.add_parser("hub", help="the reference hub: serve it and administer it",
                              description="The reference hub: its HTTP API, and the administrator's commands "
                                          "(stores, devices, customers, offers, presence data, consent).")
    sub = p.add_subparsers(dest="hub_command", metavar="HUB_COMMAND", required=True)

    def add(name: str, fn: Command, text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        sp.add_argument("--db", default=None,
                        help=f"SQLite file or postgresql:// DSN (default ${HUB_DB_ENV} or DATA_DIR/hub.db)")
        add_data_dir_option(sp, "the data directory whose hub.db is used when neither --db nor "
                                f"${HUB_DB_ENV} is given")
        sp.set_defaults(handler=_hub_command(fn), settings=LAZY)
        return sp

    _register_serve(add)
    _register_admin(add)
    sp = sub.add_parser("migrate", help="upgrade the hub database schema in place (data kept)",
                        description="Upgrade the hub database schema in place (data kept).")
    sp.add_argument("--db", default=None,
                    help=f"SQLite file or postgresql:// DSN (default ${HUB_DB_ENV} or DATA_DIR/hub.db)")
    add_data_dir_option(sp, f"the data directory whose hub.db is used when neither --db nor ${HUB_DB_ENV} is given")
    sp.set_defaults(handler=_migrate, settings=LAZY)
    sp = sub.add_parser("new-key", help="print a new hub key for STORE_EDGE_HUB_KEY (encrypts keys at rest)",
                        description="Print a new hub key. Put it in STORE_EDGE_HUB_KEY (or a 0600 file named by "
                                    "STORE_EDGE_HUB_KEY_FILE); to rotate, put the new key first and the old one "
                                    "after a comma, then run 'store-edge hub migrate'.")
    sp.set_defaults(handler=_new_key, settings=LAZY)
    from sync.hub.admin_cli import register as register_presence_admin

    register_presence_admin(add)  # tags, EID keys, store beacons, rules, consent, revocations, erasure
    from sync.hub.member_cli import register as register_member_admin

    register_member_admin(add)  # points corrections, tier override, merge, import members|balances
    from sync.hub.rewards_cli import register as register_rewards_admin

    register_rewards_admin(add)  # reward catalogue, event bonuses, next-order coupons
    sp = add("issue-birthday-coupons", _issue_birthday_coupons,
             "issue the birthday coupons due today (a daily job; idempotent per member per year)")
    sp.add_argument("--today", default=None, metavar="YYYY-MM-DD", help="the day to issue for (default today, UTC)")
    sp.add_argument("--amount-cents", type=int, default=None,
                    help="what the coupon takes off (default the programme's birthday_coupon_cents)")
    sp.add_argument("--days-before", type=int, default=None,
                    help="issue this many days before the first day of the birthday month (default the "
                         "programme's birthday_days_before; 0: on it)")
    sp.add_argument("--valid-days", type=int, default=None,
                    help="days the coupon is valid from then (default the programme's birthday_valid_days)")
    return p


def _issue_birthday_coupons(args: argparse.Namespace, s: Any) -> None:
    from datetime import UTC, date, datetime

    from sync.hub.personal_coupons import BirthdayPlan

    try:
        today = date.fromisoformat(args.today) if args.today else datetime.now(UTC).date()
    except ValueError:
        raise ValueError(Text(N_("--today must be a date like 2026-11-30, got {value!r}"), value=args.today)) from None
    rules = s.programme_rules()  # the defaults: the programme's birthday rules (hub programme set ...)

    def given(value: int | None, default: int) -> int:
        return default if value is None else value

    plan = BirthdayPlan(given(args.amount_cents, rules.birthday_coupon_cents),
                        given(args.days_before, rules.birthday_days_before),
                        given(args.valid_days, rules.birthday_valid_days))
    if plan.amount_cents == 0:
        say(args, tr(args)._("no birthday coupons: the programme's birthday_coupon_cents is 0 (hub programme set "
                             "birthday_coupon_cents=500, or --amount-cents)"))
        return
    issued = s.issue_birthday_coupons(today, plan)
    say(args, tr(args)._("{n} birthday coupons issued for {day}").format(n=len(issued), day=today.isoformat()))


def _register_serve(add: Callable[[str, Command, str], argparse.ArgumentParser]) -> None:
    sp = add("serve", _serve, "run the hub (HTTP API)")
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sp.add_argument("--port", type=int, default=8700, help="TCP port to listen on (default 8700)")
    sp.add_argument("--production", action="store_true",
                    help="a real hub: refuse to start without the hub key (STORE_EDGE_HUB_KEY); implied by a "
                         "--host beyond this machine")
    sp.add_argument("--webhook-url", default=None, help="where presence notifications are delivered")
    sp.add_argument("--jobs-interval", type=float, default=3600.0, metavar="SECONDS",
                    help="run the programme's jobs (points expiry, tier evaluation) this often (default 3600; "
                         "0: never; with --workers N each worker runs them, they are idempotent)")
    sp.add_argument("--tls-cert", default=None, help="PEM certificate file: serve HTTPS (with --tls-key)")
    sp.add_argument("--tls-key", default=None, help="PEM private key file of --tls-cert")
    sp.add_argument("--workers", type=int, default=1,
                    help="hub processes serving the port (default 1); more than 1 needs a PostgreSQL --db, "
                         "e.g. one per CPU core")
    sp.set_defaults(handler=_workers_checked(sp.get_default("handler")))


def _register_admin(add: Callable[[str, Command, str], argparse.ArgumentParser]) -> None:
    _store_arguments(add("create-store", _create_store, "create or rename a store (with its locale, currency, zone)"))
    _store_arguments(add("set-store", _set_store, "change a store's name, locale, currency or time zone"))
    sp = add("create-device", _create_device, "register a device and print its one-time enrolment code")
    sp.add_argument("--store", required=True, help="the store the device belongs to")
    sp.add_argument("--device", required=True, help="the device's id, e.g. till-1")
    sp.add_argument("--ttl-hours", type=float, default=72.0, help="hours the enrolment code stays valid (72)")
    sp = add("revoke-device", _revoke_device, "refuse a device from now on")
    sp.add_argument("device", help="the device's id")
    sp = add("create-customer", _create_customer,
             "create a customer, or update only the given fields of an existing one")
    sp.add_argument("--id", required=True, help="the customer's id")
    sp.add_argument("--name", default=None, help="the customer's display name (new customer: default the id)")
    sp.add_argument("--card", default=None, help="loyalty card number (6009 + 12 digits in the demo)")
    sp.add_argument("--home-store", default=None, help="the customer's home store id")
    sp.add_argument("--tier", default=None, help="loyalty tier: Bronze, Silver or Gold (new customer: Bronze)")
    sp.add_argument("--points", type=int, default=0, help="opening points balance")
    sp = add("create-offer", _create_offer, "create or update an offer (optionally with a coupon code)")
    sp.add_argument("--id", required=True, help="the offer's id")
    sp.add_argument("--kind", required=True, choices=OFFER_KINDS, help="what the offer does")
    sp.add_argument("--name", required=True, help="the name shown on the till and the receipt")
    sp.add_argument("--params", default="{}", metavar="JSON",
                    help="the kind's parameters as a JSON object: percent_off {\"percent\": 10}; "
                         "amount_off_basket {\"amount_cents\": 300, \"threshold_cents\": 2000}; "
                         "buy_x_get_y {\"buy\": 2, \"get\": 1}; points_multiplier {\"multiplier\": 2}; "
                         "any kind may add \"category\": \"Bakery\" or \"gtins\": [\"...14 digits\"] (default {})")
    sp.add_argument("--customer", default=None, help="only for this customer (default: everyone)")
    sp.add_argument("--priority", type=int, default=0, help="higher applies first when offers compete")
    sp.add_argument("--coupon", default=None,
                    help="a coupon code that unlocks the offer: the offer then applies only with the code")
    sp.add_argument("--per-customer", type=int, default=None,
                    help="usage limit: at most this many sales per member within --period-days")
    sp.add_argument("--period-days", type=int, default=None, help="the period of --per-customer, in days")
    sp.add_argument("--budget", type=int, default=None, help="usage limit: at most this many sales in all")
    sp.add_argument("--valid-from", default=None, metavar="TIME",
                    help="ISO 8601 start (e.g. 2027-01-01T00:00:00+01:00; UTC without a zone; default now)")
    sp.add_argument("--valid-until", default=None, metavar="TIME",
                    help="ISO 8601 end: the tills stop applying the offer at that moment (default: no end)")
    sp = add("delete-offer", _delete_offer,
             "retire an offer: every store that had it drops it at its next sync, its unredeemed coupons are revoked")
    sp.add_argument("id", help="the offer's id")
    sp = add("import-catalog", _import_catalog, "import gtin,name,price_cents,vat_rate_bp,category CSV")
    sp.add_argument("csv", help="the CSV file (header gtin,name,price_cents,vat_rate_bp,category)")
    sp = add("create-api-key", _create_api_key, "an API key for /v1/orders, /v1/sightings and the reports")
    sp.add_argument("name", help="who or what the key is for")
    sp.add_argument("--scope", action="append", default=None, metavar="SCOPE",
                    help="what the key may do, repeatable or comma-separated: orders (POST /v1/orders), sightings "
                         "(POST /v1/sightings), reports (GET /v1/admin/exceptions, across all stores), "
                         "members:read (a member's profile and consents), members:write (create, change, consent, "
                         "merge members); default orders,sightings")
    sp = add("exceptions", _exceptions, "the exceptions report (overdrafts, reused coupons, ...)")
    sp.add_argument("--kind", default=None, help="only exceptions of this kind")
    sp.add_argument("--json", action="store_true", help="one JSON array instead of lines")
    sp = add("report", _report, "a report from the hub ledger: liability (outstanding points, value, expiry)")
    sp.add_argument("which", choices=["liability"],
                    help="liability: outstanding points and their value per store, expiring in 30/60/90 days")
    sp.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    sp.add_argument("--currency", default="EUR", help="the currency values are shown in (default EUR)")
    sp = add("rotate-key", _rotate_key, "create a new loyalty-token signing key")
    sp.add_argument("--valid-days", type=int, default=90, help="days the new key signs app codes (90)")
    sp = add("set-webhook", _set_webhook, "the URL presence notifications are delivered to")
    sp.add_argument("url", help="the receiver's URL")
    sp.add_argument("--secret", default=None,
                    help="shared secret: each delivery carries X-Store-Edge-Signature: sha256=HMAC-SHA256(body)")
    add("seed-demo", _seed_demo, "demo store, customers, catalog and an enrolment code")
    _register_programme(add)


def _register_programme(add: Callable[[str, Command, str], argparse.ArgumentParser]) -> None:
    from edge.core.programme import INT_RULES

    sp = add("programme", _programme, "show or set the loyalty programme's rules (sent to every till)")
    sp.add_argument("action", choices=("show", "set"), help="show the rules, or set some of them")
    sp.add_argument("values", nargs="*", metavar="KEY=VALUE",
                    help="with set: tiers=Bronze:0:1,Silver:50000:1.25,Gold:150000:1.5 (name:threshold in cents "
                         "of net spend:points multiplier, lowest first, from 0); "
                         + "; ".join(f"{k} ({lo}-{hi}): {what}" for k, (lo, hi, what) in INT_RULES.items()))
    sp.add_argument("--json", action="store_true", help="print the rules as one JSON object")
    sp = add("run-jobs", _run_jobs, "expire points past their date and evaluate every member's tier now")
    sp.add_argument("--now", default=None, metavar="ISO_TIME",
                    help="run as if it were this time (e.g. to check a review date); default now")
    sp.add_argument("--future", action="store_true",
                    help="allow a --now more than a day ahead (expiry cannot be undone)")
    sp.add_argument("--json", action="store_true", help="print what was done as one JSON object")
