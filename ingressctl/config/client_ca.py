"""`[entryPoints.NAME.tls.clientCA]` (Traefik v1): client certificates on a TLS entrypoint.

`files` lists PEM files of the CAs a client certificate must chain to; `optional = true` lets
clients without a certificate in (one that presents a certificate still has it verified). A file
that is missing or holds no certificate is an error: the entrypoint would otherwise open what the
file was meant to close.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingressctl.config.reader import Section, show
from ingressctl.model.config import ClientCA


def read_client_ca(section: Section, resolve_path: Callable[[str], Path]) -> ClientCA | None:
    """The clientCA table of a [tls] section, or None when there is none. `resolve_path` turns a
    path of the file into an absolute one (sections.Context.resolve)."""
    table = section.table("clientCA")
    if table is None:
        return None
    files = table.str_list("files", example="certs/client-ca.pem") or ()
    optional = bool(table.boolean("optional"))
    table.finish()
    key = (*table.path, "files")
    if not files:
        table.problems.error(key, f"{table.name('files')} must list at least one CA file")
        return None
    pems: list[bytes] = []
    for value in files:
        path = resolve_path(value)
        try:
            data = path.read_bytes()
        except OSError as exc:
            table.problems.error(
                key, f"{table.name('files')}: {show(value)} ({path}) cannot be read: {exc.strerror}"
            )
            continue
        from cryptography import x509  # here: a config without clientCA does not load it

        try:
            found = x509.load_pem_x509_certificates(data)
        except ValueError:
            found = []
        if not found:
            table.problems.error(
                key, f"{table.name('files')}: {show(value)} ({path}) holds no PEM certificate"
            )
            continue
        pems.append(data.strip() + b"\n")
    if len(pems) != len(files):
        return None
    return ClientCA(ca_pem=b"".join(pems), optional=optional, files=tuple(files))
