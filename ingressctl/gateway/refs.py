"""ReferenceGrants: a reference into another namespace is allowed only when a grant in the target's
namespace lets objects of the referring kind and namespace in."""

from __future__ import annotations

from collections.abc import Iterable

from ingressctl.model.gateway import GrantTo, ReferenceGrant


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
