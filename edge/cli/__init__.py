"""The ``store-edge`` command line (console script ``store-edge = "edge.cli:main"``).

``main`` and ``build_parser`` live in ``edge.cli.main``; the command groups beside it: ``sync`` (sync and
enrolment), ``hub`` (the reference hub's wiring), ``devices`` (scanner and beacon tools: ``scanner``,
``beacons``); ``common`` holds the handler convention every command follows.
"""

from __future__ import annotations

from edge.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
