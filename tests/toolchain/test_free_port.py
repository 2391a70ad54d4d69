"""`free_port` hands out ports below the kernel's ephemeral range, so an outgoing connection cannot take one
between the check and the server's bind (a test under three workers lost a node's port that way)."""

from __future__ import annotations

import random
import socket

from infernet_kit.processes import LOWEST_CHOSEN_PORT, _ephemeral_start, free_port


def test_free_ports_are_below_the_ephemeral_range_and_bindable() -> None:
    start = _ephemeral_start()
    ports = {free_port() for _ in range(20)}
    assert len(ports) > 1  # chosen, not one fixed port
    for port in ports:
        if start > LOWEST_CHOSEN_PORT:
            assert LOWEST_CHOSEN_PORT <= port < start
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # nothing listens there


def test_a_seeded_random_module_does_not_make_workers_pick_the_same_ports() -> None:
    """Test workers whose `random` was seeded alike (by a test or a library) must still pick different ports."""
    random.seed(7)
    first = [free_port() for _ in range(5)]
    random.seed(7)
    second = [free_port() for _ in range(5)]
    assert first != second
