"""One-line messages for what goes wrong talking to the Kubernetes API (pure: no client types here)."""

from __future__ import annotations

import json

_FIXES = {
    401: "check the token (kubeconfig user, [kubernetes] token, or the service account token file)",
    403: "grant it to the controller's service account (see examples/kubernetes/10-rbac.yaml)",
}


def status_message(body: str | bytes | None) -> tuple[str, str]:
    """(reason, message) of a `Status` body; empty strings when the body is not one."""
    if not body:
        return "", ""
    try:
        doc = json.loads(body)
    except (ValueError, TypeError):
        return "", ""
    if not isinstance(doc, dict) or doc.get("kind") != "Status":
        return "", ""
    return str(doc.get("reason") or ""), str(doc.get("message") or "")


def describe_api_error(
    verb: str, what: str, endpoint: str, status: int, reason: str, body: str | bytes | None
) -> str:
    """`what` names the resource and scope ("ingresses.networking.k8s.io in namespace web")."""
    st_reason, st_message = status_message(body)
    label = f"{status} {st_reason or reason}".strip()
    if status == 401:
        return f"the API server at {endpoint} rejected our credentials ({label}): {_FIXES[401]}"
    if status == 403:
        detail = f": {st_message}" if st_message else ""
        return f"not allowed to {verb} {what} ({label}{detail}); {_FIXES[403]}"
    detail = f": {st_message}" if st_message else ""
    return f"{verb} {what} at {endpoint} failed ({label}{detail})"


def describe_transport_error(verb: str, what: str, endpoint: str, error: BaseException) -> str:
    text = str(error)
    lowered = text.lower()
    if "refused" in lowered:
        cause = "connection refused"
    elif "timed out" in lowered or "timeout" in lowered:
        cause = "timed out"
    elif "certificate" in lowered or "ssl" in lowered:
        cause = f"TLS failed ({text.splitlines()[0][:200]}); check certificate-authority / certAuthFilePath"
    elif "name or service not known" in lowered or "nodename nor servname" in lowered:
        cause = "host name not found"
    else:
        cause = f"{type(error).__name__}: {text.splitlines()[0][:200] if text else 'connection lost'}"
    return f"cannot reach the API server at {endpoint} to {verb} {what}: {cause}"
