"""ingress-nginx canaries meet their main Ingress: candidates of one (host, path) are merged here
(routing/canary.py parses the annotations)."""

from __future__ import annotations

import dataclasses

from ingressctl.model import Diagnostic
from ingressctl.routing.canary import no_main_finding
from ingressctl.routing.candidates import Candidate


def merge_canaries(group: list[Candidate]) -> tuple[list[Candidate], list[Diagnostic]]:
    """Candidates of one (host, path), oldest first: the first canary merges into the main candidate
    as a weighted split, or as the canary chosen per request when it has canary-by-header or
    canary-by-cookie; a canary without a main (in its namespace) serves nothing."""
    canaries = [c for c in group if c.annotations.canary is not None]
    if not canaries:
        return group, []
    mains = [c for c in group if c.annotations.canary is None]
    if not mains:
        first = canaries[0]
        return [], [no_main_finding(first.ingress, first.host, first.path)]
    main, canary = mains[0], canaries[0]
    if canary.ingress.meta.namespace != main.ingress.meta.namespace:
        return mains, [no_main_finding(canary.ingress, canary.host, canary.path)]
    split = canary.annotations.canary
    assert split is not None
    same_service = canary.backends[0].service_name == main.backends[0].service_name
    if len(main.backends) == 1 and not same_service and split.rules.by_request:
        main = dataclasses.replace(main, canary_of=canary)
    elif len(main.backends) == 1 and not same_service:
        # A copy: the cached candidate of the main Ingress stays as it is for the next compile.
        main = dataclasses.replace(
            main,
            backends=(main.backends[0], canary.backends[0]),
            canary_split=(100.0 - split.percent, split.percent),
        )
    return [main, *mains[1:]], []
