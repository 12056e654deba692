"""A console-safe look for the bare Linux console (``TERM=linux``): 16 colours, and only the glyphs its
fonts have (ASCII, Latin-1/Latin-9, single and double box-drawing lines, the CP437 blocks).

Textual 8 has no "textual-ansi" theme any more (setting it raises ``InvalidThemeError``): the ANSI theme is
"ansi-dark". Its scroll bars draw eighth-block glyphs (``▏▎▍``, ``▁▂▃``) the console shows as diamonds, and
borders other than solid/double/ascii/blank/block/thick use glyphs it lacks. ``apply_console_theme(app)``
fixes all of that; call it from ``on_mount`` when ``is_console()``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

CONSOLE_THEMES = ("ansi-dark", "textual-ansi")  # the first one this Textual knows is used

# borders whose glyphs the console fonts (Lat15/Terminus/VGA) have; "round", "heavy", "tall", "wide",
# "panel", "hkey", "vkey", "outer", "inner", "dashed" need glyphs they lack
SAFE_BORDERS = frozenset({"", "none", "hidden", "blank", "ascii", "solid", "double", "block", "thick"})

_BOX = "─│┌┐└┘├┤┬┴┼═║╔╗╚╝╠╣╦╩╬╒╓╕╖╘╙╛╜╞╟╡╢╤╥╧╨╪╫"
_BLOCKS = "▀▄█▌▐░▒▓■"
SAFE_GLYPHS = frozenset(chr(c) for c in range(32, 127)) | frozenset(chr(c) for c in range(160, 256)) | frozenset(
    "€ŠšŽžŒœŸ" + _BOX + _BLOCKS
)


def is_console(environ: Mapping[str, str] | None = None, theme_setting: str = "auto") -> bool:
    env = os.environ if environ is None else environ
    return theme_setting == "console" or (theme_setting in ("auto", "") and env.get("TERM") == "linux")


def console_theme(available: Iterable[str]) -> str:
    names = set(available)
    return next((t for t in CONSOLE_THEMES if t in names), "textual-dark")


def _scrollbar_render() -> Any:
    from textual.scrollbar import ScrollBarRender

    class ConsoleScrollBarRender(ScrollBarRender):
        # whole cells only: the console has no eighth blocks
        VERTICAL_BARS = ["█", "█", "█", "█", "█", "█", "█", " "]
        HORIZONTAL_BARS = ["█", "█", "█", "█", "█", "█", "█", " "]

    return ConsoleScrollBarRender


def apply_console_theme(app: Any) -> None:
    """Switch ``app`` (a running Textual App) to the console-safe theme, scroll bars and borders."""
    from textual.scrollbar import ScrollBar

    app.theme = console_theme(app.available_themes)
    ScrollBar.renderer = _scrollbar_render()
    for widget in app.screen.walk_children(with_self=True):
        make_borders_safe(widget)
    hook = getattr(app, "console_mode", None)
    if callable(hook):
        hook()  # the app's own glyph choices (status dots and the like)


def make_borders_safe(widget: Any) -> None:
    styles = widget.styles
    for edge in ("top", "right", "bottom", "left"):
        kind, color = getattr(styles, f"border_{edge}")
        if kind not in SAFE_BORDERS:
            setattr(styles, f"border_{edge}", ("solid", color))


def unsafe_borders(widgets: Iterable[Any]) -> list[str]:
    """``"Widget#id: edge kind"`` for every border the console cannot draw."""
    found = []
    for widget in widgets:
        for edge in ("top", "right", "bottom", "left"):
            kind = getattr(widget.styles, f"border_{edge}")[0]
            if kind not in SAFE_BORDERS:
                found.append(f"{type(widget).__name__}#{widget.id}: {edge} {kind}")
    return found


def unsafe_glyphs(text: str) -> set[str]:
    return {ch for ch in text if ch not in SAFE_GLYPHS and ch not in "\n\r\t"}
