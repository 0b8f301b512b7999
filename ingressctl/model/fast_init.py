"""A faster `__init__` for the frozen dataclasses that a large input makes by the hundred thousand.

The `__init__` that `dataclasses` writes for a frozen class sets each field with
`__dataclass_builtins_object__.__setattr__(self, name, value)`: a global lookup and an attribute
lookup per field before the call. Reading 30,000 objects builds about 300,000 of them (objects,
paths, backends, locations), and those lookups were about a twentieth of the reading time. This
writes the same `__init__` (same parameters, defaults, default factories and keyword-only fields)
with `object.__setattr__` bound once; the class stays frozen (`tests/manifests/test_fast_init.py`).
Classes using what it does not copy (`__post_init__`, InitVar, fields outside `__init__`) keep theirs.

The objects the readers make most (locations, metadata, Ingress paths...) skip even that:
`speed_up_model` also installs the fast builders of `ingressctl.model.builders`.

Writing them costs about 5 ms (29 classes compiled), more than a small input saves: the loader
asks for it (`speed_up_model`) only when it reads a large input.
"""

from __future__ import annotations

import dataclasses
from typing import Any


class _Factory:
    """The default of a field with a default factory: "call the factory" (shown as dataclasses do)."""

    def __repr__(self) -> str:
        return "<factory>"


_NO_VALUE = _Factory()


def faster_frozen_init(cls: type) -> bool:
    """Replace the `__init__` of a frozen dataclass with the faster equivalent; False when left as it was."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or not params.init or hasattr(cls, "__post_init__"):
        return False
    fields = dataclasses.fields(cls)
    if any(not f.init or f._field_type is not dataclasses._FIELD for f in fields):  # type: ignore[attr-defined]
        return False
    if "__init__" not in cls.__dict__:
        return False
    namespace: dict[str, Any] = {"_set": object.__setattr__, "_NO_VALUE": _NO_VALUE}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for index, f in enumerate(fields):
        name = f.name
        param = name
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{index}"] = f.default
            param = f"{name}=_default_{index}"
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{index}"] = f.default_factory
            param = f"{name}=_NO_VALUE"
            body.append(f"    if {name} is _NO_VALUE:\n        {name} = _factory_{index}()")
        body.append(f"    _set(self, {name!r}, {name})")
        (keyword if f.kw_only else positional).append(param)
    signature = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({signature}) -> None:\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, namespace)
    init = namespace["__init__"]
    original = cls.__dict__["__init__"]
    init.__qualname__ = original.__qualname__
    init.__module__ = original.__module__
    init.__doc__ = original.__doc__
    init.__annotations__ = dict(original.__annotations__)
    type.__setattr__(cls, "__init__", init)
    return True


_done = False


def speed_up_model() -> None:
    """Give every frozen dataclass `ingressctl.model` exports the faster `__init__` (once)."""
    global _done
    if _done:
        return
    _done = True
    from ingressctl import model
    from ingressctl.model import builders

    for value in list(vars(model).values()):
        if isinstance(value, type):
            faster_frozen_init(value)
    builders.speed_up()
