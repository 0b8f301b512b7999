"""`ingressctl.routing` and `ingressctl.checks` import their public names when first used: each
name still resolves to the object of its module, and submodules are still imported by name."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import ingressctl.checks
import ingressctl.routing


@pytest.mark.parametrize("package", [ingressctl.routing, ingressctl.checks])
def test_every_public_name_resolves(package: object) -> None:
    for name in package.__all__:  # type: ignore[attr-defined]
        value = getattr(package, name)
        home = package._HOME[name]  # type: ignore[attr-defined]
        module = importlib.import_module(f"{package.__name__}.{home}")  # type: ignore[attr-defined]
        assert value is getattr(module, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = ingressctl.routing.nothing  # type: ignore[attr-defined]


def test_a_submodule_named_like_a_future_feature_is_the_submodule() -> None:
    """`annotations` is a submodule of routing: a fresh interpreter must get the module, not the
    `__future__` feature of that name."""
    code = (
        "from ingressctl.routing import annotations\n"
        "import types\n"
        "assert isinstance(annotations, types.ModuleType), annotations\n"
        "from ingressctl.routing import compile, CompileOptions\n"
        "from ingressctl.checks import check\n"
        "print(compile.__module__, CompileOptions.__module__, check.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    modules = ["ingressctl.routing.compiler", "ingressctl.routing.options", "ingressctl.checks.runner"]
    assert out.stdout.split() == modules
