"""`make compile` (part of `make install`): compile the reading modules of ingressctl.manifests
with mypyc, next to their sources, or say in one line why the Python source runs instead.

    python packaging/mypyc_build.py    from the repository root; does nothing when the build is current

Which modules, and how an outdated build is kept from running, is in ingressctl/manifests/native.py.
The build runs in a child process that writes everything to build/mypyc/build.log; this process
copies its extension modules in place, writes the build record, and checks that a fresh
interpreter imports them. Any failure (no mypy, no C compiler or Python headers, a mypyc error)
leaves no extension module behind: ingressctl then runs as plain Python, only slower.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "build" / "mypyc"
LOG = WORK / "build.log"
FALLBACK = "ingressctl.manifests runs as Python (slower)"


def _native() -> ModuleType:
    """ingressctl/manifests/native.py, loaded alone (importing the package would use the build)."""
    spec = importlib.util.spec_from_file_location(
        "_ingressctl_native", REPO / "ingressctl/manifests/native.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record_lines(native: ModuleType) -> list[str]:
    lines = []
    for source in native.dependencies():
        path = os.path.join(native.ROOT, source)
        status = os.stat(path)
        lines.append(f"{source} {native.source_digest(path)} {status.st_mtime_ns} {status.st_size}\n")
    return lines


def _built_files(native: ModuleType) -> list[Path]:
    from importlib.machinery import EXTENSION_SUFFIXES

    here = Path(native.HERE)
    names = [*native.COMPILED, native.GROUP.rpartition(".")[2] + "__mypyc"]
    return [here / (name + suffix) for name in names for suffix in EXTENSION_SUFFIXES]


def _remove_build(native: ModuleType) -> None:
    for path in [Path(native.HERE) / native.BUILD_RECORD, *_built_files(native)]:
        path.unlink(missing_ok=True)


def _compile_into(lib: Path) -> None:
    """The child process: mypyc (type checks with the project's mypy settings, writes C), then
    the C compiler, extension modules into `lib`."""
    from mypyc.build import mypycify
    from setuptools import Distribution  # type: ignore[import-untyped]

    native = _native()
    extensions = mypycify(
        [os.path.relpath(native.source_path(module), REPO) for module in native.COMPILED],
        opt_level="3",
        group_name=native.GROUP,
        target_dir=str(WORK / "c"),
    )
    # A bare Distribution: setup() would read pyproject.toml, which older setuptools refuse.
    dist = Distribution({"name": "ingressctl-reading", "ext_modules": extensions})
    build_ext = dist.get_command_obj("build_ext")
    build_ext.build_lib = str(lib)
    build_ext.build_temp = str(WORK / "temp")
    dist.run_command("build_ext")


def _compiled_in_use() -> bool:
    """Whether a fresh interpreter imports the extension modules (the build record matches)."""
    check = (
        "import ingressctl.manifests.native as n; "
        "raise SystemExit(n.state != 'compiled' or len(n.compiled_modules_in_use()) != len(n.COMPILED))"
    )
    env = {key: value for key, value in os.environ.items() if key != "INGRESSCTL_PURE_PYTHON"}
    done = subprocess.run([sys.executable, "-c", check], cwd=REPO, env=env, capture_output=True, check=False)
    return done.returncode == 0


def _last_error(log: str) -> str:
    """The line of the build log that says what went wrong: the compiler's or mypy's error, else
    the exception the build ended with."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line] or [line for line in lines if "Error" in line]
    found = (errors or lines or ["no output"])[-1]
    return found if len(found) <= 160 else found[:159] + "…"


def main() -> int:
    os.chdir(REPO)
    native = _native()
    record = Path(native.HERE) / native.BUILD_RECORD
    if native.build_state() == "compiled":
        # Current by content; a checkout may have changed the sources' times: record them, so
        # that start-up compares times and sizes again instead of reading every source.
        lines = _record_lines(native)
        if record.read_text(encoding="utf-8") != "".join(lines):
            record.write_text("".join(lines), encoding="utf-8")
        return 0
    _remove_build(native)
    if importlib.util.find_spec("mypyc") is None:
        print(f"mypyc build skipped: mypy is not installed; {FALLBACK}")
        return 0
    # Recorded before compiling: a source edited during the build then reads as outdated.
    lines = _record_lines(native)
    shutil.rmtree(WORK / "lib", ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"mypyc: compiling {', '.join(native.COMPILED)} (about a minute; log: {LOG.relative_to(REPO)})")
    with open(LOG, "w") as log:
        done = subprocess.run(
            [sys.executable, __file__, "--compile-into", str(WORK / "lib")],
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=1800,
            check=False,
        )
    if done.returncode != 0:
        reason = _last_error(LOG.read_text(errors="replace"))
        print(f"mypyc build failed ({reason}; see {LOG.relative_to(REPO)}): {FALLBACK}")
        return 0
    built = WORK / "lib" / Path(*native.PACKAGE.split("."))
    for path in built.iterdir():
        shutil.copy2(path, Path(native.HERE) / path.name)
    record.with_suffix(".tmp").write_text("".join(lines), encoding="utf-8")
    record.with_suffix(".tmp").replace(record)
    if not _compiled_in_use():
        _remove_build(native)
        print(f"mypyc build failed (the compiled modules do not import): {FALLBACK}")
        return 0
    print(f"mypyc: compiled {len(native.COMPILED)} modules of {native.PACKAGE}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--compile-into"]:
        _compile_into(Path(sys.argv[2]))
        raise SystemExit(0)
    raise SystemExit(main())
