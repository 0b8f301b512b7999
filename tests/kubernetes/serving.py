"""A real `ingressctl serve --kubernetes` against the test API server, under steady request load.

What the fault tests read: the routes the API reports (the exact table), the requests that failed on
a route no fault touched, the provider's log lines, and the LISTs the API server answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import endpoint_slice, ingress, service
from tests.serve.backends import Backend, Load
from tests.serve.conftest import ServeProcess

PROVIDER_LINE = re.compile(r"^\S+ (DEBUG|INFO|WARNING|ERROR)\s+ingressctl\.providers\.kubernetes: (.*)$")
NS = "shop"
STEADY = "steady.test"  # the route no fault changes: every request to it must succeed


@dataclass(frozen=True)
class Route:
    host: str
    path: str
    service: str
    status: str


def app(name: str, port: int, host: str) -> list[dict[str, object]]:
    """Ingress NAME for HOST → Service NAME → one ready endpoint 127.0.0.1:PORT, in namespace shop."""
    return [
        service(name, NS),
        endpoint_slice(f"{name}-1", name, ["127.0.0.1"], NS, port=port),
        ingress(name, NS, host=host, service_name=name),
    ]


def route(name: str, host: str) -> Route:
    return Route(host, "/", f"{NS}/{name}:80", "enabled")


@dataclass
class Cluster:
    """serve, the API server it watches, the backend behind every route and the load on STEADY."""

    kube: KubeAPIServer
    sp: ServeProcess
    api_url: str
    backend: Backend
    load: Load

    @property
    def mark(self) -> int:
        return len(self.sp.lines)

    def provider_lines(self, since: int, level: str, pattern: str = "") -> list[str]:
        regex = re.compile(pattern)
        found = []
        for line in self.sp.lines[since:]:
            m = PROVIDER_LINE.match(line)
            if m and m.group(1) == level and regex.search(m.group(2)):
                found.append(m.group(2))
        return found

    def problems(self, since: int) -> list[str]:
        """Provider lines at WARNING or ERROR: each one a problem that began."""
        return self.provider_lines(since, "WARNING") + self.provider_lines(since, "ERROR")

    def restored(self, since: int) -> list[str]:
        return self.provider_lines(since, "INFO", r" restored after ")

    async def wait_restored(self, since: int, count: int, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.restored(since)) < count:
            assert time.monotonic() < deadline, (
                f"not {count} recovery lines within {timeout}s:\n{self.sp.text}"
            )
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.2)  # a second recovery line would come within the settle time (1 s)
        return self.restored(since)

    async def routes(self) -> set[Route]:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(f"{self.api_url}/api/routers") as resp,
        ):
            doc = await resp.json()
        return {Route(r["host"], r["path"], r["service"], r["status"]) for r in doc["routers"]}

    async def wait_routes(self, expected: set[Route], timeout: float = 30.0) -> None:
        """Until the table is exactly `expected` (no ghost routes, nothing missing)."""
        deadline = time.monotonic() + timeout
        while (got := await self.routes()) != expected:
            assert time.monotonic() < deadline, (
                f"routes {got} != {expected} after {timeout}s:\n{self.sp.text}"
            )
            await asyncio.sleep(0.05)

    def assert_steady_served(self) -> None:
        assert self.load.ok > 0, "no request reached the steady route"
        assert self.load.failures == [], f"{len(self.load.failures)} failed: {self.load.failures[:5]}"

    def assert_no_server_summaries(self, since: int) -> None:
        """The provider says each problem itself: the server repeats none of it."""
        repeated = [line for line in self.sp.lines[since:] if "provider kubernetes" in line]
        assert repeated == [], repeated


def start_serve(args: list[str], env: Mapping[str, str]) -> ServeProcess:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingressctl", "serve", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
    )
    sp = ServeProcess(proc)
    sp.start_reader()
    return sp


@contextlib.asynccontextmanager
async def serving(
    kube: KubeAPIServer,
    env: Mapping[str, str],
    *,
    kubeconfig: Path | None = None,
    setup: Callable[[Backend], None] | None = None,
) -> AsyncIterator[Cluster]:
    """serve watching `kube` (through `kubeconfig`, else in-cluster from `env`), the steady app applied
    and its route loaded by two clients for as long as the block runs."""
    backend = await Backend("127.0.0.1").start()
    kube.apply_many(app("steady", backend.port, STEADY))
    if setup is not None:
        setup(backend)
    args = ["--kubernetes", "--entrypoint", "web=127.0.0.1:0", "--api-address", "127.0.0.1:0"]
    args += ["--no-leader-election"]
    if kubeconfig is not None:
        args += ["--kubeconfig", str(kubeconfig)]
    sp = start_serve(args, env)
    try:
        await asyncio.to_thread(sp.wait_ready)
        api_url = (await asyncio.to_thread(sp.wait_for, r"API and dashboard on (\S+)/")).group(1)
        async with Load(sp.url("/"), STEADY, workers=2) as load:
            yield Cluster(kube, sp, api_url, backend, load)
    finally:
        await asyncio.to_thread(sp.stop)
        await backend.stop()
        print(sp.text)  # shown by pytest when the test fails
