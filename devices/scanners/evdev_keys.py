"""Linux input key codes to text, per keyboard layout, with Shift, AltGr, Caps Lock and Alt+numpad.

Decoding happens here rather than in the desktop's keymap so a scanner reads the same whatever layout
the till's keyboard uses; a scanner that emulates another layout gets its own ``layout``.
Works on recorded ``(type, code, value)`` tuples, so it needs no evdev package.
"""

from __future__ import annotations

from collections.abc import Iterable

EV_KEY = 1
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2

KEY_TAB, KEY_ENTER, KEY_KPENTER = 15, 28, 96
KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 42, 54
KEY_LEFTCTRL, KEY_RIGHTCTRL = 29, 97
KEY_LEFTALT, KEY_RIGHTALT = 56, 100  # RIGHTALT is AltGr on European layouts
KEY_CAPSLOCK = 58
KEY_RIGHTBRACE = 27
KEYPAD_DIGITS = {82: "0", 79: "1", 80: "2", 81: "3", 75: "4", 76: "5", 77: "6", 71: "7", 72: "8", 73: "9"}
KEYPAD_OTHER = {55: "*", 74: "-", 78: "+", 83: ".", 98: "/"}

_LETTER_CODES = dict(
    zip(
        "qwertyuiopasdfghjklzxcvbnm",
        [
            16,
            17,
            18,
            19,
            20,
            21,
            22,
            23,
            24,
            25,
            30,
            31,
            32,
            33,
            34,
            35,
            36,
            37,
            38,
            44,
            45,
            46,
            47,
            48,
            49,
            50,
        ],
        strict=True,
    )
)


def _table(letters: dict[str, int], pairs: dict[int, tuple[str, str]]) -> dict[int, tuple[str, str]]:
    table = {code: (ch, ch.upper()) for ch, code in letters.items()}
    table.update(pairs)
    table[57] = (" ", " ")
    return table


_US_PAIRS = {
    2: ("1", "!"), 3: ("2", "@"), 4: ("3", "#"), 5: ("4", "$"), 6: ("5", "%"), 7: ("6", "^"),
    8: ("7", "&"), 9: ("8", "*"), 10: ("9", "("), 11: ("0", ")"), 12: ("-", "_"), 13: ("=", "+"),
    26: ("[", "{"), 27: ("]", "}"), 39: (";", ":"), 40: ("'", '"'), 41: ("`", "~"), 43: ("\\", "|"),
    51: (",", "<"), 52: (".", ">"), 53: ("/", "?"), 86: ("\\", "|"),
}  # fmt: skip
_DE_PAIRS = {
    2: ("1", "!"), 3: ("2", '"'), 4: ("3", "§"), 5: ("4", "$"), 6: ("5", "%"), 7: ("6", "&"),
    8: ("7", "/"), 9: ("8", "("), 10: ("9", ")"), 11: ("0", "="), 12: ("ß", "?"), 13: ("´", "`"),
    26: ("ü", "Ü"), 27: ("+", "*"), 39: ("ö", "Ö"), 40: ("ä", "Ä"), 41: ("^", "°"), 43: ("#", "'"),
    51: (",", ";"), 52: (".", ":"), 53: ("-", "_"), 86: ("<", ">"),
}  # fmt: skip
_DE_LETTERS = {**_LETTER_CODES, "y": 44, "z": 21}
_FR_PAIRS = {
    2: ("&", "1"), 3: ("é", "2"), 4: ('"', "3"), 5: ("'", "4"), 6: ("(", "5"), 7: ("-", "6"),
    8: ("è", "7"), 9: ("_", "8"), 10: ("ç", "9"), 11: ("à", "0"), 12: (")", "°"), 13: ("=", "+"),
    26: ("^", "¨"), 27: ("$", "£"), 40: ("ù", "%"), 41: ("²", "²"), 43: ("*", "µ"),
    50: (",", "?"), 51: (";", "."), 52: (":", "/"), 53: ("!", "§"), 86: ("<", ">"),
}  # fmt: skip
_FR_LETTERS = {
    **{k: v for k, v in _LETTER_CODES.items() if k != "m"},
    "a": 16,
    "q": 30,
    "z": 17,
    "w": 44,
    "m": 39,
}

LAYOUTS: dict[str, dict[int, tuple[str, str]]] = {
    "us": _table(_LETTER_CODES, _US_PAIRS),
    "de": _table(_DE_LETTERS, _DE_PAIRS),
    "fr": _table(_FR_LETTERS, _FR_PAIRS),
}
ALTGR: dict[str, dict[int, str]] = {
    "us": {},
    "de": {16: "@", 3: "²", 4: "³", 8: "{", 9: "[", 10: "]", 11: "}", 12: "\\", 27: "~", 86: "|", 18: "€"},
    "fr": {
        3: "~",
        4: "#",
        5: "{",
        6: "[",
        7: "|",
        8: "`",
        9: "\\",
        10: "^",
        11: "@",
        12: "]",
        13: "}",
        18: "€",
    },
}


class EvdevKeyDecoder:
    """Feed key events one at a time; characters come out on key-down. Unknown layouts fall back to US."""

    def __init__(self, layout: str = "us") -> None:
        self.layout = layout.lower() if layout.lower() in LAYOUTS else "us"
        self._keys = LAYOUTS[self.layout]
        self._altgr_keys = ALTGR.get(self.layout, {})
        self._shift: set[int] = set()
        self._ctrl: set[int] = set()
        self._alt = False
        self._altgr = False
        self._caps = False
        self._alt_digits = ""

    def feed(self, ev_type: int, code: int, value: int) -> str | None:
        if ev_type != EV_KEY:
            return None
        if code in (KEY_LEFTSHIFT, KEY_RIGHTSHIFT):
            self._toggle(self._shift, code, value)
            return None
        if code in (KEY_LEFTCTRL, KEY_RIGHTCTRL):
            self._toggle(self._ctrl, code, value)
            return None
        if code == KEY_RIGHTALT and self._altgr_keys:
            self._altgr = value != KEY_UP
            return None
        if code in (KEY_LEFTALT, KEY_RIGHTALT):
            return self._alt_key(value)
        if value != KEY_DOWN:
            return None  # releases; auto-repeat is never part of a scan
        if code == KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        if self._alt and code in KEYPAD_DIGITS:
            # Alt+numpad codes: how many scanners send characters independent of the host's layout.
            self._alt_digits = (self._alt_digits + KEYPAD_DIGITS[code])[-3:]
            return None
        if code in (KEY_ENTER, KEY_KPENTER):
            return "\r"
        if code == KEY_TAB:
            return "\t"
        if self._ctrl:
            # Ctrl+] is the GS (FNC1) control character; other Ctrl chords are not scan data.
            return "\x1d" if code == KEY_RIGHTBRACE else None
        if code in KEYPAD_DIGITS:
            return KEYPAD_DIGITS[code]
        if code in KEYPAD_OTHER:
            return KEYPAD_OTHER[code]
        if self._altgr:
            return self._altgr_keys.get(code)
        pair = self._keys.get(code)
        if pair is None:
            return None
        normal, shifted = pair
        shift = bool(self._shift)
        if self._caps and normal.isalpha():
            shift = not shift
        return shifted if shift else normal

    @staticmethod
    def _toggle(held: set[int], code: int, value: int) -> None:
        if value == KEY_UP:
            held.discard(code)
        else:
            held.add(code)

    def _alt_key(self, value: int) -> str | None:
        if value == KEY_DOWN:
            self._alt, self._alt_digits = True, ""
            return None
        if value == KEY_UP:
            self._alt = False
            digits, self._alt_digits = self._alt_digits, ""
            n = int(digits) if digits else 0
            if 0 < n < 128:
                return chr(n)
            if 128 <= n < 256:
                return bytes([n]).decode("cp1252", errors="replace")
        return None

    def decode(self, events: Iterable[tuple[int, int, int]]) -> str:
        return "".join(ch for ev in events if (ch := self.feed(*ev)) is not None)


def translate_layout(text: str, host_layout: str, scanner_layout: str = "us") -> str:
    """Undo a layout mismatch for keyboard-wedge scans: what the host typed -> what the scanner meant.

    For example a scanner emulating a US keyboard on a German till types "z" for "y".
    """
    host = LAYOUTS.get(host_layout.lower())
    target = LAYOUTS.get(scanner_layout.lower())
    if host is None or target is None or host is target:
        return text
    reverse: dict[str, tuple[int, int]] = {}
    for code, pair in host.items():
        for shifted, ch in enumerate(pair):
            reverse.setdefault(ch, (code, shifted))
    out = []
    for ch in text:
        hit = reverse.get(ch)
        if hit is None or hit[0] not in target:
            out.append(ch)
        else:
            out.append(target[hit[0]][hit[1]])
    return "".join(out)
