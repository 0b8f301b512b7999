"""The provider against the test API server (tests/kubeapi), through the official client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ingressctl.model import Snapshot
from ingressctl.model.config import KubernetesConfig
from ingressctl.providers.base import ProviderStatus, ProviderUpdate
from ingressctl.providers.kubernetes import KubernetesProvider, Timing
from ingressctl.providers.kubernetes.backoff import Backoff
from tests.kubeapi import KubeAPIServer

FAST = Timing(
    watch_timeout=30,
    stall_timeout=1.0,
    connect_timeout=1.0,
    request_timeout=2.0,
    backoff=Backoff(initial=0.05, maximum=0.4, jitter=0.2),
)


@dataclass
class Recorder:
    """What a provider published and reported, with a way to wait for a condition on it."""

    updates: list[ProviderUpdate] = field(default_factory=list)
    statuses: list[ProviderStatus] = field(default_factory=list)
    published_at: list[float] = field(default_factory=list)

    def publish(self, update: ProviderUpdate) -> None:
        self.updates.append(update)
        self.published_at.append(time.perf_counter())

    def report(self, status: ProviderStatus) -> None:
        self.statuses.append(status)

    @property
    def snapshot(self) -> Snapshot | None:
        return self.updates[-1].snapshot if self.updates else None

    async def wait(
        self, predicate: Callable[[Snapshot], bool], timeout: float = 30.0, what: str = ""
    ) -> Snapshot:
        deadline = time.monotonic() + timeout
        while True:
            snap = self.snapshot
            if snap is not None and predicate(snap):
                return snap
            if time.monotonic() > deadline:
                raise AssertionError(f"no published snapshot satisfied {what or predicate} within {timeout}s")
            await asyncio.sleep(0.01)

    async def wait_status(
        self, predicate: Callable[[ProviderStatus], bool], timeout: float = 30.0, since: int = 0
    ) -> ProviderStatus:
        """The first status reported after the `since`-th that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        seen = since
        while True:
            for status in self.statuses[seen:]:
                if predicate(status):
                    return status
            seen = len(self.statuses)
            if time.monotonic() > deadline:
                last = self.statuses[-1] if self.statuses else None
                raise AssertionError(f"no matching status within {timeout}s; last: {last}")
            await asyncio.sleep(0.01)


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeAPIServer]:
    with KubeAPIServer(tmp_path / "kubeapi", bookmark_interval=0.3) as server:
        yield server


def kube_config(server: KubeAPIServer, token: str = "test-token", **kw: Any) -> KubernetesConfig:
    return KubernetesConfig(
        kubeconfig=str(server.write_kubeconfig(token=token, context=f"ctx-{token}")), **kw
    )


@contextlib.asynccontextmanager
async def running(provider: KubernetesProvider) -> AsyncIterator[Recorder]:
    recorder = Recorder()
    task = asyncio.create_task(provider.run(recorder.publish, recorder.report))
    try:
        yield recorder
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
def provider_factory(kube_api: KubeAPIServer) -> Callable[..., KubernetesProvider]:
    def make(
        token: str = "test-token", config: KubernetesConfig | None = None, **kw: Any
    ) -> KubernetesProvider:
        kw.setdefault("timing", FAST)
        return KubernetesProvider(config or kube_config(kube_api, token), **kw)

    return make


@pytest.fixture
def kube_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="ingressctl.providers.kubernetes")  # a routine 410 is DEBUG
    return caplog
