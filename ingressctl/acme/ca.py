"""Named CA directories."""

from __future__ import annotations

from urllib.parse import urlsplit

from ingressctl.model import UsageError

CA_SHORTCUTS = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}


def resolve_ca_server(value: str) -> str:
    """A shortcut name or a directory URL → the directory URL."""
    if value in CA_SHORTCUTS:
        return CA_SHORTCUTS[value]
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        names = ", ".join(CA_SHORTCUTS)
        raise UsageError(
            f"--ca-server {value!r}: expected {names} or an ACME directory URL (https://…/directory)"
        )
    return value


def same_ca(directory_url: str, account_uri: str) -> bool:
    """Whether an account URI (stored without a CA URL, e.g. by Traefik) belongs to this directory's CA."""
    return urlsplit(directory_url).netloc.lower() == urlsplit(account_uri).netloc.lower()
