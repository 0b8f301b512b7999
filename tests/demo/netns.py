"""Run a command in a network namespace of its own, with its loopback up: `make run` binds the
fixed ports of the examples (8000, 8443, 8080-8083), which on a shared machine another process may
hold; inside a fresh namespace they are always free, and nothing it does reaches another address.

    unshare -n -- python tests/demo/netns.py COMMAND ARGS...

brings `lo` up (a new namespace starts with it down) and then becomes COMMAND (exec: same pid).
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import sys

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = "16sh14x"  # struct ifreq: interface name, then ifr_flags


def loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(_IFREQ, b"lo", 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))


if __name__ == "__main__":
    loopback_up()
    os.execvp(sys.argv[1], sys.argv[1:])
