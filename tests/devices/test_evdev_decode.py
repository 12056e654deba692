"""evdev key decoding from recorded (type, code, value) events; needs no evdev package."""

from __future__ import annotations

from devices.barcode import decode_scan
from devices.scanners.detect import InputDevice, classify, matches, parse_proc_input_devices
from devices.scanners.evdev_keys import EvdevKeyDecoder
from devices.scanners.framing import ScanFramer

SYN = (0, 0, 0)

# Recorded from a Honeywell 1900g in USB-HID keyboard mode scanning "A1" (evtest output as tuples):
# MSC_SCAN, key down, SYN, MSC_SCAN, key up, SYN...
RECORDED_A1_ENTER = [
    (4, 4, 458977), (1, 42, 1), SYN, (4, 4, 458756), (1, 30, 1), SYN, (4, 4, 458756), (1, 30, 0), SYN,
    (4, 4, 458977), (1, 42, 0), SYN, (4, 4, 458782), (1, 2, 1), SYN, (4, 4, 458782), (1, 2, 0), SYN,
    (4, 4, 458792), (1, 28, 1), SYN, (4, 4, 458792), (1, 28, 0), SYN,
]  # fmt: skip

US_CODES = {
    **{str(d): c for d, c in zip("1234567890", range(2, 12), strict=True)},
    **dict(zip("qwertyuiop", range(16, 26), strict=True)),
    **dict(zip("asdfghjkl", range(30, 39), strict=True)),
    **dict(zip("zxcvbnm", range(44, 51), strict=True)),
    "]": 27, "-": 12,
}  # fmt: skip


def press(code: int, shift: bool = False) -> list[tuple[int, int, int]]:
    events = [(1, 42, 1)] if shift else []
    events += [(1, code, 1), SYN, (1, code, 0), SYN]
    return events + ([(1, 42, 0)] if shift else [])


def type_us(text: str) -> list[tuple[int, int, int]]:
    events: list[tuple[int, int, int]] = []
    for ch in text:
        if ch == "\r":
            events += press(28)
        else:
            events += press(US_CODES[ch.lower()], shift=ch.isupper())
    return events


def test_recorded_sequence_with_shift() -> None:
    assert EvdevKeyDecoder("us").decode(RECORDED_A1_ENTER) == "A1\r"


def test_gs1_scan_with_ctrl_bracket_gs_through_framer_into_decoder() -> None:
    events = type_us("]C10109501101020917") + [(1, 29, 1), *press(27), (1, 29, 0)] + type_us("10ABC123\r")
    text = EvdevKeyDecoder("us").decode(events)
    (scan,) = ScanFramer("CR", debounce_ms=0).feed(text.encode(), now=0.0)
    result = decode_scan(scan.text, symbology=scan.aim_id)
    assert (result.symbology, result.gtin, result.batch) == ("GS1-128", "09501101020917", "ABC123")


def test_german_layout_swaps_y_z_and_handles_altgr() -> None:
    # On a German keyboard the key labelled Z sits where US has Y (code 21), and AltGr+Q is "@".
    events = press(21) + press(44, shift=True) + [(1, 100, 1), *press(16), (1, 100, 0)] + press(12)
    assert EvdevKeyDecoder("de").decode(events) == "zY@ß"
    assert EvdevKeyDecoder("us").decode(press(21) + press(44, shift=True)) == "yZ"


def test_alt_numpad_codes_are_layout_independent() -> None:
    # Alt+0,2,9 on the keypad = GS, the way many scanners send FNC1.
    events = [(1, 56, 1), *press(82), *press(80), *press(73), (1, 56, 0)]
    assert EvdevKeyDecoder("de").decode(events) == "\x1d"
    assert EvdevKeyDecoder("us").decode(events) == "\x1d"


def test_caps_lock_keypad_and_repeats() -> None:
    events = press(58) + press(30) + press(30, shift=True) + press(79) + [(1, 30, 2)] + press(96)
    assert EvdevKeyDecoder("us").decode(events) == "Aa1\r"


def test_unknown_layout_falls_back_to_us() -> None:
    assert EvdevKeyDecoder("xx").layout == "us"


PROC_DEVICES = """I: Bus=0003 Vendor=0c2e Product=0b61 Version=0111
N: Name="Honeywell Imaging & Mobility 1900"
P: Phys=usb-0000:00:14.0-2/input0
H: Handlers=sysrq kbd leds event5
B: EV=120013

I: Bus=0003 Vendor=1a2c Product=2124 Version=0110
N: Name="USB Keyboard"
P: Phys=usb-0000:00:14.0-3/input0
H: Handlers=sysrq kbd leds event6

I: Bus=0003 Vendor=ffff Product=0035 Version=0110
N: Name="USB Keyboard"
P: Phys=usb-0000:00:14.0-4/input0
H: Handlers=sysrq kbd event7

I: Bus=0003 Vendor=046d Product=c077 Version=0111
N: Name="Logitech USB Optical Mouse"
H: Handlers=mouse0 event8
"""


def test_detection_with_technician_override() -> None:
    devices = parse_proc_input_devices(PROC_DEVICES)
    assert [classify(d) for d in devices] == ["scanner", "keyboard", "keyboard", "other"]
    # The cheap scanner calls itself "USB Keyboard"; a technician marks it by VID:PID.
    roles = {"ffff:0035": "scanner", "Honeywell Imaging & Mobility 1900": "keyboard"}
    assert [classify(d, roles) for d in devices][:3] == ["keyboard", "keyboard", "scanner"]
    assert devices[2].event_node == "/dev/input/event7"
    assert matches(devices[0], "0C2E:0B61") and matches(devices[0], "honeywell")
    assert not matches(InputDevice("USB Keyboard", "1a2c", "2124", ("kbd",)), "honeywell")
