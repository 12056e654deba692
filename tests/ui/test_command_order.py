"""Session commands run in the order given, whichever worker thread the scheduler starts first."""

from __future__ import annotations

import threading
import time

import pytest

from edge.ui.commands import CommandQueue


def test_commands_run_in_ticket_order_even_when_threads_start_backwards() -> None:
    queue = CommandQueue()
    tickets = [queue.ticket() for _ in range(8)]
    done: list[int] = []

    def worker(ticket: int) -> None:
        queue.run(ticket, lambda: (time.sleep(0.002), done.append(ticket)))

    threads = [threading.Thread(target=worker, args=(t,)) for t in reversed(tickets)]
    for thread in threads:
        thread.start()
        time.sleep(0.005)  # the last command's thread is well under way before the first one starts
    for thread in threads:
        thread.join(5)
    assert done == tickets and queue.idle


def test_a_failing_command_does_not_stop_the_next() -> None:
    queue = CommandQueue()
    first, second = queue.ticket(), queue.ticket()

    def boom() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        queue.run(first, boom)
    assert queue.run(second, lambda: "ran") == "ran"


def test_closing_releases_waiting_commands() -> None:
    queue = CommandQueue()
    queue.ticket()
    waiting = queue.ticket()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            queue.run(waiting, lambda: None)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    queue.close()
    thread.join(5)
    assert not thread.is_alive() and "stopping" in str(errors[0])
