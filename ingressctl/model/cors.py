"""ingress-nginx CORS (`enable-cors`, `cors-*`), as the compiler parsed it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """What the proxy answers for cross-origin requests (ingress-nginx's defaults)."""

    # "*" or exact origins ("https://a.example:8443") and wildcard ones ("https://*.example.com").
    allow_origins: tuple[str, ...] = ("*",)
    allow_methods: str = "GET, PUT, POST, DELETE, PATCH, OPTIONS"
    allow_headers: str = (
        "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,"
        "Authorization"
    )
    expose_headers: str = ""
    allow_credentials: bool = True
    max_age: int = 1728000
