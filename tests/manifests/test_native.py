"""The reading modules compiled with mypyc (ingressctl/manifests/native.py, `make compile`): in use
after `make install` wherever they can be built, and never run once their source has changed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from ingressctl.manifests import native
from tests.needs import unavailable

REPO = Path(__file__).resolve().parents[2]
MANIFEST = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  rules:
    - host: web.example.test
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
"""
# What a process reports about the code it runs: the state, and the loader of each module.
REPORT = (
    "import ingressctl.manifests.native as n; "
    "print(n.state, len(n.compiled_modules_in_use()), getattr(__import__('ingressctl.manifests.fastyaml', "
    "fromlist=['_']), 'EDITED', False))"
)


def _build_available() -> str | None:
    """Why the compiled modules cannot be built here, or None when they can."""
    import importlib.util

    if importlib.util.find_spec("mypyc") is None:
        return "mypy (with mypyc) is not installed: pip install -e '.[compile]'"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler})"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        return "no Python headers (Python.h)"
    return None


def _require_build() -> None:
    missing = _build_available()
    if missing is not None:
        unavailable(f"the mypyc build cannot run: {missing}")
    if native.state == "not built":
        pytest.fail(
            "the compiled modules are not built although they can be: run `make compile`", pytrace=False
        )


def test_the_compiled_modules_run_after_make_install() -> None:
    _require_build()
    assert os.environ.get(native.PURE_PYTHON_VARIABLE, "") in ("", "0"), "INGRESSCTL_PURE_PYTHON is set"
    assert native.state == "compiled", native.state
    assert native.compiled_modules_in_use() == [f"{native.PACKAGE}.{module}" for module in native.COMPILED]


def _copy(tmp_path: Path) -> Path:
    """The package with its build, where a test may edit a source."""
    shutil.copytree(
        REPO / "ingressctl", tmp_path / "ingressctl", ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / "in.yaml").write_text(MANIFEST)
    return tmp_path


def _run(root: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != native.PURE_PYTHON_VARIABLE}
    environment.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=environment, capture_output=True, text=True, timeout=120
    )


def _validate(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; from ingressctl.cli.entry import main; sys.argv = ['ingressctl', *sys.argv[1:]]; main()"
    )
    environment = {key: value for key, value in os.environ.items() if key != native.PURE_PYTHON_VARIABLE}
    environment.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", NO_COLOR="1", **env)
    return subprocess.run(
        [sys.executable, "-c", code, "validate", "in.yaml"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_edited_source_runs_instead_of_its_outdated_build(tmp_path: Path) -> None:
    _require_build()
    root = _copy(tmp_path)
    current = _run(root, REPORT)
    assert (current.stdout.split(), current.stderr) == (["compiled", str(len(native.COMPILED)), "False"], "")

    fastyaml = root / "ingressctl/manifests/fastyaml.py"
    fastyaml.write_text(fastyaml.read_text() + "\nEDITED = True\n")
    edited = _run(root, REPORT)
    assert edited.stdout.split() == ["outdated:", "manifests/fastyaml.py", "0", "True"]
    assert edited.stderr == (
        "ingressctl: the mypyc build of ingressctl.manifests is older than "
        "ingressctl/manifests/fastyaml.py; running the Python source (slower): run `make compile`\n"
    )
    validated = _validate(root)
    assert validated.returncode == 0, validated.stderr
    assert validated.stderr.startswith("ingressctl: the mypyc build of ingressctl.manifests is older")
    assert "0 errors" in validated.stdout + validated.stderr


def test_an_edited_model_module_outdates_the_build(tmp_path: Path) -> None:
    """mypyc compiled against the model's types (and copied its Final constants)."""
    _require_build()
    root = _copy(tmp_path)
    location = root / "ingressctl/model/location.py"
    location.write_text(location.read_text() + "\n# edited\n")
    edited = _run(root, REPORT)
    assert edited.stdout.split() == ["outdated:", "model/location.py", "0", "False"]
    assert "older than ingressctl/model/location.py" in edited.stderr


def test_a_touched_but_unchanged_source_keeps_the_build(tmp_path: Path) -> None:
    _require_build()
    root = _copy(tmp_path)
    os.utime(root / "ingressctl/manifests/meta.py")
    touched = _run(root, REPORT)
    assert (touched.stdout.split(), touched.stderr) == (["compiled", str(len(native.COMPILED)), "False"], "")


def test_an_incomplete_build_runs_the_source(tmp_path: Path) -> None:
    _require_build()
    root = _copy(tmp_path)
    (root / "ingressctl/manifests" / native.BUILD_RECORD).unlink()
    incomplete = _run(root, REPORT)
    assert incomplete.stdout.split() == ["outdated:", "record", "0", "False"]
    assert "mypyc build of ingressctl.manifests is incomplete" in incomplete.stderr


def test_pure_python_when_asked(tmp_path: Path) -> None:
    _require_build()
    root = _copy(tmp_path)
    asked = _run(root, REPORT, INGRESSCTL_PURE_PYTHON="1")
    assert (asked.stdout.split(), asked.stderr) == (["asked", "0", "False"], "")
    assert _validate(root, INGRESSCTL_PURE_PYTHON="1").returncode == 0
