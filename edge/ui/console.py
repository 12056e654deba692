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


CONSOLE_CLASS = "-console"

# Screens and dialogs pushed later are styled by CSS, not by walking the widgets once: the app gets the
# class -console and these rules (!important: they must beat the widgets' DEFAULT_CSS and any screen CSS)
# replace every border kind Textual's own widgets use that the console fonts lack ("tall": ▁ ▔ ▊ ▎).
CONSOLE_CSS = "\n".join(
    [f"App.{CONSOLE_CLASS} {name} {{ border: solid $border-blurred !important; }}" for name in
     ("Input", "OptionList", "TextArea", "SelectCurrent", "RadioSet", "Switch", "MaskedInput")]
    + [f"App.{CONSOLE_CLASS} {name}:focus {{ border: solid $border !important; }}" for name in
       ("Input", "OptionList", "TextArea", "SelectCurrent", "RadioSet", "Switch", "MaskedInput")]
    + [f"App.{CONSOLE_CLASS} Input.-invalid {{ border: solid $error !important; }}",
       f"App.{CONSOLE_CLASS} Button {{ border: solid $border-blurred !important; }}",
       f"App.{CONSOLE_CLASS} Button:focus {{ border: solid $border !important; }}",
       f"App.{CONSOLE_CLASS} ToggleButton, App.{CONSOLE_CLASS} Checkbox, App.{CONSOLE_CLASS} RadioButton "
       "{ border: none !important; }",
       f"App.{CONSOLE_CLASS} Toast {{ border-left: solid $border !important; }}",
       f"App.{CONSOLE_CLASS} Tooltip {{ border: solid $border !important; }}"]
)

# Renderables that draw glyphs the console lacks: the Tabs underline and ProgressBar (Bar: ╺ ━ ╸) and the
# Sparkline (▁▂▃▅▆▇). Class attributes, so the change is process-wide: the till is the only app running.
_GLYPH_PATCHES: list[tuple[str, str, str, Any]] = [
    ("textual.renderables.bar", "Bar", "HALF_BAR_LEFT", " "),
    ("textual.renderables.bar", "Bar", "BAR", "─"),
    ("textual.renderables.bar", "Bar", "HALF_BAR_RIGHT", " "),
    ("textual.renderables.sparkline", "Sparkline", "BARS", "_▄▄▄▄███"),
]
_originals: dict[tuple[str, str, str], Any] = {}


def _patch_glyphs() -> None:
    import importlib

    for module, cls_name, attr, value in _GLYPH_PATCHES:
        cls = getattr(importlib.import_module(module), cls_name)
        _originals.setdefault((module, cls_name, attr), getattr(cls, attr))
        setattr(cls, attr, value)


def apply_console_theme(app: Any) -> None:
    """Switch ``app`` (a running Textual App) to the console-safe theme, scroll bars, borders and glyphs;
    for the screen on show now and every screen or dialog pushed later."""
    from textual.scrollbar import ScrollBar

    app.theme = console_theme(app.available_themes)
    ScrollBar.renderer = _scrollbar_render()
    _patch_glyphs()
    app.stylesheet.add_source(CONSOLE_CSS, read_from=("edge.ui.console", "CONSOLE_CSS"), is_default_css=False,
                              tie_breaker=1_000)
    app.add_class(CONSOLE_CLASS)
    app.refresh_css(animate=False)
    for widget in app.screen.walk_children(with_self=True):
        make_borders_safe(widget)  # our own widgets' borders, whatever CSS they came with
    hook = getattr(app, "console_mode", None)
    if callable(hook):
        hook()  # the app's own glyph choices (status dots and the like)


def restore_glyphs() -> None:
    """Undo what ``apply_console_theme`` changed process-wide (tests run several apps in one process)."""
    import importlib

    for (module, cls_name, attr), value in _originals.items():
        setattr(getattr(importlib.import_module(module), cls_name), attr, value)
    _originals.clear()


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
