"""Typed reads from one raw object, every problem becoming a Diagnostic at the right place.

`Fields` is a view on one mapping of a raw object (a `PosDict` from a file or a plain dict from
the API) together with its dotted path, so a message reads
`Ingress default/web: spec.rules[0].http.paths[0].backend.service.port.number: ...`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any

from ingressctl.manifests.codes import SEVERITIES
from ingressctl.manifests.positioned import PosDict, PosList, value_pos
from ingressctl.model import Diagnostic, Location, ObjectRef, builders


def values_at(raw: PosDict) -> dict[str, int]:
    """`raw.values_at`, for the compiled readers: the property without its two Python frames
    (PosDict is not compiled), a tenth of the shortcut readers' time."""
    found = raw.positions_from
    if found is not None:
        _find_positions(raw, found)
    return raw._values_at


def keys_at(raw: PosDict) -> dict[str, int]:
    """`raw.keys_at`, as `values_at`."""
    found = raw.positions_from
    if found is not None:
        _find_positions(raw, found)
    return raw._keys_at


def _find_positions(raw: PosDict, found: tuple[Any, ...]) -> None:
    """Where the keys and values of `raw` stand, worked out on first use (PosDict.positions_from)."""
    raw._keys_at, raw._values_at = found[0](found)
    raw.positions_from = None


def only_known(known: frozenset[str], raw: Mapping[str, Any]) -> bool:
    """`known.issuperset(raw)` without the set that issuperset first makes of a mapping's keys."""
    return all(key in known for key in raw)  # a loop in C (mypyc), no generator


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


class Context:
    """What every read of one object shares: the file, the object's name, the findings so far."""

    __slots__ = ("_name", "_namespace", "_ref", "api_version", "diags", "file", "kind", "origin", "strict")

    def __init__(self, kind: str, api_version: str, origin: Location | None, *, strict: bool) -> None:
        self.kind = kind
        self.api_version = api_version
        self.origin = origin
        self.file = origin.file if origin is not None else ""
        self.strict = strict
        self._namespace = ""
        self._name: str | None = None
        self._ref: ObjectRef | None = None
        self.diags: list[Diagnostic] = []

    def name_object(self, namespace: str, name: str) -> None:
        self._namespace = namespace
        self._name = name
        self._ref = None

    @property
    def ref(self) -> ObjectRef | None:
        """The object's ObjectRef once named: made for the first finding (most objects have none)."""
        if self._ref is None and self._name is not None:
            self._ref = ObjectRef(self.kind, self._namespace, self._name)
        return self._ref

    @property
    def label(self) -> str:
        """How messages name the object: formatted only when there is a message (most objects have none)."""
        return self.kind if self.ref is None else str(self.ref)

    def loc(self, pos: tuple[int, int] | None) -> Location | None:
        if pos is None or not self.file:
            return self.origin
        return builders.location(self.file, pos[0], pos[1])

    def report(
        self,
        code: str,
        location: Location | None,
        message: str,
        hint: str,
        related: tuple[Location, ...] = (),
    ) -> None:
        self.diags.append(
            Diagnostic(
                code,
                SEVERITIES[code],
                f"{self.label}: {message}",
                location=location,
                hint=hint,
                object=self.ref,
                related=related,
            )
        )


class Fields:
    """One mapping of the raw object.

    The dotted path is built only when a message needs it: reading thousands of API objects
    without findings should cost no string formatting at all.
    """

    __slots__ = ("_located", "_location", "_name", "_parent", "ctx", "positioned", "raw")

    def __init__(
        self,
        ctx: Context,
        raw: Mapping[str, Any],
        location: Location | None,
        parent: Fields | None = None,
        name: str | tuple[str, int] = "",
    ) -> None:
        """`name`: the key of this mapping in `parent`, or (key, index) for an item of a list there.

        Without a `location`, a mapping with a parent is located there when first asked for: most
        mappings of a clean file are read without their location (nor their path) ever being needed.
        """
        self.ctx = ctx
        self.raw = raw
        self._location = location
        self._located = location is not None or parent is None
        self.positioned = isinstance(raw, PosDict)
        self._parent = parent
        self._name = name

    @property
    def location(self) -> Location | None:
        """Where this mapping starts (the object's location for objects from the API)."""
        if not self._located:
            self._located = True
            name = self._name
            parent: Fields = self._parent  # type: ignore[assignment]
            if isinstance(name, str):
                self._location = parent.value_loc(name)
            else:
                self._location = parent.item_loc(name[0], name[1])  # not *name: a generic call
        return self._location

    def item_loc(self, key: str, index: int) -> Location | None:
        """Where item `index` of the list at `key` starts."""
        items = self.raw.get(key)
        if isinstance(items, PosList) and self.ctx.file and index < len(items.items_at):
            packed = items.items_at[index]
            return builders.location(self.ctx.file, packed >> 32, packed & 0xFFFFFFFF)
        return self.value_loc(key)

    @property
    def path(self) -> str:
        if self._parent is None:
            return self._name  # type: ignore[return-value]
        name = self._name
        return self._parent.sub(name if isinstance(name, str) else f"{name[0]}[{name[1]}]")

    def sub(self, key: str) -> str:
        path = self.path
        return f"{path}.{key}" if path else key

    def value_loc(self, key: str) -> Location | None:
        # positioned.value_pos and Context.loc, inlined: a model object keeps several of these.
        if not self.positioned:
            return self.location
        packed = values_at(self.raw).get(key)  # type: ignore[arg-type]
        if packed is None:
            return self.location
        ctx = self.ctx
        return builders.location(ctx.file, packed >> 32, packed & 0xFFFFFFFF) if ctx.file else ctx.origin

    def key_loc(self, key: str) -> Location | None:
        if not self.positioned:
            return self.location
        packed = keys_at(self.raw).get(key)  # type: ignore[arg-type]
        if packed is None:
            return self.location
        ctx = self.ctx
        return builders.location(ctx.file, packed >> 32, packed & 0xFFFFFFFF) if ctx.file else ctx.origin

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    # ------------------------------------------------------------ presence and shape

    def check_known(
        self, known: frozenset[str], hints: Mapping[str, str] | None = None, *, grows: bool = False
    ) -> list[str]:
        """Report keys this mapping may not have (only when reading files strictly); return them.

        `grows`: the schema gains fields with new Kubernetes versions (Service, EndpointSlice...),
        so an unknown key is a warning (IC113): it may be newer than ingressctl. Ingress is frozen
        and metadata decides routing (annotations), so there an unknown key is an error (IC103).
        """
        # Most mappings of most files have only known keys.
        if not self.ctx.strict or only_known(known, self.raw):
            return []
        unknown = [key for key in self.raw if key not in known]
        for key in unknown:
            hint = (hints or {}).get(key)
            if hint is None:
                close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
                if close:
                    hint = f"Did you mean {close[0]!r}?"
                else:
                    hint = f"Known fields here: {', '.join(sorted(known))}."
            if grows:
                hint += " A field added by a Kubernetes version newer than ingressctl can stay."
            message = f"{self.sub(key)}: unknown field {key!r}"
            self.ctx.report("IC113" if grows else "IC103", self.key_loc(key), message, hint)
        return unknown

    def missing(self, key: str, hint: str) -> None:
        self.ctx.report("IC101", self.location, f"{self.sub(key)}: required field is missing", hint)

    def wrong_type(self, key: str, value: object, expected: str, hint: str, *, secret: bool = False) -> None:
        """`secret`: the value is confidential (Secret data) and is never shown."""
        shown = isinstance(value, str | int | float) and not secret
        self.ctx.report(
            "IC102",
            self.value_loc(key),
            f"{self.sub(key)}: expected {expected}, found {type_name(value)}"
            + (f" ({value!r})" if shown else ""),
            hint,
        )

    def invalid(self, key: str, message: str, hint: str) -> None:
        self.ctx.report("IC109", self.value_loc(key), f"{self.sub(key)}: {message}", hint)

    # ------------------------------------------------------------ typed reads

    def string(self, key: str, *, required: str | None = None, allow_empty: bool = True) -> str | None:
        """The string at `key`; `required` is the hint given when it is missing."""
        value = self.raw.get(key)
        if value is None:
            if required is not None:
                self.missing(key, required)
            return None
        if not isinstance(value, str):
            self.wrong_type(key, value, "a string", _string_hint(key, value))
            return None
        if not allow_empty and value == "":
            self.invalid(key, "must not be empty", required or "Give it a value.")
            return None
        return value

    def integer(self, key: str, *, required: str | None = None, port: bool = False) -> int | None:
        value = self.raw.get(key)
        if value is None:
            if required is not None:
                self.missing(key, required)
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                hint = f"Write {value.strip()} without quotes: a quoted number is a string."
            else:
                hint = "Write a whole number."
            self.wrong_type(key, value, "a number", hint)
            return None
        if port and not 1 <= value <= 65535:
            self.invalid(key, f"port {value} is outside 1-65535", "Use a port between 1 and 65535.")
            return None
        return value

    def int_or_string(self, key: str, *, required: bool) -> tuple[int | None, str | None]:
        """An IntOrString port: a number, or the name of a port; a quoted number is a mistake."""
        value = self.raw.get(key)
        if value is None:
            if required:
                self.missing(key, f"Give the port: {key}: 80 or {key}: http.")
            return None, None
        if isinstance(value, str):
            if value.isdigit():
                self.wrong_type(
                    key,
                    value,
                    "a number or a port name",
                    f"Write {value} without quotes: a quoted number is read as a port name.",
                )
                return None, None
            if not value:
                self.invalid(key, "must not be empty", "Write the port number or the port's name.")
                return None, None
            return None, value
        return self.integer(key, port=True), None

    def boolean(self, key: str) -> bool | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.wrong_type(key, value, "true or false", "Write true or false without quotes.")
            return None
        return value

    def mapping(self, key: str, *, required: str | None = None) -> Fields | None:
        value = self.raw.get(key)
        if value is None:
            if required is not None:
                self.missing(key, required)
            return None
        if not isinstance(value, dict):
            self.wrong_type(key, value, "a mapping", f"Write {key} as a mapping of fields (key: value).")
            return None
        return Fields(self.ctx, value, None, self, key)

    def items(self, key: str, *, required: str | None = None) -> list[Any] | None:
        value = self.raw.get(key)
        if value is None:
            if required is not None:
                self.missing(key, required)
            return None
        if not isinstance(value, list):
            self.wrong_type(
                key, value, "a list", f"Write {key} as a list (each item on a line starting with '- ')."
            )
            return None
        return value

    def mappings(self, key: str, *, required: str | None = None) -> Iterator[Fields]:
        """Each item of the list at `key` that is a mapping (others are reported)."""
        items = self.items(key, required=required)
        if items is None:
            return
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                self.ctx.report(
                    "IC102",
                    self.item_loc(key, index),
                    f"{self.sub(key)}[{index}]: expected a mapping, found {type_name(item)}",
                    "Each item of this list is a mapping of fields.",
                )
                continue
            yield Fields(self.ctx, item, None, self, (key, index))

    def strings(self, key: str) -> tuple[str, ...]:
        """A list of strings (items of another type are reported and left out)."""
        items = self.items(key)
        if items is None:
            return ()
        out: list[str] = []
        for index, item in enumerate(items):
            if isinstance(item, str):
                out.append(item)
                continue
            pos = value_pos(items, index)
            self.ctx.report(
                "IC102",
                self.ctx.loc(pos) if pos else self.value_loc(key),
                f"{self.sub(key)}[{index}]: expected a string, found {type_name(item)}",
                _string_hint(None, item),
            )
        return tuple(out)

    def string_map(self, key: str, *, locations: bool = True) -> tuple[dict[str, str], dict[str, Location]]:
        """A map of strings (labels, annotations) and where each key stands (unless not `locations`:
        the caller has no use for them, and a Location per key costs most of the reading)."""
        sub = self.mapping(key)
        if sub is None:
            return {}, {}
        values: dict[str, str] = {}
        where: dict[str, Location] = {}
        for name, value in sub.raw.items():
            if value is None:
                value = ""  # `key:` with nothing after it: the API reads an empty string
            elif not isinstance(value, str):
                sub.wrong_type(name, value, "a string", _string_hint(name, value))
                continue
            values[name] = value
            if locations:
                location = sub.key_loc(name)
                if location is not None:
                    where[name] = location
        return values, where


def _string_hint(key: str | None, value: object) -> str:
    """Quoting fixes a number or a boolean; a list or a mapping where text belongs is a structure mistake."""
    if isinstance(value, Mapping | list):
        what = key or "this item"
        return f"Write {what} as one piece of text, not as {type_name(value)} (check the indentation)."
    return (
        f'Quote the value: {key}: "{_yaml_text(value)}".'
        if key
        else f'Quote the value: "{_yaml_text(value)}".'
    )


def _yaml_text(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)
