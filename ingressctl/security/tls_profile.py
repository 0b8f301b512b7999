"""The TLS profile every TLS entrypoint offers, and the names `cipherSuites` may use.

TLS 1.2 offers exactly the cipher suites of Mozilla's "intermediate" server-side TLS profile that
need no Diffie-Hellman parameters: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305. No CBC,
no SHA-1 MACs, no RSA key exchange. TLS 1.3 keeps OpenSSL's defaults (all three of its suites are
AEAD; Python offers no way to change them, and Go's crypto/tls, Traefik's, does not either).

`[entryPoints.X.tls] cipherSuites` takes Go's names (Traefik v1 passed them to crypto/tls); they are
mapped to OpenSSL's names here. Go's TLS 1.3 names are accepted and have no effect, as in Go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Mozilla intermediate (ssl-config.mozilla.org), in its order of preference: ECDSA before RSA.
INTERMEDIATE_TLS12: Final[tuple[str, ...]] = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
)

# Go crypto/tls constant name -> OpenSSL name, for every TLS 1.2 suite Go knows except the broken ones.
GO_TLS12_SUITES: Final[dict[str, str]] = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    # Outside the intermediate profile (CBC, SHA-1 MACs, RSA key exchange): honoured with a warning.
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
}

# Go names of suites no client should be offered: refused, with the reason.
BROKEN_SUITES: Final[dict[str, str]] = {
    "TLS_RSA_WITH_RC4_128_SHA": "RC4 is broken (RFC 7465)",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": "RC4 is broken (RFC 7465)",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA": "RC4 is broken (RFC 7465)",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "3DES is open to Sweet32",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": "3DES is open to Sweet32",
}

# TLS 1.3 suites cannot be chosen (Go ignores them in CipherSuites too); naming them is harmless.
TLS13_SUITES: Final[frozenset[str]] = frozenset(
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
)


@dataclass(frozen=True, slots=True)
class CipherChoice:
    """`cipherSuites` read: the OpenSSL names to offer, and what to tell the operator about it."""

    openssl_names: tuple[str, ...]
    unknown: tuple[str, ...] = ()  # names Go does not know (typos): a configuration error
    broken: tuple[tuple[str, str], ...] = ()  # (name, why): refused
    outside_profile: tuple[str, ...] = ()  # honoured, but weaker than the default profile


def choose_ciphers(go_names: tuple[str, ...]) -> CipherChoice:
    """Map Traefik's (Go's) cipher-suite names to OpenSSL's; names are matched case-insensitively."""
    chosen: list[str] = []
    unknown: list[str] = []
    broken: list[tuple[str, str]] = []
    outside: list[str] = []
    for raw in go_names:
        name = raw.strip().upper()
        if name in TLS13_SUITES:
            continue
        if name in BROKEN_SUITES:
            broken.append((raw, BROKEN_SUITES[name]))
            continue
        openssl = GO_TLS12_SUITES.get(name)
        if openssl is None:
            unknown.append(raw)
            continue
        if openssl not in INTERMEDIATE_TLS12:
            outside.append(raw)
        if openssl not in chosen:
            chosen.append(openssl)
    return CipherChoice(tuple(chosen), tuple(unknown), tuple(broken), tuple(outside))


def cipher_string(openssl_names: tuple[str, ...] = ()) -> str:
    """The OpenSSL cipher string for `SSLContext.set_ciphers` (TLS 1.2 and below only)."""
    return ":".join(openssl_names or INTERMEDIATE_TLS12)
