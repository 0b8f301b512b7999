"""An annotation family an Ingress does not use is skipped as a whole (FAMILY_KEYS), with the result
reading every key one by one would give. These tests fail when a parser starts reading a key its
family's key set does not list: the shortcut would then ignore that key."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from ingressctl.model import Ingress
from ingressctl.routing.annotations_rewrites import FAMILY_KEYS, parse_rewrites, read_rewrites
from tests.routing.builders import PREFIX, ingress, path, rule


class _Recorder(dict[str, str]):
    """An empty annotations mapping that remembers every key looked up, and whether it was listed."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()
        self.listed = False

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return default

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return False

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        self.listed = True
        return iter(())


def _with_annotations(subject: Ingress, annotations: dict[str, str]) -> Ingress:
    return dataclasses.replace(subject, meta=dataclasses.replace(subject.meta, annotations=annotations))


def _plain_ingress() -> Ingress:
    return ingress("app", rule("a.test", path("/", PREFIX)))


def test_every_key_the_rewrites_parser_reads_is_in_its_family() -> None:
    # With every key absent, the parser reads the same keys whatever else the Ingress holds: those
    # are the keys that decide whether the result can differ from the empty one.
    recorder = _Recorder()
    result = read_rewrites(_with_annotations(_plain_ingress(), recorder))
    assert recorder.asked, "the recorder saw no lookup: the test no longer observes the parser"
    assert not recorder.listed, "the parser lists the annotations: a key set cannot stand for it"
    assert recorder.asked <= FAMILY_KEYS, sorted(recorder.asked - FAMILY_KEYS)
    assert result == parse_rewrites(_plain_ingress())


@pytest.mark.parametrize(
    "annotations",
    [
        {},
        {"traefik.ingress.kubernetes.io/router.entrypoints": "web,websecure"},
        {"kubernetes.io/ingress.class": "ingressctl", "example.com/team": "shop"},
    ],
)
def test_an_ingress_without_the_family_gets_what_reading_every_key_gives(annotations: dict[str, str]) -> None:
    subject = _with_annotations(_plain_ingress(), annotations)
    assert parse_rewrites(subject) == read_rewrites(subject)


def test_an_ingress_with_one_key_of_the_family_is_read() -> None:
    subject = _with_annotations(
        _plain_ingress(), {"ingress.kubernetes.io/hsts-max-age": "soon", "example.com/team": "shop"}
    )
    result = parse_rewrites(subject)
    assert result == read_rewrites(subject)
    assert result.refusal and [d.code for d in result.diagnostics]
