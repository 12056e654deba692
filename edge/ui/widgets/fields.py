"""The till's text field: every key acts in the order it was pressed, however fast it comes.

Textual's ``Input`` takes a printable key at once, in its own key handler, but runs its editing keys
(Backspace, Ctrl+U, the arrows, Delete ...) as bindings, which are looked up only after the key event has
bubbled up to the app. Keys read from the terminal together (a fast cashier, a macro key, keys the scanner
filter held back and replays) are queued together, so in "30", then Backspace Backspace 2 0 Enter in one read
the 2 and the 0 were typed before the Backspaces ran: the field said "30", not "20", and the cash tendered was
wrong. ``OrderedInput`` runs its own editing bindings in its key handler instead, so each key acts in turn.
Enter still travels the usual way (it only submits, and the dialogs' own Enter handling stays as it was).
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input

SUBMIT_KEYS = frozenset({"enter", "ctrl+m", "ctrl+j"})


class OrderedInput(Input):
    """``Input`` whose editing keys act in order with the typed characters (see the module docstring)."""

    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable and event.key not in SUBMIT_KEYS and await self._run_own_binding(event.key):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    async def _run_own_binding(self, key: str) -> bool:
        """Run this field's (non-priority) binding for ``key``; True when one handled it."""
        for binding in self._bindings.key_to_bindings.get(key, ()):
            if not binding.priority and await self.app.run_action(binding.action, self):
                return True
        return False
