"""Collection after reloads: new tables frozen out of full passes, cyclic garbage still reclaimed."""

from __future__ import annotations

import gc
import weakref

from ingressctl.server.memory import ReloadCollector


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_frozen_cycles_are_reclaimed_by_the_next_due_sweep() -> None:
    collector = ReloadCollector(sweep_every=3600)
    node = _Node()
    ref = weakref.ref(node)
    try:
        collector.after_swap()
        assert gc.get_freeze_count() > 0
        del node
        gc.collect()
        assert ref() is not None  # frozen: full collections no longer walk it
        collector.settle()  # not due yet: no sweep
        assert collector.sweeps == 0 and ref() is not None
        collector.sweep_every = 0
        collector.settle()
        assert collector.sweeps == 1
        assert ref() is None
    finally:
        gc.unfreeze()
