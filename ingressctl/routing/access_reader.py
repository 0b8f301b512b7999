"""The reader of the access-control annotations: every value protects something, so a bad one is
an error at its line and the routes answer 503 in place of the stage it guards (access_keys.GUARDS).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from ingressctl.model import Ingress, Secret, Severity
from ingressctl.model.access import NGINX_URL_VARIABLES
from ingressctl.routing.access_keys import GUARDS
from ingressctl.routing.annotation_values import AnnotationReader

SecretLookup = Callable[[str, str], Secret | None]

_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


class AccessReader(AnnotationReader):
    lenient_booleans = True

    def __init__(self, ingress: Ingress, lookup_secret: SecretLookup, secrets_in_input: bool) -> None:
        super().__init__(ingress)
        self.lookup_secret = lookup_secret
        self.secrets_in_input = secrets_in_input
        self.failures: list[tuple[str, str]] = []  # (guarded stage, why)

    def invalid(self, key: str, problem: str, hint: str) -> None:
        """A protecting value that cannot be honoured: an error, and the routes answer 503."""
        self.failures.append((GUARDS[key], f"{key}: {problem}"))
        self.report(
            key,
            f"{problem}; every route of this Ingress answers 503 until it is fixed",
            hint,
            Severity.ERROR,
        )

    def warn(self, key: str, message: str, hint: str) -> None:
        self.report(key, message, hint)

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def url(self, key: str, *, relative_ok: bool = False, variables: bool = False) -> str | None:
        raw = self.get(key)
        if raw is None:
            return None
        value = raw.strip()
        if variables:
            unknown = sorted(
                {m.group(1) or m.group(2) for m in _VARIABLE.finditer(value)} - NGINX_URL_VARIABLES
            )
            if unknown:
                self.invalid(
                    key,
                    f"nginx variable(s) {', '.join('$' + u for u in unknown)} are not supported",
                    "Use only " + ", ".join("$" + v for v in sorted(NGINX_URL_VARIABLES)) + ".",
                )
                return None
        try:
            parts = urlsplit(value)
            _ = parts.port
        except ValueError:
            parts = None
        ok = parts is not None and (
            (parts.scheme in ("http", "https") and bool(parts.hostname))
            or (relative_ok and not parts.scheme and not parts.netloc and value.startswith("/"))
        )
        if not ok:
            self.invalid(
                key,
                f"{raw!r} is not an http(s) URL",
                "Write the full URL, e.g. http://auth.auth-system.svc.cluster.local/verify.",
            )
            return None
        return value
