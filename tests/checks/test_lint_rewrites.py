"""IC302 and IC307 for the path, redirect and header annotations: implemented keys in every spelling
are neither typos nor "not supported"; a misspelling still gets the nearest supported key."""

from __future__ import annotations

from ingressctl.model import Snapshot
from tests.checks.builders import ingress, rule
from tests.checks.test_lint import findings


def test_implemented_keys_are_quiet_and_misspellings_get_did_you_mean() -> None:
    subject = ingress(
        rules=[rule("a.test")],
        annotations={
            "ingress.kubernetes.io/custom-request-headers": "X-A: 1",
            "ingress.kubernetes.io/hsts-max-age": "60",
            "traefik.ingress.kubernetes.io/request-modifier": "AddPrefix: /x",
            "nginx.ingress.kubernetes.io/permanent-redirect": "https://b.test/",
            "ingress.kubernetes.io/custom-response-header": "X-B: 2",  # typo
            "traefik.ingress.kubernetes.io/rewrite-targett": "/",  # typo
        },
    )
    snapshot = Snapshot((subject,))
    assert findings(snapshot, "IC307") == []
    hints = sorted(d.hint for d in findings(snapshot, "IC302"))
    assert hints == [
        "did you mean ingress.kubernetes.io/custom-response-headers?",
        "did you mean traefik.ingress.kubernetes.io/rewrite-target?",
    ]
