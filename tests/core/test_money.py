"""The rounding rules of edge/core/money.py, one by one, with the figures a cashier would check by hand."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.core.money import allocate, format_money, parse_money, percent_of, vat_included

# -- rule 1: percentages round half up to the cent --------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [
        (125, 10, 13),  # 12.5 cents -> 13: the docstring's own example
        (105, 10, 11),  # 10.5 -> 11 (banker's rounding would give 10)
        (115, 10, 12),  # 11.5 -> 12
        (124, 10, 12),  # 12.4 -> 12
        (1000, 15, 150),
        (999, 33.33, 333),  # 332.967 -> 333
        (1, 50, 1),  # half a cent rounds up
        (1, 49, 0),
        (0, 25, 0),
        (1999, 100, 1999),
        (250, 12.5, 31),  # 31.25 -> 31: fractional percent kept exact in basis points
        (1000, 0.01, 0),  # 0.1 cent
        (5000, 0.01, 1),  # 0.5 cent -> 1
    ],
)
def test_percent_of_rounds_half_up(amount: int, percent: float, expected: int) -> None:
    assert percent_of(amount, percent) == expected


@given(st.integers(0, 10_000_000), st.integers(0, 10_000))
def test_percent_of_matches_exact_half_up(amount: int, basis_points: int) -> None:
    exact_hundredths = amount * basis_points  # the amount in 1/10000 cent
    expected = exact_hundredths // 10_000 + (1 if exact_hundredths % 10_000 >= 5_000 else 0)
    assert percent_of(amount, basis_points / 100) == expected


# -- rule 2: the VAT inside a VAT-inclusive amount ---------------------------------------------------------


@pytest.mark.parametrize(
    ("gross", "rate_bp", "expected"),
    [
        (121, 2100, 21),  # 1.21 incl. 21 % = 1.00 + 0.21
        (1000, 2100, 174),  # 173.55 -> 174
        (109, 900, 9),
        (100, 900, 8),  # 8.257 -> 8
        (1090, 900, 90),
        (1, 2100, 0),  # 0.17 -> 0
        (3, 2100, 1),  # 0.52 -> 1
        (0, 2100, 0),
        (-500, 2100, 0),  # a refund line carries no VAT here; never negative
        (1000, 0, 0),  # zero-rated goods
    ],
)
def test_vat_included_is_extracted_half_up(gross: int, rate_bp: int, expected: int) -> None:
    assert vat_included(gross, rate_bp) == expected


def test_vat_exact_half_cent_rounds_up() -> None:
    # at 100 % VAT the tax is half the gross: 2.5 -> 3 and 3.5 -> 4 (half up, not half even)
    assert vat_included(5, 10_000) == 3
    assert vat_included(7, 10_000) == 4
    assert vat_included(6, 10_000) == 3


@given(st.integers(1, 10_000_000), st.sampled_from([500, 600, 900, 1300, 2000, 2100, 2500]))
def test_vat_included_is_nearest_cent(gross: int, rate_bp: int) -> None:
    vat = vat_included(gross, rate_bp)
    exact_num, denom = gross * rate_bp, 10_000 + rate_bp
    # |vat - exact| <= 1/2, and exactly 1/2 rounds up
    assert 2 * abs(vat * denom - exact_num) <= denom
    if 2 * (exact_num % denom) == denom:
        assert vat * denom > exact_num
    assert 0 <= vat < gross


# -- rule 3: allocate a basket-level amount over lines ----------------------------------------------------


def test_allocate_examples() -> None:
    assert allocate(100, [100, 100, 100]) == [34, 33, 33]  # ties go to the earlier line
    assert allocate(500, [1000, 3000]) == [125, 375]
    assert allocate(0, [5, 7]) == [0, 0]
    assert allocate(12, [5, 7]) == [5, 7]  # the whole thing: every line free
    assert allocate(0, []) == []
    assert allocate(0, [0, 0]) == [0, 0]
    assert allocate(3, [0, 10, 0]) == [0, 3, 0]  # a free line gets nothing


def test_allocate_refuses_more_than_the_lines_cost() -> None:
    with pytest.raises(ValueError, match="cannot allocate 13 over 12"):
        allocate(13, [5, 7])
    with pytest.raises(ValueError, match="cannot allocate -1"):
        allocate(-1, [5, 7])


@given(st.lists(st.integers(0, 100_000), max_size=12).flatmap(lambda ws: st.tuples(st.integers(0, sum(ws)), st.just(ws))))
def test_allocate_sums_exactly_and_never_exceeds_a_weight(args: tuple[int, list[int]]) -> None:
    total, weights = args
    parts = allocate(total, weights)
    assert len(parts) == len(weights)
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        assert 0 <= part <= weight
        # largest remainder: every part is the floor or the ceiling of its exact share
        if sum(weights):
            exact_floor = total * weight // sum(weights)
            assert part in (exact_floor, exact_floor + 1)


@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=8), st.data())
def test_allocate_is_deterministic(weights: list[int], data: st.DataObject) -> None:
    total = data.draw(st.integers(0, sum(weights)))
    assert allocate(total, weights) == allocate(total, list(weights))


# -- formatting and parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cents", "currency", "text"),
    [
        (0, "EUR", "€0.00"),
        (5, "EUR", "€0.05"),
        (1250, "EUR", "€12.50"),
        (-649, "EUR", "-€6.49"),
        (123_456_789, "EUR", "€1,234,567.89"),
        (100, "GBP", "£1.00"),
        (199, "USD", "$1.99"),
        (1000, "CHF", "CHF\xa010.00"),  # CLDR currency spacing: a no-break space
    ],
)
def test_format_money(cents: int, currency: str, text: str) -> None:
    assert format_money(cents, currency) == text


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("12.5", 1250),
        ("12,50", 1250),
        ("3", 300),
        (" 3 ", 300),
        ("€12.50", 1250),
        ("€ 7,05", 705),
        ("$0.99", 99),
        ("£1", 100),
        (".5", 50),
        ("5.", 500),
        ("0", 0),
        ("0.07", 7),
    ],
)
def test_parse_money(text: str, cents: int) -> None:
    assert parse_money(text) == cents


@pytest.mark.parametrize("text", ["", "   ", "€", "$ "])
def test_parse_money_empty_asks_for_an_amount(text: str) -> None:
    with pytest.raises(ValueError, match=r"^enter an amount, for example 20 or 12\.50$"):
        parse_money(text)


@pytest.mark.parametrize(
    "text", ["abc", "-5", "12.345", "1.2.3", "1,234.50", "12 50", ".", "1e3", "+5", "²", "١٢", "12.٥"]
)
def test_parse_money_bad_input_says_how_to_type_it(text: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_money(text)
    assert str(excinfo.value) == f"'{text}' is not an amount; type it like 12.50"


@given(st.integers(0, 10**9))
def test_format_then_parse_round_trips(cents: int) -> None:
    assert parse_money(format_money(cents).replace(",", "")) == cents


@settings(max_examples=300)
@given(st.text(max_size=12))
def test_parse_money_never_raises_anything_but_a_readable_value_error(text: str) -> None:
    try:
        cents = parse_money(text)
    except ValueError as exc:
        message = str(exc)
        assert message.startswith("enter an amount") or message.endswith("type it like 12.50"), message
    else:
        assert cents >= 0
