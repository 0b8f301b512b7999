"""Lint rules that need more than compiling; each is `(LintContext) -> Iterable[Diagnostic]`."""

from __future__ import annotations

from ingressctl.checks.context import Rule
from ingressctl.checks.lint.annotations import check_foreign_annotations, check_unknown_annotations
from ingressctl.checks.lint.apiversions import check_deprecated_api_versions
from ingressctl.checks.lint.certificates import check_tls_certificates
from ingressctl.checks.lint.duplicates import check_duplicate_objects
from ingressctl.checks.lint.paths import check_pattern_paths, check_rules_without_paths
from ingressctl.checks.lint.ports import check_backend_ports
from ingressctl.checks.lint.tls import (
    check_conflicting_tls_secrets,
    check_rule_hosts_without_tls,
    check_tls_hosts_without_rule,
)

RULES: tuple[Rule, ...] = (
    check_deprecated_api_versions,
    check_unknown_annotations,
    check_tls_hosts_without_rule,
    check_rule_hosts_without_tls,
    check_backend_ports,
    check_conflicting_tls_secrets,
    check_foreign_annotations,
    check_duplicate_objects,
    check_tls_certificates,
    check_pattern_paths,
    check_rules_without_paths,
)

__all__ = ["RULES"]
