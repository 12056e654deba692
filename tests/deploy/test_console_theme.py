"""The till on the bare Linux console (TERM=linux): a theme that exists, borders and glyphs its fonts have."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.scrollbar import ScrollBar, ScrollBarRender

from edge.db import open_database
from edge.demo.seed import seed_demo
from edge.settings import load_settings
from edge.ui import console
from edge.ui.app import make_app


@pytest.fixture
def till_settings(tmp_path: Path):
    settings = load_settings(environ={}).replace(data_dir=tmp_path / "data")
    db = open_database(settings.database_path)
    seed_demo(db)
    db.close()
    return settings


@pytest.fixture(autouse=True)
def restore_scrollbar():
    yield
    ScrollBar.renderer = ScrollBarRender
    console.restore_glyphs()


def screen_text(app) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


async def test_console_hook_gives_an_ansi_theme_safe_borders_and_glyphs(till_settings, monkeypatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")  # mount normally, then apply the hook as on_mount would
    app = make_app(till_settings, sync=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*"08710000000017", "enter")  # a basket line: the table draws rows
        await pilot.pause()
        console.apply_console_theme(app)
        await pilot.pause()
        assert app.theme == "ansi-dark"
        assert console.unsafe_borders(app.screen.walk_children(with_self=True)) == []
        # what the console would actually be sent; the status dot is the lead's (edge/ui/status.py)
        assert console.unsafe_glyphs(screen_text(app)) == set()


def test_console_detection() -> None:
    assert console.is_console({"TERM": "linux"})
    assert not console.is_console({"TERM": "xterm"})
    assert console.is_console({"TERM": "xterm"}, "console")
    assert not console.is_console({"TERM": "linux"}, "textual-dark")
    assert console.console_theme(["textual-dark", "ansi-dark"]) == "ansi-dark"


async def test_real_till_starts_on_tty1_with_the_console_theme(till_settings, monkeypatch) -> None:
    monkeypatch.setenv("TERM", "linux")
    app = make_app(till_settings, sync=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "ansi-dark"
        assert console.unsafe_borders(app.screen.walk_children(with_self=True)) == []
        assert console.unsafe_glyphs(screen_text(app)) == set()


def assert_console_safe(app, where: str) -> None:
    screen = app.screen
    assert console.unsafe_borders(screen.walk_children(with_self=True)) == [], where
    assert console.unsafe_glyphs(screen_text(app)) == set(), where


async def test_every_screen_and_dialog_is_console_safe(till_settings, monkeypatch) -> None:
    from edge.demo.seed import demo_card
    from edge.ui.screens.devices import DevicesScreen
    from edge.ui.screens.dialogs import PayScreen, PromptScreen, ReceiptScreen, SearchScreen
    from edge.ui.screens.floor import FloorScreen

    monkeypatch.setenv("TERM", "linux")
    app = make_app(till_settings, sync=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert_console_safe(app, "sale screen")
        await pilot.press(*"08710000000017", "enter")  # a basket line for F4 and F9
        await pilot.pause()
        await pilot.press("f2", *demo_card(1), "enter")  # a customer for F6
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        opened = []
        for key, kind in (("f2", PromptScreen), ("f3", SearchScreen), ("f4", PromptScreen), ("f6", PromptScreen),
                          ("f7", PromptScreen), ("f8", DevicesScreen), ("f9", PayScreen), ("f11", FloorScreen)):
            await pilot.press(key)
            if kind is SearchScreen:
                await pilot.press(*"milk")  # results in the option list
            await pilot.pause(0.2)
            assert isinstance(app.screen, kind), f"{key} opened {type(app.screen).__name__}"
            assert_console_safe(app, key)
            opened.append(type(app.screen).__name__)
            await pilot.press("escape")
            await pilot.pause()
        assert len(opened) == 8
        await pilot.press("f9", "enter")  # exact cash: the sale completes and the receipt dialog opens
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        assert isinstance(app.screen, ReceiptScreen), type(app.screen).__name__
        assert_console_safe(app, "receipt")
