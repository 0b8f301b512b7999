"""The header names of ingressctl.model.client_cert_headers, apart from its dataclasses: the annotation
descriptions name them, and reading those must not build the dataclasses (validate start-up, issue 18)."""

from __future__ import annotations

from typing import Final

# Traefik 1.7 (middlewares/tlsClientHeaders.go): the escaped PEM body, and the selected fields.
TRAEFIK_CERT_HEADER: Final = "X-Forwarded-Tls-Client-Cert"
TRAEFIK_INFOS_HEADER: Final = "X-Forwarded-Tls-Client-Cert-Infos"
# Traefik v2+ spells the fields header without the s: removed too, so a backend moved from v2
# cannot be fed a forged one.
TRAEFIK_V2_INFO_HEADER: Final = "X-Forwarded-Tls-Client-Cert-Info"
# ingress-nginx: proxy_set_header ssl-client-cert $ssl_client_escaped_cert.
NGINX_CERT_HEADER: Final = "ssl-client-cert"
