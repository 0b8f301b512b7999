"""Condition types and reasons of the Gateway API (gateway.networking.k8s.io/v1), as the API spells them."""

from __future__ import annotations

ACCEPTED = "Accepted"
PROGRAMMED = "Programmed"
RESOLVED_REFS = "ResolvedRefs"
CONFLICTED = "Conflicted"

# Gateway
LISTENERS_NOT_VALID = "ListenersNotValid"
UNSUPPORTED_ADDRESS = "UnsupportedAddress"
ADDRESS_NOT_ASSIGNED = "AddressNotAssigned"
INVALID = "Invalid"

# Listener
UNSUPPORTED_PROTOCOL = "UnsupportedProtocol"
PORT_UNAVAILABLE = "PortUnavailable"
INVALID_CERTIFICATE_REF = "InvalidCertificateRef"
INVALID_ROUTE_KINDS = "InvalidRouteKinds"
REF_NOT_PERMITTED = "RefNotPermitted"
PROTOCOL_CONFLICT = "ProtocolConflict"
HOSTNAME_CONFLICT = "HostnameConflict"
NO_CONFLICTS = "NoConflicts"

# Route
NOT_ALLOWED_BY_LISTENERS = "NotAllowedByListeners"
NO_MATCHING_LISTENER_HOSTNAME = "NoMatchingListenerHostname"
NO_MATCHING_PARENT = "NoMatchingParent"
UNSUPPORTED_VALUE = "UnsupportedValue"
INVALID_KIND = "InvalidKind"
BACKEND_NOT_FOUND = "BackendNotFound"
