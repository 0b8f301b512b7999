"""The middlewares an entrypoint adds to every route served on it (Traefik v1 `[entryPoints.X]`
settings), as specs described like the route's own (routing.chain): `routes --explain`, the API
and the dashboard show them from here, and the proxy builds its compressor with these numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ingressctl.model.config import EntryPoint
from ingressctl.routing.chain_spec import ChainSpec, Description

COMPRESS_MIN_SIZE: Final = 1024  # bytes; Traefik's default minResponseBodyBytes


@dataclass(frozen=True, slots=True)
class CompressSpec(ChainSpec):
    """`compress = true`: responses compressed with brotli or gzip when the client accepts it."""

    name = "compress"
    entrypoint: str
    min_size: int = COMPRESS_MIN_SIZE

    def describe(self) -> Description:
        return {
            "name": self.name,
            "effect": f"responses on entrypoint {self.entrypoint} compressed with brotli or gzip (as the "
            f"client's Accept-Encoding prefers) when text, JSON, XML or another compressible type of at "
            f"least {self.min_size} bytes (or of unknown length); never a body that already has a "
            "Content-Encoding, a range (206), Cache-Control: no-transform, HEAD or bodiless answers",
            "entrypoint": self.entrypoint,
            "min_size": self.min_size,
            "codings": ["br", "gzip"],
        }


EntrypointSpec = CompressSpec


def entrypoint_chain(ep: EntryPoint) -> tuple[EntrypointSpec, ...]:
    """What `ep` adds around every route's chain; the compressor is outermost (it sees the final
    response, headers of the route's middlewares included)."""
    return (CompressSpec(ep.name),) if ep.compress else ()
