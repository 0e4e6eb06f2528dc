"""``free_port()``: a loopback TCP port free at the time of asking, for a server or a
torchrun rendezvous that a test starts.

Imported by the tests as ``from ports import free_port`` (pytest puts this folder, the one of
the root ``conftest.py``, on ``sys.path``).
"""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
