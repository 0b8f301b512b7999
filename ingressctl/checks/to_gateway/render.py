"""The migrated objects as one YAML stream, each preceded by its comments."""

from __future__ import annotations

from collections.abc import Iterable

import yaml

from ingressctl.checks.to_gateway.convert import GatewayDocument


def render_stream(documents: Iterable[GatewayDocument]) -> str:
    """`---`-separated documents; comments as `# ` lines above the object they are about."""
    parts: list[str] = []
    for item in documents:
        lines = [_comment(text) for text in item.comments]
        body = yaml.dump(
            item.document,
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=4096,
        )
        parts.append("---\n" + "".join(line + "\n" for line in lines) + body)
    return "".join(parts)


class _Dumper(yaml.SafeDumper):
    """Writes a value shared by several rules out each time: no `&id001` anchors for people to decode."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _comment(text: str) -> str:
    # A comment is one line: a line break in a note (from an annotation's value) must not end it.
    return "# " + " ".join(text.split())
