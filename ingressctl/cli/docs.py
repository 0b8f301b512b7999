"""Keep the README's generated tables current: `python -m ingressctl.cli.docs README.md` (`make docs`).

The annotation list and the finding codes come from the code that implements them, so the README
cannot drift from what `validate` reports; tests/test_readme.py fails when they differ.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from ingressctl.checks.codes import all_codes
from ingressctl.routing import KNOWN_ANNOTATIONS


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def annotations_table() -> str:
    lines = ["| annotation | meaning |", "|---|---|"]
    lines += [f"| `{key}` | {_cell(text)} |" for key, text in KNOWN_ANNOTATIONS.items()]
    return "\n".join(lines)


def codes_table() -> str:
    lines = ["| code | finding |", "|---|---|"]
    for code, text in all_codes().items():
        lines.append(f'| <a id="{code.lower()}"></a>`{code}` | {_cell(text)} |')
    return "\n".join(lines)


def _replacement(body: str) -> Callable[[re.Match[str]], str]:
    return lambda m: m.group(1) + body + "\n" + m.group(2)


def nginx_table() -> str:
    """Every ingress-nginx annotation and what ingressctl does with it (routing/nginx_annotations.py)."""
    from ingressctl.routing.nginx_annotations import all_statuses

    lines = ["| ingress-nginx annotation | status | under ingressctl |", "|---|---|---|"]
    for status in all_statuses():
        name = status.key.removeprefix("nginx.ingress.kubernetes.io/")
        lines.append(f"| `{name}` | {status.status.value} | {_cell(status.detail)} |")
    return "\n".join(lines)


SECTIONS = {"annotations": annotations_table, "codes": codes_table, "ingress-nginx": nginx_table}


def render(readme: str) -> str:
    """The README with every generated section replaced by its current text."""
    for name, make in SECTIONS.items():
        pattern = re.compile(
            rf"(<!-- BEGIN GENERATED {name} -->\n).*?(<!-- END GENERATED {name} -->)", re.DOTALL
        )
        # A function replacement: the generated text is literal, never a regex template.
        readme = pattern.sub(_replacement(make()), readme)
    return readme


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "README.md")
    text = path.read_text(encoding="utf-8")
    new = render(text)
    if new != text:
        path.write_text(new, encoding="utf-8")
        print(f"updated {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
