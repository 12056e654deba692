"""A store's (or a member's) way of writing things: language, money, numbers, dates in its time zone.

One :class:`Formats` value carries a locale (``es_ES``), a currency (ISO 4217, ``EUR``) and a time zone
(IANA, ``Europe/Madrid``), and every text the till, a receipt or a message to a member shows goes through
it. Nothing here is process-global: a till in ``es_ES`` and a member in ``en`` each have their own.
Formats come from CLDR through Babel; money is integer minor units (see :mod:`edge.core.money`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edge.core.i18n import Translator, normalise_locale, translator
from edge.core.money import Cents, format_money, minor_exponent, parse_money


def check_timezone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``Europe/Madrid``); ValueError naming the setting's expected form otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone; write it like Europe/Madrid or America/Bogota") from None


def check_locale(tag: str) -> str:
    """``tag`` normalised (``es-ES`` -> ``es_ES``) if CLDR has the locale, else ValueError (its data not loaded)."""
    from babel import localedata

    name = normalise_locale(tag)
    if not localedata.exists(name):
        raise ValueError(f"{tag!r} is not a known locale; write it like es_ES, es_CO or en")
    return name


def check_country(code: str) -> str:
    """``code`` upper-cased if it is an ISO 3166 country CLDR knows (``es`` -> ``ES``), else ValueError."""
    from babel.core import get_global

    upper = code.upper()
    if not (len(upper) == 2 and upper.isalpha() and upper != "ZZ" and upper in get_global("territory_currencies")):
        raise ValueError(f"{code!r} is not a country code; write it like ES, CO, MX or NL")
    return upper


@dataclass(frozen=True)
class Formats:
    """How one store or member reads: ``Formats("es_ES", "EUR", "Europe/Madrid").money(744)`` -> ``7,44 €``.

    ``locale`` is a CLDR locale (``es_ES``, ``es_CO``, ``en``), ``currency`` an ISO 4217 code, ``timezone``
    an IANA zone. Build it with :func:`formats` to have the three checked.
    """

    locale: str = "en"
    currency: str = "EUR"
    timezone: str = "UTC"

    @property
    def tr(self) -> Translator:
        """The texts in this locale's language (English fallback)."""
        return translator(self.locale)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def money(self, amount: Cents) -> str:
        """``amount`` minor units of the store's currency, written the locale's way."""
        return format_money(amount, self.currency, self.locale)

    def parse_money(self, text: str) -> Cents:
        """A typed amount in this locale (``30,50``, ``1.234,56`` in es) -> minor units; ValueError in words."""
        return parse_money(text, self.locale, self.currency)

    def number(self, value: int | float) -> str:
        """A plain number with the locale's grouping and decimal marks."""
        from babel.numbers import format_decimal

        return str(format_decimal(value, locale=self.locale))

    def percent(self, fraction: float) -> str:
        """``0.155`` -> ``15,5 %`` in es, ``15.5%`` in en (the locale's pattern, to a tenth of a percent)."""
        from babel.numbers import format_percent

        return str(format_percent(round(fraction, 3), locale=self.locale, decimal_quantization=False))

    def local(self, when: dt.datetime) -> dt.datetime:
        """``when`` in the store's time zone (a naive value is taken as UTC, as the database stores it)."""
        return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone(self.zone)

    def datetime(self, when: dt.datetime) -> str:
        """Date and 24-hour time, short, in the store's zone: ``30/11/2026, 10:47`` in es_ES."""
        from babel.dates import get_datetime_format

        return str(get_datetime_format("short", locale=self.locale)).format(self.time(when), self.date(when))

    def date(self, when: dt.datetime) -> str:
        """The date, short, in the store's zone: ``30/11/2026`` in es_ES, ``11/30/2026`` in en."""
        from babel.dates import format_skeleton

        return str(format_skeleton("yMd", self.local(when), locale=self.locale))

    def day(self, day: dt.date) -> str:
        """A calendar day with the month in words (CLDR medium): ``Jan 31, 2027`` in en, ``31 Jan 2027`` in
        en_GB, ``31 ene 2027`` in es."""
        from babel.dates import format_date

        return str(format_date(day, "medium", locale=self.locale))

    def time(self, when: dt.datetime) -> str:
        """The 24-hour time in the store's zone: ``10:47``."""
        from babel.dates import format_skeleton

        return str(format_skeleton("Hm", self.local(when), locale=self.locale, fuzzy=True))

    def with_language(self, language: str | None) -> Formats:
        """The same store read by someone whose preferred language is ``language`` (None or junk: unchanged).

        The store's country is kept when CLDR knows the pair: a member in ``en`` at an ``es_ES`` store reads
        ``en_ES`` (English words, euros and dates as written in Spain); currency and zone stay the store's.
        """
        try:
            wanted = normalise_locale(language or "")
        except ValueError:
            return self
        if not language or wanted.split("_")[0] == self.locale.split("_")[0]:
            return self
        territory = self.locale.partition("_")[2]
        for candidate in ([f"{wanted}_{territory}"] if territory and "_" not in wanted else []) + [wanted]:
            try:
                return Formats(check_locale(candidate), self.currency, self.timezone)
            except ValueError:
                continue
        return self


def formats(locale: str = "en", currency: str = "EUR", timezone: str = "UTC") -> Formats:
    """Checked :class:`Formats`; ValueError naming what is wrong (unknown locale, currency or zone)."""
    minor_exponent(currency)
    check_timezone(timezone)
    return Formats(check_locale(locale), currency.upper(), timezone)


ENGLISH = Formats()
