"""Specs that run where the proxy takes the route or logs it, not as stages of the chain: the canary
chosen per request (ingress-nginx canary-by-header / -by-cookie), which picks the backend
(proxy/canary.py), and enable-access-log: false. `routes --explain` shows them at the end of the
chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ingressctl.model import Route
from ingressctl.model.canary import CanaryRouting

Description = dict[str, str | int | bool | list[str]]


@dataclass(frozen=True, slots=True)
class CanarySpec:
    """Send the requests the rules select to the canary's Service."""

    name: ClassVar[str] = "canary"
    canary: CanaryRouting

    @property
    def label(self) -> str:
        return f"{self.name}->{self.canary.backend.label}"

    def describe(self) -> Description:
        rules = self.canary.rules
        steps: list[str] = []
        if rules.header:
            if rules.header_value:
                steps.append(f"header {rules.header}: {rules.header_value!r} → canary")
            elif rules.header_pattern:
                steps.append(f"header {rules.header} matching {rules.header_pattern!r} → canary")
            else:
                steps.append(f"header {rules.header}: always → canary, never → main")
        if rules.cookie:
            steps.append(f"cookie {rules.cookie}: always → canary, never → main")
        steps.append(f"otherwise {rules.weight}/{rules.total} of the requests → canary")
        return {
            "name": self.name,
            "effect": f"to {self.canary.backend.label} (canary {self.canary.source}) when: "
            + "; ".join(steps),
            "backend": self.canary.backend.label,
            "source": str(self.canary.source),
            "header": rules.header,
            "header_value": rules.header_value,
            "header_pattern": rules.header_pattern,
            "cookie": rules.cookie,
            "weight": rules.weight,
            "weight_total": rules.total,
        }


def canary_specs(route: Route) -> tuple[CanarySpec, ...]:
    canary = route.middlewares.canary
    return () if canary is None else (CanarySpec(canary),)


@dataclass(frozen=True, slots=True)
class AccessLogOffSpec:
    """ingress-nginx enable-access-log: false: the route's requests leave no access-log line."""

    name: ClassVar[str] = "no-access-log"

    @property
    def label(self) -> str:
        return self.name

    def describe(self) -> Description:
        return {"name": self.name, "effect": "no access-log line for this route (enable-access-log: false)"}


def access_log_specs(route: Route) -> tuple[AccessLogOffSpec, ...]:
    return () if route.middlewares.access_log else (AccessLogOffSpec(),)
