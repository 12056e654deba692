"""Money, numbers, percentages and dates written and read the store's way (Babel/CLDR)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edge.core.l10n import Formats, formats
from edge.core.money import cash_round, format_money, minor_exponent, parse_money

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        (744, "EUR", "es_ES", f"7,44{NBSP}€"),
        (-649, "EUR", "es_ES", f"-6,49{NBSP}€"),
        (123_456, "EUR", "es_ES", f"1.234,56{NBSP}€"),
        (1_234_567, "EUR", "es_ES", f"12.345,67{NBSP}€"),
        (744_000, "COP", "es_CO", "$7.440"),  # 7,440 pesos: ISO 4217 minor unit 2, shown without decimals
        (7_440, "CLP", "es_CL", "$7.440"),  # ISO 4217 minor unit 0
        (744, "JPY", "ja_JP", "￥744"),
        (74_450, "MXN", "es_MX", "$744.50"),
        (744, "EUR", "en", "€7.44"),
        (744, "EUR", "nl_NL", f"€{NBSP}7,44"),
    ],
)
def test_money_is_written_the_locales_way(amount: int, currency: str, locale: str, text: str) -> None:
    assert format_money(amount, currency, locale) == text


def test_a_peso_amount_with_centavos_shows_them_rather_than_hide_money() -> None:
    assert format_money(744_050, "COP", "es_CO") == "$7.440,50"


@pytest.mark.parametrize(("currency", "exponent"), [("EUR", 2), ("COP", 2), ("CLP", 0), ("JPY", 0), ("KWD", 3)])
def test_minor_units_follow_iso_4217(currency: str, exponent: int) -> None:
    assert minor_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [(744, "EUR", 744), (744_049, "COP", 744_000), (744_050, "COP", 744_100), (1_003, "CHF", 1_005),
     (1_002, "CHF", 1_000), (7_440, "CLP", 7_440), (-744_060, "COP", -744_100)],
)
def test_cash_is_rounded_by_the_currencys_cash_rules(amount: int, currency: str, rounded: int) -> None:
    assert cash_round(amount, currency) == rounded


@pytest.mark.parametrize(
    ("text", "locale", "currency", "amount"),
    [
        ("30,50", "es_ES", "EUR", 3050),
        ("1.234,56", "es_ES", "EUR", 123_456),
        ("1234,56", "es_ES", "EUR", 123_456),
        ("30.50", "es_ES", "EUR", 3050),  # a numeric keypad's point, two decimals: a decimal point
        ("1.234", "es_ES", "EUR", 123_400),  # three digits after the point: thousands
        ("€ 7,05", "es_ES", "EUR", 705),
        ("7,05 €", "es_ES", "EUR", 705),
        ("1.234.567,89", "es_ES", "EUR", 123_456_789),
        ("7.440", "es_CO", "COP", 744_000),
        ("$ 7.440", "es_CO", "COP", 744_000),
        ("7440", "es_CL", "CLP", 7440),
        ("12.50", "en", "EUR", 1250),
    ],
)
def test_typed_amounts_are_read_the_locales_way(text: str, locale: str, currency: str, amount: int) -> None:
    assert parse_money(text, locale, currency) == amount


@pytest.mark.parametrize(
    ("text", "locale", "currency"),
    [("1.23,45", "es_ES", "EUR"), ("30,505", "es_ES", "EUR"), ("1,5", "es_CL", "CLP"), ("-5", "es_ES", "EUR"),
     ("12 50", "es_ES", "EUR"), ("1,234.56", "es_ES", "EUR"), ("1.2345", "es_ES", "EUR")],
)
def test_what_is_not_an_amount_is_refused_with_an_example_in_the_locale(text: str, locale: str, currency: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_money(text, locale, currency)
    assert "no es un importe" in str(excinfo.value)
    assert "12,50" in str(excinfo.value)


def test_formats_write_dates_and_times_in_the_stores_zone() -> None:
    madrid = formats("es-ES", "EUR", "Europe/Madrid")
    bogota = formats("es_CO", "COP", "America/Bogota")
    noon_utc = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)
    assert madrid.datetime(noon_utc) == "30/11/2026, 13:05"
    assert madrid.date(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)) == "1/12/2026"  # already tomorrow in Madrid
    assert bogota.time(noon_utc) == "7:05"
    assert Formats().datetime(noon_utc) == "11/30/2026, 12:05"


def test_numbers_and_percentages() -> None:
    es = formats("es_ES")
    assert es.number(1_234_567) == "1.234.567"
    assert es.percent(0.155) == f"15,5{NBSP}%"
    assert Formats().percent(0.1) == "10%"


def test_a_member_reads_their_language_with_the_stores_money() -> None:
    store = formats("es_ES", "EUR", "Europe/Madrid")
    member = store.with_language("en")
    assert member.tr._("Change") == "Change"
    assert member.money(744) == f"7,44{NBSP}€"
    assert store.with_language("es") is store
    assert store.with_language("??") is store


@pytest.mark.parametrize(
    ("args", "problem"),
    [(("xx_QQ",), "not a known locale"), (("es", "EURO"), "not an ISO 4217"),
     (("es", "EUR", "Europe/Madird"), "not a time zone")],
)
def test_formats_refuse_what_they_cannot_write(args: tuple[str, ...], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        formats(*args)
