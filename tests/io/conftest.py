"""Fixtures for the remote-access tests: loopback servers that stop with the test."""
from __future__ import annotations

import pytest

from tests.io.loopback import Server


@pytest.fixture
def loopback():
    """``loopback(handler) -> Server``; every server started is closed after the test."""
    servers: list[Server] = []

    def start(handler) -> Server:
        servers.append(Server(handler))
        return servers[-1]

    yield start
    for s in servers:
        s.close()
