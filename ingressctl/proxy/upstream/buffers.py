"""The read buffer that the upstream connections of one event loop share, and why it is shared."""

from __future__ import annotations

import sys
from typing import Final

# Socket reads go into one buffer shared by every upstream connection of an event loop
# (asyncio.BufferedProtocol: `get_buffer` and `buffer_updated` run back to back, with no other
# callback in between). Heads and small reads are copied out, so an idle keep-alive connection
# holds no buffer: a private 128 KiB buffer per connection cost 8 MB of RSS at 64 connections.
# A large body read hands the buffer itself to the client side as a memoryview (no copy between
# the two sockets) and the next read takes another one. 256 KiB reads (with the newest free
# buffer reused first) cost ~10 % less CPU per MiB than 128 KiB, 64 KiB ~40 % more.
# A handed-out buffer is reused once nothing refers to it any more: every memoryview of it
# (ours, or one a transport still holds to send later) keeps a reference, so its reference
# count says when it is free. Allocating a
# fresh 128 KiB buffer per read instead (zeroed, often a new mmap) cost about 10 % of the CPU
# of a 1 MiB response.
_READ_SIZE: Final = 256 * 1024
# Body reads smaller than this are copied (cheap) instead of giving away a whole buffer.
DETACH_MIN: Final = 16 * 1024
# Buffers handed out and watched for reuse; beyond this many the oldest are left to the GC.
_TRACKED_MAX: Final = 32
# sys.getrefcount of a tracked buffer nothing else refers to: the list, the local, the argument.
_UNREFERENCED: Final = 3


class ReadBuffer:
    """The read buffer shared by the upstream connections of one event loop (one per pool)."""

    __slots__ = ("_given", "_view")

    def __init__(self) -> None:
        self._view: memoryview | None = None
        self._given: list[bytearray] = []

    def view(self) -> memoryview:
        view = self._view
        if view is None:
            view = self._view = memoryview(self._reusable() or bytearray(_READ_SIZE))
        return view

    def detach(self) -> memoryview:
        """The current buffer, now owned by the caller; the next read gets another one."""
        view = self.view()
        self._view = None
        given = self._given
        owner = view.obj
        assert isinstance(owner, bytearray)
        if len(given) >= _TRACKED_MAX:
            del given[0]
        given.append(owner)
        return view

    def _reusable(self) -> bytearray | None:
        given = self._given
        # Newest first: the buffer just sent is usually free again and still in the CPU cache;
        # cycling through all of them (oldest first) made the kernel's copies miss it.
        for i in range(len(given) - 1, -1, -1):
            buf = given[i]
            if sys.getrefcount(buf) <= _UNREFERENCED:
                del given[i]
                return buf
        return None
