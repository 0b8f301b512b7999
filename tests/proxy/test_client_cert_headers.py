"""The header values of pass-client-cert, byte for byte as Traefik 1.7 (tlsClientHeaders.go: Go's
url.QueryEscape) and nginx ($ssl_client_escaped_cert) write them, from a real certificate."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import re
from urllib.parse import unquote, unquote_plus

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ingressctl.model.client_cert_headers import InfoFields, NameFields
from ingressctl.proxy.middlewares.client_cert_headers import nginx_escaped_cert, traefik_infos, traefik_pem

NOT_BEFORE = datetime.datetime(2018, 7, 18, 8, 0, 16, tzinfo=datetime.UTC)  # 1531900816
NOT_AFTER = datetime.datetime(2019, 7, 18, 8, 0, 16, tzinfo=datetime.UTC)  # 1563436816
DC = x509.ObjectIdentifier("0.9.2342.19200300.100.1.25")
ALL_NAME_FIELDS = NameFields(
    domain_component=True,
    country=True,
    province=True,
    locality=True,
    organization=True,
    serial_number=True,
    common_name=True,
)


def certificate() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(DC, "org"),
            x509.NameAttribute(DC, "cheese"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Some State"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Lyon"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cheese"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cheese & Co"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "42"),
            x509.NameAttribute(NameOID.COMMON_NAME, "*.cheese.org"),
        ]
    )
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clients CA")])
    sans = x509.SubjectAlternativeName(
        [
            x509.UniformResourceIdentifier("spiffe://cheese/alice"),
            x509.IPAddress(ipaddress.ip_address("10.0.1.2")),
            x509.RFC822Name("test@cheese.org"),
            x509.DNSName("*.cheese.org"),
            x509.DNSName("cheese.net"),
            x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(sans, critical=False)
        .sign(key, hashes.SHA256())
    )


def test_traefik_pem_is_the_pem_body_query_escaped() -> None:
    der = certificate().public_bytes(serialization.Encoding.DER)
    value = traefik_pem(der)
    # The PEM without BEGIN/END lines and line breaks is the base64 of the DER.
    assert unquote_plus(value) == base64.b64encode(der).decode()
    assert re.fullmatch(r"[A-Za-z0-9%]+", value), value  # '+', '/', '=' escaped as Go does
    assert "BEGIN" not in value


def test_nginx_escaped_cert_is_the_whole_pem_url_encoded() -> None:
    cert = certificate()
    der = cert.public_bytes(serialization.Encoding.DER)
    value = nginx_escaped_cert(der)
    assert unquote(value) == cert.public_bytes(serialization.Encoding.PEM).decode()
    assert value.startswith("-----BEGIN%20CERTIFICATE-----%0A") and value.endswith(
        "-----END%20CERTIFICATE-----%0A"
    )
    assert re.fullmatch(r"[A-Za-z0-9%._~-]+", value), value


def test_traefik_infos_in_traefiks_order_and_format() -> None:
    infos = InfoFields(
        subject=ALL_NAME_FIELDS,
        issuer=NameFields(common_name=True),
        not_before=True,
        not_after=True,
        sans=True,
    )
    value = traefik_infos(certificate(), infos)
    assert unquote_plus(value) == (
        'Subject="DC=org,DC=cheese,C=FR,ST=Some State,L=Lyon,O=Cheese,O=Cheese & Co,SN=42,CN=*.cheese.org",'
        'Issuer="CN=clients CA",NB=1531900816,NA=1563436816,'
        "SAN=*.cheese.org,cheese.net,test@cheese.org,10.0.1.2,2001:db8::1,spiffe://cheese/alice"
    )
    # Go's url.QueryEscape: a space is '+', everything but A-Za-z0-9-_.~ is %XX.
    assert value.startswith("Subject%3D%22DC%3Dorg%2CDC%3Dcheese%2CC%3DFR%2CST%3DSome+State%2C")
    assert re.fullmatch(r"[A-Za-z0-9%+._~-]+", value), value


def test_traefik_infos_only_what_was_asked() -> None:
    cert = certificate()
    assert unquote_plus(traefik_infos(cert, InfoFields(not_after=True))) == "NA=1563436816"
    only_cn = InfoFields(subject=NameFields(common_name=True, country=True))
    assert unquote_plus(traefik_infos(cert, only_cn)) == 'Subject="C=FR,CN=*.cheese.org"'
