"""The test configuration itself: no connection may leave the machine."""

import socket

import pytest


def test_outside_connection_is_refused():
    with pytest.raises(ConnectionRefusedError, match="network is blocked"):
        socket.create_connection(("s3.amazonaws.com", 443), timeout=1)
    with pytest.raises(ConnectionRefusedError, match="network is blocked"):
        socket.socket().connect(("52.216.0.1", 443))


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname(), timeout=2)
    client.close()
    server.close()
