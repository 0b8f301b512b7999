"""hyper-h2's SETTINGS bookkeeping at a fraction of its memory, for connections that sit idle.

h2 keeps every setting of both peers in its own `collections.deque` (the acknowledged value first,
pending ones after it). A deque allocates a block of 64 slots however few it holds: about 760 bytes
for the single value a setting has once acknowledged, some 12 KiB per connection in all, two thirds
of the Python memory an idle HTTP/2 connection costs (measured with tracemalloc over 500 idle h2c
connections). `CompactSettings` is h2's `Settings` whose values are moved into small lists after each
acknowledgement; h2 only appends, pops the first and reads the first of them, which lists do too.
Should a later h2 keep its values differently, nothing is moved and only the saving is lost (the
memory test in tests/http2/test_serve_http2.py would show it).
"""

from __future__ import annotations

import collections

import h2.settings


class _Values(list[int]):
    """A setting's values (current first, then pending) in a plain list: a deque's interface as h2
    uses it."""

    __slots__ = ()

    def popleft(self) -> int:
        return self.pop(0)


class CompactSettings(h2.settings.Settings):
    """h2.settings.Settings, its values kept in small lists once acknowledged."""

    def __init__(
        self, client: bool = True, initial_values: dict[h2.settings.SettingCodes, int] | None = None
    ) -> None:
        super().__init__(client=client, initial_values=initial_values)
        self._compact()

    def acknowledge(self) -> dict[h2.settings.SettingCodes | int, h2.settings.ChangedSetting]:
        changed = super().acknowledge()
        self._compact()
        return changed

    def _compact(self) -> None:
        values = getattr(self, "_settings", None)
        if not isinstance(values, dict):
            return
        for key, held in values.items():
            if isinstance(held, collections.deque):
                values[key] = _Values(held)
