"""Byte relays for tests and benchmarks that stand between the agent and a
hub (a TCP proxy, a CONNECT proxy, a balancer stand-in)."""

import socket


def pump(src: socket.socket, dst: socket.socket, on_data=None) -> None:
    """Copy src to dst until either side ends, calling on_data(bytes) on
    each chunk first; then shut both down (the peer's pump ends too)."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if on_data is not None:
                on_data(data)
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
