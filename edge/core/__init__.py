"""The loyalty domain core: pure Python, no I/O, no Textual. Everything here is deterministic."""
