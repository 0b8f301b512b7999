"""Fixtures for the API tests: a RuntimeView over real model objects, and the API app around it."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import bcrypt
import pytest
from aiohttp.test_utils import TestClient

from ingressctl.api import CertificateInfo, CertificateSource, Metrics, build_api_app
from ingressctl.model import (
    BackendProblem,
    BasicAuth,
    Diagnostic,
    HostKind,
    Location,
    ObjectRef,
    PathType,
    Redirect,
    Route,
    RouteBackend,
    RouteMiddlewares,
    Severity,
    TLSCertificate,
    TLSSource,
    Upstream,
)
from ingressctl.model.config import EntryPoint, EntryPointAuth, EntryPointRedirect, EntryPointTLS
from ingressctl.providers.base import ProviderStatus
from ingressctl.proxy.pool import EndpointFailing
from ingressctl.security.htpasswd import apr1
from tests.api.browser import Browser, Page

# Strings that must never appear in any API response.
TOKEN = "tok-3f9c1e2a7b5d4c8e9f0a1b2c3d4e5f60"
PRIVATE_KEY_PEM = (
    b"-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgdGVzdC1rZXk=\n"
    b"-----END PRIVATE KEY-----\n"
)
APR1_HASH = apr1(b"s3cret", "abcdefgh")
BCRYPT_HASH = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$", 1)
SHA_HASH = "{SHA}" + base64.b64encode(hashlib.sha1(b"s3cret").digest()).decode()
SECRET_MARKERS = ("PRIVATE KEY", "$apr1$", "$2y$", "$2b$", "{SHA}", TOKEN)


@dataclass
class FakeView:
    """A RuntimeView whose answers the test sets directly (the same interface the server implements)."""

    routes: Sequence[Route] = ()
    default_route: Route | None = None
    certs_in_table: Sequence[TLSCertificate] = ()
    applied: bool = True
    diagnostics_: Sequence[Diagnostic] = ()
    providers: Sequence[ProviderStatus] = ()
    entrypoints_: Sequence[EntryPoint] = ()
    certificates_: Sequence[CertificateInfo] = ()
    reloaded_at: float | None = None
    error: str | None = None
    started: float = field(default_factory=lambda: time.time() - 3600)
    summary: Mapping[str, Any] = field(default_factory=dict)
    failing: dict[tuple[str, int], EndpointFailing] = field(default_factory=dict)
    _table: Table | None = None

    def table(self) -> Table | None:
        # Like the server: the same table object until the configuration changes.
        if not self.applied:
            return None
        table = Table(tuple(self.routes), tuple(self.certs_in_table), self.default_route)
        if table != self._table:
            self._table = table
        return self._table

    def diagnostics(self) -> Sequence[Diagnostic]:
        return self.diagnostics_

    def provider_statuses(self) -> Sequence[ProviderStatus]:
        return self.providers

    def entrypoints(self) -> Sequence[EntryPoint]:
        return self.entrypoints_

    def certificates(self) -> Sequence[CertificateInfo]:
        return self.certificates_

    def last_reload(self) -> float | None:
        return self.reloaded_at

    def last_error(self) -> str | None:
        return self.error

    def ready(self) -> bool:
        return self.applied

    def started_at(self) -> float:
        return self.started

    def config_summary(self) -> Mapping[str, Any]:
        return self.summary

    def failing_endpoints(self) -> Mapping[tuple[str, int], EndpointFailing]:
        return self.failing


@dataclass(frozen=True)
class Table:
    routes: tuple[Route, ...]
    certificates: tuple[TLSCertificate, ...]
    default_route: Route | None


def make_route(
    ns: str,
    ingress: str,
    index: str,
    host: str | None,
    path: str,
    service: str,
    *,
    upstreams: Sequence[Upstream] = (Upstream("10.0.0.1", 8080),),
    path_type: PathType = PathType.PREFIX,
    problem: BackendProblem | None = None,
    middlewares: RouteMiddlewares | None = None,
    tls: TLSSource | None = None,
    port: str = "80",
) -> Route:
    kind = HostKind.ANY if host is None else HostKind.WILDCARD if host.startswith("*.") else HostKind.EXACT
    return Route(
        id=f"{ns}/{ingress}#{index}",
        host=host,
        host_kind=kind,
        path=path,
        path_type=path_type,
        backend=RouteBackend(
            ns,
            service,
            port,
            upstreams=() if problem else tuple(upstreams),
            problem=problem,
            problem_detail="Service default/ghost does not exist" if problem else "",
        ),
        source=ObjectRef("Ingress", ns, ingress),
        middlewares=middlewares or RouteMiddlewares(),
        tls=tls,
        location=Location(f"manifests/{ingress}.yaml", 7, 9),
    )


def sample_view() -> FakeView:
    now = time.time()
    auth = BasicAuth(
        realm="admins",
        users=(("alice", APR1_HASH), ("bob", BCRYPT_HASH), ("carol", SHA_HASH)),
        source="Secret default/admins",
    )
    routes = [
        make_route(
            "default",
            "shop",
            "0.0",
            "shop.example.com",
            "/",
            "shop",
            upstreams=(Upstream("10.0.0.1", 8080, weight=3), Upstream("10.0.0.2", 8080, weight=1)),
            tls=TLSSource.SECRET,
        ),
        make_route(
            "default",
            "shop",
            "0.1",
            "shop.example.com",
            "/api",
            "shop-api",
            path_type=PathType.EXACT,
            middlewares=RouteMiddlewares(basic_auth=auth, allow_source_ranges=("10.0.0.0/8",)),
            tls=TLSSource.SECRET,
        ),
        make_route(
            "default",
            "blog",
            "0.0",
            "*.blog.example.org",
            "/",
            "blog",
            middlewares=RouteMiddlewares(redirect=Redirect("https", permanent=True)),
            tls=TLSSource.ACME,
        ),
        make_route(
            "default",
            "ghost",
            "0.0",
            "ghost.example.com",
            "/",
            "ghost",
            problem=BackendProblem.SERVICE_NOT_FOUND,
        ),
        make_route(
            "staging",
            "legacy",
            "0.0",
            None,
            "/legacy",
            "legacy",
            upstreams=(Upstream("10.1.0.9", 80, fallback=True),),
        ),
    ]
    default = make_route("default", "catchall", "default", None, "", "fallback")
    default = Route(**{**{f: getattr(default, f) for f in default.__slots__}, "is_default_backend": True})
    diagnostics = [
        Diagnostic(
            "IC301",
            Severity.ERROR,
            "Ingress default/ghost: Service default/ghost does not exist",
            Location("manifests/ghost.yaml", 12, 15),
            hint="create the Service or fix the name",
            object=ObjectRef("Ingress", "default", "ghost"),
        ),
        Diagnostic(
            "IC210",
            Severity.WARNING,
            "Ingress default/blog: annotation ingress.kubernetes.io/ssl-redirct is "
            "not known; did you mean ssl-redirect?",
            Location("manifests/blog.yaml", 5, 5),
            object=ObjectRef("Ingress", "default", "blog"),
        ),
        Diagnostic(
            "IC401",
            Severity.WARNING,
            f"Secret default/admins: line 2 'bob:{BCRYPT_HASH}' weak hash",
            object=ObjectRef("Secret", "default", "admins"),
        ),
    ]
    return FakeView(
        routes=routes,
        default_route=default,
        certs_in_table=(
            TLSCertificate(
                ("shop.example.com",),
                ObjectRef("Secret", "default", "shop-tls"),
                cert_pem=b"-----BEGIN CERTIFICATE-----\n",
                key_pem=PRIVATE_KEY_PEM,
            ),
        ),
        diagnostics_=diagnostics,
        providers=[
            ProviderStatus("manifests", True, "", now - 5),
            ProviderStatus("kubernetes", False, f"401 Unauthorized (token={TOKEN})", now - 600),
        ],
        entrypoints_=[
            EntryPoint("http", "127.0.0.1:8000", redirect=EntryPointRedirect("https")),
            EntryPoint(
                "https",
                "127.0.0.1:8443",
                tls=EntryPointTLS(min_version="1.2"),
                auth=EntryPointAuth("edge", (("alice", APR1_HASH),)),
            ),
        ],
        certificates_=[
            CertificateInfo(
                ("shop.example.com", "www.shop.example.com"),
                "CN=Example CA",
                now + 60 * 86400,
                CertificateSource.SECRET,
                origin="Secret default/shop-tls",
                not_before=now - 86400,
            ),
            CertificateInfo(
                ("old.example.com",),
                "CN=Example CA",
                now - 2 * 86400,
                CertificateSource.FILE,
                origin="/etc/certs/old.pem",
            ),
            CertificateInfo(
                ("a.blog.example.org",),
                "CN=Pebble Intermediate CA",
                now + 5 * 86400,
                CertificateSource.ACME,
                problems=("renewal failed: rate limited",),
            ),
        ],
        reloaded_at=now - 30,
        summary={
            "entrypoints": ["http", "https"],
            "providers": ["manifests", "kubernetes"],
            "kubernetes": {"endpoint": "https://10.0.0.1:6443", "token": TOKEN},
        },
    )


@pytest.fixture
def view() -> FakeView:
    return sample_view()


@pytest.fixture
def metrics(view: FakeView) -> Metrics:
    return Metrics(view)


ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def api_client(aiohttp_client: ClientFactory, view: FakeView, metrics: Metrics) -> TestClient[Any, Any]:
    return await aiohttp_client(build_api_app(view, metrics, auth=None, insecure=False))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session (it takes a second to start)."""
    chromium = Browser()
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    tab = await Page.open(browser)
    try:
        yield tab
    finally:
        await tab.close()
