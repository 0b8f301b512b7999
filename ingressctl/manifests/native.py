"""The reading modules compiled with mypyc, used only while they match their Python source.

`make install` (packaging/mypyc_build.py) compiles the modules of COMPILED into extension modules
next to their sources and writes BUILD_RECORD, the SHA-256 of each source it compiled. Python
imports an extension module before a `.py` of the same name, so a source edited after the build
would silently run as the old code. `choose_code()` runs when `ingressctl.manifests` is imported,
before any of them: when the record is missing or a source no longer matches it (or
INGRESSCTL_PURE_PYTHON=1 asks for it), their imports go to the Python source instead, with one
line on stderr when an outdated extension module would otherwise have run.

Kept small and free of imports beyond the standard library's already loaded ones: it runs at
every start-up of the CLI.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from types import ModuleType

PACKAGE = "ingressctl.manifests"
# What is compiled, in one group (calls between them are direct C calls): the YAML reader and the
# normaliser, about 60 % of `validate`'s CPU. positioned.py stays Python: PosDict subclasses dict,
# which mypyc does not compile.
COMPILED = ("fastyaml", "yamldocs", "objects", "meta", "ingress", "backends", "fields", "apirules")
# The shared library of the group, which the module's extensions import (mypyc names it
# GROUP + "__mypyc").
GROUP = PACKAGE + ".reading"
_GROUP_LIBRARY = GROUP.rpartition(".")[2] + "__mypyc"
BUILD_RECORD = "native-build.txt"
PURE_PYTHON_VARIABLE = "INGRESSCTL_PURE_PYTHON"

HERE = os.path.dirname(os.path.abspath(__file__))

# "compiled", or why the Python source runs: "not built", "asked", "outdated: <file>".
state = "not built"


def source_path(module: str) -> str:
    return os.path.join(HERE, module + ".py")


def source_digest(path: str) -> str:
    import hashlib  # only when a source's time or size changed: it costs start-up time

    with open(path, "rb") as source:
        return hashlib.sha256(source.read()).hexdigest()


def _extension_exists(module: str) -> bool:
    return any(os.path.exists(os.path.join(HERE, module + suffix)) for suffix in EXTENSION_SUFFIXES)


def _read_record() -> dict[str, tuple[str, int, int]]:
    """module → (sha256, mtime_ns, size) of the source the build compiled; {} without a record."""
    try:
        with open(os.path.join(HERE, BUILD_RECORD), encoding="ascii") as record:
            lines = record.read().splitlines()
    except (OSError, ValueError):
        return {}
    found: dict[str, tuple[str, int, int]] = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and parts[2].isdigit() and parts[3].isdigit():
            found[parts[0]] = (parts[1], int(parts[2]), int(parts[3]))
    return found


def _outdated_source() -> str | None:
    """The first compiled module whose source differs from what was compiled (or "record" when
    the build left no record); None when every one matches."""
    record = _read_record()
    for module in COMPILED:
        built = record.get(module)
        if built is None:
            return "record"
        try:
            status = os.stat(source_path(module))
        except OSError:
            return module
        # The same modification time and size: unchanged (no need to read it). Otherwise (a
        # checkout or a touch) the content decides.
        if (status.st_mtime_ns, status.st_size) != built[1:] and source_digest(source_path(module)) != built[
            0
        ]:
            return module
    return None


class _PythonSource:
    """A meta path finder that imports the compiled modules from their `.py` files."""

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        package, _, module = fullname.rpartition(".")
        if package != PACKAGE or module not in COMPILED:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(module))


def compiled_modules_in_use() -> list[str]:
    """The modules of COMPILED that this process imported from their extension modules (imports
    them all)."""
    from importlib import import_module
    from importlib.machinery import ExtensionFileLoader

    modules = [import_module(f"{PACKAGE}.{module}") for module in COMPILED]
    return [module.__name__ for module in modules if isinstance(module.__loader__, ExtensionFileLoader)]


def build_state() -> str:
    """ "compiled" when every extension module exists and matches its source, "not built" when
    none exists, "outdated: <module>" (or "outdated: record") otherwise."""
    built = sum(_extension_exists(module) for module in COMPILED)
    if not built:
        return "not built"
    complete = built == len(COMPILED) and _extension_exists(_GROUP_LIBRARY)
    outdated = _outdated_source() if complete else "record"
    return "compiled" if outdated is None else f"outdated: {outdated}"


def choose_code() -> None:
    """Use the compiled modules when they are current, their Python source otherwise."""
    global state
    state = build_state()
    if os.environ.get(PURE_PYTHON_VARIABLE, "") not in ("", "0"):
        state = "asked"
    elif state in ("compiled", "not built"):
        return  # nothing outdated shadows a source
    else:
        outdated = state.partition(": ")[2]
        what = "is incomplete" if outdated == "record" else f"is older than {outdated}.py"
        print(
            f"ingressctl: the mypyc build of {PACKAGE} {what}; running the Python source (slower):"
            " run `make compile`",
            file=sys.stderr,
        )
    if not any(isinstance(finder, _PythonSource) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PythonSource())
