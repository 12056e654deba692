"""Unexpected errors inside the till's own screens: said in words, logged, and the till carries on.

Textual ends a message pump (and then the app) at the first exception a handler raises. A till must not
stop in the middle of a sale for a bug in a panel: screens and the app that mix in :class:`KeepsRunning`
hand such an exception to ``app.report_error`` instead, and their message loop goes on.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class KeepsRunning:
    """Mixin for a Textual ``MessagePump`` (the app, a screen): handler errors go to ``app.report_error``."""

    app: Any

    async def _dispatch_message(self, message: Message) -> None:
        try:
            await super()._dispatch_message(message)  # type: ignore[misc]
        except Exception as error:
            report = getattr(self.app, "report_error", None)
            if report is None:
                raise
            report(error)
