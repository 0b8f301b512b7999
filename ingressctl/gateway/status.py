"""The status of Gateway API objects, computed from one compile (pure; no I/O, no clock)."""

from __future__ import annotations

from ingressctl.model.gateway import GatewayStatusReport


def gateway_status(controller_name: str) -> GatewayStatusReport:
    """Placeholder until attach lands: no object of ours yet."""
    return GatewayStatusReport(controller_name=controller_name)
