"""Phone numbers read with phonenumbers in the store's region, hashed in E.164; e-mail hashed lower-cased."""

from __future__ import annotations

import pytest

from edge.core.contacts import contact_hash, looks_like_phone, phone_e164

# (store region, the number as the member gave it at sign-up, other ways a cashier may type it)
NUMBERS = [
    ("ES", "+34612345678", ["612 34 56 78", "+34 612 34 56 78", "0034 612 345 678", "612-34-56-78"]),
    ("CO", "+573001234567", ["300 1234567", "+57 300 1234567", "(300) 123-4567", "+57 3001234567"]),
    ("MX", "+525512345678", ["55 1234 5678", "+52 55 1234 5678", "5512345678", "+52 (55) 1234-5678"]),
    ("NL", "+31612345601", ["06 12345601", "+31 6 12345601", "0612345601", "0031 6 1234 5601"]),
]


@pytest.mark.parametrize(("region", "e164", "typed"), NUMBERS)
def test_every_common_form_of_a_number_reads_as_one_e164_number(region: str, e164: str, typed: list[str]) -> None:
    for text in typed:
        assert phone_e164(text, region) == e164, text
        assert phone_e164(text, region, strict=True) == e164, text
        assert looks_like_phone(text, region), text


@pytest.mark.parametrize(("region", "e164", "typed"), NUMBERS)
def test_lookups_find_the_member_whatever_the_form(region: str, e164: str, typed: list[str]) -> None:
    stored = contact_hash("phone", e164, region)
    assert {contact_hash("phone", text, region) for text in typed} == {stored}


def test_an_international_number_is_found_in_another_countrys_store() -> None:
    assert contact_hash("phone", "+31 6 12345601", "ES") == contact_hash("phone", "06 12345601", "NL")


def test_the_same_local_digits_are_different_numbers_in_different_countries() -> None:
    assert phone_e164("612 34 56 78", "ES") != phone_e164("612 34 56 78", "NL")


@pytest.mark.parametrize("text", ["abc", "12", "+34 12", "not a phone", "", "1" * 20])
def test_what_is_not_a_phone_number_is_not_taken_for_one(text: str) -> None:
    assert phone_e164(text, "ES") is None
    assert not looks_like_phone(text, "ES")


def test_sign_up_checks_the_numbering_plan_lookups_only_the_length() -> None:
    assert phone_e164("+34 412 34 56 78", "ES", strict=True) is None  # 4xx is not a Spanish subscriber range
    assert phone_e164("+34 412 34 56 78", "ES") == "+34412345678"


def test_a_phone_that_cannot_be_read_is_refused_naming_the_region() -> None:
    with pytest.raises(ValueError, match="not a phone number in ES"):
        contact_hash("phone", "hello", "ES")


def test_email_hash_ignores_case_and_spaces() -> None:
    assert contact_hash("email", " Ana.Garcia@Example.com ") == contact_hash("email", "ana.garcia@example.com")
