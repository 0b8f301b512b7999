"""AccessControls: what one route asks of the access family (ingressctl.model.access holds its parts
and re-exports it). Kept apart so that the empty one every plain route holds costs one dataclass,
not the family's six (validate start-up, issue 18)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingressctl.model.access import ForwardAuth, InFlightLimit, RateLimit


@dataclass(frozen=True, slots=True)
class AccessControls:
    """Everything of this family one Ingress asks for; the default asks for nothing."""

    forward_auth: ForwardAuth | None = None
    deny_source_ranges: tuple[str, ...] = ()  # ingress-nginx denylist-source-range
    # whitelist-x-forwarded-for: the allow-list judges the client a trusted proxy forwarded for.
    allow_forwarded_for: bool = False
    rate_limit: RateLimit | None = None
    in_flight: InFlightLimit | None = None
    backend_in_flight: InFlightLimit | None = None  # the Service's max-conn-amount
    auth_user_header: str = ""  # auth-header-field: the authenticated user, for the backend
    remove_authorization: bool = False  # auth-remove-header
    # (guards, detail) of each protection given a value that cannot be honoured: fail closed.
    failures: tuple[tuple[str, str], ...] = ()
