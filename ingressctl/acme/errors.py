"""ACME problems turned into plain advice. No `acme` import: the client translates into these."""

from __future__ import annotations

import datetime

from ingressctl.model import IngressctlError

PROBLEM_PREFIX = "urn:ietf:params:acme:error:"


class AcmeError(IngressctlError):
    """Issuance or revocation failed. Exit code 1: the request was valid, the CA or validation said no."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        detail: str = "",
        advice: str = "",
        domain: str = "",
        retry_after: datetime.datetime | None = None,
    ) -> None:
        super().__init__(message if not advice else f"{message}. {advice}")
        self.code = code
        self.detail = detail
        self.advice = advice
        self.domain = domain
        self.retry_after = retry_after


def problem_code(typ: str) -> str:
    """`urn:ietf:params:acme:error:rateLimited` → `rateLimited`."""
    return typ[len(PROBLEM_PREFIX) :] if typ.startswith(PROBLEM_PREFIX) else typ


def advise(
    code: str,
    *,
    domain: str = "",
    challenge: str = "",
    retry_after: datetime.datetime | None = None,
) -> str:
    """What the operator should do about an ACME problem `code` (RFC 8555 §6.7)."""
    name = domain or "the name"
    port = {"http-01": "80", "tls-alpn-01": "443"}.get(challenge, "80 or 443")
    if code == "unauthorized":
        return (
            f"The CA reached a server for {name}, but it did not answer the {challenge or 'challenge'} "
            f"with our key authorization: make sure {name} points to this machine (DNS) and that nothing "
            f"else (another proxy, a load balancer, a CDN) answers on port {port}"
        )
    if code == "connection":
        return (
            f"The CA could not connect to {name} on port {port}: check DNS, firewalls and that "
            f"ingressctl listens on port {port} on a public address (see --listen)"
        )
    if code == "dns":
        return f"The CA could not resolve {name}: check its DNS records (A/AAAA, CAA)"
    if code == "caa":
        return f"A CAA record of {name} forbids this CA: add the CA to the CAA record or remove it"
    if code == "rejectedIdentifier":
        return f"The CA will not issue for {name} (policy or blocklist): use a name the CA accepts"
    if code == "rateLimited":
        when = (
            f" Retry after {retry_after.astimezone(datetime.UTC):%Y-%m-%d %H:%M:%S} UTC."
            if retry_after
            else " Retry later."
        )
        return (
            "The CA's rate limit was hit: do not retry in a loop; test against the staging CA "
            f"(--ca-server letsencrypt-staging) and reuse certificates.{when}"
        )
    if code == "badNonce":
        return "The CA kept rejecting our nonces although we retried: retry in a minute"
    if code == "malformed":
        return (
            "The CA rejected the request as malformed: check the names (letters, digits, hyphens and "
            "dots only; no underscores, no trailing dot)"
        )
    if code == "externalAccountRequired":
        return (
            "This CA requires external account binding: pass --eab-kid and --eab-hmac (from your CA's "
            "account page)"
        )
    if code == "unauthorized-account":
        return "The CA refused our account: check --eab-kid/--eab-hmac or create a new account"
    if code == "accountDoesNotExist":
        return "The CA does not know the stored account: remove it from the storage to register again"
    if code == "alreadyRevoked":
        return "The certificate was already revoked: nothing to do"
    if code == "invalidContact" or code == "unsupportedContact":
        return "The CA rejected the e-mail address: pass a real address with --email"
    if code == "timeout":
        return "The CA did not finish in time: retry; if it persists, check the CA's status page"
    return "See the CA's message above"
