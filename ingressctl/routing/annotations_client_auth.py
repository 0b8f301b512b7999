"""ingress-nginx client certificate annotations (auth-tls-*), parsed into `ClientAuth`.

auth-tls-secret names a Secret of the Ingress's namespace whose `ca.crt` holds the CAs;
auth-tls-verify-client is on (default), optional or off. optional_no_ca (ask for a certificate but
accept it unverified, telling the backend the outcome) fails closed: Python's ssl module has no
verification callback, so a handshake that asks for a client certificate verifies it against the
context's CAs and fails when it cannot (OpenSSL's SSL_CTX_set_verify callback, which nginx uses for
optional_no_ca, is not exposed by the standard library). auth-tls-verify-depth is OpenSSL's count
(at most that many CAs between the client certificate and the root), checked by the route against
the chain as the Secret holds it: the CA that issued the client certificate must be in ca.crt with
its chain up to a self-signed root (Python 3.11's ssl shows the server only the client's own
certificate, not the intermediates it sent). A missing or broken Secret and bad values fail closed.
auth-tls-pass-certificate-to-upstream: routing/annotations_client_cert_headers.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingressctl.model import Diagnostic, Ingress, Secret, Severity
from ingressctl.routing.annotation_values import ClientCertificateFindings

PREFIX = "nginx.ingress.kubernetes.io/"
SECRET = PREFIX + "auth-tls-secret"
VERIFY_CLIENT = PREFIX + "auth-tls-verify-client"
VERIFY_DEPTH = PREFIX + "auth-tls-verify-depth"
PASS_CERTIFICATE = PREFIX + "auth-tls-pass-certificate-to-upstream"
ERROR_PAGE = PREFIX + "auth-tls-error-page"

KNOWN: dict[str, str] = {
    SECRET: "Secret (same namespace; 'name' or 'namespace/name') whose ca.crt holds the CAs a client "
    "certificate must chain to; the host's TLS handshake asks for one. Missing or broken: 503. The backend "
    "gets ssl-client-verify (SUCCESS/NONE), ssl-client-subject-dn and ssl-client-issuer-dn, as from "
    "ingress-nginx; copies sent by the client are removed.",
    VERIFY_CLIENT: "on (default; 400 without a certificate), optional, or off. optional_no_ca (accept an "
    "unverified certificate) cannot be honoured with Python's ssl module: 503.",
    VERIFY_DEPTH: "At most this many CAs between the client certificate and the root (default 1, as "
    "ingress-nginx); the issuing CA and its chain up to the root must be in ca.crt; deeper: 403.",
    ERROR_PAGE: "URL a client refused for its certificate is redirected to (302) instead of a 400.",
}
# Implemented keys: not "unsupported protections" (routing/refusals.py) any more.
IMPLEMENTED = frozenset({*KNOWN, PASS_CERTIFICATE})

SecretLookup = Callable[[str, str], Secret | None]

if TYPE_CHECKING:
    from cryptography import x509

    from ingressctl.model.client_auth import ClientAuth  # built from the first auth-tls Ingress (issue 18)


@dataclass(frozen=True, slots=True)
class ParsedClientAuth:
    """The auth-tls-* annotations of one Ingress: what to ask of clients, or why not."""

    client_auth: ClientAuth | None = None
    error: str = ""  # set: every route of the Ingress answers 503


def parse_client_auth(
    ingress: Ingress, lookup_secret: SecretLookup, secrets_in_input: bool = True
) -> tuple[ParsedClientAuth, list[Diagnostic]]:
    annotations = ingress.meta.annotations
    if not any(key in annotations for key in KNOWN):
        return ParsedClientAuth(), []
    findings = ClientCertificateFindings(ingress)
    diagnostics, errors, report = findings.diagnostics, findings.errors, findings.report

    mode = annotations.get(VERIFY_CLIENT, "on").strip().lower()
    if mode not in ("on", "optional", "off"):
        report(
            VERIFY_CLIENT,
            f"{mode!r} cannot be honoured (Python's ssl module verifies every certificate it asks for: "
            "it has no callback to accept one it cannot verify)"
            if mode == "optional_no_ca"
            else f"{mode!r} is not on, optional or off",
            "Use on or optional with auth-tls-secret (ingressctl always verifies a presented certificate).",
        )
    depth_text = annotations.get(VERIFY_DEPTH, "1").strip()
    depth = int(depth_text) if depth_text.isdigit() and len(depth_text) < 4 else -1
    if not 0 <= depth <= 100:
        report(
            VERIFY_DEPTH,
            f"{depth_text!r} is not a depth from 0 to 100",
            "Write the number of CAs allowed between the client certificate and the root, e.g. 2.",
        )
    error_page = annotations.get(ERROR_PAGE, "").strip()
    if error_page and not error_page.startswith(("http://", "https://", "/")):
        report(
            ERROR_PAGE, f"{error_page!r} is not a URL", "Write an absolute URL or a path.", Severity.WARNING
        )
        error_page = ""
    raw = annotations.get(SECRET)
    if raw is None:
        if mode in ("on", "optional") and VERIFY_CLIENT in annotations:
            report(VERIFY_CLIENT, "needs auth-tls-secret", f"Add {SECRET} naming the Secret with ca.crt.")
        return ParsedClientAuth(error="; ".join(errors)), diagnostics
    ns = ingress.meta.namespace
    secret_ns, slash, name = raw.strip().rpartition("/")
    secret_ns = secret_ns if slash else ns
    ca_pem = b""
    subjects: tuple[str, ...] = ()
    levels: tuple[tuple[str, int], ...] = ()
    source = f"Secret {secret_ns}/{name}"
    if not name or secret_ns != ns:
        report(
            SECRET,
            f"{raw.strip()!r} must name a Secret of the Ingress's namespace {ns}",
            "Copy the CA Secret into the Ingress's namespace.",
        )
    else:
        secret = lookup_secret(ns, name)
        if secret is None:
            report(
                SECRET,
                f"{source} {'does not exist' if secrets_in_input else 'is not part of the input'}",
                "Create the Secret with the CA certificates under ca.crt.",
                Severity.ERROR,
            )
            if not secrets_in_input:
                diagnostics[-1] = Diagnostic(
                    code=diagnostics[-1].code,
                    severity=Severity.INFO,
                    message=diagnostics[-1].message,
                    location=diagnostics[-1].location,
                    hint=diagnostics[-1].hint,
                    object=diagnostics[-1].object,
                )
        else:
            ca_pem = secret.data.get("ca.crt", b"")
            # Imported here: `validate` of manifests without client certificates stays light.
            from cryptography import x509

            try:
                cas = x509.load_pem_x509_certificates(ca_pem) if ca_pem else []
            except ValueError:
                cas = []
            if not cas:
                report(
                    SECRET,
                    f"{source} has no PEM certificate under ca.crt",
                    "Put the CA certificates under ca.crt.",
                )
            subjects = tuple(ca.subject.rfc4514_string() for ca in cas)
            levels = _levels(cas)
    if errors or mode == "off":
        return ParsedClientAuth(error="; ".join(errors)), diagnostics
    from ingressctl.model.client_auth import ClientAuth

    auth = ClientAuth(
        ca_pem=ca_pem,
        required=mode == "on",
        depth=depth,
        ca_subjects=subjects,
        ca_levels=levels,
        error_page=error_page,
        source=source,
    )
    return ParsedClientAuth(client_auth=auth), diagnostics


def _levels(cas: Sequence[x509.Certificate]) -> tuple[tuple[str, int], ...]:
    """(subject, level) of each CA whose issuers up to a self-signed root are all in `cas`: 1 for a
    root. A CA whose chain leaves the Secret gets none (OpenSSL without partial chains needs a root
    of the Secret; an intermediate the client sends is not seen here, see the module's text)."""
    by_subject = {ca.subject: ca for ca in cas}
    out: list[tuple[str, int]] = []
    for ca in cas:
        level, current = 1, ca
        while current.issuer != current.subject and level <= len(cas):
            parent = by_subject.get(current.issuer)
            if parent is None:
                break
            level, current = level + 1, parent
        if current.issuer == current.subject:
            out.append((ca.subject.rfc4514_string(), level))
    return tuple(out)
