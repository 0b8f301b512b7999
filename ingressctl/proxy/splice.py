"""Large response bodies moved by the kernel: upstream socket → pipe → client socket (splice(2)).

Relaying a body through Python costs two copies of every byte (socket → buffer → socket) plus an
object per read; for 1 MiB responses that was most of the proxy's CPU. HAProxy has long forwarded
bodies this way: the pages move between sockets inside the kernel and Python only issues the calls.

Used when both sides are plain TCP and the rest of the body has a known length (Content-Length):
the bytes to move are then exactly known, and the upstream connection ends at a response boundary,
ready for reuse. Everything else (TLS on either side, chunked or close-delimited bodies) keeps the
buffered path.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import socket
from typing import Any

log = logging.getLogger("ingressctl.proxy")

# Below this, the buffered path is as cheap as the setup (dup, pipe, fd registration).
SPLICE_MIN = 128 * 1024
_PIPE_SIZE = 256 * 1024
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)
_FLAGS = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_NONBLOCK", 2)
_KEEP_PIPES = 32

AVAILABLE = hasattr(os, "splice")
# What a kernel or a seccomp profile says when it will not splice these descriptors at all.
_REFUSED = frozenset({errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.EACCES, errno.EOPNOTSUPP})
_disabled = ""  # why splicing was turned off for this process ("" while it works)


def enabled() -> bool:
    return AVAILABLE and not _disabled


def disable(reason: str) -> None:
    """Stop splicing in this process (the buffered path serves every body from now on)."""
    global _disabled
    if not _disabled:
        _disabled = reason
        log.warning("large bodies are copied instead of spliced from now on: %s", reason)


class SpliceError(Exception):
    """The upstream side failed mid-body (`kind` as UpstreamError's: "reset" or "timeout")."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class ClientGone(ConnectionError):
    """The client side refused the bytes (reset, closed)."""


class NotSpliced(Exception):
    """Nothing was moved: the caller reads the body the usual way. `refused`: the kernel will not
    splice these descriptors at all (the caller should disable splicing); otherwise a resource ran
    short (file descriptors) and the next body may try again."""

    def __init__(self, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


class _Pipes:
    """Empty pipes kept for the next body: creating one per response costs three system calls."""

    def __init__(self) -> None:
        self._free: list[tuple[int, int, int]] = []
        self.moved = 0  # bytes delivered to clients this way, for the metrics and tests

    def take(self) -> tuple[int, int, int]:
        if self._free:
            return self._free.pop()
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        with contextlib.suppress(OSError):  # refused past the per-user pipe quota: a smaller pipe
            fcntl.fcntl(w, _F_SETPIPE_SZ, _PIPE_SIZE)
        # What the pipe really holds (a user over the quota gets two pages): splice_body must never
        # wait for upstream data while the pipe is in fact full.
        try:
            size = fcntl.fcntl(w, _F_GETPIPE_SZ)
        except OSError:
            size = 4096
        return r, w, size

    def give_back(self, pipe: tuple[int, int, int], empty: bool) -> None:
        if empty and len(self._free) < _KEEP_PIPES:
            self._free.append(pipe)
        else:
            os.close(pipe[0])
            os.close(pipe[1])


_pipes = _Pipes()


def spliced_bytes() -> int:
    """Bytes of response bodies this process delivered by splicing."""
    return _pipes.moved


def socket_fd(transport: Any) -> int | None:
    """The fd of a plain (not TLS) stream socket behind an asyncio/uvloop transport, or None."""
    if transport is None or transport.is_closing() or transport.get_extra_info("sslcontext") is not None:
        return None
    if transport.get_extra_info("ssl_object") is not None:
        return None
    sock = transport.get_extra_info("socket")
    if sock is None or sock.type != socket.SOCK_STREAM:
        return None
    fd = sock.fileno()
    return fd if fd >= 0 else None


async def splice_body(
    loop: asyncio.AbstractEventLoop, upstream_fd: int, client_fd: int, length: int, idle_timeout: float
) -> None:
    """Move exactly `length` bytes from the upstream socket to the client socket.

    Both sockets belong to transports the event loop watches already, so readiness is waited for
    on duplicates of the fds (the loop refuses a second watcher on a transport's own fd). The
    caller pauses the upstream transport's reading and makes sure nothing is queued in the
    client transport before calling, so no byte is read or written around this function.
    Raises SpliceError (upstream failed or stalled for `idle_timeout`), ClientGone, or NotSpliced
    when nothing was read yet (the body is then still in the upstream socket for the usual path).
    """
    up, down, pipe = _setup(upstream_fd, client_fd)
    r, w, size = pipe
    in_pipe = 0
    remaining = length
    try:
        while remaining or in_pipe:
            moved = False
            if remaining and in_pipe < size:
                try:
                    n = os.splice(up, w, min(remaining, size - in_pipe), flags=_FLAGS)
                except BlockingIOError:
                    pass
                except OSError as exc:
                    if remaining == length and exc.errno in _REFUSED:
                        raise NotSpliced(f"splice(2) refused: {exc}", refused=True) from None
                    raise SpliceError("reset", f"upstream connection failed mid-body: {exc}") from None
                else:
                    if n == 0:
                        raise SpliceError("reset", "upstream closed the connection mid-body")
                    remaining -= n
                    in_pipe += n
                    moved = True
            if in_pipe:
                try:
                    n = os.splice(r, down, in_pipe, flags=_FLAGS)
                except BlockingIOError:
                    pass
                except OSError as exc:
                    raise ClientGone(f"client connection failed: {exc}") from None
                else:
                    in_pipe -= n
                    _pipes.moved += n
                    moved = moved or n > 0
            if not moved:
                # Bytes in the pipe: only the client can unblock us (a full pipe also makes the
                # upstream side fail with EAGAIN, even while the socket has data: waiting for the
                # socket then would spin). An empty pipe: wait for the upstream.
                if in_pipe:
                    await _ready(loop, None, down, idle_timeout)
                else:
                    await _ready(loop, up, None, idle_timeout)
    finally:
        os.close(up)
        os.close(down)
        _pipes.give_back(pipe, empty=in_pipe == 0)


def _setup(upstream_fd: int, client_fd: int) -> tuple[int, int, tuple[int, int, int]]:
    """Duplicates of both fds and a pipe; NotSpliced when descriptors run short (EMFILE)."""
    opened: list[int] = []
    try:
        opened.append(os.dup(upstream_fd))
        opened.append(os.dup(client_fd))
        return opened[0], opened[1], _pipes.take()
    except OSError as exc:
        for fd in opened:
            os.close(fd)
        raise NotSpliced(f"no descriptors for splicing: {exc}", refused=False) from None


async def _ready(
    loop: asyncio.AbstractEventLoop, readable: int | None, writable: int | None, idle_timeout: float
) -> None:
    """Wait until `readable` can be read or `writable` written. Only waits on the upstream alone
    time out: a slow client is the client's business, as on the buffered path."""
    waiter: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not waiter.done():
            waiter.set_result(None)

    if readable is not None:
        loop.add_reader(readable, wake)
    if writable is not None:
        loop.add_writer(writable, wake)
    try:
        if writable is None:
            try:
                async with asyncio.timeout(idle_timeout):
                    await waiter
            except TimeoutError:
                raise SpliceError("timeout", "upstream body stalled") from None
        else:
            await waiter
    finally:
        if readable is not None:
            loop.remove_reader(readable)
        if writable is not None:
            loop.remove_writer(writable)
