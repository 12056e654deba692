"""Arbitrary input into the decoder and every source's core never raises and always explains itself."""

from __future__ import annotations

import asyncio
import itertools
import json
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.barcode import BarcodeConfig, decode_scan
from devices.barcode.config import config_from_settings
from devices.barcode.decode import JSON_FIELDS, Kind, ScanResult
from devices.barcode.loyalty_token import TokenVerifier
from devices.scanners.evdev_keys import EvdevKeyDecoder
from devices.scanners.framing import ScanFramer
from devices.scanners.serial_source import SerialScannerSource
from devices.scanners.wedge import GS, GS_KEYS, WedgeDetector
from edge.settings import BarcodeSettings, ScannerSettings
from tests.support.pty_scanner import FakeUsbScanner

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONFIG = BarcodeConfig(rcn_region="de")
scan_like = st.one_of(
    st.text(),
    st.text(alphabet="0123456789\x1d]CEdQ1()LT.-", max_size=60),
    st.from_regex(r"\A(\]C1|\]d2|\]E0)?[0-9]{6,40}\Z"),
    st.from_regex(r"\ALT1\.[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,90}\Z"),
)


KINDS = set(typing.get_args(Kind))
STORE_CONFIG = config_from_settings(BarcodeSettings())  # the till's own card and coupon formats


def assert_sentence(text: str | None) -> None:
    assert text and len(text) >= 15 and text[0].isupper(), text


def assert_explained(result: object) -> None:
    """Unknown always says why; a known kind either decoded cleanly or says what is wrong with it."""
    assert isinstance(result, ScanResult)
    assert result.kind in KINDS
    if result.kind == "unknown":
        assert_sentence(result.error)
        assert (result.gtin, result.customer_id, result.coupon_code, result.product) == (
            None,
            None,
            None,
            None,
        )
    elif result.error is not None:
        assert_sentence(result.error)
    data = result.to_json()
    assert tuple(data) == JSON_FIELDS
    json.dumps(data)  # the technician's scan-decode output always serialises


@FUZZ
@given(scan_like)
def test_decoder_never_raises_on_text(text: str) -> None:
    verifier = TokenVerifier({"k1": b"\x00" * 32})
    assert_explained(decode_scan(text, config=CONFIG, token_verifier=verifier))


@FUZZ
@given(st.binary(max_size=200), st.sampled_from([None, "]C1", "]E0", "]Q1", "bogus"]))
def test_decoder_never_raises_on_bytes(data: bytes, symbology: str | None) -> None:
    assert_explained(decode_scan(data, symbology=symbology))


@FUZZ
@given(st.lists(st.binary(max_size=64), max_size=20), st.sampled_from(["CR", "LF", "CRLF", "TAB", "??"]))
def test_framer_output_decodes_cleanly(chunks: list[bytes], terminator: str) -> None:
    framer = ScanFramer(terminator, prefix="]", gs_separator="~", debounce_ms=50, max_frame_bytes=128)
    for i, chunk in enumerate(chunks):
        for scan in framer.feed(chunk, now=i * 0.01):
            assert scan.text
            assert_explained(decode_scan(scan.text, symbology=scan.aim_id))


wedge_key = st.one_of(
    st.text(max_size=3),
    st.sampled_from(["enter", "ctrl+j", "ctrl+m", "\r", "\n", "tab", "f1", "ctrl+]", *"0123456789"]),
)


@FUZZ
@given(
    st.lists(st.tuples(wedge_key, st.one_of(st.floats(0, 0.01), st.floats(0, 0.2))), max_size=60),
    st.sampled_from(["CR", "CRLF", "LF", "TAB"]),
    st.sampled_from(["", "]", "@@"]),
)
def test_wedge_accounts_for_every_key(keys: list[tuple[str, float]], terminator: str, prefix: str) -> None:
    d = WedgeDetector(35, 4, terminator=terminator, prefix=prefix)
    t = 0.0
    outputs = []
    for key, gap in keys:
        t += gap
        outputs += d.feed(key, t)
    outputs += d.poll(t + 1)
    assert not d.holding
    # Every key comes out exactly once, in order: replayed as typing, part of a scan, or a swallowed
    # terminator - none vanish, none are duplicated.
    assert [k for o in outputs for k in o.keys] == [k for k, _ in keys]
    assert {o.kind for o in outputs} <= {"typing", "scan", "swallowed", "held"}
    previous = None
    for o in outputs:
        if o.kind == "scan":
            *body, end = o.keys
            assert end in d.end_keys and len(body) >= d.min_length
            chars = "".join(GS if k in GS_KEYS else k for k in body)
            assert o.text and o.text in chars  # prefix, AIM id and leading GS removed, nothing added
            assert_explained(decode_scan(o.text, symbology=o.aim_id))
        elif o.kind == "swallowed":
            assert previous == "scan" and len(o.keys) == 1 and o.keys[0] in d.end_keys
        if o.kind != "held":
            previous = o.kind


# Text that cannot be any code: no digits (no GTIN, AI, card or token), no "-" (no coupon), no "(" (no HRI).
not_a_code = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ !?.,;:'*/+&%#@_~|"),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() and not s.lower().startswith("http"))


@FUZZ
@given(not_a_code, st.sampled_from([None, "]Q1", "]E0", "]C0"]))
def test_text_that_is_no_code_is_unknown_with_a_reason(text: str, symbology: str | None) -> None:
    for config in (CONFIG, STORE_CONFIG):
        result = decode_scan(text, symbology=symbology, config=config)
        assert result.kind == "unknown", (text, result.kind)
        assert_explained(result)


_serial_examples = itertools.count()


@pytest.mark.parametrize("terminator", ["CR", "TAB"])
def test_serial_source_over_a_pty_delivers_what_the_framer_would(tmp_path: Path, terminator: str) -> None:
    """Arbitrary bytes through the real SerialScannerSource: it never dies, loses or invents a scan."""
    loop = asyncio.new_event_loop()
    scanner = FakeUsbScanner(tmp_path / "usb-fuzz-if00")
    scanner_settings = ScannerSettings(serial_port=str(scanner.link), terminator=terminator, debounce_ms=0)
    source = SerialScannerSource(scanner_settings)
    got: list = []
    source.on_scan(got.append)
    end = b"\t" if terminator == "TAB" else b"\r"

    async def until(cond: typing.Callable[[], bool], timeout: float = 3.0) -> None:
        deadline = loop.time() + timeout
        while not cond():
            assert loop.time() < deadline, "the source stopped delivering"
            await asyncio.sleep(0.005)

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(
            st.one_of(st.binary(max_size=80), st.sampled_from([b"\r", b"\n", b"\t", b"\r\n"])), max_size=6
        )
    )
    def example(chunks: list[bytes]) -> None:
        sentinel = f"END{next(_serial_examples):06d}"
        reference = ScanFramer(terminator, debounce_ms=0)
        expected = []
        got.clear()
        for chunk in [*chunks, end + sentinel.encode() + end]:
            scanner.send(chunk)
            expected += reference.feed(chunk, now=0.0)
        loop.run_until_complete(until(lambda: any(s.text == sentinel for s in got)))
        assert [(s.text, s.aim_id) for s in got] == [(e.text, e.aim_id) for e in expected]
        assert source.status.state == "connected"
        for scan in got[:-1]:
            assert_explained(decode_scan(scan.text, symbology=scan.aim_id, config=STORE_CONFIG))

    try:
        loop.run_until_complete(source.start())
        loop.run_until_complete(until(lambda: source.status.state == "connected"))
        example()
    finally:
        loop.run_until_complete(source.stop())
        loop.close()
        scanner.unplug()


@FUZZ
@given(st.lists(st.tuples(st.integers(-5, 10), st.integers(-1, 300), st.integers(-1, 3)), max_size=80),
       st.sampled_from(["us", "de", "fr", "zz"]))  # fmt: skip
def test_evdev_decoder_never_raises(events: list[tuple[int, int, int]], layout: str) -> None:
    text = EvdevKeyDecoder(layout).decode(events)
    for scan in ScanFramer("CR", debounce_ms=0).feed(text.encode(), now=0.0):
        assert_explained(decode_scan(scan.text, symbology=scan.aim_id))


@FUZZ
@given(st.text(max_size=300))
def test_token_verifier_never_raises(text: str) -> None:
    check = TokenVerifier({"k1": b"\x01" * 32}).verify("LT1." + text)
    assert not check.ok and check.error
