"""/metrics answers each scraper in the format and encoding it asks for, over real HTTP: OpenMetrics
for Prometheus's Accept header, text 0.0.4 otherwise, gzip when accepted; both read back with
prometheus_client's own parsers."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from ingressctl.api import Metrics, build_api_app
from tests.api.conftest import FakeView

# What Prometheus 2.x sends when scraping (scrape.go, acceptHeader for the default protocols).
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
# Prometheus 3.x lists the same, with the escaping scheme and lower q-values.
PROMETHEUS_3_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT = "text/plain; version=0.0.4; charset=utf-8"
ROUTER = {"entrypoint": "web", "router": "default/shop#0.0", "service": "default/shop:80"}


@pytest.fixture
async def metrics_url(aiohttp_server: Any, view: FakeView) -> AsyncIterator[str]:
    metrics = Metrics(view)
    for _ in range(3):
        metrics.on_request("web", "default/shop#0.0", "default/shop:80", 200, 0.004)
    metrics.on_upstream_error("web", "default/shop#0.0", "default/shop:80", "10.0.0.2:8080", "connect")
    server: TestServer = await aiohttp_server(build_api_app(view, metrics, auth=None, insecure=False))
    yield str(server.make_url("/metrics"))


async def scrape(url: str, headers: dict[str, str]) -> tuple[aiohttp.ClientResponse, bytes]:
    # auto_decompress off: the test sees the bytes on the wire, as Prometheus does; and no
    # Accept/Accept-Encoding but the ones given (aiohttp would add its own).
    skip = ("Accept", "Accept-Encoding")
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.get(url, headers=headers, skip_auto_headers=skip) as response,
    ):
        return response, await response.read()


def requests_of(families: Any) -> float:
    for family in families:
        for sample in family.samples:
            wanted = {**ROUTER, "code": "200", "protocol": "http/1.1"}
            if sample.name == "ingressctl_requests_total" and sample.labels == wanted:
                return float(sample.value)
    raise AssertionError("no ingressctl_requests_total sample for the router")


@pytest.mark.parametrize("accept", [PROMETHEUS_ACCEPT, PROMETHEUS_3_ACCEPT, "application/openmetrics-text"])
async def test_prometheus_gets_openmetrics(metrics_url: str, accept: str) -> None:
    response, body = await scrape(metrics_url, {"Accept": accept, "Accept-Encoding": "identity"})
    assert response.status == 200
    assert response.headers["Content-Type"] == OPENMETRICS
    assert "Content-Encoding" not in response.headers
    assert "Accept" in response.headers["Vary"]
    text = body.decode()
    assert text.endswith("# EOF\n")
    families = list(parse_openmetrics(text))  # raises on anything that is not OpenMetrics
    assert requests_of(families) == 3
    names = {f.name: f.type for f in families}
    assert names["ingressctl_requests"] == "counter"  # OpenMetrics names the family without _total
    assert names["ingressctl_request_duration_seconds"] == "histogram"


@pytest.mark.parametrize(
    "accept",
    [
        "",  # curl, most scripts
        "*/*",
        "text/plain;version=0.0.4",
        "application/openmetrics-text;q=0,text/plain",  # refused explicitly
        "application/openmetrics-text;version=2.0.0,text/plain;q=0.5",  # a version we do not write
        "text/plain;q=0.9,application/openmetrics-text;q=0.5",  # text preferred
    ],
)
async def test_everyone_else_gets_the_text_format(metrics_url: str, accept: str) -> None:
    response, body = await scrape(metrics_url, {"Accept": accept} if accept else {})
    assert response.status == 200
    assert response.headers["Content-Type"] == TEXT
    text = body.decode()
    assert "# EOF" not in text
    assert requests_of(parse_text(text)) == 3


@pytest.mark.parametrize("accept", [PROMETHEUS_ACCEPT, ""], ids=["openmetrics", "text"])
async def test_gzip_when_accepted(metrics_url: str, accept: str) -> None:
    headers = {"Accept": accept, "Accept-Encoding": "gzip"}
    response, body = await scrape(metrics_url, headers)
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert int(response.headers["Content-Length"]) == len(body)
    text = gzip.decompress(body).decode()
    assert len(body) < len(text) / 3
    families = parse_openmetrics(text) if accept else parse_text(text)
    assert requests_of(families) == 3


@pytest.mark.parametrize("encoding", ["", "identity", "gzip;q=0", "br", "*;q=0", "gzip;q=0, *"])
async def test_no_gzip_unless_accepted(metrics_url: str, encoding: str) -> None:
    response, body = await scrape(metrics_url, {"Accept-Encoding": encoding} if encoding else {})
    assert "Content-Encoding" not in response.headers
    assert requests_of(parse_text(body.decode())) == 3


async def test_wildcard_coding_means_gzip_too(metrics_url: str) -> None:
    response, body = await scrape(metrics_url, {"Accept-Encoding": "br;q=1, *;q=0.5"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert requests_of(parse_text(gzip.decompress(body).decode())) == 3
