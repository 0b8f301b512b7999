"""Private keys for certificates and accounts (cryptography only)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from ingressctl.model import UsageError

KEY_TYPES = ("ec256", "ec384", "rsa2048", "rsa4096")

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def generate_key(key_type: str) -> PrivateKey:
    kind = key_type.lower()
    if kind == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind in ("rsa2048", "rsa4096"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    raise UsageError(f"unknown key type {key_type!r}; use one of {', '.join(KEY_TYPES)}")


def key_to_pem(key: PrivateKey) -> bytes:
    """PKCS#8 PEM, as Traefik 3.x writes certificate keys."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_key_pem(data: bytes) -> PrivateKey:
    """A PEM key in any of the forms Traefik ever wrote (PKCS#8, PKCS#1 RSA, SEC1 EC)."""
    key: PrivateKeyTypes = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"unsupported key type {type(key).__name__}")
    return key


def generate_account_key() -> rsa.RSAPrivateKey:
    """Account keys are RSA because Traefik reads `Account.PrivateKey` as DER PKCS#1 RSA only.

    2048 bits instead of Traefik's 4096: the same compatibility, a tenth of the generation time.
    """
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def account_key_to_der(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def account_key_from_der(data: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_der_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the account key is not an RSA key")
    return key
