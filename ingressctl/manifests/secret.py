"""Secret (core/v1) → the model: `data` base64-decoded, `stringData` merged over it."""

from __future__ import annotations

import base64
import binascii

from ingressctl.manifests.fields import Context, Fields
from ingressctl.manifests.meta import read_meta
from ingressctl.model import Secret


def read_secret(top: Fields, ctx: Context) -> Secret | None:
    meta = read_meta(top, ctx)
    if meta is None:
        return None
    data: dict[str, bytes] = {}
    encoded = top.mapping("data")
    if encoded is not None:
        for key, value in encoded.raw.items():
            if value is None:
                continue
            if not isinstance(value, str):
                encoded.wrong_type(
                    key,
                    value,
                    "a base64 string",
                    "Quote the value, or put plain text under stringData instead.",
                    secret=True,
                )
                continue
            decoded = _b64decode(value)
            if decoded is None:
                ctx.report(
                    "IC110",
                    encoded.value_loc(key),
                    f"{encoded.sub(key)}: not valid base64; the key is left out",
                    "Encode the value with `base64 -w0`, or put the plain text under stringData.",
                )
                continue
            data[key] = decoded
    plain = top.mapping("stringData")
    if plain is not None:
        for key, value in plain.raw.items():
            if value is None:
                continue
            if not isinstance(value, str):
                plain.wrong_type(key, value, "a string", "Write the value as one quoted string.", secret=True)
                continue
            data[key] = value.encode("utf-8")
    return Secret(meta=meta, type=top.string("type") or "Opaque", data=data)


def _b64decode(text: str) -> bytes | None:
    # The API accepts standard base64 with the line breaks `base64` inserts every 76 characters.
    compact = "".join(text.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
