"""ingress-nginx server-alias: more host names served like a host (routing/nginx_server.py parses it).

In ingress-nginx an alias joins the `server_name` of the host's server block, so it serves every
location of that host, whichever Ingress declares it. Here: every route of the host (after
conflicts between Ingresses are settled) is copied for the alias. An alias that a rule names as its
host is ignored (ingress-nginx: "cannot conflict with the hostname of an existing server"); an alias
two hosts claim goes to the first (oldest Ingress) and the other is warned.
"""

from __future__ import annotations

import dataclasses

from ingressctl.model import Diagnostic, HostKind, Severity
from ingressctl.routing import codes
from ingressctl.routing.candidates import Candidate
from ingressctl.routing.nginx_server import SERVER_ALIAS
from ingressctl.routing.report import annotation_location, finding

ALIAS = "#alias="


def server_aliases(candidates: list[Candidate]) -> tuple[list[Candidate], list[Diagnostic]]:
    """The candidates plus, for each alias, a copy of every candidate of the aliased host."""
    declaring = [c for c in candidates if c.annotations.server.aliases and c.host is not None]
    if not declaring:
        return candidates, []
    named = {c.host for c in candidates if c.host is not None}
    chosen: dict[str, Candidate] = {}  # alias → the first candidate that declared it
    found: list[Diagnostic] = []
    warned: set[tuple[str, str]] = set()
    for candidate in sorted(declaring, key=lambda c: c.order):
        for alias in candidate.annotations.server.aliases:
            mark = (str(candidate.ingress.ref), alias)
            first = chosen.get(alias)
            if alias in named:
                why = f"server-alias {alias} is a host rules already name; the alias is ignored"
            elif first is not None and first.host != candidate.host:
                why = (
                    f"server-alias {alias} is already an alias of host {first.host} ({first.ingress.ref}); "
                    "the first wins"
                )
            else:
                chosen.setdefault(alias, candidate)
                continue
            if mark not in warned:
                warned.add(mark)
                found.append(
                    finding(
                        codes.CONFLICT,
                        Severity.WARNING,
                        candidate.ingress,
                        why,
                        "Remove the alias, or the rule that names the same host.",
                        annotation_location(candidate.ingress, SERVER_ALIAS),
                    )
                )
    copies: list[Candidate] = []
    for alias, first in chosen.items():
        kind = HostKind.WILDCARD if alias.startswith("*.") else HostKind.EXACT
        for candidate in candidates:
            if candidate.host == first.host and candidate.host_kind is first.host_kind:
                copies.append(
                    dataclasses.replace(
                        candidate, host=alias, host_kind=kind, route_id=f"{candidate.route_id}{ALIAS}{alias}"
                    )
                )
    return candidates + copies, found
