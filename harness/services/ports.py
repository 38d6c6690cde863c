"""Free loopback ports for the processes a run starts."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on at ``host`` right now, chosen by the kernel.

    The port is released before it is returned, so another process could take it in between;
    the kernel hands out ports in rotation, which makes that rare on a loopback address.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port
