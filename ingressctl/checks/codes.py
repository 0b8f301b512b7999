"""The lint codes of `ingressctl validate` that need more than compiling (IC3xx).

Schema findings (IC0xx/IC1xx) belong to `ingressctl.manifests`, compile findings (IC2xx) to
`ingressctl.routing`; this table documents only the codes `ingressctl.checks` emits. The README's
"Finding codes" section has one anchor per code (`#ic301`), which SARIF rules link to.
"""

from __future__ import annotations

from typing import Final

CODES: Final[dict[str, str]] = {
    "IC301": "Deprecated apiVersion: the API server no longer serves it (use the stated replacement).",
    "IC302": "Unknown annotation under a prefix ingressctl reads (probably a typo of a known key).",
    "IC303": "TLS host not served by any rule of the same Ingress.",
    "IC304": "Rule host without TLS while the Ingress has TLS for other hosts.",
    "IC305": "Backend port does not name a port of the Service (explains why, e.g. unnamed ports).",
    "IC306": "Several Ingresses give TLS for the same host with different Secrets.",
    "IC307": "Annotation of another ingress controller on an Ingress ingressctl serves: not supported, "
    "served without it (protections it cannot honour are IC220 errors instead).",
    "IC308": "The same object is defined more than once in the input; only one of them is applied.",
    "IC309": "The certificate in a TLS Secret cannot serve its hosts: unparsable, key mismatch, expired, "
    "not yet valid, expiring within 30 days (info), or not naming the host.",
    "IC310": "A path written as a regular expression or glob (ingress-nginx/GCE style); ingressctl matches "
    "paths literally, so it never matches what was meant.",
    "IC311": "A rule without http.paths routes nothing.",
}

# Where the README documents every code; SARIF rules link to `#<code lower-case>`.
DOCS_URL: Final = "https://github.com/ingressctl/ingressctl/blob/main/README.md"
INFORMATION_URI: Final = "https://github.com/ingressctl/ingressctl"


def help_uri(code: str) -> str:
    """The README anchor that documents `code`."""
    return f"{DOCS_URL}#{code.lower()}"


def all_codes() -> dict[str, str]:
    """Every finding code `validate` can report: loader (IC0xx/IC1xx), compiler (IC2xx) and lint (IC3xx)."""
    from ingressctl.manifests import CODES as LOADER_CODES
    from ingressctl.routing import CODES as COMPILER_CODES

    return dict(sorted({**LOADER_CODES, **COMPILER_CODES, **CODES}.items()))


def describe(code: str) -> str:
    """One-sentence description of any finding code."""
    return all_codes().get(code) or f"ingressctl finding {code} (see the README)"


def markdown() -> str:
    """The README's "Finding codes" section: one heading per code, so `README.md#ic301` anchors work."""
    lines = ["## Finding codes", ""]
    for code, text in all_codes().items():
        lines += [f"### {code}", "", text, ""]
    return "\n".join(lines)
