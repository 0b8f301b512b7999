"""Entrypoints as `routes` and `routes --explain` show them: address, TLS, and the protocols clients
can speak there (the same `Http2Settings.protocols` the API, the dashboard and serve use)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ingressctl.model import Route
from ingressctl.model.config import EntryPoint
from ingressctl.routing.chain_entrypoint import entrypoint_chain


def entrypoint_dict(ep: EntryPoint) -> dict[str, Any]:
    return {
        "name": ep.name,
        "address": ep.address,
        "tls": ep.tls is not None,
        "protocols": list(ep.http2.protocols(ep.tls is not None)),
        # What the entrypoint adds around the chain of every route on it (compress).
        "chain": [spec.describe() for spec in entrypoint_chain(ep)],
    }


def entrypoint_line(ep: EntryPoint) -> str:
    """ "websecure :443 TLS: h2, http/1.1" """
    tls = " TLS" if ep.tls is not None else ""
    return f"{ep.name} {ep.address}{tls}: {', '.join(ep.http2.protocols(ep.tls is not None))}"


def serving(route: Route, entrypoints: Sequence[EntryPoint], defaults: Sequence[str]) -> list[EntryPoint]:
    """The entrypoints that serve `route`: those it names, else the default ones (else all)."""
    names = set(route.entrypoints) or set(defaults) or {ep.name for ep in entrypoints}
    return [ep for ep in entrypoints if ep.name in names]
