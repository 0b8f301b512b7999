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
)
# Loaded with the first Gateway API object only (ingressctl.model.gateway_names holds what others need).
GATEWAY_API_MODULES = (
    "ingressctl.model.gateway",
    "ingressctl.model.gateway_routes",
    "ingressctl.manifests.gateway",
    "ingressctl.gateway.build",
    "ingressctl.gateway.index",
    "ingressctl.gateway.memo",
)

PROBE = """
import json, sys
sys.argv = ["ingressctl", "validate", *sys.argv[1:]]
from ingressctl.cli.entry import main
try:
    main()
except SystemExit as exit:
    code = exit.code
sys.stdout.flush()
modules = sorted({m.split(".")[0] for m in sys.modules})
ours = sorted(m for m in sys.modules if m.startswith("ingressctl."))
print("\\n" + json.dumps({"code": code, "modules": modules, "ours": ours}), file=sys.stderr)
"""


def _probe(tmp_path: Path, cli_env: dict[str, str], *args: str) -> tuple[int, set[str]]:
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
    return report["code"], set(report["modules"]) | set(report["ours"])


def test_validating_a_file_imports_no_heavy_library(tmp_path: Path, cli_env: dict[str, str]) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  rules:\n"
        "  - host: web.example.com\n    http:\n      paths:\n"
        "      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}\n",
        encoding="utf-8",
    )
    for args in ((str(manifest),), (str(manifest), "--format", "json"), (str(manifest), "--format", "sarif")):
        code, modules = _probe(tmp_path, cli_env, *args)
        assert code == 0
        assert not modules & set(NOT_FOR_VALIDATE), sorted(modules & set(NOT_FOR_VALIDATE))
        # The Gateway API model (~30 dataclasses, a quarter of the start-up) is for Gateway API objects.
        assert not modules & set(GATEWAY_API_MODULES), sorted(modules & set(GATEWAY_API_MODULES))


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
