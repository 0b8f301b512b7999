"""The reading modules compiled with mypyc, used only while they match their Python source.

`make install` (packaging/mypyc_build.py) compiles the modules of COMPILED into extension modules
next to their sources and writes BUILD_RECORD, the CRC-32 and size of each source the build depends on:
every `.py` of ingressctl/manifests and ingressctl/model (mypyc compiles against the types of the
modules they import, checks values against them at run time and copies their Final constants).
Python imports an extension module before a `.py` of the same name, so a source edited after the
build would silently run as the old code. `choose_code()` runs when `ingressctl.manifests` is
imported, before any of them: when the record is missing or a source no longer matches it (or
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
ROOT = os.path.dirname(HERE)  # ingressctl/
# Directories under ROOT whose sources the build depends on (see the docstring).
DEPENDS_ON = ("manifests", "model")

# "compiled", or why the Python source runs: "not built", "asked", "outdated: <source>".
state = "not built"


def source_path(module: str) -> str:
    return os.path.join(HERE, module + ".py")


def dependencies() -> list[str]:
    """The sources the build depends on, relative to ROOT (this module excluded: it is not
    compiled and decides nothing in the compiled code)."""
    found = []
    for directory in DEPENDS_ON:
        for name in sorted(os.listdir(os.path.join(ROOT, directory))):
            if name.endswith(".py") and not (directory == "manifests" and name == "native.py"):
                found.append(f"{directory}/{name}")
    return found


def source_digest(path: str) -> str:
    """A checksum that tells an edited source from the one built (not a security check: the
    sources are the developer's own). binascii, not hashlib: `validate` imports it anyway."""
    import binascii  # only when a source's time or size changed

    with open(path, "rb") as source:
        return f"{binascii.crc32(source.read()):08x}"


def _extension_exists(module: str) -> bool:
    return any(os.path.exists(os.path.join(HERE, module + suffix)) for suffix in EXTENSION_SUFFIXES)


def _read_record() -> dict[str, tuple[str, int, int]]:
    """source (relative to ROOT) → (checksum, mtime_ns, size) when the build ran; {} without a record."""
    try:
        with open(os.path.join(HERE, BUILD_RECORD), encoding="utf-8") as record:
            lines = record.read().splitlines()
    except (OSError, ValueError):
        return {}
    found: dict[str, tuple[str, int, int]] = {}
    for line in lines:
        parts = line.split(" ")
        if len(parts) == 4 and parts[2].isdigit() and parts[3].isdigit():
            found[parts[0]] = (parts[1], int(parts[2]), int(parts[3]))
    return found


def _outdated_source() -> str | None:
    """The first source (relative to ROOT) that differs from what the build saw, or "record"
    when the build left no complete record; None when every one matches."""
    record = _read_record()
    if any(f"manifests/{module}.py" not in record for module in COMPILED):
        return "record"
    for source, (digest, mtime_ns, size) in record.items():
        path = os.path.join(ROOT, source)
        try:
            status = os.stat(path)
        except OSError:
            return source  # removed or renamed
        # The same modification time and size: unchanged (no need to read it). Otherwise (a
        # checkout or a touch) the content decides.
        if (status.st_mtime_ns, status.st_size) != (mtime_ns, size) and source_digest(path) != digest:
            return source
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
        what = "is incomplete" if outdated == "record" else f"is older than ingressctl/{outdated}"
        print(
            f"ingressctl: the mypyc build of {PACKAGE} {what}; running the Python source (slower):"
            " run `make compile`",
            file=sys.stderr,
        )
    if not any(isinstance(finder, _PythonSource) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PythonSource())
