"""HTTPRoute filters → the middlewares Ingress annotations use, one implementation per behaviour:
header modifiers and URLRewrite become RouteMiddlewares.rewrites (request-headers, response-headers,
path-rewrite, the backend's Host); RequestRedirect, RequestMirror and the answers the API requires
(500 for invalid backends) become RouteMiddlewares.gateway (ingressctl.gateway.chain)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingressctl.model.gateway import (
    FilterType,
    HeaderModifier,
    HTTPRouteFilter,
    HTTPRouteMatch,
    PathMatchType,
    PathModifierType,
    RequestMirror,
    RequestRedirect,
)
from ingressctl.model.rewrites import HeaderEdit, PathRewrite, PathRewriteKind, Rewrites
from ingressctl.routing.paths import prefix_key

SUPPORTED = frozenset(
    {
        FilterType.REQUEST_HEADER_MODIFIER,
        FilterType.RESPONSE_HEADER_MODIFIER,
        FilterType.REQUEST_REDIRECT,
        FilterType.URL_REWRITE,
        FilterType.REQUEST_MIRROR,
    }
)


@dataclass(slots=True)
class RuleFilters:
    """A rule's filters, translated for one of its matches."""

    rewrites: Rewrites | None = None
    redirect: RequestRedirect | None = None
    mirrors: list[RequestMirror] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # filter types that fail the rule closed (500)


def edits(modifier: HeaderModifier) -> tuple[HeaderEdit, ...]:
    """set replaces, add appends, remove removes: in this order, as the API lists them."""
    out = [HeaderEdit(name, value) for name, value in modifier.set]
    out += [HeaderEdit(name, value, append=True) for name, value in modifier.add]
    out += [HeaderEdit(name, "") for name in modifier.remove]
    return tuple(out)


def prefix_rewrite(match: HTTPRouteMatch, replacement: str) -> PathRewrite:
    """ReplacePrefixMatch: the matched prefix (whole path elements) becomes `replacement`."""
    if match.path.type is PathMatchType.PATH_PREFIX:
        pattern = "^" + re.escape(prefix_key(match.path.value)) + "(/.*)?$"
    else:  # an Exact match: the whole path is the prefix matched
        pattern = "^" + re.escape(match.path.value) + "()$"
    return PathRewrite(
        PathRewriteKind.REPLACE_PATH_REGEX, replacement.rstrip("/") + "$1", pattern, "HTTPRoute URLRewrite"
    )


def rule_filters(filters: tuple[HTTPRouteFilter, ...], match: HTTPRouteMatch) -> RuleFilters:
    out = RuleFilters()
    request: list[HeaderEdit] = []
    response: list[HeaderEdit] = []
    upstream_host = ""
    paths: list[PathRewrite] = []
    for item in filters:
        if item.type not in SUPPORTED:
            out.unsupported.append(item.type.value + (f" {item.extension_ref}" if item.extension_ref else ""))
        elif item.request_header_modifier is not None:
            request += edits(item.request_header_modifier)
        elif item.response_header_modifier is not None:
            response += edits(item.response_header_modifier)
        elif item.request_redirect is not None:
            out.redirect = item.request_redirect
        elif item.request_mirror is not None:
            out.mirrors.append(item.request_mirror)
        elif item.url_rewrite is not None:
            rewrite = item.url_rewrite
            if rewrite.hostname:
                upstream_host = rewrite.hostname
            if rewrite.path is not None:
                if rewrite.path.type is PathModifierType.REPLACE_FULL_PATH:
                    paths.append(
                        PathRewrite(
                            PathRewriteKind.REPLACE_PATH, rewrite.path.value, "", "HTTPRoute URLRewrite"
                        )
                    )
                else:
                    paths.append(prefix_rewrite(match, rewrite.path.value))
    if request or response or upstream_host or paths:
        out.rewrites = Rewrites(
            request_headers=tuple(request),
            response_headers=tuple(response),
            upstream_host=upstream_host,
            path_rewrites=tuple(paths),
        )
    return out
