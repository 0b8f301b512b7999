"""The ports where the CLI's parts meet the server: what the server needs from each, typed.

The composition root (ingressctl/compose.py) builds the parts; the server only knows these shapes, so
`mypy --strict` checks every call across the seam and a test or embedder can plug in its own part.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aiohttp.web_request import BaseRequest
    from aiohttp.web_response import StreamResponse

    from ingressctl.providers.base import ProviderUpdate
    from ingressctl.proxy.plan import Table, TablePlan


class AcmePort(Protocol):
    """The ACME integration (ingressctl.server.acme.AcmeIntegration): started with the server, told
    about every new table, its HTTP-01 hook first in line."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def http01_hook(self, request: BaseRequest, entrypoint: str) -> StreamResponse | None: ...

    def on_table(self, table: Table, plan: TablePlan | None = None) -> None: ...


class ElectionSettings(Protocol):
    @property
    def leader_election(self) -> bool: ...


class Elector(Protocol):
    @property
    def leader(self) -> str: ...  # the identity currently holding the Lease ("" when unknown)


class ClusterPort(Protocol):
    """Leadership and Ingress status (ingressctl.server.cluster.ClusterControl), with the
    Kubernetes provider: started after the entrypoints, told about every applied update."""

    @property
    def identity(self) -> str: ...

    @property
    def is_leader(self) -> bool: ...

    @property
    def settings(self) -> ElectionSettings: ...

    @property
    def elector(self) -> Elector | None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def on_table(self, table: Table) -> None: ...

    def on_applied(self, updates: Mapping[str, ProviderUpdate]) -> None: ...
