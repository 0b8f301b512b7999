"""CompactSettings behaves as hyper-h2's Settings (pending values apply on acknowledgement) while
holding its values in small lists instead of 64-slot deques."""

from __future__ import annotations

import sys

import h2.settings

from ingressctl.server.h2_settings import CompactSettings

CODES = h2.settings.SettingCodes


def test_pending_values_apply_when_acknowledged() -> None:
    for settings in (h2.settings.Settings(client=False), CompactSettings(client=False)):
        settings.max_concurrent_streams = 7
        settings.initial_window_size = 1 << 20
        assert settings.initial_window_size == 65535  # still pending
        changed = settings.acknowledge()
        assert settings.max_concurrent_streams == 7 and settings.initial_window_size == 1 << 20
        assert changed[CODES.INITIAL_WINDOW_SIZE].original_value == 65535
        assert changed[CODES.INITIAL_WINDOW_SIZE].new_value == 1 << 20
        settings.initial_window_size = 1000
        settings.initial_window_size = 2000
        settings.acknowledge()
        assert settings.initial_window_size == 1000  # one acknowledgement per SETTINGS frame
        settings.acknowledge()
        assert settings.initial_window_size == 2000


def test_values_are_small_once_acknowledged() -> None:
    compact = CompactSettings(client=False, initial_values={CODES.MAX_CONCURRENT_STREAMS: 250})
    compact.update({CODES.MAX_HEADER_LIST_SIZE: 65536})
    compact.acknowledge()
    plain = h2.settings.Settings(client=False, initial_values={CODES.MAX_CONCURRENT_STREAMS: 250})
    plain.update({CODES.MAX_HEADER_LIST_SIZE: 65536})
    plain.acknowledge()

    def size(settings: h2.settings.Settings) -> int:
        return sum(sys.getsizeof(v) for v in settings._settings.values())

    assert size(compact) * 5 < size(plain)
    assert dict(compact) == dict(plain)
