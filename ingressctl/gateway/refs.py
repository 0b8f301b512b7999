"""ReferenceGrants: a reference into another namespace is allowed only when a grant in the target's
namespace lets objects of the referring kind and namespace in."""

from __future__ import annotations

from collections.abc import Iterable

from ingressctl.model.gateway import Gateway, GrantTo, ReferenceGrant


class Grants:
    def __init__(self, grants: Iterable[ReferenceGrant]) -> None:
        self._by_namespace: dict[str, list[ReferenceGrant]] = {}
        for grant in grants:
            self._by_namespace.setdefault(grant.meta.namespace, []).append(grant)

    def allows(
        self,
        from_group: str,
        from_kind: str,
        from_namespace: str,
        to_group: str,
        to_kind: str,
        to_namespace: str,
        to_name: str,
    ) -> bool:
        if from_namespace == to_namespace:
            return True
        target = GrantTo(to_group, to_kind, to_name)
        return any(
            grant.permits(from_group, from_kind, from_namespace, target)
            for grant in self._by_namespace.get(to_namespace, ())
        )


def certificate_secrets(gateways: Iterable[Gateway]) -> set[tuple[str, str]]:
    """(namespace, name) of every Secret a Gateway listener's certificateRefs name: the Secrets a
    provider that keeps only referenced Secrets must keep (whether a grant allows them is the
    compiler's call)."""
    wanted: set[tuple[str, str]] = set()
    for gateway in gateways:
        for listener in gateway.listeners:
            if listener.tls is None:
                continue
            for ref in listener.tls.certificate_refs:
                if ref.group in ("", "core") and ref.kind == "Secret":
                    wanted.add((ref.namespace or gateway.meta.namespace, ref.name))
    return wanted
