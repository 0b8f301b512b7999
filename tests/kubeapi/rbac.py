"""The RBAC of the test API server: grants as rules, and rules read from ClusterRoles/Roles and bindings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    """One RBAC grant: `user` may do `verbs` on `resources` ("ingresses", "ingresses/status") of `groups`."""

    user: str
    verbs: frozenset[str]
    resources: frozenset[str]
    groups: frozenset[str] = frozenset({"*"})
    namespaces: frozenset[str] | None = None  # None: every namespace and the cluster scope
    names: frozenset[str] | None = None  # resourceNames; None: any object

    def allows(self, user: str, verb: str, group: str, resource: str, namespace: str, name: str = "") -> bool:
        return (
            self.user in (user, "*")
            and (verb in self.verbs or "*" in self.verbs)
            and (group in self.groups or "*" in self.groups)
            and (resource in self.resources or "*" in self.resources)
            and (self.namespaces is None or (bool(namespace) and namespace in self.namespaces))
            and (self.names is None or (bool(name) and name in self.names))
        )


def rule(user: str, verbs: Iterable[str], resources_: Iterable[str], **kw: Any) -> Rule:
    ns = kw.pop("namespaces", None)
    names = kw.pop("names", None)
    return Rule(
        user,
        frozenset(verbs),
        frozenset(resources_),
        namespaces=None if ns is None else frozenset(ns),
        names=None if names is None else frozenset(names),
        **{k: frozenset(v) for k, v in kw.items()},
    )


def rules_from_rbac(user: str, documents: Iterable[Mapping[str, Any]]) -> list[Rule]:
    """The grants of ClusterRoles/Roles (as YAML documents) bound to `user`, as this server's rules."""
    docs = [d for d in documents if isinstance(d, Mapping)]
    bound: list[tuple[str, str, str]] = []  # (role kind, role name, namespace of a RoleBinding)
    for doc in docs:
        if doc.get("kind") in ("ClusterRoleBinding", "RoleBinding"):
            for subject in doc.get("subjects") or []:
                sa = f"system:serviceaccount:{subject.get('namespace')}:{subject.get('name')}"
                if subject.get("kind") == "ServiceAccount" and sa == user:
                    ns = doc["metadata"].get("namespace", "") if doc["kind"] == "RoleBinding" else ""
                    bound.append((doc["roleRef"]["kind"], doc["roleRef"]["name"], ns))
    out: list[Rule] = []
    for doc in docs:
        for role_kind, role_name, ns in bound:
            if doc.get("kind") == role_kind and doc["metadata"]["name"] == role_name:
                for r in doc.get("rules") or []:
                    names = r.get("resourceNames")
                    out.append(
                        Rule(
                            user,
                            frozenset(r["verbs"]),
                            frozenset(r["resources"]),
                            frozenset(r["apiGroups"]),
                            frozenset({ns}) if ns else None,
                            frozenset(names) if names else None,
                        )
                    )
    return out
