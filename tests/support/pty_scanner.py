"""A USB-serial barcode scanner stood in for by a pty pair: the till and the technician commands read it as
they read a real one, through a /dev/serial/by-id-like link that goes away on unplug and comes back on plug
(pointing at a new /dev/pts number, as a re-plugged device may)."""

from __future__ import annotations

import os
from pathlib import Path


class FakeUsbScanner:
    """A pty pair standing in for a USB-serial scanner; ``link`` plays /dev/serial/by-id/..."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = -1
        self.plug()

    def plug(self) -> None:
        master, slave = os.openpty()
        path = os.ttyname(slave)
        os.close(slave)
        tmp = self.link.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(path)
        os.replace(tmp, self.link)
        self.master, self.path = master, path

    def unplug(self) -> None:
        # udev removes the by-id link when the device goes away
        os.close(self.master)
        self.master = -1
        self.link.unlink(missing_ok=True)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)
