"""ingressctl.api: the dashboard, JSON API, probes and Prometheus metrics of a running server."""

from ingressctl.api.app import build_api_app, start_api
from ingressctl.api.exposure import check_api_exposure
from ingressctl.api.metrics import Metrics
from ingressctl.api.view import CertificateInfo, CertificateSource, RouteTable, RuntimeView

__all__ = [
    "CertificateInfo",
    "CertificateSource",
    "Metrics",
    "RouteTable",
    "RuntimeView",
    "build_api_app",
    "check_api_exposure",
    "start_api",
]
