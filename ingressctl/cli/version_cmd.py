"""`ingressctl version` (and `ingressctl --version`): what is running, for bug reports and audits.

The build's commit comes from the image (`INGRESSCTL_BUILD_COMMIT`, `INGRESSCTL_BUILD_DATE`, set from
build arguments), else from the install's metadata (pip's direct_url.json records the commit of an
install from a VCS URL), else it is unknown. Nothing here imports the libraries it names: versions
come from their package metadata, so `version` stays fast and works in a broken environment.
"""

from __future__ import annotations

import json
import os
import platform
import ssl
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import metadata

import typer

from ingressctl import __version__

SCHEMA = "ingressctl.version/v1"
COMMIT_ENV = "INGRESSCTL_BUILD_COMMIT"
DATE_ENV = "INGRESSCTL_BUILD_DATE"

# The libraries whose versions change behaviour (distribution names).
LIBRARIES = (
    "aiohttp",
    "cryptography",
    "acme",
    "josepy",
    "kubernetes",
    "urllib3",
    "requests",
    "PyYAML",
    "tomlkit",
    "typer",
    "rich",
    "uvloop",
)


class VersionFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: str
    python: str
    platform: str
    openssl: str
    libraries: dict[str, str | None] = field(default_factory=dict)  # None: not installed
    uvloop: bool = False  # serve runs on uvloop
    commit: str = ""
    build_date: str = ""
    installed_from: str = ""

    def document(self) -> dict[str, object]:
        return {
            "schema": SCHEMA,
            "version": self.version,
            "python": self.python,
            "platform": self.platform,
            "openssl": self.openssl,
            "libraries": self.libraries,
            "uvloop": self.uvloop,
            "build": {
                "commit": self.commit or None,
                "date": self.build_date or None,
                "installed_from": self.installed_from or None,
            },
        }

    def text(self) -> str:
        width = max(len(name) for name in self.libraries)
        built = f" (built {self.build_date})" if self.build_date else ""
        lines = [
            f"ingressctl {self.version}",
            f"python     {self.python} ({self.platform})",
            f"openssl    {self.openssl}",
            f"event loop {'uvloop' if self.uvloop else 'asyncio'} (uvloop {'on' if self.uvloop else 'off'})",
            f"commit     {self.commit or 'unknown'}{built}",
        ]
        if self.installed_from:
            lines.append(f"installed  {self.installed_from}")
        lines.append("libraries:")
        lines += [
            f"  {name.ljust(width)} {version or 'not installed'}" for name, version in self.libraries.items()
        ]
        return "\n".join(lines) + "\n"


def _library_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _install_origin() -> tuple[str, str]:
    """(commit, where from) as pip recorded it in direct_url.json (PEP 610); ("", "") if unrecorded."""
    try:
        raw = metadata.distribution("ingressctl").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return "", ""
    if not raw:
        return "", ""
    try:
        doc = json.loads(raw)
    except ValueError:
        return "", ""
    url = str(doc.get("url", ""))
    vcs = doc.get("vcs_info") or {}
    if vcs.get("commit_id"):
        return str(vcs["commit_id"]), url
    editable = bool((doc.get("dir_info") or {}).get("editable"))
    return "", f"{url} (editable)" if editable else url


def collect(environ: dict[str, str] | None = None) -> VersionInfo:
    from ingressctl.server.eventloop import uvloop_wanted

    env = dict(os.environ if environ is None else environ)
    commit, origin = _install_origin()
    return VersionInfo(
        version=__version__,
        python=f"{platform.python_implementation()} {platform.python_version()}",
        platform=f"{sys.platform} {platform.machine()}",
        openssl=ssl.OPENSSL_VERSION,
        libraries={name: _library_version(name) for name in LIBRARIES},
        uvloop=uvloop_wanted(env),
        commit=env.get(COMMIT_ENV, "") or commit,
        build_date=env.get(DATE_ENV, ""),
        installed_from=origin,
    )


def render(output_format: VersionFormat) -> str:
    info = collect()
    if output_format is VersionFormat.JSON:
        return json.dumps(info.document(), indent=2) + "\n"
    return info.text()


def version(
    output_format: VersionFormat = typer.Option(
        VersionFormat.TEXT, "--format", "-f", case_sensitive=False, help="Output format."
    ),
) -> None:
    """Print the version, Python, OpenSSL, the key libraries, the event loop serve uses and the build.

    The build's commit: $INGRESSCTL_BUILD_COMMIT (the image sets it), else the install's record.
    """
    sys.stdout.write(render(output_format))


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("version")(version)
