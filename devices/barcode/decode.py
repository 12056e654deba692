"""Turn one scan's text into a :class:`ScanResult` (product, variable measure, GS1 data, coupon, loyalty).

GS1 rules (check digits, AIs, dates, regional variable-measure rules) come from biip; this module only
routes a scan to the right biip parser, adds the store's own formats and phrases errors for cashiers.
``decode_scan`` never raises.

The AIM symbology identifier (ISO/IEC 15424), when the scanner sends one, decides how digits are read:
``]E0`` EAN-13 / UPC-A (UPC-E as 6-8 digits), ``]E3`` the same followed by its 2- or 5-digit add-on in one
packet, ``]E4`` EAN-8, ``]E1``/``]E2`` an add-on alone; ``]C1``, ``]e0``, ``]d2``, ``]Q3``, ``]J1`` GS1 element
strings; ``]I0``/``]I1`` ITF (ITF-14 carries a GTIN-14). Other symbologies (Code 128 without FNC1, Code 39,
plain QR or DataMatrix ...) never carry a product number as bare digits. Counting digits (8/12/13/14 a GTIN,
6/7 UPC-E, 15/17/18 an EAN/UPC code with its add-on when the main part's check digit holds, else GS1) is the
fallback for scans without an identifier only. GS1 Digital Link URIs are recognised whatever the case of
their scheme and host (RFC 3986 3.1, 3.2.2); their path stays case-sensitive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from biip import ParseConfig, ParseError
from biip.checksums import gs1_price_weight_check_digit, gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementStrings
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin
from biip.rcn import Rcn, RcnUsage
from biip.upc import Upc

from devices.barcode.bookland import publication, split_addon, split_packets
from devices.barcode.config import GS, BarcodeConfig, VariableMeasureRule
from devices.barcode.coupon import GS1_COUPON_AIS, is_coupon_prefix, match_store_coupon
from devices.barcode.loyalty_card import match_card
from devices.barcode.loyalty_token import MSG_NO_KEYS, TokenCheck, TokenVerifier
from devices.barcode.symbology import GS1_MESSAGE_IDS, split_aim_id, symbology_name
from devices.text import N_, Text

Kind = Literal["product", "variable_measure", "gs1", "loyalty_card", "loyalty_token", "coupon", "unknown"]
CatalogLookup = Callable[[str], Any]

MAX_SCAN_CHARS = 4096
DEFAULT_CONFIG = BarcodeConfig()
_GTIN_LENGTHS = (8, 12, 13, 14)
_GRAMS_PER_LB = Decimal("453.59237")
_URI_SCHEMES = ("http://", "https://")
_ITF_IDS = frozenset({"]I0", "]I1", "]I3"})  # ITF(-14): a GS1 carrier of GTIN-14 by its digits

JSON_FIELDS = (
    "input",
    "symbology",
    "kind",
    "gtin",
    "gtin_valid",
    "ai",
    "expiry",
    "batch",
    "serial",
    "weight_g",
    "price_cents",
    "addon",
    "isbn",
    "isbn10",
    "ismn",
    "issn",
    "customer_id",
    "error",
)


@dataclass(frozen=True)
class ScanResult:
    input: str
    symbology: str | None
    kind: Kind
    gtin: str | None = None  # 14-digit form
    gtin_valid: bool | None = None
    ai: dict[str, str] = field(default_factory=dict)
    expiry: str | None = None  # YYYY-MM-DD
    batch: str | None = None
    serial: str | None = None
    weight_g: int | None = None
    price_cents: int | None = None
    addon: str | None = None  # the 2- or 5-digit EAN/UPC add-on (issue number, book price ...)
    isbn: str | None = None  # ISBN-13 of a Bookland GTIN (978/979), hyphenated
    isbn10: str | None = None  # its ISBN-10, for 978 only
    ismn: str | None = None  # printed music (979-0)
    issn: str | None = None  # a periodical's ISSN (977)
    customer_id: str | None = None
    error: str | None = None
    # Not part of the scan-decode JSON; for the till.
    item_reference: str | None = None  # variable-measure codes: what the product is looked up by
    count: int | None = None  # variable-count codes (e.g. German prefixes 25/26)
    coupon_code: str | None = None
    product: Any = None  # what catalog_lookup returned
    token: TokenCheck | None = None
    warning: str | None = None  # e.g. a loyalty code possibly copied

    @property
    def understood(self) -> bool:
        return self.kind != "unknown" and self.error is None

    def to_json(self) -> dict[str, Any]:
        return {name: (dict(self.ai) if name == "ai" else getattr(self, name)) for name in JSON_FIELDS}

SCALE_CHECK_DIGIT = N_("The price/weight check digit on this scale label is wrong - weigh the item again or key "
                       "in the price.")


def decode_scan(
    text: str | bytes,
    *,
    symbology: str | None = None,
    config: BarcodeConfig = DEFAULT_CONFIG,
    catalog_lookup: CatalogLookup | None = None,
    token_verifier: TokenVerifier | None = None,
) -> ScanResult:
    """Interpret one scan. ``symbology`` is an AIM id (``]C1``) or a name, when the scanner told us."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return ScanResult(input=repr(text), symbology=None, kind="unknown", error=Text(N_("Scan data is not text.")))
    try:
        return _Decoder(text, symbology, config, catalog_lookup, token_verifier).run()
    except Exception as exc:  # the till must keep running whatever a scanner sends
        return ScanResult(
            input=text,
            symbology=None,
            kind="unknown",
            error=Text(N_("This code could not be interpreted ({problem}) - key the item in by hand."),
                       problem=type(exc).__name__),
        )


def _starts_with_known_ai(data: str) -> bool:
    try:
        GS1ApplicationIdentifier.extract(data)
    except ParseError:
        return False
    return True


def check_digit_error(digits: str, what: str = N_("Check digit")) -> str:
    """The cashier's sentence for a GS1 check digit that does not hold (a :class:`devices.text.Text`; ``what``
    names the digit, itself a text or a marked constant)."""
    payload, given = digits[:-1], digits[-1]
    expected = gs1_standard_check_digit(payload)
    return Text(
        N_("{what} is wrong: the last digit (digit {position}) is {given} but should be {expected} for {payload} "
           "- rescan, or key in the number printed under the barcode."),
        what=what if getattr(what, "template", None) is not None else Text(what), position=len(digits),
        given=given, expected=expected, payload=payload,
    )


def _check_digit_holds(digits: str) -> bool:
    return gs1_standard_check_digit(digits[:-1]) == int(digits[-1])


def _addon_appended(digits: str) -> bool:
    """Under ``]E0``: do these digits read as main + add-on (some scanners append it without ``]E3``)? 14
    digits only when they are no valid GTIN-14 themselves."""
    n = len(digits)
    return n in (15, 17, 18) or (n == 14 and not _check_digit_holds(digits) and _check_digit_holds(digits[:12]))


def _ean_upc_name(digits: str) -> str | None:
    """The EAN/UPC symbology a main part of this many digits comes from (13 digits starting 0: a UPC-A)."""
    n = len(digits)
    if n == 13:
        return "UPC-A" if digits.startswith("0") else "EAN-13"
    return {8: "EAN-8", 12: "UPC-A", 6: "UPC-E", 7: "UPC-E", 14: "GTIN-14"}.get(n)


def _cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _grams(kg: Decimal) -> int:
    return int((kg * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class _Decoder:
    def __init__(
        self,
        raw: str,
        symbology: str | None,
        config: BarcodeConfig,
        lookup: CatalogLookup | None,
        verifier: TokenVerifier | None,
    ) -> None:
        self.raw = raw
        self.config = config
        self.lookup = lookup
        self.verifier = verifier
        self.aim: str | None = symbology if symbology and symbology.startswith("]") else None
        self.symbology: str | None = None if self.aim else symbology
        self.addon: str | None = None
        self.parse_config = ParseConfig(
            rcn_region=config.biip_region,
            rcn_verify_variable_measure=config.verify_variable_measure_check_digit,
            separator_chars=(GS,),
        )

    def result(self, kind: Kind, **fields: Any) -> ScanResult:
        fields.setdefault("addon", self.addon)
        return ScanResult(input=self.raw, symbology=self.symbology, kind=kind, **fields)

    def unknown(self, error: str) -> ScanResult:
        return self.result("unknown", error=error)

    def run(self) -> ScanResult:
        data = self.raw.strip()  # also drops CR/LF suffixes and a leading FNC1 (GS counts as whitespace)
        aim, data = split_aim_id(data)
        self.aim = aim or self.aim
        if self.aim:
            self.symbology = symbology_name(self.aim)
        for sep in self.config.gs_separators:
            if sep and sep != GS:
                data = data.replace(sep, GS)
        data = data.strip()
        if not data:
            return self.unknown("Nothing was scanned (the scan was empty) - scan again.")
        if len(data) > MAX_SCAN_CHARS:
            return self.unknown("This code is too long to be a product, coupon or loyalty code.")
        if data.startswith(self.config.loyalty_token_prefix):
            return self.token(data)
        code = match_store_coupon(data, self.config.store_coupon_pattern)
        if code is not None:
            return self.result("coupon", coupon_code=code)
        card = match_card(data, self.config.loyalty_card)
        if card is not None:
            return self.result("loyalty_card", customer_id=card.number, error=card.error)
        return self.route(data)

    def route(self, data: str) -> ScanResult:
        """A scan that is no store code: GS1 HRI, Digital Link, EAN/UPC by identifier, digits, or unknown."""
        if data.startswith("("):
            return self.gs1_hri(data)
        if data[:8].lower().startswith(_URI_SCHEMES):
            return self.digital_link(data)
        if self.aim is not None and self.aim.startswith("]E"):
            return self.ean_upc(data)
        is_digits = data.isascii() and data.isdigit()
        if self.aim in GS1_MESSAGE_IDS or GS in data:
            return self.gs1_message(data)
        if is_digits and self.aim == "]I3" and len(data) == 13:
            data += str(gs1_standard_check_digit(data))  # ITF-14 whose check digit was checked, not sent
        if is_digits and (self.aim is None or self.aim in _ITF_IDS):
            return self.counted_digits(data)
        if len(data) > max(_GTIN_LENGTHS) and _starts_with_known_ai(data):
            # Many scanners drop FNC1 and send no AIM id: a GS1 element string then looks like plain text.
            # It is only a GS1 code if biip can parse all of it; otherwise fall through to "unknown".
            try:
                message = GS1Message.parse(data, config=self.parse_config)
            except ParseError:
                pass
            else:
                return self.gs1_elements(message.element_strings)
        if self.aim in ("]Q1", "]Q0"):
            return self.unknown(Text(N_("This QR code is not a loyalty, coupon or product code this till knows.")))
        if is_digits:
            return self.unknown(Text(
                N_("This {symbology} barcode carries the number {data}, which is not a product number "
                   "(products carry EAN/UPC, ITF-14 or GS1 barcodes) - key the item in by hand."),
                symbology=self.symbology, data=data,
            ))
        return self.unknown(Text(N_("Not a barcode this till knows - key the item in by hand.")))

    # --- digits without a symbology identifier: read by how many there are -------------------------------
    def counted_digits(self, data: str) -> ScanResult:
        n = len(data)
        if n in _GTIN_LENGTHS or n in (6, 7):
            return self.gtin(data)
        split = split_addon(data) if self.aim is None else None
        if split is not None and _check_digit_holds(split[0]):
            # 15, 17 or 18 digits cannot hold AI (01) and anything after it: an EAN/UPC code and its add-on
            return self.with_addon(*split)
        return self.gs1_message(data)

    # --- EAN/UPC by its AIM identifier (ISO/IEC 15424 modifiers 0-4) -----------------------------------------
    def ean_upc(self, data: str) -> ScanResult:
        assert self.aim is not None
        modifier = self.aim[2:]
        main, packet_id, addon = split_packets(data)
        if modifier in ("1", "2"):
            return self.addon_only(main, 2 if modifier == "1" else 5)
        if not (main.isascii() and main.isdigit()):
            return self.unknown(f"The scanner says this is an EAN/UPC barcode ({self.aim}) but sent {main!r}, "
                                "which is not all digits - scan again or key the number in.")  # fmt: skip
        if packet_id is not None:
            expected = 2 if packet_id == "]E1" else 5
            if addon is None or len(addon) != expected or not addon.isdigit():
                return self.unknown(f"The add-on packet {packet_id} must be {expected} digits - scan again.")
            return self.with_addon(main, addon)
        n = len(main)
        if modifier == "4":
            if n != 8:
                return self.unknown(Text(N_("An EAN-8 barcode ({aim}) has 8 digits, not {n} - scan again."),
                                         aim=self.aim, n=n))
            return self.gtin(main, ean8_only=True)
        if modifier == "3" and n in (12, 13):
            return self.gtin(main)  # announced an add-on but sent none: the main part still is the product
        if modifier == "3" or (modifier == "0" and _addon_appended(main)):
            split = split_addon(main)
            if split is None:
                return self.unknown(f"An EAN/UPC barcode with add-on ({self.aim}) is 12 or 13 digits and a 2- "
                                    f"or 5-digit add-on, not {n} digits - scan again.")  # fmt: skip
            return self.with_addon(*split)
        if modifier == "0" and n in (6, 7, 8, 12, 13, 14):
            return self.gtin(main, upce_first=n == 8)  # 14: a GTIN-14 with a leading 0 some setups send
        return self.counted_digits(main)

    def with_addon(self, main: str, addon: str) -> ScanResult:
        self.addon = addon
        self.symbology = f"{_ean_upc_name(main) or 'EAN/UPC'} with add-on"
        return self.gtin(main)

    def addon_only(self, digits: str, expected: int) -> ScanResult:
        if len(digits) != expected or not digits.isdigit():
            return self.unknown(f"An EAN/UPC add-on ({self.aim}) is {expected} digits, not {digits!r} - scan again.")
        self.addon = digits
        return self.unknown(f"Only the {expected}-digit add-on ({digits}) was read, not the product's barcode: "
                            "scan again aiming at the larger barcode on its left.")  # fmt: skip

    # --- loyalty tokens -------------------------------------------------------------------------------
    def token(self, data: str) -> ScanResult:
        self.symbology = self.symbology or "QR Code"
        if self.verifier is None:
            return self.result("loyalty_token", error=MSG_NO_KEYS)
        check = self.verifier.verify(data)
        return self.result(
            "loyalty_token",
            customer_id=check.customer_id if check.ok else None,
            error=check.error,
            token=check,
            warning=check.warning,
        )

    # --- GTIN family ------------------------------------------------------------------------------------
    def gtin(self, digits: str, *, ean8_only: bool = False, upce_first: bool = False) -> ScanResult:
        """``ean8_only``: the identifier said EAN-8 (no UPC-E reading); ``upce_first``: it said UPC family."""
        n = len(digits)
        if self.symbology is None or (self.aim in ("]E0", "]E3") and self.addon is None):
            self.symbology = "UPC-E" if upce_first else _ean_upc_name(digits)
        if n in _GTIN_LENGTHS and not upce_first:
            try:
                gtin = Gtin.parse(digits, config=self.parse_config)
            except ParseError as exc:
                return self.bad_gtin(digits, str(exc), ean8_only=ean8_only)
            return self.good_gtin(gtin)
        try:
            upc = Upc.parse(digits, config=self.parse_config)
            gtin = Gtin.parse(upc.as_upc_a(), config=self.parse_config)
        except ParseError as exc:
            return self.unknown(f"Not a valid UPC-E code: {exc}")
        return self.good_gtin(gtin)

    def bad_gtin(self, digits: str, biip_error: str, *, ean8_only: bool = False) -> ScanResult:
        if len(digits) == 8 and not ean8_only:
            # An 8-digit code with a wrong EAN-8 check digit may still be a valid UPC-E.
            try:
                upc = Upc.parse(digits, config=self.parse_config)
                self.symbology = "UPC-E" if self.aim is None else self.symbology
                return self.good_gtin(Gtin.parse(upc.as_upc_a(), config=self.parse_config))
            except ParseError:
                pass
        padded = digits.zfill(14)
        if gs1_standard_check_digit(digits[:-1]) != int(digits[-1]):
            return self.result("product", gtin=padded, gtin_valid=False, error=check_digit_error(digits))
        if "variable measure" in biip_error:
            return self.result(
                "variable_measure",
                gtin=padded,
                gtin_valid=True,
                error=Text(SCALE_CHECK_DIGIT),
            )
        return self.result("product", gtin=padded, gtin_valid=False, error=Text(N_("Not a valid GTIN: {problem}"),
                                                                                    problem=biip_error))

    def good_gtin(self, gtin: Gtin) -> ScanResult:
        gtin14 = gtin.as_gtin_14()
        if isinstance(gtin, Rcn) and gtin.usage == RcnUsage.GEOGRAPHICAL:
            if gtin.weight is not None or gtin.price is not None or gtin.count is not None:
                ref = gtin.item_reference or ""
                return self.result(
                    "variable_measure",
                    gtin=gtin14,
                    gtin_valid=True,
                    weight_g=_grams(gtin.weight) if gtin.weight is not None else None,
                    price_cents=_cents(gtin.price) if gtin.price is not None else None,
                    count=gtin.count,
                    item_reference=ref,
                    **self.look_up(ref),
                )
            rule = self.config.variable_measure_rules.get(gtin.as_gtin_13()[:2])
            if rule is not None:
                return self.custom_variable_measure(gtin14, gtin.as_gtin_13(), rule)
        usage = gtin.prefix.usage if gtin.prefix is not None else None
        if is_coupon_prefix(usage):
            return self.result("coupon", gtin=gtin14, gtin_valid=True, coupon_code=gtin14)
        book = publication(gtin.as_gtin_13()) if gtin14.startswith("097") else None
        numbers = {k: v for k, v in asdict(book).items() if v is not None} if book is not None else {}
        return self.result("product", gtin=gtin14, gtin_valid=True, **numbers, **self.look_up(gtin14))

    def custom_variable_measure(self, gtin14: str, gtin13: str, rule: VariableMeasureRule) -> ScanResult:
        layout = rule.layout
        if len(layout) != 12 or "P" not in layout or "V" not in layout:
            return self.result(
                "variable_measure",
                gtin=gtin14,
                gtin_valid=True,
                error=f"The variable-measure layout {layout!r} for prefix {gtin13[:2]} is not valid "
                "- a technician must fix the barcode settings.",
            )

        def part(ch: str) -> str:
            return "".join(d for d, c in zip(gtin13, layout, strict=False) if c == ch)

        value, check = part("V"), part("C")
        if check and self.config.verify_variable_measure_check_digit:
            try:
                expected = gs1_price_weight_check_digit(value)
            except (ValueError, ParseError, IndexError, KeyError):
                expected = None
            if expected is not None and expected != int(check):
                return self.result(
                    "variable_measure",
                    gtin=gtin14,
                    gtin_valid=True,
                    error=Text(SCALE_CHECK_DIGIT),
                )
        amount = Decimal(value) / (Decimal(10) ** rule.decimals)
        ref = part("P")[2:]
        return self.result(
            "variable_measure",
            gtin=gtin14,
            gtin_valid=True,
            weight_g=_grams(amount) if rule.measure == "weight" else None,
            price_cents=_cents(amount) if rule.measure == "price" else None,
            item_reference=ref,
            **self.look_up(ref),
        )

    def look_up(self, key: str) -> dict[str, Any]:
        if self.lookup is None:
            return {}
        try:
            return {"product": self.lookup(key)}
        except Exception as exc:
            return {"error": Text(N_("Product lookup failed ({problem}) - key the item in by hand."),
                                  problem=type(exc).__name__)}

    # --- GS1 element strings -------------------------------------------------------------------------------
    def gs1_message(self, data: str) -> ScanResult:
        try:
            message = GS1Message.parse(data, config=self.parse_config)
        except ParseError as exc:
            return self.unknown(Text(N_("Not a valid GS1 code: {problem}"), problem=str(exc)))
        return self.gs1_elements(message.element_strings)

    def gs1_hri(self, data: str) -> ScanResult:
        try:
            message = GS1Message.parse_hri(data, config=self.parse_config)
        except ParseError as exc:
            return self.unknown(Text(N_("Not a valid GS1 code: {problem}"), problem=str(exc)))
        return self.gs1_elements(message.element_strings)

    def digital_link(self, data: str) -> ScanResult:
        try:
            link = GS1DigitalLinkURI.parse(data, config=self.parse_config)
        except ParseError as exc:
            return self.unknown(Text(N_("Not a GS1 Digital Link this till knows: {problem}"), problem=str(exc)))
        return self.gs1_elements(link.element_strings)

    def gs1_elements(self, elements: GS1ElementStrings) -> ScanResult:
        ai: dict[str, str] = {}
        fields: dict[str, Any] = {}
        errors: list[str] = []
        for es in elements:
            code = es.ai.ai
            ai.setdefault(code, es.value)
            if code in ("01", "02") and "gtin" not in fields:
                if es.gtin is not None:
                    fields["gtin"], fields["gtin_valid"] = es.gtin.as_gtin_14(), True
                else:
                    fields["gtin"], fields["gtin_valid"] = es.value, False
                    if es.value.isdigit() and len(es.value) == 14:
                        errors.append(check_digit_error(es.value, Text(N_("The GTIN check digit in AI ({ai})"),
                                                                       ai=code)))
                    else:
                        errors.append(f"The GTIN in AI ({code}) is not valid: {es.gtin_error}")
            elif code == "17" and es.date is not None:
                fields["expiry"] = es.date.isoformat()
            elif code == "10":
                fields["batch"] = es.value
            elif code == "21":
                fields["serial"] = es.value
            elif code.startswith("310") and es.decimal is not None:
                fields.setdefault("weight_g", _grams(es.decimal))
            elif code.startswith("320") and es.decimal is not None:
                fields.setdefault("weight_g", _grams(es.decimal * _GRAMS_PER_LB / 1000))
            elif code.startswith(("392", "393")) and es.decimal is not None:
                fields.setdefault("price_cents", _cents(es.decimal))
        kind: Kind = "gs1"
        coupon_ai = next((c for c in GS1_COUPON_AIS if c in ai), None)
        if coupon_ai is not None:
            kind = "coupon"
            fields["coupon_code"] = ai[coupon_ai]
        elif fields.get("gtin_valid") and self.lookup is not None:
            fields.update(self.look_up(fields["gtin"]))
        if errors:
            fields["error"] = " ".join(errors)
        return self.result(kind, ai=ai, **fields)
