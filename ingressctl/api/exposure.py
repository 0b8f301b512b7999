"""Who may reach the API: loopback by default, anything else only with basic auth or an explicit opt-out."""

from __future__ import annotations

import ipaddress

from ingressctl.model import ConfigError
from ingressctl.model.config import EntryPointAuth

DEFAULT_ADDRESS = "127.0.0.1:8080"


def split_address(address: str) -> tuple[str, int]:
    """ "host:port", "[v6]:port" or ":port" → (host, port); "" host means every interface."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(
            f"API address {address!r} is not HOST:PORT; write e.g. {DEFAULT_ADDRESS!r} or ':8080'"
        )
    return host.strip("[]"), int(port_text)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a DNS name or "" (every interface): it may resolve to anything


def check_api_exposure(address: str, auth: EntryPointAuth | None, insecure: bool) -> None:
    """Refuse to serve the API beyond this machine without authentication, unless told to.

    The API shows every host, service address and certificate of the cluster: on a
    reachable address it must be protected, or the operator must say it is on purpose.
    """
    host, _ = split_address(address)
    if is_loopback(host) or insecure or (auth is not None and auth.users):
        return
    where = host or "every interface"
    raise ConfigError(
        f"the API address {address!r} ({where}) is reachable from other machines and has no "
        "authentication: add users under [api.auth.basic] (htpasswd hashes), bind it to "
        f"{DEFAULT_ADDRESS!r}, or set insecure = true under [api] (--api-insecure) if the network is trusted"
    )
