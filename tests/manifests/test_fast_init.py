"""model/fast_init.py: the faster `__init__` of frozen dataclasses behaves as the one dataclasses writes."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchmarks.generate import write_manifests
from ingressctl import model
from ingressctl.manifests.loader import load_text
from ingressctl.model import builders
from ingressctl.model.fast_init import faster_frozen_init, speed_up_model
from tests.manifests.test_plain_shapes import BASE as TYPICAL


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


_LOC = model.Location("a.yaml", 3, 1)
_META = model.ObjectMeta("web", "shop", labels={"app": "web"}, location=_LOC)
_BACKEND = model.IngressBackend("web", 80, None, None, None, _LOC, _LOC)
# A value for every field of each builder's class, none of them the default.
_SAMPLES: dict[str, tuple[object, ...]] = {
    "location": ("b.yaml", 7, 9),
    "object_meta": (
        "web",
        "shop",
        "u-1",
        "7",
        "2024-01-01T00:00:00Z",
        {"a": "b"},
        {"c": "d"},
        _LOC,
        {"c": _LOC},
        3,
    ),
    "ingress_backend": ("web", None, "http", "Bucket", "b", _LOC, None),
    "ingress_path": ("/api", model.PathType.EXACT, _BACKEND, _LOC),
    "ingress_rule": ("a.test", (model.IngressPath("/", model.PathType.PREFIX, _BACKEND),), _LOC, _LOC),
    "ingress_tls": (("a.test",), "a-tls", _LOC),
    "ingress": (_META, "networking.k8s.io/v1beta1", "traefik", _BACKEND, (), ()),
    "service_port": (80, "http", "web", "UDP", "h2c"),
    "service": (_META, "NodePort", (model.ServicePort(80),), "10.0.0.1", "x.test"),
    "endpoint_port": (8080, "http", "SCTP"),
    "endpoint": (("10.0.0.2",), True, False, None, "node-1", "Pod shop/web-1"),
    "endpoint_slice": (_META, "web", "IPv6", (model.EndpointPort(1),), (), "discovery.k8s.io/v1beta1"),
}


def test_every_builder_takes_its_class_fields_in_order() -> None:
    assert set(_SAMPLES) == set(builders.BUILT)
    for name, cls in builders.BUILT.items():
        fields = [f.name for f in dataclasses.fields(cls)]
        stub = getattr(builders, name)
        assert list(inspect.signature(stub).parameters) == fields, name
        fast = builders.fast_builder(cls, name)
        assert fast is not None, name
        assert list(inspect.signature(fast).parameters) == fields, name


def test_fast_builders_make_what_the_classes_make() -> None:
    for name, cls in builders.BUILT.items():
        fast = builders.fast_builder(cls, name)
        assert fast is not None
        values = _SAMPLES[name]
        made, expected = fast(*values), cls(*values)
        assert type(made) is cls
        assert made == expected and repr(made) == repr(expected), name
        if name in ("location", "ingress_tls", "service_port", "endpoint_port", "endpoint"):
            assert hash(made) == hash(expected)  # the others hold a dict
        assert [getattr(made, f.name) for f in dataclasses.fields(cls)] == list(values)
        assert pickle.loads(pickle.dumps(made)) == expected
        assert dataclasses.replace(made) == expected
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(made, dataclasses.fields(cls)[0].name, None)
        with pytest.raises(TypeError):
            fast(*values[:-1])


def test_readers_build_through_the_builders_the_same_objects(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The readers (compiled too) look each builder up in its module when they call it: what
    `speed_up_model` installs is what they use, and they read the same objects and findings."""
    write_manifests(tmp_path, 20, per_file=20)
    text = next(tmp_path.iterdir()).read_text() + "---\n" + TYPICAL
    calls: dict[str, int] = {}

    def counted(name: str, cls: type) -> Callable[..., object]:
        def build(*args: object, **kwargs: object) -> object:
            calls[name] = calls.get(name, 0) + 1
            return cls(*args, **kwargs)

        return build

    with monkeypatch.context() as patch:
        for name, cls in builders.BUILT.items():
            patch.setattr(builders, name, counted(name, cls))
        by_classes = load_text(text, "m.yaml")
    snapshot = by_classes.snapshot
    assert calls["ingress"] == len(snapshot.ingresses) == 21 and not by_classes.diagnostics
    assert calls["service"] == len(snapshot.services) == 21
    assert set(calls) == set(builders.BUILT)
    speed_up_model()
    for name in builders.BUILT:
        assert getattr(builders, name).__code__.co_filename == "<string>", name  # generated
    fast = load_text(text, "m.yaml")
    assert fast.snapshot == by_classes.snapshot and fast.diagnostics == by_classes.diagnostics
    assert repr(fast.snapshot) == repr(by_classes.snapshot)


def test_classes_a_plain_class_cannot_stand_for_get_no_fast_builder() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        value: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        value: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Base:
        value: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived(Base):
        other: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithPostInit:
        value: int

        def __post_init__(self) -> None:
            pass

    for cls in (NoSlots, NotFrozen, Derived, WithPostInit, int):
        assert builders.fast_builder(cls, "make") is None, cls
    assert builders.fast_builder(Base, "make") is not None
