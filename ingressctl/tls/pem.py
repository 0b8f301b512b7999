"""Parse and check a certificate/key pair before it is served: leaf + chain, any key type.

Errors name the part at fault the way its owner knows it (`tls.crt` of a Secret, a certFile path)
and say what is wrong in words: cryptography's own messages are Rust debug output
(`ParseError { kind: UnexpectedTag { ... } }`) that tell an operator nothing.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

# cryptography is imported by the functions that parse: its native library costs a process ~9 MB
# resident, and serve with only the default certificate (tls/default_cert.py) parses nothing here.


class CertificateError(ValueError):
    """A certificate/key pair that cannot be served; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class ParsedCertificate:
    cert_pem: bytes = field(repr=False)  # leaf first, then the chain, normalised PEM
    key_pem: bytes = field(repr=False)
    names: tuple[str, ...]  # DNS SANs, lower case (the CN only when there is no SAN)
    common_name: str
    issuer: str
    serial: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    fingerprint: str  # sha256 of the leaf (DER), hex

    @property
    def digest(self) -> str:
        """Identity of the pair (cert chain + key): equal pairs share one SSLContext."""
        return hashlib.sha256(self.cert_pem + b"\0" + self.key_pem).hexdigest()


def _common_name(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID

    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = attrs[0].value if attrs else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _dns_names(cert: x509.Certificate) -> list[str]:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [n.lower().rstrip(".") for n in san.get_values_for_type(x509.DNSName)]


def parse_pair(
    cert_pem: bytes,
    key_pem: bytes,
    *,
    cert_name: str = "the certificate",
    key_name: str = "the private key",
) -> ParsedCertificate:
    """Check that `cert_pem` holds at least one certificate and `key_pem` its private key.

    `cert_name` and `key_name` say in messages where each came from ("tls.crt", "certFile PATH").
    Raises only CertificateError: cryptography parses extensions and public keys lazily, so a
    malformed one surfaces as a ValueError (or UnsupportedAlgorithm) long after loading.
    """
    try:
        return _parse_pair(cert_pem, key_pem, cert_name, key_name)
    except CertificateError:
        raise
    except Exception as exc:
        raise CertificateError(
            f"{cert_name} holds a certificate with a malformed field ({brief(exc)})"
        ) from None


def _parse_pair(cert_pem: bytes, key_pem: bytes, cert_name: str, key_name: str) -> ParsedCertificate:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise CertificateError(_certificate_problem(cert_pem, cert_name)) from None
    if not chain:
        raise CertificateError(_certificate_problem(cert_pem, cert_name))
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:  # cryptography's way of saying "encrypted, and no password given"
        raise CertificateError(
            f"{key_name} is encrypted: give the key without a passphrase (openssl pkey -in KEY -out PLAIN)"
        ) from None
    except ValueError:
        raise CertificateError(_key_problem(key_pem, key_name)) from None
    except UnsupportedAlgorithm:
        raise CertificateError(f"{key_name} holds a key type that is not supported") from None
    leaf = chain[0]
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    public = key.public_key().public_bytes(*spki)
    if leaf.public_key().public_bytes(*spki) != public:
        raise CertificateError(_mismatch(chain, public, cert_name, key_name))
    common_name = _common_name(leaf.subject)
    names = _dns_names(leaf)
    if not names and common_name:
        names = [common_name.lower().rstrip(".")]
    normalized_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ParsedCertificate(
        cert_pem=b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain),
        key_pem=normalized_key,
        names=tuple(dict.fromkeys(names)),
        common_name=common_name,
        issuer=leaf.issuer.rfc4514_string(),
        serial=format(leaf.serial_number, "x"),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        fingerprint=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
    )


# ------------------------------------------------------------------ saying what is wrong

# A complete PEM block; the label group keeps BEGIN and END paired.
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_CERTIFICATE_LABELS = (b"CERTIFICATE", b"X509 CERTIFICATE")  # what cryptography accepts


def brief(exc: BaseException, limit: int = 80) -> str:
    """The first words of a library message, without Rust debug structures or FAQ links."""
    text = str(exc) or type(exc).__name__
    for cut in (" ParseError", " {", " See https", ". See "):
        text = text.split(cut, 1)[0]
    text = text.strip().rstrip(":;,.").strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _blocks(data: bytes) -> list[tuple[bytes, bytes]]:
    return [(m.group(1), m.group(2)) for m in _PEM_BLOCK.finditer(data)]


def _framing_problem(data: bytes, name: str, tool: str) -> str | None:
    """Why `data` is not PEM at all (None when it has at least one complete block)."""
    if b"-----BEGIN" not in data:
        if data.lstrip()[:1] == b"\x30":  # an ASN.1 SEQUENCE: binary DER where PEM text was expected
            return f"{name} is DER (binary), not PEM: convert it with openssl {tool} -inform der"
        return f"{name} is not PEM (no -----BEGIN line)"
    if not _blocks(data):
        return f"{name} is not valid PEM (a -----BEGIN line without its matching -----END line: truncated?)"
    return None


def _der(body: bytes) -> bytes | None:
    """The DER inside a PEM block (None when the base64 is damaged or the block has headers)."""
    try:
        return base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _labels(blocks: list[tuple[bytes, bytes]]) -> str:
    found = list(dict.fromkeys(label.decode("ascii") for label, _ in blocks))
    return " and ".join(found) + (" block" if len(found) == 1 else " blocks")


def _certificate_problem(data: bytes, name: str) -> str:
    from cryptography import x509

    framing = _framing_problem(data, name, "x509")
    if framing is not None:
        return framing
    blocks = _blocks(data)
    certificates = [body for label, body in blocks if label in _CERTIFICATE_LABELS]
    if not certificates:
        hint = ": is it the key?" if any(label.endswith(b"PRIVATE KEY") for label, _ in blocks) else ""
        return f"{name} holds no certificate, only a {_labels(blocks)}{hint}"
    for number, body in enumerate(certificates, start=1):
        which = name if len(certificates) == 1 else f"certificate {number} in {name}"
        der = _der(body)
        if der is None:
            return f"{which} is not valid PEM (the base64 between the BEGIN and END lines is damaged)"
        try:
            x509.load_der_x509_certificate(der)
        except ValueError:
            return f"{which} is not a PEM certificate (the DER inside cannot be parsed)"
    return f"{name} cannot be read as PEM certificates"


def _key_problem(data: bytes, name: str) -> str:
    framing = _framing_problem(data, name, "pkey")
    if framing is not None:
        return framing
    blocks = _blocks(data)
    keys = [body for label, body in blocks if label.endswith(b"PRIVATE KEY")]
    if not keys:
        hint = ": is it the certificate?" if any(label in _CERTIFICATE_LABELS for label, _ in blocks) else ""
        return f"{name} holds no private key, only a {_labels(blocks)}{hint}"
    if _der(keys[0]) is None:
        return f"{name} is not valid PEM (the base64 between the BEGIN and END lines is damaged)"
    return (
        f"{name} is not a PEM private key (the DER inside cannot be parsed, or its key type is not supported)"
    )


def _mismatch(chain: list[x509.Certificate], public: bytes, cert_name: str, key_name: str) -> str:
    from cryptography.hazmat.primitives import serialization

    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    for number, cert in enumerate(chain[1:], start=2):
        try:
            matches = cert.public_key().public_bytes(*spki) == public
        except Exception:  # an odd public key further down the chain is not this message's subject
            matches = False
        if matches:
            return (
                f"{key_name} belongs to certificate {number} in {cert_name}, not the first: "
                "put the server's certificate first, then its chain"
            )
    where = " (the first one there)" if len(chain) > 1 else ""
    return f"{key_name} does not belong to the certificate in {cert_name}{where}"
