"""Whatever a file holds, `validate` answers with findings or one error line: exit 0, 1 or 2, no traceback.

The hypothesis loops run the real entry point (`ingressctl.cli.app.main`) in-process for speed;
a handful of hostile inputs also go through a real subprocess.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingressctl.cli.app import main
from tests.cli.conftest import Run, assert_no_traceback

FORMATS = ("text", "json", "sarif", "github")


def run_in_process(*args: str) -> tuple[int, str, str]:
    """Run `ingressctl ARGS` through the console-script entry point; returns (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv
    sys.argv = ["ingressctl", *args]
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    else:  # pragma: no cover - main() always exits
        code = 0
    finally:
        sys.argv = saved
    return code, out.getvalue(), err.getvalue()


def check_file(content: bytes, output_format: str, command: str = "validate") -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "input.yaml"
        path.write_bytes(content)
        code, out, err = run_in_process(command, str(path), "--format", output_format)
    assert code in (0, 1, 2), (code, out, err)
    assert "Traceback" not in err
    if code == 2:
        assert out == "" and err.strip(), "exit 2 must explain itself on stderr"
    elif output_format in ("json", "sarif"):
        json.loads(out)


SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@SETTINGS
@given(content=st.binary(max_size=2048), output_format=st.sampled_from(FORMATS))
def test_random_bytes(content: bytes, output_format: str) -> None:
    check_file(content, output_format)


@SETTINGS
@given(content=st.text(max_size=2048), output_format=st.sampled_from(FORMATS))
def test_random_text(content: str, output_format: str) -> None:
    check_file(content.encode("utf-8", "surrogatepass"), output_format)


yaml_tokens = st.sampled_from(
    [
        "\n",
        "  ",
        "- ",
        ": ",
        "---\n",
        "{",
        "}",
        "[",
        "]",
        ",",
        "&a ",
        "*a",
        "!!str ",
        "'",
        '"',
        "#",
        "|\n",
        ">\n",
        "kind",
        "Ingress",
        "apiVersion",
        "networking.k8s.io/v1",
        "extensions/v1beta1",
        "spec",
        "rules",
        "host",
        "paths",
        "path",
        "/",
        "backend",
        "service",
        "name",
        "port",
        "number",
        "tls",
        "secretName",
        "hosts",
        "annotations",
        "metadata",
        "ingress.kubernetes.io/ssl-redirct",
        "80",
        "-1",
        "1e9",
        "null",
        "true",
        "~",
    ]
)


@SETTINGS
@given(tokens=st.lists(yaml_tokens, max_size=80), output_format=st.sampled_from(FORMATS))
def test_yaml_shaped_token_soup(tokens: list[str], output_format: str) -> None:
    check_file("".join(tokens).encode(), output_format)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def _ingress(
    name: Any, host: Any, path: Any, path_type: Any, service: Any, port: Any, tls: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "annotations": {"ingress.kubernetes.io/auth-type": host}},
        "spec": {
            "tls": tls,
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": path,
                                "pathType": path_type,
                                "backend": {"service": {"name": service, "port": port}},
                            }
                        ]
                    },
                }
            ],
        },
    }


@SETTINGS
@given(
    fields=st.tuples(*([json_values] * 7)),
    well_formed=st.lists(st.booleans(), min_size=7, max_size=7),
    command=st.sampled_from(["validate", "routes"]),
)
def test_ingress_with_random_field_values(
    fields: tuple[Any, ...], well_formed: list[bool], command: str
) -> None:
    # Mix valid values with random ones so that both the loader and the compiler/checks get exercised.
    valid = ("web", "a.example.test", "/", "Prefix", "web", {"number": 80}, [{"hosts": ["a.example.test"]}])
    chosen = [v if ok else f for v, f, ok in zip(valid, fields, well_formed, strict=True)]
    document = json.dumps(_ingress(*chosen), allow_nan=True)
    check_file(document.encode(), "json", command)


HOSTILE = {
    "empty": b"",
    "only-separators": b"---\n---\n...\n",
    "nul-bytes": b"kind: Ingress\x00\x00\n",
    "latin1": b"kind: Ingr\xe9ss\n",
    "tabs": b"kind: Ingress\nmetadata:\n\tname: x\n",
    "python-tag": b'!!python/object/apply:os.system ["true"]\n',
    "billion-laughs": b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    b"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
    "wrong-types": b"kind: Ingress\napiVersion: networking.k8s.io/v1\nmetadata: {name: 5}\n"
    b"spec: {rules: [{host: 7, http: {paths: [{path: 3, backend: {service: {name: [], port: x}}}]}}],"
    b" tls: 4}\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_in_a_real_subprocess(run: Run, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(HOSTILE[name])
    output_format = FORMATS[sorted(HOSTILE).index(name) % len(FORMATS)]
    result = run("validate", str(path), "--format", output_format)
    assert result.returncode in (0, 1, 2), result.stderr
    assert_no_traceback(result)
    if result.returncode == 2:
        assert len(result.stderr.strip().splitlines()) == 1
    elif output_format in ("json", "sarif"):
        json.loads(result.stdout)
