"""The pure helpers: back-off, lease rules, Secret references, error lines."""

from __future__ import annotations

from ingressctl.model import Ingress, IngressTLS, ObjectMeta
from ingressctl.providers.kubernetes.backoff import Backoff
from ingressctl.providers.kubernetes.cache import referenced_secrets
from ingressctl.providers.kubernetes.errors import describe_api_error
from ingressctl.providers.kubernetes.lease import LeaseObserver, LeaseRecord, claim, micro_time, released


def test_backoff_grows_to_the_cap_with_bounded_jitter() -> None:
    b = Backoff(initial=0.5, maximum=8.0, factor=2.0, jitter=0.2)
    assert [b.delay(n, rand=lambda: 0.0) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert b.delay(3, rand=lambda: 1.0) == 2.4
    assert b.steps == 5
    assert b.describe(2) == "attempt 2/5"
    assert b.describe(9) == "attempt 9, every 8s from now on"


def test_lease_expiry_uses_our_clock_not_the_holders() -> None:
    observer = LeaseObserver()
    held = LeaseRecord("a", 10, "t0", "t0", 0)
    assert not observer.expired(held, now=100.0)
    assert not observer.expired(held, now=109.0)
    renewed = LeaseRecord("a", 10, "t0", "t1", 0)
    assert not observer.expired(renewed, now=109.5)  # a renewal restarts the clock
    assert observer.expired(renewed, now=119.6)
    assert observer.expired(LeaseRecord("", 10), now=0.0)  # released


def test_claims_count_transitions() -> None:
    first = claim(None, "a", 15, 0.0)
    assert (first.holder, first.transitions, first.renew_time) == ("a", 0, "1970-01-01T00:00:00.000000Z")
    renewed = claim(first, "a", 15, 1.5)
    assert renewed.transitions == 0 and renewed.acquire_time == first.acquire_time
    assert renewed.renew_time == micro_time(1.5)
    taken = claim(renewed, "b", 15, 30.0)
    assert taken.holder == "b" and taken.transitions == 1 and taken.acquire_time == micro_time(30.0)
    gone = released(taken, 31.0)
    assert gone.holder == "" and gone.duration_seconds == 1


def test_referenced_secrets_stay_in_the_ingress_namespace() -> None:
    ing = Ingress(
        ObjectMeta("web", "shop", annotations={"ingress.kubernetes.io/auth-secret": "users"}),
        tls=(IngressTLS(("a.example",), "a-tls"), IngressTLS(("b.example",), None)),
    )
    other = Ingress(
        ObjectMeta("x", "evil", annotations={"traefik.ingress.kubernetes.io/auth-secret": "shop/users"})
    )
    assert referenced_secrets([ing, other]) == {("shop", "users"), ("shop", "a-tls"), ("evil", "shop/users")}


def test_forbidden_line_names_the_fix() -> None:
    body = '{"kind":"Status","reason":"Forbidden","message":"secrets is forbidden: User \\"u\\" cannot list"}'
    line = describe_api_error("list", "secrets at the cluster scope", "https://k", 403, "Forbidden", body)
    assert line == (
        'not allowed to list secrets at the cluster scope (403 Forbidden: secrets is forbidden: User "u" '
        "cannot list); grant it to the controller's service account (see examples/kubernetes/10-rbac.yaml)"
    )
