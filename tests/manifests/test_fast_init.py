"""model/fast_init.py: the faster `__init__` of frozen dataclasses behaves as the one dataclasses writes."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from typing import Any

import pytest

from ingressctl import model
from ingressctl.model.fast_init import faster_frozen_init, speed_up_model


def _twins() -> tuple[type, type]:
    def make() -> type:
        @dataclasses.dataclass(frozen=True, slots=True)
        class Sample:
            name: str
            port: int = 80
            tags: tuple[str, ...] = ()
            extra: dict[str, str] = dataclasses.field(default_factory=dict)
            flag: bool = dataclasses.field(default=False, kw_only=True)
            labels: list[str] = dataclasses.field(default_factory=list, kw_only=True)

        return Sample

    return make(), make()


def test_same_signature_values_defaults_and_errors() -> None:
    original, faster = _twins()
    assert faster_frozen_init(faster)
    assert str(inspect.signature(faster)) == str(inspect.signature(original))
    calls: list[tuple[tuple[object, ...], dict[str, Any]]] = [
        (("a",), {}),
        (("a", 8080, ("x",)), {"flag": True}),
        ((), {"name": "b", "extra": {"k": "v"}, "labels": ["l"]}),
    ]
    for args, kwargs in calls:
        ours, theirs = faster(*args, **kwargs), original(*args, **kwargs)
        assert [getattr(ours, f.name) for f in dataclasses.fields(faster)] == [
            getattr(theirs, f.name) for f in dataclasses.fields(original)
        ]
    one, two = faster("a"), faster("a")
    assert one.extra is not two.extra and one.labels is not two.labels  # a new one each time
    assert one == two
    bad: list[tuple[tuple[object, ...], dict[str, Any]]] = [
        ((), {}),
        (("a", 1, (), {}, True), {}),
        (("a",), {"nope": 1}),
    ]
    for bad_args, bad_kwargs in bad:
        with pytest.raises(TypeError):
            faster(*bad_args, **bad_kwargs)
        with pytest.raises(TypeError):
            original(*bad_args, **bad_kwargs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.name = "changed"


def test_classes_it_cannot_copy_keep_their_init() -> None:
    @dataclasses.dataclass(frozen=True)
    class WithPostInit:
        value: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass
    class NotFrozen:
        value: int

    @dataclasses.dataclass(frozen=True)
    class NotInInit:
        value: int
        derived: int = dataclasses.field(default=0, init=False)

    for cls in (WithPostInit, NotFrozen, NotInInit, int):
        init = cls.__init__
        assert not faster_frozen_init(cls)
        assert cls.__init__ is init


def test_model_objects_are_built_read_and_pickled_the_same() -> None:
    before = model.Ingress(
        meta=model.ObjectMeta("web", "shop", labels={"app": "web"}, location=model.Location("a.yaml", 3, 1)),
        rules=(
            model.IngressRule(
                "a.test", (model.IngressPath("/", model.PathType.PREFIX, model.IngressBackend("web", 80)),)
            ),
        ),
    )
    signatures = {
        name: str(inspect.signature(value))
        for name, value in vars(model).items()
        if isinstance(value, type) and dataclasses.is_dataclass(value)
    }
    speed_up_model()
    after = model.Ingress(
        meta=model.ObjectMeta("web", "shop", labels={"app": "web"}, location=model.Location("a.yaml", 3, 1)),
        rules=(
            model.IngressRule(
                "a.test", (model.IngressPath("/", model.PathType.PREFIX, model.IngressBackend("web", 80)),)
            ),
        ),
    )
    assert model.Location.__init__.__globals__.get("_set") is object.__setattr__  # replaced
    assert after == before and repr(after) == repr(before)
    assert pickle.loads(pickle.dumps(after)) == before
    assert dataclasses.replace(after, api_version="networking.k8s.io/v1beta1").meta is after.meta
    for name, value in vars(model).items():
        if name in signatures:
            assert str(inspect.signature(value)) == signatures[name], name
