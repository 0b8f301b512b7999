"""Plain values that remember where they stood in a file.

The YAML reader builds `PosDict`/`PosList` (a dict and a list with positions on the side), so the
normaliser and `validate` can point at any key or value. Objects from the Kubernetes API are plain
dicts: every lookup then answers with the object's own location.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ingressctl.model import Location

# (line, column), both 1-based
Pos = tuple[int, int]


def unpack(packed: int) -> Pos:
    """A stored position → (line, column).

    Positions are stored as one int, `line << 32 | column`: a tuple per key would be two million
    more objects for the garbage collector to walk on a large manifests directory; ints are not
    tracked at all.
    """
    return packed >> 32, packed & 0xFFFFFFFF


class PosDict(dict[str, Any]):
    """A mapping read from YAML: key positions and value positions (packed, see `unpack`), by key.

    A reader may leave the positions to be found when first asked for (`positions_from`): most
    mappings of a clean file are never asked where their keys stand, and storing two packed ints
    per key was about a tenth of reading a large input.
    """

    __slots__ = ("_keys_at", "_values_at", "positions_from")

    def __init__(self) -> None:
        # dict.__init__ with no arguments does nothing: skipped, this runs for every mapping read.
        self._keys_at: dict[str, int] = {}
        self._values_at: dict[str, int] = {}
        # (find, ...): find(positions_from) gives (keys_at, values_at); None once they are known.
        self.positions_from: tuple[Any, ...] | None = None

    @property
    def keys_at(self) -> dict[str, int]:
        if self.positions_from is not None:
            self._find_positions()
        return self._keys_at

    @property
    def values_at(self) -> dict[str, int]:
        if self.positions_from is not None:
            self._find_positions()
        return self._values_at

    def _find_positions(self) -> None:
        found: tuple[Any, ...] = self.positions_from  # type: ignore[assignment]
        self._keys_at, self._values_at = found[0](found)
        self.positions_from = None


class PosList(list[Any]):
    """A sequence read from YAML: the position of each item (packed, see `unpack`)."""

    __slots__ = ("items_at",)

    def __init__(self) -> None:
        self.items_at: list[int] = []


def value_pos(container: object, key: str | int) -> Pos | None:
    """Where `container[key]` starts, when the container was read from a file."""
    if isinstance(container, PosDict) and isinstance(key, str):
        packed = container.values_at.get(key)
        return None if packed is None else (packed >> 32, packed & 0xFFFFFFFF)
    if isinstance(container, PosList) and isinstance(key, int) and 0 <= key < len(container.items_at):
        packed = container.items_at[key]
        return packed >> 32, packed & 0xFFFFFFFF
    return None


def key_pos(container: object, key: str) -> Pos | None:
    """Where the key `key` of a mapping read from a file stands."""
    if isinstance(container, PosDict):
        packed = container.keys_at.get(key)
        return None if packed is None else (packed >> 32, packed & 0xFFFFFFFF)
    return None


class FieldIndex:
    """Locations of any field path of one object, e.g. `("spec", "rules", 0, "host")`.

    Lookups fall back to the nearest enclosing field that has a position (and finally to the
    object's own location), so a caller always gets the most precise place known.
    """

    __slots__ = ("file", "origin", "raw")

    def __init__(self, raw: Mapping[str, Any], file: str, origin: Location | None) -> None:
        self.raw = raw
        self.file = file
        self.origin = origin

    def _loc(self, pos: Pos | None) -> Location | None:
        if pos is None:
            return None
        return Location(self.file, pos[0], pos[1])

    def value(self, *path: str | int) -> Location | None:
        """The location of the value at `path`, or of its nearest ancestor with a position."""
        best = self.origin
        node: object = self.raw
        for part in path:
            pos = value_pos(node, part)
            if pos is None:
                break
            best = self._loc(pos)
            node = _child(node, part)
            if node is None:
                break
        return best

    def key(self, *path: str | int) -> Location | None:
        """The location of the last key of `path` (the value's location for a list index)."""
        if not path:
            return self.origin
        parent = self._walk(path[:-1])
        last = path[-1]
        if parent is not None and isinstance(last, str):
            pos = key_pos(parent, last)
            if pos is not None:
                return self._loc(pos)
        return self.value(*path)

    def _walk(self, path: Sequence[str | int]) -> object | None:
        node: object = self.raw
        for part in path:
            node = _child(node, part)
            if node is None:
                return None
        return node


def _child(node: object, part: str | int) -> object | None:
    child: object | None = None
    if isinstance(node, Mapping) and isinstance(part, str):
        child = node.get(part)
    elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        child = node[part]
    return child
