"""The README is the user's manual: its promises are checked against the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ingressctl.cli.docs import render

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8").splitlines()[:10]
    assert any(line.startswith("make run") for line in head)
    assert any(line.startswith("make test") for line in head)


def test_generated_tables_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert render(text) == text, "run `make docs` to regenerate the README's tables"


def test_every_finding_code_has_an_anchor_for_sarif_links() -> None:
    from ingressctl.checks.codes import all_codes

    anchors = set(re.findall(r'<a id="(ic\d+)"></a>', README.read_text(encoding="utf-8")))
    assert {code.lower() for code in all_codes()} <= anchors


def test_every_command_in_the_readme_exists() -> None:
    """Each `ingressctl X` the README shows is a real command (its --help exits 0)."""
    blocks = "\n".join(re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S))
    pattern = r"^ingressctl ([a-z]+(?: (?:request|inspect|revoke|export|check))?)"
    commands = set(re.findall(pattern, blocks, re.M))
    assert {"validate", "routes", "migrate", "serve"} <= commands
    for command in sorted(commands):
        proc = subprocess.run(
            [sys.executable, "-m", "ingressctl", *command.split(), "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, (command, proc.stderr)


def test_the_configuration_example_loads(tmp_path: Path) -> None:
    """The README's traefik.toml is valid as written (given the certificate files it names)."""
    from ingressctl.config import load_static_config
    from ingressctl.config.overrides import ConfigOverrides
    from ingressctl.tls.selfsigned import generate_default_certificate

    text = README.read_text(encoding="utf-8")
    block = re.search(r"## Configuration \(`traefik.toml`\).*?```toml\n(.*?)```", text, re.S)
    assert block is not None
    (tmp_path / "traefik.toml").write_text(block.group(1))
    (tmp_path / "certs").mkdir()
    cert_pem, key_pem = generate_default_certificate()
    (tmp_path / "certs" / "shop.crt").write_bytes(cert_pem)
    (tmp_path / "certs" / "shop.key").write_bytes(key_pem)
    static = load_static_config(str(tmp_path / "traefik.toml"), ConfigOverrides())
    assert [e.name for e in static.entrypoints] == ["http", "https"]
    assert static.acme is not None and static.acme.on_host_rule
    assert static.kubernetes is not None and static.kubernetes.publish_service == "ingressctl/ingressctl"
    assert static.warnings == ()
