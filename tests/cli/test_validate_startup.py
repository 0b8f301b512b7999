"""`validate` starts lean: CI runs it many times, so one small file must not load what it never uses.

A functional test does not assert wall-clock time (the machine is shared and noisy); it asserts what
is imported, which is what start-up time is made of. The 0.2 s figure itself is measured by
`make bench` (benchmarks/validate_startup.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Heavy libraries a small manifest check has no use for (each costs tens of milliseconds to import).
NOT_FOR_VALIDATE = (
    "typer",
    "click",
    "rich",
    "pydantic",
    "kubernetes",
    "cryptography",
    "aiohttp",
    "asyncio",
    "acme",
    "yaml",  # PyYAML: only for documents fastyaml declines (anchors, block scalars, errors)
    "hashlib",  # htpasswd hashing and client-CA ids: only when auth annotations are present
    "shutil",  # with lzma, bz2 and zlib: argparse asks it for the terminal's width unless given one
    "pickle",  # the parallel reader of large inputs only
    "threading",  # the progress bar, on a terminal only
)
# Paths and no flag (the usual CI call) is parsed without argparse (and its gettext and locale).
NOT_FOR_PATHS_ONLY = ("argparse", "gettext", "locale", "json")
# Loaded with the first Gateway API object only (ingressctl.model.gateway_names holds what others need).
GATEWAY_API_MODULES = (
    "ingressctl.model.gateway",
    "ingressctl.model.gateway_routes",
    "ingressctl.manifests.gateway",
    "ingressctl.gateway.build",
    "ingressctl.gateway.index",
    "ingressctl.gateway.memo",
)

# Annotation families a plain Ingress does not use: each loads with the first Ingress (or Service)
# holding one of its annotations; together they were a third of the start-up time.
ANNOTATION_FAMILY_MODULES = (
    "ingressctl.model.rewrites",
    "ingressctl.model.backend_policy",
    "ingressctl.model.access",
    "ingressctl.model.cors",
    "ingressctl.model.client_auth",
    "ingressctl.model.client_cert_headers",
    "ingressctl.model.canary",
)
NGINX = "nginx.ingress.kubernetes.io/"
# A usable value of each family: the Ingress's routes carry what it asks for, so its model loads.
# (client_auth's model is built only for a usable CA Secret: its bad value below shows its parser runs.)
FAMILY_VALUES = (
    "ingress.kubernetes.io/hsts-max-age: '60'",
    f"{NGINX}proxy-body-size: 8m",
    f"{NGINX}limit-rps: '5'",
    f"{NGINX}enable-cors: 'true'",
    "ingress.kubernetes.io/pass-tls-cert: 'true'",
)
# Canary Ingresses are apart (ingress-nginx ignores a canary's other annotations).
CANARY_VALUES = (f"{NGINX}canary: 'true'", f"{NGINX}canary-weight: '10'")
# A bad value of each family: a finding at its line shows the family's parser still runs.
FAMILY_BAD_VALUES = (
    "ingress.kubernetes.io/hsts-max-age: soon",
    f"{NGINX}proxy-body-size: lots",
    f"{NGINX}limit-rps: many",
    f"{NGINX}enable-cors: 'true'",
    f"{NGINX}cors-max-age: later",
    f"{NGINX}auth-tls-verify-client: maybe",
    f"{NGINX}auth-tls-pass-certificate-to-upstream: x",
)
CANARY_BAD_VALUES = (f"{NGINX}canary: 'true'", f"{NGINX}canary-by-header: 'bad header'")
ANNOTATION_PARSER_MODULES = (
    "ingressctl.routing.annotations_backend",
    "ingressctl.routing.annotations_errors",
    "ingressctl.routing.access_reader",
    "ingressctl.routing.annotations_basic_auth",
    "ingressctl.routing.annotations_forward_auth",
    "ingressctl.routing.annotations_limits",
)
WEB_INGRESS = (
    "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  rules:\n"
    "  - host: web.example.com\n    http:\n      paths:\n"
    "      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n"
)

PROBE = """
import sys
sys.argv = ["ingressctl", "validate", *sys.argv[1:]]
from ingressctl.cli.entry import main
try:
    main()
except SystemExit as exit:
    code = exit.code
sys.stdout.flush()
modules = sorted({m.split(".")[0] for m in sys.modules})
ours = sorted(m for m in sys.modules if m.startswith("ingressctl."))
import json  # after the modules are listed: validate itself may not need it
print("\\n" + json.dumps({"code": code, "modules": modules, "ours": ours}), file=sys.stderr)
"""


def _probe(tmp_path: Path, cli_env: dict[str, str], *args: str) -> tuple[int, set[str]]:
    code, modules, _ = _probe_output(tmp_path, cli_env, *args)
    return code, modules


def _probe_output(tmp_path: Path, cli_env: dict[str, str], *args: str) -> tuple[int, set[str], str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        env=cli_env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    report = json.loads(result.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"]) | set(report["ours"]), result.stdout


def test_validating_a_file_imports_no_heavy_library(tmp_path: Path, cli_env: dict[str, str]) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(WEB_INGRESS, encoding="utf-8")
    for args in ((str(manifest),), (str(manifest), "--format", "json"), (str(manifest), "--format", "sarif")):
        code, modules = _probe(tmp_path, cli_env, *args)
        assert code == 0
        assert not modules & set(NOT_FOR_VALIDATE), sorted(modules & set(NOT_FOR_VALIDATE))
        if len(args) == 1:
            assert not modules & set(NOT_FOR_PATHS_ONLY), sorted(modules & set(NOT_FOR_PATHS_ONLY))
        # The Gateway API model (~30 dataclasses, a quarter of the start-up) is for Gateway API objects.
        assert not modules & set(GATEWAY_API_MODULES), sorted(modules & set(GATEWAY_API_MODULES))
        # Nor the annotation families this Ingress does not use (nor parallel.dumps, which loads them all).
        lazy = {*ANNOTATION_FAMILY_MODULES, *ANNOTATION_PARSER_MODULES}
        assert not modules & lazy, sorted(modules & lazy)


def _annotated(annotations: tuple[str, ...], canary: tuple[str, ...]) -> str:
    """The web Ingress with `annotations`, and a canary Ingress of it with `canary`."""
    documents = []
    for name, given in (("web", annotations), ("web-canary", canary)):
        lines = "".join(f"\n    {annotation}" for annotation in given)
        documents.append(
            WEB_INGRESS.replace("metadata: {name: web}", f"metadata:\n  name: {name}\n  annotations:{lines}")
        )
    return "---\n".join(documents)


def test_an_ingress_using_the_annotation_families_loads_them(tmp_path: Path, cli_env: dict[str, str]) -> None:
    manifest = tmp_path / "families.yaml"
    manifest.write_text(_annotated(FAMILY_VALUES, CANARY_VALUES), encoding="utf-8")
    _, modules, _ = _probe_output(tmp_path, cli_env, str(manifest))
    expected = set(ANNOTATION_FAMILY_MODULES) - {"ingressctl.model.client_auth"}
    assert expected <= modules, sorted(expected - modules)


def test_bad_values_of_each_family_are_still_found_at_their_lines(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    text = _annotated(FAMILY_BAD_VALUES, CANARY_BAD_VALUES)
    manifest = tmp_path / "families.yaml"
    manifest.write_text(text, encoding="utf-8")
    code, _, output = _probe_output(tmp_path, cli_env, str(manifest), "--format", "json")
    assert code == 1
    found = {(f["line"], f["severity"]) for f in json.loads(output)["findings"]}
    lines = text.splitlines()
    for bad in (*FAMILY_BAD_VALUES, *CANARY_BAD_VALUES):
        if bad.endswith("'true'"):
            continue  # the switch that turns a family on
        line = lines.index(f"    {bad}") + 1
        assert {(line, "error"), (line, "warning")} & found, (bad, sorted(found))


def test_help_and_usage_errors_still_come_from_typer(tmp_path: Path, cli_env: dict[str, str]) -> None:
    code, modules = _probe(tmp_path, cli_env, "--no-such-flag")
    assert code == 2 and "typer" in modules


def test_help_reads_at_80_columns(run_80: subprocess.CompletedProcess[str]) -> None:
    text = run_80.stdout
    assert run_80.returncode == 0
    assert "Usage: ingressctl validate [OPTIONS] [PATH]..." in text
    assert all(len(line) <= 80 for line in text.splitlines()), [x for x in text.splitlines() if len(x) > 80]
    for placeholder in ("<list[str]>", "<str>", "<bool>", "{paths}", "…"):
        assert placeholder not in text
    for words in ("--format FORMAT", "--min-severity SEVERITY", "--ignore CODES", "--baseline FILE"):
        assert words in text
