"""Phone numbers and e-mail addresses are looked up by a hash, never stored in the clear on a device."""

from __future__ import annotations

import hashlib
import re


def normalize_phone(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    return digits.lstrip("0")  # +31 6.., 0031 6.. and 06.. all end in the same significant digits


def normalize_email(text: str) -> str:
    return text.strip().lower()


def contact_hash(kind: str, value: str) -> str:
    normalized = normalize_phone(value) if kind == "phone" else normalize_email(value)
    if kind == "phone":
        normalized = normalized[-9:]  # national significant number, whatever prefix the cashier typed
    return hashlib.sha256(f"store-edge:{kind}:{normalized}".encode()).hexdigest()


def looks_like_email(text: str) -> bool:
    return bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text.strip()))


def looks_like_phone(text: str) -> bool:
    return bool(re.fullmatch(r"\+?[\d\s\-().]{7,20}", text.strip())) and len(normalize_phone(text)) >= 7
