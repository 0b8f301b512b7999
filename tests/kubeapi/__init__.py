"""A Kubernetes API server for tests (see server.py)."""

from tests.kubeapi.server import ADMIN_USER, KubeAPIServer, Rule, rule, rules_from_rbac

__all__ = ["ADMIN_USER", "KubeAPIServer", "Rule", "rule", "rules_from_rbac"]
