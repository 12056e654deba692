"""Messages the devices package returns for the app to translate (``devices`` is the leaf: it imports no
translator, see ARCHITECTURE.md "Layers").

:func:`N_` marks an English source text for extraction (``make i18n``); :class:`Text` is an English ``str``
that keeps its template and values, so the app's translator (``edge.core.i18n.Translator.text``) can say it
in the store's language: ``Text(N_("Not a valid GTIN: {problem}"), problem=...)``. Plain constants marked
with ``N_`` (``devices/barcode/loyalty_token.py``) are translated by ``Translator.gettext`` where shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it (the app translates it where it is shown)."""
    return message


class Text(str):
    """``Text(N_("the count in AI ({code}) is not a number"), code="30")``: the English string, plus
    ``template`` and ``params`` for a translator. Same shape as ``edge.core.i18n.Text`` (duck-typed)."""

    template: str
    params: Mapping[str, Any]

    def __new__(cls, template: str, /, **params: Any) -> Text:
        self = super().__new__(cls, template.format(**params) if params else template)
        self.template, self.params = template, params
        return self
