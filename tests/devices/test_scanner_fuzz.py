"""Arbitrary input into the decoder and every source's core never raises and always explains itself."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.barcode import BarcodeConfig, decode_scan
from devices.barcode.loyalty_token import TokenVerifier
from devices.scanners.evdev_keys import EvdevKeyDecoder
from devices.scanners.framing import ScanFramer
from devices.scanners.wedge import WedgeDetector

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONFIG = BarcodeConfig(rcn_region="de")
scan_like = st.one_of(
    st.text(),
    st.text(alphabet="0123456789\x1d]CEdQ1()LT.-", max_size=60),
    st.from_regex(r"\A(\]C1|\]d2|\]E0)?[0-9]{6,40}\Z"),
    st.from_regex(r"\ALT1\.[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,90}\Z"),
)


def assert_explained(result: object) -> None:
    assert result.kind != "unknown" or result.error  # type: ignore[attr-defined]
    data = result.to_json()  # type: ignore[attr-defined]
    assert set(data) >= {"input", "kind", "error"}


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


@FUZZ
@given(st.lists(st.tuples(st.one_of(st.text(max_size=3), st.sampled_from(["enter", "f1", "ctrl+]"])),
                          st.floats(0, 0.2)), max_size=60))  # fmt: skip
def test_wedge_never_raises_and_loses_no_typing(keys: list[tuple[str, float]]) -> None:
    d = WedgeDetector(35, 4)
    t = 0.0
    outputs = []
    for key, gap in keys:
        t += gap
        outputs += d.feed(key, t)
    outputs += d.poll(t + 1)
    assert not d.holding
    released = [k for o in outputs if o.kind == "typing" for k in o.keys]
    scanned = sum(1 for o in outputs if o.kind == "scan")
    # Every key is either passed on as typing or consumed by a scan; none vanish otherwise.
    assert len(released) <= len(keys)
    if scanned == 0:
        assert released == [k for k, _ in keys]
    for o in outputs:
        if o.kind == "scan":
            assert_explained(decode_scan(o.text, symbology=o.aim_id))


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
