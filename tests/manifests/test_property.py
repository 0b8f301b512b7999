"""Whatever text arrives, `load_paths` answers with Diagnostics; only unreadable input raises InputError."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingressctl.manifests import load_paths
from ingressctl.model import Diagnostic, InputError, Snapshot

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_TEXTS = [
    path.read_text()
    for directory in ("v1", "v1beta1")
    for path in sorted((REPO / "examples" / directory).glob("*.yaml"))
]

# Pieces that make YAML-like text: structure, Kubernetes words, and the characters that break parsers.
TOKENS = st.sampled_from(
    [
        "\n",
        "  ",
        "- ",
        ": ",
        "---\n",
        "...\n",
        "{",
        "}",
        "[",
        "]",
        ",",
        "&a ",
        "*a",
        "<<: ",
        "? ",
        "!!str ",
        "!!int ",
        "!foo ",
        "|\n",
        ">-\n",
        "#",
        '"',
        "'",
        "\\",
        "\t",
        "%YAML 1.1\n",
        "\x00",
        "\x07",
        "\ufeff",
        "apiVersion",
        "kind",
        "Ingress",
        "Service",
        "EndpointSlice",
        "Secret",
        "List",
        "items",
        "metadata",
        "name",
        "spec",
        "rules",
        "http",
        "paths",
        "path",
        "pathType",
        "backend",
        "service",
        "port",
        "number",
        "serviceName",
        "servicePort",
        "networking.k8s.io/v1",
        "extensions/v1beta1",
        "v1",
        "80",
        "-1",
        "1e9",
        "true",
        "null",
        "~",
        "data",
        "tls.crt",
        "=",
        "/",
        "*.example.test",
    ]
)
YAML_LIKE = st.lists(st.one_of(TOKENS, st.text(max_size=8)), max_size=60).map("".join)


def _check(result_snapshot: Snapshot, diagnostics: list[Diagnostic]) -> None:
    assert isinstance(result_snapshot, Snapshot)
    for diagnostic in diagnostics:
        assert diagnostic.code.startswith("IC")
        assert diagnostic.message and diagnostic.hint


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAML_LIKE)
def test_random_yaml_like_text_never_raises(text: str) -> None:
    result = load_paths(["-"], stdin=io.StringIO(text))
    _check(result.snapshot, result.diagnostics)


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(EXAMPLE_TEXTS))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(TOKENS, st.text(max_size=4)))
        end = min(len(text), position + draw(st.integers(1, 12)))
        if action == "insert":
            text = text[:position] + piece + text[position:]
        elif action == "delete":
            text = text[:position] + text[end:]
        else:
            text = text[:position] + piece + text[end:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_example())
def test_mutated_examples_never_raise(text: str) -> None:
    result = load_paths(["-"], stdin=io.StringIO(text))
    _check(result.snapshot, result.diagnostics)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_random_bytes_either_load_or_raise_input_error(data: bytes) -> None:
    try:
        result = load_paths(["-"], stdin=io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    except InputError as exc:
        assert "not UTF-8" in str(exc)
    else:
        _check(result.snapshot, result.diagnostics)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
FIELD_NAMES = st.sampled_from(
    [
        "metadata",
        "spec",
        "rules",
        "http",
        "paths",
        "backend",
        "service",
        "port",
        "number",
        "name",
        "data",
        "endpoints",
        "conditions",
        "ready",
        "ports",
        "subsets",
        "addresses",
        "annotations",
        "tls",
        "hosts",
    ]
)


@st.composite
def api_objects(draw: st.DrawFn) -> dict[str, object]:
    kind, api_version = draw(
        st.sampled_from(
            [
                ("Ingress", "networking.k8s.io/v1"),
                ("Ingress", "extensions/v1beta1"),
                ("Service", "v1"),
                ("EndpointSlice", "discovery.k8s.io/v1"),
                ("Endpoints", "v1"),
                ("Secret", "v1"),
                ("IngressClass", "networking.k8s.io/v1"),
            ]
        )
    )
    body = draw(st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=6))
    return {"apiVersion": api_version, "kind": kind, **body}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(api_objects())
def test_object_from_dict_never_raises(raw: dict[str, object]) -> None:
    from ingressctl.manifests import object_from_dict

    obj, diagnostics = object_from_dict(raw)
    strict_obj, strict_diagnostics = object_from_dict(raw, strict=True)
    assert (obj is None) == (strict_obj is None)
    assert len(strict_diagnostics) >= len(diagnostics)
    for diagnostic in strict_diagnostics:
        assert diagnostic.code.startswith("IC1") and diagnostic.hint
