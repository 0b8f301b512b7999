"""ingress-nginx from-to-www-redirect: the alias routes (www.HOST ↔ HOST) that redirect to the host
the Ingress names."""

from __future__ import annotations

import dataclasses

from ingressctl.model import HostKind, PathType
from ingressctl.routing.annotations import IngressAnnotations
from ingressctl.routing.annotations_rewrites import www_alias, www_alias_rewrites
from ingressctl.routing.candidates import Candidate

WWW_ALIAS = "#www"


def www_aliases(candidates: list[Candidate], annotations: IngressAnnotations) -> list[Candidate]:
    """A route for the other host of each exact host (www.HOST or HOST) that redirects there, unless a
    rule names that host (see drop_named_aliases)."""
    hosts = {c.host: c for c in candidates if c.host is not None and c.host_kind is HostKind.EXACT}
    out: list[Candidate] = []
    for host, first in sorted(hosts.items()):
        alias = www_alias(host)
        if alias in hosts:
            continue
        # Served where the Ingress is (entrypoints, TLS); a redirect only, so no other middleware.
        alias_annotations = dataclasses.replace(
            annotations,
            redirect=None,
            basic_auth=None,
            auth_error="",
            allow_error="",
            allow_source_ranges=(),
            strip_prefix=False,
            rewrites=www_alias_rewrites(host),
        )
        out.append(
            dataclasses.replace(
                first,
                annotations=alias_annotations,
                route_id=f"{first.route_id}{WWW_ALIAS}",
                host=alias,
                path="/",
                path_type=PathType.IMPLEMENTATION_SPECIFIC,
                order=(True, "\uffff", *first.order[2:]),
            )
        )
    return out


def drop_named_aliases(candidates: list[Candidate]) -> list[Candidate]:
    """A from-to-www-redirect route gives way to any rule that names its host (as ingress-nginx)."""
    if not any(c.route_id.endswith(WWW_ALIAS) for c in candidates):
        return candidates
    named = {c.host for c in candidates if not c.route_id.endswith(WWW_ALIAS)}
    return [c for c in candidates if c.host not in named or not c.route_id.endswith(WWW_ALIAS)]
