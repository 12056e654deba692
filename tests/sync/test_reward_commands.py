"""`store-edge hub reward add|list|retire`, `set-bonus` and `issue-birthday-coupons` through the real command
line on a SQLite hub file: every input checked, refusals in one line naming the problem (exit 1)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from edge.cli.main import main
from sync.hub.storage import HubStorage


def _run(db: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["hub", *argv[:2], "--db", str(db), *argv[2:]] if argv[0] == "reward"
                else ["hub", argv[0], "--db", str(db), *argv[1:]], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_the_reward_catalogue_commands_validate_and_say_what_they_did(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    HubStorage.open(db).close()
    code, out, _ = _run(db, "reward", "add", "--id", "free-coffee", "--name", "Free coffee", "--points", "500",
                        "--product", "8710000001007")  # 13 digits: read as a GTIN-14
    assert code == 0 and "'Free coffee', 500 points for product 08710000001007" in out
    for argv, words in (
        (("--id", "x", "--name", "X", "--points", "0", "--amount-cents", "100"), "points must be a whole number"),
        (("--id", "bad id", "--name", "X", "--points", "5", "--amount-cents", "100"), "a reward id is 1-64"),
        (("--id", "x", "--name", "X", "--points", "5", "--amount-cents", "0"), "needs amount_cents"),
        (("--id", "x", "--name", "X", "--points", "5", "--product", "8710000001008"), "--product"),
        (("--id", "x", "--name", "X", "--points", "5", "--offer", "nope"), "must exist, be for everyone"),
    ):
        code, _, err = _run(db, "reward", "add", *argv)
        assert code == 1 and words in err and err.count("\n") == 1, (argv, err)
    assert _run(db, "reward", "add", "--id", "five", "--name", "EUR 5 off", "--points", "800",
                "--amount-cents", "500")[0] == 0
    code, out, _ = _run(db, "reward", "list", "--json")
    assert [r["id"] for r in json.loads(out)] == ["five", "free-coffee"]
    assert _run(db, "reward", "retire", "five")[0] == 0
    code, _, err = _run(db, "reward", "retire", "five")
    assert code == 1 and "no live reward 'five'" in err
    assert _run(db, "reward", "list")[1].splitlines() == ["free-coffee: 'Free coffee', 500 points for product "
                                                          "08710000001007"]
    code, _, err = _run(db, "set-bonus", "sign_up", "--points", "50", "--cap-per-year", "3")
    assert code == 1 and "referral bonus only" in err
    assert "the referral bonus is 200 points, at most 5 per referrer per year" in _run(
        db, "set-bonus", "referral", "--points", "200", "--cap-per-year", "5")[1]
    code, out, _ = _run(db, "issue-birthday-coupons", "--today", "2026-12-01", "--amount-cents", "500")
    assert code == 0 and out.strip() == "0 birthday coupons issued for 2026-12-01"
    code, _, err = _run(db, "issue-birthday-coupons", "--today", "1 Dec", "--amount-cents", "500")
    assert code == 1 and "--today must be a date" in err
