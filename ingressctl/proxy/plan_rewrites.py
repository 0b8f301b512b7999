"""The runtime middlewares of ingressctl.routing.chain_rewrites's specs."""

from __future__ import annotations

from ingressctl.proxy.exchange import Middleware
from ingressctl.proxy.middlewares.allowed_hosts import AllowedHosts
from ingressctl.proxy.middlewares.headers import RequestHeaders, ResponseHeaders
from ingressctl.proxy.middlewares.https_redirect import HttpsRedirect
from ingressctl.proxy.middlewares.path_rewrite import PathRewrite
from ingressctl.proxy.middlewares.redirects import AppRoot, FixedRedirect, RegexRedirect, WwwRedirect
from ingressctl.routing.chain_rewrites import (
    AllowedHostsSpec,
    AppRootSpec,
    FixedRedirectSpec,
    HttpsRedirectSpec,
    RegexRedirectSpec,
    RequestHeadersSpec,
    ResponseHeadersSpec,
    RewriteSpec,
    WwwRedirectSpec,
)


def rewrite_middleware(spec: RewriteSpec) -> Middleware:
    if isinstance(spec, AllowedHostsSpec):
        return AllowedHosts(spec)
    if isinstance(spec, ResponseHeadersSpec):
        return ResponseHeaders(spec)
    if isinstance(spec, HttpsRedirectSpec):
        return HttpsRedirect(spec)
    if isinstance(spec, AppRootSpec):
        return AppRoot(spec)
    if isinstance(spec, RegexRedirectSpec):
        return RegexRedirect(spec)
    if isinstance(spec, FixedRedirectSpec):
        return FixedRedirect(spec)
    if isinstance(spec, WwwRedirectSpec):
        return WwwRedirect(spec)
    if isinstance(spec, RequestHeadersSpec):
        return RequestHeaders(spec)
    return PathRewrite(spec)
