"""The Gateway API's names and defaults that code outside the Gateway API path needs (options,
manifest kinds), kept apart from ingressctl.model.gateway so that reading them does not build that
module's ~30 dataclasses: `validate` of a file without Gateway API objects never loads it (start-up
time, issue 18)."""

from __future__ import annotations

GROUP = "gateway.networking.k8s.io"
GATEWAY_VERSIONS = frozenset({f"{GROUP}/v1", f"{GROUP}/v1beta1"})
REFERENCE_GRANT_VERSIONS = frozenset({f"{GROUP}/v1beta1", f"{GROUP}/v1", f"{GROUP}/v1alpha2"})
DEFAULT_CONTROLLER_NAME = "ingressctl.io/gateway-controller"
# The largest request body a RequestMirror copies (a larger one: the request is not mirrored).
DEFAULT_MIRROR_BODY_LIMIT = 256 * 1024
