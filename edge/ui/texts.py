"""The till's words in the store's language: key descriptions of Textual bindings through a translator.

Textual keeps a widget's bindings per class (``BINDINGS``, written once, in English, marked with ``N_``);
:func:`translate_bindings` gives one screen or app instance its own copy with every description translated,
so the footer and the key bar read in the store's language while another till in the same process (tests)
keeps its own. Texts themselves go through ``edge.core.i18n`` translators (``tr._``), never a global locale.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from edge.core.i18n import Translator


def translate_bindings(node: Any, tr: Translator) -> None:
    """Replace ``node``'s (an app or screen instance) binding descriptions by their ``tr`` translation.

    Only the instance's own map changes (Textual copies the class's map per instance); the keys, actions
    and priorities stay as declared.
    """
    bindings = node._bindings  # Textual's per-instance BindingsMap (a copy of the class's)
    bindings.key_to_bindings = {
        key: [dataclasses.replace(b, description=tr._(b.description)) if b.description else b for b in found]
        for key, found in bindings.key_to_bindings.items()
    }
