"""`migrate --to gateway-api`: Ingresses (and their annotations) as a Gateway and HTTPRoutes.

- `convert`: the entry point (`migrate_to_gateway`), the Gateway, its listeners and ReferenceGrants;
- `routes`: one Ingress as HTTPRoutes (paths, backends, canaries, weights);
- `filters`: what the annotations ask for, as Gateway API filters, and the notes on the rest;
- `schema`: the Gateway API v1 rules the output must keep (names, enums, list limits);
- `render`: the YAML stream, with the notes as comments.

Plain dicts out (the objects as `kubectl apply` reads them): this is a file format, not the model
the compiler serves from.
"""

from ingressctl.checks.to_gateway.convert import (
    EntrypointSpec,
    GatewayMigration,
    GatewayOptions,
    migrate_to_gateway,
)
from ingressctl.checks.to_gateway.notes import Note, NoteKind
from ingressctl.checks.to_gateway.render import render_stream

__all__ = [
    "EntrypointSpec",
    "GatewayMigration",
    "GatewayOptions",
    "Note",
    "NoteKind",
    "migrate_to_gateway",
    "render_stream",
]
