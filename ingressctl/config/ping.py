"""[ping]: a listener of its own for health probes (`/ping`, `/ready`), apart from the API.

Kubelets and load balancers send no credentials, and the API (which shows every host and Service)
should stay on loopback or behind basic auth: so probes get their own unauthenticated address that
serves nothing else. Two spellings:

    [ping]
    address = ":8082"            # ours (also --ping-address :8082)

    [ping]
    entryPoint = "ping"          # Traefik v1: an entrypoint of [entryPoints] serves ping instead of routes

`entryPoint = "traefik"` (Traefik's default) without such an entrypoint, or naming the entrypoint the
API took over, means "where the API is": the API answers /ping and /ready itself, no listener is added.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingressctl.config.addresses import address_problem, addresses_overlap
from ingressctl.config.reader import Section, show
from ingressctl.model.config import ApiConfig, EntryPoint


@dataclass(frozen=True, slots=True)
class PingSetting:
    address: str = ""  # "" : no listener of its own (the API, if any, answers /ping and /ready)
    # The entrypoint of [entryPoints] that `entryPoint = NAME` took over (it then serves no routes).
    taken: str | None = None


def read_ping(
    section: Section, entrypoints: dict[str, EntryPoint], api_entrypoint: str | None
) -> PingSetting:
    address = section.string("address", example=":8082")
    if address is not None:
        problem = address_problem(address)
        if problem is not None:
            section.problems.error(
                (*section.path, "address"), f"{section.name('address')} {show(address)}: {problem}"
            )
            address = None
    name = section.string("entryPoint", example="ping")
    section.unsupported("manualRouting", "/ping is served on the ping address, never through routers")
    section.finish()
    if address is not None and name is not None:
        section.problems.error(
            (*section.path, "entryPoint"),
            f"{section.name('address')} and {section.name('entryPoint')} both place /ping: keep one",
        )
        return PingSetting(address=address)
    if address is not None:
        return PingSetting(address=address)
    if name is None or name == api_entrypoint:
        if name is None and not section.has("address"):
            section.problems.warn(
                section.path,
                '[ping] has no address: /ping and /ready are served by the API only; add address = ":8082" '
                "for an unauthenticated probe listener",
            )
        return PingSetting()
    entrypoint = entrypoints.get(name)
    if entrypoint is None:
        if name == "traefik":
            return PingSetting()  # Traefik's default: where the API is
        section.problems.error(
            (*section.path, "entryPoint"),
            f'{section.name("entryPoint")} "{name}" is not defined in [entryPoints] '
            '(or write address = ":8082")',
        )
        return PingSetting()
    if entrypoint.tls is not None:
        section.problems.error(
            (*section.path, "entryPoint"),
            f'{section.name("entryPoint")} "{name}" has TLS: probes are plain HTTP; use an entrypoint '
            'without [tls] or address = ":8082"',
        )
        return PingSetting()
    return PingSetting(address=entrypoint.address, taken=name)


def ping_conflict(address: str, entrypoints: dict[str, EntryPoint], api: ApiConfig | None) -> str | None:
    """Why the ping address cannot be bound next to the others, or None."""
    for entrypoint in entrypoints.values():
        if addresses_overlap(address, entrypoint.address):
            return f"is already used by entrypoint {entrypoint.name!r} ({entrypoint.address})"
    if api is not None and addresses_overlap(address, api.address):
        return (
            f"is already used by the API ({api.address}), which answers /ping and /ready itself: "
            "choose another port, or drop the ping address"
        )
    return None
