"""Free loopback ports for services started on the fly (tests, benchmarks): one picker for all.

Ports are picked below Linux's ephemeral range (32768-60999): a port the kernel hands out for
outgoing connections (Kafka clients make many) could otherwise be taken between pick and use.
"""

from __future__ import annotations

import random
import socket

PICK_LOW, PICK_HIGH = 20000, 32000
_picked: set[int] = set()


def bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_range(count: int = 1) -> int:
    """A base port with `count` consecutive free ports, never handed out before in this process."""
    rng = random.Random()  # noqa: S311  # spreading ports, not secrets
    for _ in range(1000):
        base = rng.randrange(PICK_LOW, PICK_HIGH - count)
        ports = range(base, base + count)
        if not _picked.intersection(ports) and all(bindable(p) for p in ports):
            _picked.update(ports)
            return base
    raise RuntimeError(f"no {count} free consecutive ports in {PICK_LOW}-{PICK_HIGH}")


def free_port() -> int:
    return free_port_range(1)
