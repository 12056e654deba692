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


# --- the technician's settings: layout per device and marks by hand -------------------------------------
def _dev(name: str, vid_pid: str, event: str) -> InputDevice:
    vendor, product = vid_pid.split(":")
    return InputDevice(name, vendor, product, ("kbd", event))


CASHIER_KEYBOARD = _dev("USB Keyboard", "04d9:1603", "event3")
CHEAP_SCANNER = _dev("USB Keyboard", "1a2c:0e24", "event4")  # a scanner that calls itself a keyboard
HONEYWELL = _dev("Honeywell 1900", "0c2e:0b61", "event5")


def test_evdev_source_decodes_with_the_configured_scanner_layout() -> None:
    from devices.scanners.base import make_scanner_source
    from devices.scanners.evdev_source import EvdevScannerSource
    from edge.settings import ScannerSettings

    source = make_scanner_source(ScannerSettings(evdev="Honeywell", keyboard_layout="de"))
    assert isinstance(source, EvdevScannerSource) and source.layout == "de"
    # what the layout changes: the key labelled Y on a US keyboard is Z on a German one
    events = press(21) + press(27) + press(28)
    assert EvdevKeyDecoder(source.layout).decode(events) == "z+\r"
    assert EvdevKeyDecoder("us").decode(events) == "y]\r"


def test_evdev_finder_never_grabs_a_device_marked_keyboard() -> None:
    from devices.scanners.evdev_source import pick_device

    devices = [CASHIER_KEYBOARD, CHEAP_SCANNER]
    assert pick_device(devices, "USB Keyboard") == CASHIER_KEYBOARD  # by name alone: the first one
    assert pick_device(devices, "USB Keyboard", {"04d9:1603": "keyboard"}) == CHEAP_SCANNER
    assert pick_device(devices, "USB Keyboard", {"1a2c:0e24": "scanner"}) == CHEAP_SCANNER  # marked first
    assert pick_device(devices, "04d9:1603", {"/dev/input/event3": "keyboard"}) is None
    assert pick_device(devices, "/dev/input/event4") == CHEAP_SCANNER


def test_evdev_auto_takes_what_auto_detection_and_the_marks_call_a_scanner() -> None:
    from devices.scanners.evdev_source import pick_device

    devices = [CASHIER_KEYBOARD, CHEAP_SCANNER, HONEYWELL]
    assert pick_device(devices, "auto") == HONEYWELL
    assert pick_device(devices, "auto", {"1a2c:0e24": "scanner"}) == CHEAP_SCANNER
    assert pick_device(devices, "auto", {"Honeywell 1900": "other"}) is None


class _FakeEvdevDevice:
    """Stands in for python-evdev's InputDevice (third-party, needs /dev/input): only what _find reads."""

    def __init__(self, path: str, name: str, vendor: int, product: int) -> None:
        self.path, self.name, self.phys = path, name, ""
        self.info = type("Info", (), {"vendor": vendor, "product": product})()
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_evdev_source_finder_reads_the_marks_from_settings() -> None:
    from types import SimpleNamespace

    from devices.scanners.evdev_source import EvdevScannerSource
    from edge.settings import ScannerSettings

    opened: list[_FakeEvdevDevice] = []
    table = {
        "/dev/input/event3": ("USB Keyboard", 0x04D9, 0x1603),
        "/dev/input/event4": ("USB Keyboard", 0x1A2C, 0x0E24),
    }

    def open_device(path: str) -> _FakeEvdevDevice:
        opened.append(_FakeEvdevDevice(path, *table[path]))
        return opened[-1]

    fake = SimpleNamespace(list_devices=lambda: list(table), InputDevice=open_device)
    plain = EvdevScannerSource(ScannerSettings(evdev="USB Keyboard"))
    assert plain._find(fake).path == "/dev/input/event3"
    opened.clear()
    marked = EvdevScannerSource(ScannerSettings(evdev="USB Keyboard", device_roles={"04d9:1603": "keyboard"}))
    found = marked._find(fake)
    assert found.path == "/dev/input/event4" and not found.closed
    assert [d.closed for d in opened if d is not found] == [True]  # the others are not kept open
