"""A certificate as the PEM files web servers expect (certbot's layout)."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ingressctl.acme.files import atomic_write


def write_pem_files(out_dir: Path, fullchain_pem: bytes, key_pem: bytes) -> list[str]:
    """cert.pem, chain.pem, fullchain.pem and privkey.pem (0600), each written atomically."""
    certs = x509.load_pem_x509_certificates(fullchain_pem)
    pem = serialization.Encoding.PEM
    leaf = certs[0].public_bytes(pem)
    chain = b"".join(c.public_bytes(pem) for c in certs[1:])
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"cert.pem": leaf, "chain.pem": chain, "fullchain.pem": leaf + chain}
    for name, data in files.items():
        atomic_write(out_dir / name, data, mode=0o644)
    atomic_write(out_dir / "privkey.pem", key_pem, mode=0o600)
    return [str(out_dir / n) for n in (*files, "privkey.pem")]
