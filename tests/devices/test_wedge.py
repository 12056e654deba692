"""Keyboard-wedge detection with injected timestamps: scanner bursts vs a person typing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from devices.scanners.base import ScanEvent
from devices.scanners.evdev_keys import translate_layout
from devices.scanners.wedge import KeyboardWedgeSource, WedgeDetector, WedgeOutput
from edge.settings import ScannerSettings


def run(detector: WedgeDetector, keys: list[str], gap_s: float, start: float = 100.0) -> list[WedgeOutput]:
    out: list[WedgeOutput] = []
    t = start
    for key in keys:
        out += detector.feed(key, t)
        t += gap_s
    out += detector.poll(t + 1.0)
    return [o for o in out if o.kind != "held"]


def typed(outputs: list[WedgeOutput]) -> list[str]:
    return [k for o in outputs if o.kind == "typing" for k in o.keys]


def test_fast_burst_ending_in_enter_is_a_scan_and_nothing_leaks() -> None:
    out = run(WedgeDetector(35, 4), [*"5901234123457", "enter"], gap_s=0.004)
    assert [o.kind for o in out] == ["scan"]
    assert out[0].text == "5901234123457"
    assert typed(out) == []


def test_same_characters_typed_slowly_are_typing_in_order() -> None:
    keys = [*"5901234123457", "enter"]
    out = run(WedgeDetector(35, 4), keys, gap_s=0.150)
    assert all(o.kind == "typing" for o in out)
    assert typed(out) == keys


def test_short_fast_chord_then_enter_is_typing() -> None:
    # Two keys rolled over quickly (e.g. "12" then Enter in a quantity field) are below min_length.
    out = run(WedgeDetector(35, 4), ["1", "2", "enter"], gap_s=0.010)
    assert typed(out) == ["1", "2", "enter"]


def test_held_keys_are_released_by_poll_when_the_burst_turns_out_slow() -> None:
    d = WedgeDetector(35, 4)
    assert d.feed("3", 0.0)[0].kind == "held"
    assert d.poll(0.020) == []  # still could be a scanner
    released = d.poll(0.050)
    assert typed(released) == ["3"] and not d.holding


def test_typing_then_a_scan_right_after() -> None:
    d = WedgeDetector(35, 4)
    out = d.feed("q", 0.0)
    out += d.feed("t", 0.3)  # slow: "q" is released, "t" is held
    for i, ch in enumerate("96385074"):
        out += d.feed(ch, 0.6 + i * 0.005)
    out += d.feed("enter", 0.65)
    assert typed(out) == ["q", "t"]
    assert [o.text for o in out if o.kind == "scan"] == ["96385074"]


def test_named_keys_are_never_swallowed_into_a_scan() -> None:
    d = WedgeDetector(35, 4)
    out = d.feed("1", 0.0) + d.feed("2", 0.005) + d.feed("f2", 0.010)
    assert typed(out) == ["1", "2", "f2"]


def test_gs_control_key_becomes_a_separator_and_aim_is_stripped() -> None:
    keys = [*"]C10109501101020917", "ctrl+right_square_bracket", *"10ABC", "enter"]
    (scan,) = run(WedgeDetector(35, 4), keys, gap_s=0.003)
    assert (scan.aim_id, scan.text) == ("]C1", "0109501101020917\x1d10ABC")


def test_threshold_is_configurable() -> None:
    keys = [*"12345670", "enter"]
    assert [o.kind for o in run(WedgeDetector(35, 4), keys, gap_s=0.050)] != ["scan"]
    assert [o.kind for o in run(WedgeDetector(80, 4), keys, gap_s=0.050)] == ["scan"]


def test_layout_mismatch_is_undone() -> None:
    # A scanner emulating a US keyboard on a German till: "Y" arrives as "Z", "-" as "ß".
    assert translate_layout("CPNßZES", host_layout="de", scanner_layout="us") == "CPN-YES"
    assert translate_layout("5901234123457", host_layout="de", scanner_layout="us") == "5901234123457"
    assert translate_layout("CPNßZES", host_layout="us", scanner_layout="us") == "CPNßZES"


async def test_wedge_source_emits_scans_to_subscribers() -> None:
    source = KeyboardWedgeSource(ScannerSettings(), max_key_interval_ms=35, min_length=4)
    await source.start()
    stream = source.scans()
    pending = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)
    for i, key in enumerate([*"5901234123457", "enter"]):
        source.handle_key(key, 10.0 + i * 0.003)
    scan: ScanEvent = await asyncio.wait_for(pending, 1.0)
    await stream.aclose()
    assert (scan.text, scan.source) == ("5901234123457", "keyboard-wedge")
    assert source._scan_callbacks == []  # the stream unsubscribed when closed


async def test_wedge_source_debounces_a_double_read() -> None:
    source = KeyboardWedgeSource(ScannerSettings(debounce_ms=400))
    got: list[ScanEvent] = []
    source.on_scan(got.append)
    t = 0.0
    for burst_start in (0.0, 0.2, 1.0):  # a double read, then the cashier scans the item again
        t = burst_start
        for key in [*"96385074", "enter"]:
            source.handle_key(key, t)
            t += 0.003
    assert [s.text for s in got] == ["96385074", "96385074"]


# --- the rest of a CRLF terminator ------------------------------------------------------------------------
def test_crlf_terminator_the_lf_after_a_scan_is_swallowed_not_typed() -> None:
    for second in ("ctrl+j", "\n", "enter"):  # LF as terminals deliver it, raw, or a second CR
        out = run(WedgeDetector(35, 4, terminator="CRLF"), [*"5901234123457", "enter", second], gap_s=0.004)
        assert [o.kind for o in out] == ["scan", "swallowed"]
        assert typed(out) == [] and out[1].keys == (second,)


def test_only_one_end_key_is_swallowed_and_only_right_after_a_scan() -> None:
    d = WedgeDetector(35, 4, terminator="CRLF")
    out = [o for i, k in enumerate([*"96385074", "enter", "ctrl+j", "enter"]) for o in d.feed(k, i * 0.004)]
    assert [o.kind for o in out if o.kind != "held"] == ["scan", "swallowed", "typing"]
    d2 = WedgeDetector(35, 4)
    late = [o for i, k in enumerate([*"96385074", "enter"]) for o in d2.feed(k, i * 0.004)]
    late += d2.feed("enter", 0.5)  # the cashier presses Enter half a second later: a real keypress
    assert typed(late) == ["enter"]


def test_a_scan_accounts_for_its_keys() -> None:
    keys = [*"]C10109501101020917", "ctrl+right_square_bracket", *"10ABC", "enter", "ctrl+j"]
    out = run(WedgeDetector(35, 4), keys, gap_s=0.003)
    assert [k for o in out for k in o.keys] == keys


# --- the scanner's keyboard layout against the host's ---------------------------------------------------
def _scan_through(source: KeyboardWedgeSource, keys: list[str]) -> list[ScanEvent]:
    got: list[ScanEvent] = []
    source.on_scan(got.append)
    for i, key in enumerate(keys):
        source.handle_key(key, 50.0 + i * 0.003)
    return got


def test_us_scanner_on_a_german_host_is_translated_back() -> None:
    # what a German host types for a US-layout scanner reading "]C1" + "CPN-YES": "]" comes out as "+"
    source = KeyboardWedgeSource(ScannerSettings(keyboard_layout="us"), host_layout="de")
    (scan,) = _scan_through(source, [*"+C1CPNßZES", "enter"])
    assert (scan.aim_id, scan.text) == ("]C1", "CPN-YES")


def test_same_layouts_are_left_alone() -> None:
    source = KeyboardWedgeSource(ScannerSettings(keyboard_layout="de"), host_layout="de")
    (scan,) = _scan_through(source, [*"CPNßZES", "enter"])
    assert scan.text == "CPNßZES"


def test_german_scanner_on_a_us_host() -> None:
    source = KeyboardWedgeSource(ScannerSettings(keyboard_layout="de"), host_layout="us")
    (scan,) = _scan_through(source, [*"CPN/Y", "enter"])  # de "-" sits on the US "/" key, de "Z" on US "Y"
    assert scan.text == "CPN-Z"


def test_typing_is_never_translated() -> None:
    d = WedgeDetector(35, 4, scanner_layout="us", host_layout="de")
    out = run(d, [*"zß", "enter"], gap_s=0.3)
    assert typed(out) == ["z", "ß", "enter"]


def test_host_layout_comes_from_the_environment(tmp_path: Path) -> None:
    from devices.scanners.wedge import host_keyboard_layout

    keyboard = tmp_path / "keyboard"
    keyboard.write_text('XKBMODEL="pc105"\nXKBLAYOUT="fr"\nXKBVARIANT=""\n')
    assert host_keyboard_layout({}, keyboard) == "fr"
    assert host_keyboard_layout({"XKB_DEFAULT_LAYOUT": "de,us"}, keyboard) == "de"
    assert host_keyboard_layout({"XKB_DEFAULT_LAYOUT": "ru"}, tmp_path / "missing") is None
    keyboard.write_text('XKBLAYOUT="ru"\n')
    assert host_keyboard_layout({}, keyboard) is None  # unknown: no translation
