"""A network namespace of its own, as a pod has: the example's ports are bound exactly as written.

Linux keeps the network namespace per thread: a thread that unshares (or setns's into) one creates its
sockets there, and a socket stays in the namespace it was created in whichever thread uses it later.
So the test process itself can listen inside the pod's namespace (the API server relay, a backend),
probe from inside it like a kubelet on the pod's address, and start `serve` there (setns before exec).
Needs CAP_SYS_ADMIN (root here and in CI).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_SIOCSIFADDR = 0x8916
_IFF_UP = 0x1
_IFREQ = "16sH22x"  # struct ifreq: the name, then ifr_flags in the union

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(_IFREQ, b"lo", 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))


def _add_address(address: str) -> None:
    """`address` on loopback (label lo:0), as the pod's own address: what is bound to 127.0.0.1 only
    is not reachable there, as for a kubelet probing a pod."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sHH4s8x8x", b"lo:0", socket.AF_INET, 0, socket.inet_aton(address))
        fcntl.ioctl(sock, _SIOCSIFADDR, request)


def can_create() -> bool:
    """Whether this process may create network namespaces (tried in a throwaway thread)."""
    outcome: list[bool] = []

    def attempt() -> None:
        outcome.append(_libc.unshare(CLONE_NEWNET) == 0)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join()
    return outcome == [True]


class PodNetwork:
    """A new network namespace with loopback up and `pod_ip` on it; closed with close()."""

    def __init__(self, pod_ip: str) -> None:
        self.pod_ip = pod_ip
        created: list[int] = []
        failed: list[BaseException] = []

        def create() -> None:
            try:
                _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
                _loopback_up()
                _add_address(pod_ip)
                created.append(os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY))
            except BaseException as exc:  # handed to the caller's thread
                failed.append(exc)

        thread = threading.Thread(target=create, name="pod-network")
        thread.start()
        thread.join()
        if failed:
            raise failed[0]
        self.fd = created[0]

    def enter(self) -> None:
        """Move the calling thread (or a child process before exec) into the namespace."""
        _check(_libc.setns(self.fd, CLONE_NEWNET), "setns")

    def call(self, fn: Callable[..., T], *args: object) -> T:
        """fn(*args) in a thread inside the namespace (blocking; use asyncio.to_thread from a loop)."""
        results: list[T] = []
        failed: list[BaseException] = []

        def run() -> None:
            try:
                self.enter()
                results.append(fn(*args))
            except BaseException as exc:
                failed.append(exc)

        thread = threading.Thread(target=run, name="in-pod-network")
        thread.start()
        thread.join()
        if failed:
            raise failed[0]
        return results[0]

    def listen(self, host: str, port: int) -> socket.socket:
        """A listening TCP socket inside the namespace."""

        def make() -> socket.socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(64)
            sock.setblocking(False)
            return sock

        return self.call(make)

    def close(self) -> None:
        os.close(self.fd)
