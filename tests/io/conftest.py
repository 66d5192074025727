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


@pytest.fixture(scope="session")
def virtuoso(tmp_path_factory):
    """One Virtuoso server per test session (skips when virtuoso-opensource is absent)."""
    from tests.io.virtuoso import start_virtuoso, virtuoso_binary

    if virtuoso_binary() is None:
        pytest.skip("Virtuoso is not installed (apt-get install virtuoso-opensource)")
    # ResultSetMaxRows below the graphs' sizes, so that capped answers are exercised
    server = start_virtuoso(tmp_path_factory.mktemp("virtuoso"), deadline_s=90, max_rows=300)
    yield server
    server.stop()
