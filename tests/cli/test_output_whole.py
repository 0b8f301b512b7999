"""Output that fits the pipe: tables print whole values when stdout is not a terminal, no library
warnings, and every option of `certs revoke` explained."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from ingressctl.cli.progress import progress
from tests.acme.samples import make_chain, v1_file, write
from tests.cli.conftest import Run

NAMES = ["a.example-with-a-rather-long-name.test"] + [
    f"san{i}.another-long-domain-name.example.test" for i in range(6)
]


def _narrow(
    run: Run, cli_env: dict[str, str], ingressctl_cmd: list[str], *args: str
) -> subprocess.CompletedProcess[str]:
    # No COLUMNS: Rich would size a table to 80 columns and cut it.
    env = {k: v for k, v in cli_env.items() if k != "COLUMNS"}
    return subprocess.run(
        [*ingressctl_cmd, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_acme_inspect_piped_prints_every_name_whole(
    run: Run, tmp_path: Path, cli_env: dict[str, str], ingressctl_cmd: list[str]
) -> None:
    chain, key = make_chain(NAMES)
    storage = write(tmp_path / "acme.json", v1_file([(NAMES[0], NAMES[1:], chain, key)]))
    result = _narrow(run, cli_env, ingressctl_cmd, "acme", "inspect", str(storage))
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    assert ", ".join(NAMES[1:]) in result.stdout
    assert NAMES[0] in result.stdout


def test_certs_inspect_piped_is_whole_and_without_library_warnings(
    run: Run, tmp_path: Path, cli_env: dict[str, str], ingressctl_cmd: list[str]
) -> None:
    chain, _ = make_chain(NAMES)
    pem = tmp_path / "cert.pem"
    pem.write_bytes(chain)
    result = _narrow(run, cli_env, ingressctl_cmd, "certs", "inspect", str(pem))
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout and ", ".join(NAMES) in result.stdout
    # The system trust store is read for verification: its odd old roots must not make noise.
    assert "Warning" not in result.stderr and "warning" not in result.stderr.lower(), result.stderr


def test_every_option_of_certs_revoke_has_help(run: Run) -> None:
    result = run("certs", "revoke", "--help")
    assert result.returncode == 0
    options = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("--")]
    assert {o.split()[0] for o in options} >= {
        "--key",
        "--storage",
        "--resolver",
        "--domain",
        "--ca-server",
        "--ca-bundle",
        "--reason",
    }
    for line in options:
        name, _, rest = line.partition(" ")
        placeholder, _, text = rest.strip().partition("  ")
        assert text.strip() and not text.strip().startswith("[default"), f"{name} has no help: {line!r}"
        assert not placeholder.startswith("<"), line


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only_after_the_delay_and_is_erased() -> None:
    import time

    terminal = _Terminal()
    with progress("validating big/", stream=terminal, delay=0.05):
        deadline = time.monotonic() + 10
        while "validating big/…" not in terminal.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    shown = terminal.getvalue()
    assert "validating big/…" in shown and shown.endswith("\r\x1b[2K")
    quick = _Terminal()
    with progress("validating small/", stream=quick, delay=5):
        pass
    assert quick.getvalue() == ""
    pipe = io.StringIO()
    with progress("validating big/", stream=pipe, delay=0):
        time.sleep(0.2)
    assert pipe.getvalue() == ""


def test_acme_check_has_json_for_monitoring(run: Run, tmp_path: Path) -> None:
    fresh, fresh_key = make_chain(["fresh.example.test"], days=60)
    soon, soon_key = make_chain(["soon.example.test"], days=3)
    storage = write(
        tmp_path / "acme.json",
        v1_file([("fresh.example.test", [], fresh, fresh_key), ("soon.example.test", [], soon, soon_key)]),
    )
    result = run("acme", "check", str(storage), "--format", "json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["fail_under_days"] == 14.0
    assert {c["main"]: c["ok"] for c in document["certificates"]} == {
        "fresh.example.test": True,
        "soon.example.test": False,
    }
    relaxed = run("acme", "check", str(storage), "--format", "json", "--fail-under", "1")
    assert relaxed.returncode == 0 and all(c["ok"] for c in json.loads(relaxed.stdout)["certificates"])


def test_acme_export_has_json(run: Run, tmp_path: Path) -> None:
    chain, key = make_chain(NAMES)
    storage = write(tmp_path / "acme.json", v1_file([(NAMES[0], NAMES[1:], chain, key)]))
    out = tmp_path / "pem"
    result = run("acme", "export", str(storage), "--domain", NAMES[2], "--out", str(out), "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["main"] == NAMES[0] and document["resolver"] == "default"
    assert [Path(p).name for p in document["written"]] == [
        "cert.pem",
        "chain.pem",
        "fullchain.pem",
        "privkey.pem",
    ]
    assert all(Path(p).is_file() for p in document["written"])
