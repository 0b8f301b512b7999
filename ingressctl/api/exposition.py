"""Which /metrics body a scraper gets: the format from `Accept`, gzip from `Accept-Encoding`.

Prometheus asks for OpenMetrics first (`application/openmetrics-text;version=1.0.0`, then 0.0.1,
then `text/plain;version=0.0.4` at a lower q) and for `Accept-Encoding: gzip`; curl and older
scrapers ask for neither and get the text format 0.0.4 uncompressed, as before. Media ranges and
codings are weighed by their q-values (RFC 9110 12.5.1 and 12.5.3): q=0 refuses.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_OPENMETRICS = "application/openmetrics-text"
# 0.0.1 is the draft Prometheus still lists; what prometheus_client writes satisfies both.
_OPENMETRICS_VERSIONS = ("1.0.0", "0.0.1")
# Fast to write, and a scrape body compresses about tenfold at this level already.
GZIP_LEVEL = 1


@dataclass(frozen=True, slots=True)
class Exposition:
    openmetrics: bool
    gzip: bool

    @property
    def content_type(self) -> str:
        return OPENMETRICS_CONTENT_TYPE if self.openmetrics else TEXT_CONTENT_TYPE

    def encode(self, body: bytes) -> bytes:
        return gzip.compress(body, compresslevel=GZIP_LEVEL) if self.gzip else body

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": self.content_type, "Vary": "Accept, Accept-Encoding"}
        if self.gzip:
            headers["Content-Encoding"] = "gzip"
        return headers


def _elements(header: str) -> list[tuple[str, dict[str, str], float]]:
    """(value, parameters, q) of each comma-separated element; a malformed q counts as 0."""
    out: list[tuple[str, dict[str, str], float]] = []
    for element in header.split(","):
        value, *params = element.split(";")
        value = value.strip().lower()
        if not value:
            continue
        parameters: dict[str, str] = {}
        q = 1.0
        for param in params:
            key, _, raw = param.partition("=")
            key, raw = key.strip().lower(), raw.strip().strip('"')
            if key == "q":
                try:
                    q = min(1.0, max(0.0, float(raw)))
                except ValueError:
                    q = 0.0
            elif key:
                parameters[key] = raw
        out.append((value, parameters, q))
    return out


def _wants_openmetrics(accept: str) -> bool:
    openmetrics = text = 0.0
    for media, params, q in _elements(accept):
        if media == _OPENMETRICS and params.get("version", "1.0.0") in _OPENMETRICS_VERSIONS:
            openmetrics = max(openmetrics, q)
        elif media in ("text/plain", "text/*", "*/*"):
            text = max(text, q)
    # A tie goes to OpenMetrics only when it was named: "*/*" alone means "anything", i.e. text.
    return openmetrics > 0 and openmetrics >= text


def _accepts_gzip(accept_encoding: str) -> bool:
    named: float | None = None
    wildcard: float | None = None
    for coding, _, q in _elements(accept_encoding):
        if coding in ("gzip", "x-gzip"):
            named = q if named is None else max(named, q)
        elif coding == "*":
            wildcard = q
    q_gzip = named if named is not None else wildcard
    return q_gzip is not None and q_gzip > 0


def negotiate(accept: str, accept_encoding: str) -> Exposition:
    return Exposition(openmetrics=_wants_openmetrics(accept), gzip=_accepts_gzip(accept_encoding))
