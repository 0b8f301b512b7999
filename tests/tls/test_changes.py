"""The certificate part of the reload summary: Secrets added, removed or given another certificate."""

from __future__ import annotations

from ingressctl.model import ObjectRef, TLSCertificate
from ingressctl.tls.changes import summarize_certificates


def cert(name: str, pem: bytes, hosts: tuple[str, ...] = ("a.test",)) -> TLSCertificate:
    return TLSCertificate(hosts=hosts, secret=ObjectRef("Secret", "shop", name), cert_pem=pem, key_pem=b"k")


def test_no_change_is_empty_and_hosts_alone_are_not_a_certificate_change() -> None:
    assert summarize_certificates([cert("a", b"1")], [cert("a", b"1")]) == ""
    assert summarize_certificates([cert("a", b"1")], [cert("a", b"1", ("b.test",))]) == ""
    assert summarize_certificates(None, []) == ""


def test_added_removed_changed_with_what_is_served() -> None:
    old = [cert("a", b"1"), cert("b", b"1"), cert("c", b"1")]
    new = [cert("a", b"2"), cert("c", b"1"), cert("d", b"1"), cert("a", b"2", ("www.a.test",))]
    status = {"Secret shop/a": "serial 2a, expires 2027-01-01", "Secret shop/d": "not served: tls.crt is …"}
    assert summarize_certificates(old, new, lambda origin: status.get(origin, "")) == (
        "certificates 3 (+1 -1 ~1); certificate added: Secret shop/d (not served: tls.crt is …); "
        "certificate removed: Secret shop/b; "
        "certificate changed: Secret shop/a (serial 2a, expires 2027-01-01)"
    )


def test_the_first_table_adds_every_secret_and_long_lists_are_cut() -> None:
    new = [cert(f"s{i}", b"1") for i in range(7)]
    assert summarize_certificates(None, new, limit=2) == (
        "certificates 7 (+7 -0 ~0); certificate added: Secret shop/s0, Secret shop/s1 and 5 more"
    )
