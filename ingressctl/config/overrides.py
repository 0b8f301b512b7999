"""Command-line values that override the configuration file. None (or empty) means "not given"."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ConfigOverrides:
    # (NAME, "ADDR[,tls][,redirect=OTHER][,proxy-protocol=CIDR;CIDR]") pairs: what a flag says wins
    # over the file's entrypoint of that name, the rest of it stays (config.entrypoint_flags). Given
    # without [entryPoints] in the file, they replace the default http and https.
    entrypoints: list[tuple[str, str]] = field(default_factory=list)
    # --default-certificate "CERT,KEY" (two PEM files).
    default_certificate: str | None = None
    api_address: str | None = None
    api_insecure: bool | None = None
    ping_address: str | None = None  # the unauthenticated /ping + /ready listener ([ping] address)
    workers: int | None = None
    log_level: str | None = None
    log_format: str | None = None  # "text" or "json"
    access_log: bool | None = None
    access_log_format: str | None = None  # "common" or "json"; giving it turns the access log on
    manifests: list[str] = field(default_factory=list)
    ingress_class: str | None = None
    controller_name: str | None = None
    allow_external_name_services: bool | None = None
    kubeconfig: str | None = None
    kube_context: str | None = None
    # ACME: giving any of these enables ACME even without an [acme] table.
    acme_email: str | None = None
    acme_ca_server: str | None = None
    acme_storage: str | None = None
    acme_on_host_rule: bool | None = None
    acme_on_demand: bool | None = None
    acme_ca_bundle: str | None = None

    def has_acme(self) -> bool:
        return any(
            value is not None
            for value in (
                self.acme_email,
                self.acme_ca_server,
                self.acme_storage,
                self.acme_on_host_rule,
                self.acme_on_demand,
                self.acme_ca_bundle,
            )
        )
