"""Translations: gettext catalogs managed by Babel, chosen per call, never process-wide.

English is the source language: every message is written in English in the code, marked with ``_()`` (or
``ngettext`` for counts) on a :class:`Translator`, never with a module-level ``gettext.install``. A till in
``es_ES`` and a member whose profile says ``en`` each get their own translator, side by side in one process.

Catalogs live in ``edge/locale/<language>/LC_MESSAGES/store_edge.po`` (compiled ``.mo`` next to them,
committed and rebuilt by ``make i18n``); a new language is a new catalog, nothing else. A message missing
from a catalog falls back to the English source text. Lookup order for ``es_CO`` is ``es_CO``, then ``es``,
then English.

Marking rule for messages shared between modules: a constant that must be translated later is wrapped in
:func:`N_` (a no-op the extractor knows) and passed through ``translator.gettext`` where it is shown. A message
with values in it, made where no translator is at hand (an exception, a ``doctor`` check, an error from
``sync``), is a :class:`Text`: ``Text(N_("no line {n}"), n=3)`` is the English string ``"no line 3"`` (so
logs, ``str()`` and English tests see plain English) that also keeps its template and values, and
:meth:`Translator.text` says it in the translator's language where it is shown. ``devices/`` (the leaf
package, which imports nothing from here) builds the same shape with its own ``devices.text.Text``.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DOMAIN = "store_edge"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
SOURCE_LANGUAGE = "en"


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now (it is translated where it is shown)."""
    return message


class Text(str):
    """An English message (a ``str``) that remembers its source template and values, to be translated later.

    ``Text(N_("{n} event(s) waiting"), n=3)`` equals ``"3 event(s) waiting"``; ``translator("es").text(t)``
    formats the Spanish template with the same values. A value that is itself a ``Text`` is translated too
    (``Text(N_("config error in {source}: {problem}"), source=..., problem=Text(...))``). Concatenating or
    f-formatting a ``Text`` gives a plain ``str`` (English only): build the whole sentence as one ``Text``.
    Raises KeyError/IndexError when the template names a value not given (a programming error).
    """

    template: str
    params: Mapping[str, Any]

    def __new__(cls, template: str, /, **params: Any) -> Text:
        self = super().__new__(cls, template.format(**params) if params else template)
        self.template, self.params = template, params
        return self


class Number(str):
    """A number among a :class:`Text`'s values, written the reader's way where the text is said.

    ``Number(72241.3)`` is the English ``"72,241"`` (a ``str``: logs and English tests see plain English);
    :meth:`Translator.text` writes it with the translator's locale (``"72.241"`` in es): grouping and decimal
    marks from CLDR through Babel. ``digits`` fixes the decimals shown (``Number(0.04, digits=1)`` -> ``0.0``,
    es ``0,0``); ``percent=True`` takes a fraction, whole percent (``Number(0.57, percent=True)`` -> ``57%``, es ``57 %``).
    """

    value: float
    digits: int
    percent: bool

    def __new__(cls, value: float, /, *, digits: int = 0, percent: bool = False) -> Number:
        self = super().__new__(cls, _number_text(value, SOURCE_LANGUAGE, digits, percent))
        self.value, self.digits, self.percent = value, digits, percent
        return self

    def __getnewargs_ex__(self) -> tuple[tuple[float], dict[str, Any]]:  # copy/pickle rebuild it from the value
        return (self.value,), {"digits": self.digits, "percent": self.percent}

    def in_locale(self, locale: str) -> str:
        """The number as ``locale`` writes it (English when Babel does not know the locale)."""
        return _number_text(self.value, locale, self.digits, self.percent)


def _number_text(value: float, locale: str, digits: int, percent: bool) -> str:
    from babel.core import UnknownLocaleError
    from babel.numbers import format_decimal, format_percent

    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    try:
        if percent:
            return str(format_percent(value, locale=locale))  # the locale's own pattern: 57 % in es, 57% in en
        return str(format_decimal(value, pattern, locale=locale))
    except (UnknownLocaleError, ValueError):
        return _number_text(value, SOURCE_LANGUAGE, digits, percent) if locale != SOURCE_LANGUAGE else str(value)


def normalise_locale(tag: str) -> str:
    """``es-ES``, ``es_es`` or ``es_ES.UTF-8`` -> ``es_ES``; ``''`` -> ``en``. Raises ValueError on junk."""
    base = tag.strip().split(".")[0].split("@")[0].replace("-", "_")
    if not base:
        return SOURCE_LANGUAGE
    parts = base.split("_")
    if not parts[0].isalpha() or not 2 <= len(parts[0]) <= 3 or len(parts) > 2:
        raise ValueError(f"{tag!r} is not a locale; write it like es_ES, es or en")
    if len(parts) == 2:
        if not parts[1].isalnum() or not 2 <= len(parts[1]) <= 3:
            raise ValueError(f"{tag!r} is not a locale; write it like es_ES, es or en")
        return f"{parts[0].lower()}_{parts[1].upper()}"
    return parts[0].lower()


def available_languages() -> list[str]:
    """The languages with a compiled catalog, plus English (the source language), sorted."""
    found = {p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")}
    return sorted(found | {SOURCE_LANGUAGE})


@lru_cache(maxsize=32)
def _translations(locale: str) -> _gettext.NullTranslations:
    language = locale.split("_")[0]
    languages = [locale] if locale == language else [locale, language]
    return _gettext.translation(DOMAIN, LOCALE_DIR, languages=languages, fallback=True)


@dataclass(frozen=True)
class Translator:
    """The texts of one locale. ``tr = translator("es_ES"); tr._("Subtotal")`` -> ``"Subtotal"`` in Spanish.

    Frozen and cheap; the catalog behind it is loaded once per locale and shared (read-only).
    """

    locale: str = SOURCE_LANGUAGE

    @property
    def language(self) -> str:
        """The language part of the locale: ``es`` for ``es_ES``."""
        return self.locale.split("_")[0]

    def gettext(self, message: str) -> str:
        """``message`` (English source text) in this locale, or ``message`` itself if not translated."""
        return _translations(self.locale).gettext(message)

    _ = gettext

    def text(self, message: str) -> str:
        """``message`` in this locale: a :class:`Text` (or ``devices.text.Text``, the same shape) by its
        template and values (values that are texts translated too, a :class:`Number` written the locale's
        way), a plain ``str`` as a source text."""
        template = getattr(message, "template", None)
        params = getattr(message, "params", None)
        if template is None or params is None:
            return self.gettext(str(message))
        values = {k: v.in_locale(self.locale) if isinstance(v, Number)
                  else self.text(v) if getattr(v, "template", None) is not None else v for k, v in params.items()}
        translated = self.gettext(template)
        return translated.format(**values) if values else translated

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The form of ``singular``/``plural`` for the count ``n`` by this language's plural rules."""
        return _translations(self.locale).ngettext(singular, plural, n)


@lru_cache(maxsize=32)
def translator(locale: str = SOURCE_LANGUAGE) -> Translator:
    """The :class:`Translator` for ``locale`` (any spelling :func:`normalise_locale` accepts)."""
    return Translator(normalise_locale(locale))


ENGLISH = Translator(SOURCE_LANGUAGE)
