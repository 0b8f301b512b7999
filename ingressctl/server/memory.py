"""Give memory back to the operating system after bursts of allocation (startup, reloads).

CPython frees objects into glibc's heap, which keeps the pages; `malloc_trim(0)` returns unused
pages, so the resident size reflects what the proxy holds rather than what it once held.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time

log = logging.getLogger("ingressctl.server")

_libc: ctypes.CDLL | None = None
_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3


def _load() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        if name is None:
            return None
        try:
            _libc = ctypes.CDLL(name)
        except OSError:
            return None
    return _libc


def limit_arenas(count: int = 2) -> None:
    """Cap glibc's per-thread malloc arenas (each thread that allocates would otherwise get its own)."""
    libc = _load()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(_M_ARENA_MAX, count)
        # Blocks of 512 KiB and more get their own mapping and go back to the OS when freed; a fixed
        # threshold also stops glibc from raising it after the first free, which would move large
        # blocks into the heap, where they fragment and RSS only grows. Not lower: every TLS read
        # allocates 256 KiB (uvloop asks SSLObject.read() for up to 256 KiB, which allocates that
        # much and then shrinks it), and a mapping per read cost 20-35 % of TLS requests/s.
        libc.mallopt(_M_MMAP_THRESHOLD, 512 * 1024)


def trim(full: bool = True) -> None:
    """Collect garbage, then release free heap pages to the OS (no-op where glibc is absent).

    `full=False` collects the young generations only: after a reload, a full collection walks every
    object the process holds (the provider's cache, both tables: 25-40 ms at 1,000 Ingresses, 70 ms
    at 5,000), stalling the event loop and every request on it; the old table is freed by reference
    counting anyway, and the young generations hold what the swap left behind.
    """
    gc.collect(2 if full else 1)
    libc = _load()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def settle_after_startup() -> None:
    """Startup objects (modules, config) live forever: keep them out of later GC passes, then trim."""
    gc.collect()
    gc.freeze()
    trim()


class ReloadCollector:
    """Keeps each new routing table out of the cyclic collector's full passes.

    A reload allocates a whole table (~90,000 tracked objects at 1,000 Ingresses). Left to the
    collector, they push the oldest generation past its threshold every reload or two, and the full
    collection that follows walks everything the process holds: 15-120 ms measured at 1,000
    Ingresses, stalling the event loop (every request) at a random moment, usually the next reload.
    A table is acyclic (freed by reference counting when the next one replaces it), so after each swap
    every live object is frozen: `gc.freeze()` is O(1). Whatever cyclic garbage a frozen object
    takes along is reclaimed by a sweep (unfreeze, full collection, freeze) at most once per
    `sweep_every` seconds, run by `settle()` once reloads have paused for a second.
    """

    def __init__(self, sweep_every: float = 300.0) -> None:
        self.sweep_every = sweep_every
        self._last_sweep = time.monotonic()
        self.sweeps = 0

    def after_swap(self) -> None:
        gc.freeze()

    def settle(self) -> None:
        """Reloads paused: collect the young generations, sweep when due, give pages back."""
        if time.monotonic() - self._last_sweep >= self.sweep_every:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self._last_sweep = time.monotonic()
            self.sweeps += 1
        trim(full=False)
