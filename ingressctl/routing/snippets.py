"""nginx configuration snippets (configuration-snippet, server-snippet, stream-snippet, auth-snippet,
modsecurity-snippet, nginx.org/*-snippets): never executed by ingressctl. This module reads one
to say what it tried to do and which annotation does it instead, for the finding."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIRECTIVE = re.compile(r"(?:^|[;{}])\s*([A-Za-z_][A-Za-z0-9_]*)(?=[\s;{])", re.MULTILINE)
_REDIRECT_RETURN = re.compile(r"\breturn\s+(30[1278])\b")


@dataclass(frozen=True, slots=True)
class SnippetAction:
    """One thing a snippet does, and what to use instead ("" when nothing does it)."""

    does: str
    instead: str


_HEADERS = "the headers annotations (ingress.kubernetes.io/custom-response-headers, custom-request-headers)"
_BY_DIRECTIVE: dict[str, SnippetAction] = {
    "more_set_headers": SnippetAction("sets response headers", _HEADERS),
    "more_clear_headers": SnippetAction("removes response headers", _HEADERS),
    "add_header": SnippetAction("sets response headers", _HEADERS),
    "proxy_set_header": SnippetAction("sets request headers sent upstream", _HEADERS),
    "more_set_input_headers": SnippetAction("sets request headers sent upstream", _HEADERS),
    "proxy_hide_header": SnippetAction("hides upstream response headers", _HEADERS),
    "deny": SnippetAction(
        "refuses clients by address", "nginx.ingress.kubernetes.io/whitelist-source-range (an allow-list)"
    ),
    "allow": SnippetAction(
        "allows clients by address", "nginx.ingress.kubernetes.io/whitelist-source-range (an allow-list)"
    ),
    "auth_basic": SnippetAction("asks for a password", "nginx.ingress.kubernetes.io/auth-type: basic"),
    "auth_basic_user_file": SnippetAction(
        "asks for a password", "nginx.ingress.kubernetes.io/auth-type: basic with auth-secret"
    ),
    "auth_request": SnippetAction("asks an auth service", "nginx.ingress.kubernetes.io/auth-url"),
    "limit_req": SnippetAction("limits the request rate", "nginx.ingress.kubernetes.io/limit-rps"),
    "limit_conn": SnippetAction("limits connections", "nginx.ingress.kubernetes.io/limit-connections"),
    "rewrite": SnippetAction("rewrites the path", "nginx.ingress.kubernetes.io/rewrite-target"),
    "proxy_pass": SnippetAction("sends requests to another upstream", "another path of the Ingress"),
    "location": SnippetAction("adds a location", "another path of the Ingress"),
    "gzip": SnippetAction("compresses answers", ""),
    "if": SnippetAction("runs conditional nginx logic", ""),
    "set": SnippetAction("sets nginx variables", ""),
    "return": SnippetAction("answers requests itself", ""),
    "error_page": SnippetAction("serves error pages", "nginx.ingress.kubernetes.io/custom-http-errors"),
    "client_max_body_size": SnippetAction(
        "limits the body size", "nginx.ingress.kubernetes.io/proxy-body-size"
    ),
    "proxy_read_timeout": SnippetAction("sets a timeout", "nginx.ingress.kubernetes.io/proxy-read-timeout"),
    "proxy_send_timeout": SnippetAction("sets a timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout"),
    "proxy_connect_timeout": SnippetAction(
        "sets a timeout", "nginx.ingress.kubernetes.io/proxy-connect-timeout"
    ),
    "ssl_verify_client": SnippetAction(
        "checks client certificates", "nginx.ingress.kubernetes.io/auth-tls-verify-client"
    ),
}
_REDIRECT = SnippetAction(
    "redirects",
    "a redirect annotation (nginx.ingress.kubernetes.io/permanent-redirect, temporal-redirect, "
    "ssl-redirect or app-root)",
)
_LUA = SnippetAction("runs Lua code", "")


def snippet_actions(text: str) -> list[SnippetAction]:
    """What the snippet does, directive by directive, in order and without repeats."""
    found: dict[SnippetAction, None] = {}
    if _REDIRECT_RETURN.search(text):
        found[_REDIRECT] = None
    for match in _DIRECTIVE.finditer(text):
        name = match.group(1).lower()
        if name.endswith("_by_lua") or name.endswith("_by_lua_block") or name.endswith("_by_lua_file"):
            found[_LUA] = None
            continue
        if name == "rewrite" and re.search(r"\b(permanent|redirect)\s*;", text):
            found[_REDIRECT] = None
            continue
        if name == "return" and _REDIRECT in found:
            continue
        action = _BY_DIRECTIVE.get(name)
        if action is None:
            action = SnippetAction(f"sets the nginx directive {name}", "")
        found[action] = None
    return list(found)


def describe_snippet(text: str) -> tuple[str, str]:
    """(what the snippet tries to do, what to use instead) for a finding; both may be generic."""
    actions = snippet_actions(text)
    if not actions:
        return "holds nginx configuration", ""
    does = "; ".join(dict.fromkeys(a.does for a in actions))
    instead = "; ".join(dict.fromkeys(a.instead for a in actions if a.instead))
    return does, instead
