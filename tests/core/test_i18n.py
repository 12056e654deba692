"""The gettext catalogs: every English source text is translated in every catalog, and each locale is its own."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from edge.core.i18n import DOMAIN, LOCALE_DIR, Translator, available_languages, normalise_locale, translator

ROOT = Path(__file__).resolve().parents[2]
# the same keywords as `make i18n-extract` (Babel's defaults plus N_ and ngettext's two arguments)
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


def _source_messages() -> set[str]:
    found: set[str] = set()
    for package in ("edge", "sync", "devices"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(language: str):  # noqa: ANN202 - babel's Catalog
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as fh:
        return read_po(fh, locale=language)


TRANSLATED = [lang for lang in available_languages() if lang != "en"]


def test_spanish_is_one_of_the_catalogs() -> None:
    assert "es" in TRANSLATED


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_source_text_is_translated_and_none_is_fuzzy(language: str) -> None:
    catalog = _catalog(language)
    source = _source_messages()
    assert len(source) > 10  # the extractor found the marked texts at all
    problems = []
    for text in sorted(source):
        entry = catalog.get(text)
        strings = () if entry is None else ((entry.string,) if isinstance(entry.string, str) else entry.string)
        if entry is None:
            problems.append(f"missing: {text!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {text!r}")
        elif not strings or not all(strings):
            problems.append(f"untranslated: {text!r}")
        elif any(set(PLACEHOLDER.findall(s)) != set(PLACEHOLDER.findall(text)) for s in strings):
            problems.append(f"placeholders differ: {text!r} -> {strings!r}")
    assert problems == [], f"{language} catalog needs `make i18n` and translating:\n" + "\n".join(problems)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalog_is_the_one_the_po_file_says(language: str) -> None:
    """The shipped .mo is rebuilt from the .po (`make i18n`): the two never disagree."""
    catalog = _catalog(language)
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    for entry in catalog:
        if not entry.id:
            continue
        if isinstance(entry.id, str):
            assert compiled.gettext(entry.id) == entry.string, entry.id
        else:
            assert compiled.ngettext(entry.id[0], entry.id[1], 1) == entry.string[0], entry.id


def test_two_locales_side_by_side_each_keep_their_own_texts() -> None:
    till, member = translator("es-ES"), translator("en")
    assert till._("Subtotal") == "Subtotal"  # the same word in both languages
    assert till._("Change") == "Cambio"
    assert member._("Change") == "Change"
    assert till._("Change") == "Cambio"  # asking in English did not switch anything process-wide


def test_a_country_variant_falls_back_to_its_language_and_an_unknown_language_to_english() -> None:
    assert translator("es_CO")._("Thank you for shopping with us") == "Gracias por su compra"
    assert translator("fr_FR")._("Thank you for shopping with us") == "Thank you for shopping with us"
    assert Translator("es")._("a text nobody marked") == "a text nobody marked"


def test_plural_forms_follow_the_language() -> None:
    tr = translator("es")
    assert tr.ngettext("{n} point redeemed", "{n} points redeemed", 1).format(n=1) == "1 punto canjeado"
    assert tr.ngettext("{n} point redeemed", "{n} points redeemed", 250).format(n=250) == "250 puntos canjeados"


@pytest.mark.parametrize(("tag", "normal"), [("es-ES", "es_ES"), ("es_es", "es_ES"), ("ES", "es"),
                                             ("es_CO.UTF-8", "es_CO"), ("", "en")])
def test_locale_tags_are_read_in_any_usual_spelling(tag: str, normal: str) -> None:
    assert normalise_locale(tag) == normal


@pytest.mark.parametrize("tag", ["e", "español", "es_ES_x", "1s", "es_E$"])
def test_a_locale_that_is_not_one_says_how_to_write_it(tag: str) -> None:
    with pytest.raises(ValueError, match="write it like es_ES"):
        normalise_locale(tag)


def test_the_extracted_template_is_up_to_date_with_the_source() -> None:
    """`make i18n` was run after the last text changed: extracting the source now yields no new (or gone) text."""
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("rb") as fh:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    source = _source_messages()
    assert sorted(source - template) == [], "new texts not in the .pot: run `make i18n` and translate them"
    assert sorted(template - source) == [], "the .pot lists texts the source no longer has: run `make i18n`"
