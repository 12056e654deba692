"""The one error type a command reports to its user."""

from __future__ import annotations


class CliError(Exception):
    """A failure a command reports in one line and ends with ``exit_code``.

    ``message`` is a sentence a cashier or technician can act on (what happened, and what to do); the CLI
    dispatcher prints it as ``store-edge: <message>`` on stderr and exits with ``exit_code``: 2 for bad input
    (arguments, settings, data), 1 for a failure of the environment (hub unreachable, disk, device).
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
