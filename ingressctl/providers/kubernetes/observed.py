"""What the watch last saw of the objects whose status the leader writes (the Gateway API kinds).

The status writer compares what it would write with this, and sends the version it read (a 409
when the object changed since), so the only API call it makes is the write itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from ingressctl.providers.kubernetes.resources import GatewayApiStatus, KubeObject


@dataclass(frozen=True, slots=True)
class Observed:
    resource_version: str
    generation: int
    status: GatewayApiStatus

    @classmethod
    def of(cls, raw: KubeObject) -> Observed:
        meta = raw.get("metadata") or {}
        generation = meta.get("generation")
        status = raw.get("status")
        return cls(
            str(meta.get("resourceVersion") or ""),
            generation if isinstance(generation, int) else 0,
            # The watch hands on the API's JSON: a status the Gateway API kinds' schema describes.
            cast(GatewayApiStatus, status) if isinstance(status, dict) else {},
        )
