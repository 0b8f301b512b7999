"""Rewrite v1beta1 Ingresses (extensions/v1beta1, networking.k8s.io/v1beta1) into networking.k8s.io/v1.

The rewrite keeps the legacy semantics exactly: `serviceName`/`servicePort` become
`service: {name, port: {number|name}}`, a path without `pathType` gets `ImplementationSpecific`
(what v1beta1 meant), `backend` becomes `defaultBackend`. Annotations (including
`kubernetes.io/ingress.class`) are left as they are.

Round-trip YAML (ruamel.yaml) keeps comments, key order and quoting inside a rewritten document;
documents that need no change are copied byte for byte.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError as RuamelError

from ingressctl.manifests.yamldocs import split_documents

V1 = "networking.k8s.io/v1"
LEGACY = frozenset({"extensions/v1beta1", "networking.k8s.io/v1beta1"})
IMPLEMENTATION_SPECIFIC = "ImplementationSpecific"

_BARE_START = re.compile(r"---[ \t]*(#[^\n]*)?\r?\n")


@dataclass(slots=True)
class Migration:
    """The migrated text of one input and what happened to it."""

    text: str
    changed: list[str] = field(default_factory=list)  # "Ingress default/web (line 3)"
    problems: list[str] = field(default_factory=list)  # documents that could not be read, left as they were

    @property
    def modified(self) -> bool:
        return bool(self.changed)


def migrate_text(text: str, name: str = "<stdin>") -> Migration:
    """Migrate every legacy Ingress of a YAML (or JSON) text."""
    if name.endswith(".json"):
        return _migrate_json(text, name)
    out: list[str] = []
    result = Migration(text="")
    for line_offset, chunk in split_documents(text):
        out.append(_migrate_chunk(chunk, name, line_offset, result))
    result.text = "".join(out)
    return result


def _migrate_chunk(chunk: str, name: str, line_offset: int, result: Migration) -> str:
    if "Ingress" not in chunk or "v1beta1" not in chunk:
        return chunk
    return rewrite_chunk(
        chunk,
        name,
        line_offset,
        result,
        lambda documents, _: [c for document in documents for c in _migrate_document(document, line_offset)],
    )


DocumentsEdit = Callable[[list[Any], str], list[str]]


def rewrite_chunk(chunk: str, name: str, line_offset: int, result: Migration, edit: DocumentsEdit) -> str:
    """Round-trip one document chunk through ruamel.yaml, letting `edit` change the documents.

    `edit(documents, body)` changes the loaded documents in place and returns what it changed (one
    line each); the chunk comes back byte for byte when it changed nothing. The one place that
    knows how to keep the author's indentation, `---` marker, comments and line ends (`migrate`
    and `migrate --from ingress-nginx` both rewrite through it). A chunk that does not parse is
    kept as it is and recorded in `result.problems`; changes are added to `result.changed`.
    """
    prefix = ""
    body = chunk
    match = _BARE_START.match(chunk)
    if match:
        prefix, body = chunk[: match.end()], chunk[match.end() :]
    try:
        mapping_indent, dash_offset = guess_indentation(body)
        yaml = _round_trip(mapping_indent, dash_offset)
        # `--- !tag` or `--- {flow}` stays in the body; the marker must then come out again.
        yaml.explicit_start = not prefix and body.startswith("---")
        documents = list(yaml.load_all(body))
    except (RuamelError, ValueError, TypeError) as exc:
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        result.problems.append(
            f"{name}:{line_offset + 1}: not migrated, the document does not parse ({problem})"
        )
        return chunk
    changed = edit(documents, body)
    if not changed:
        return chunk
    result.changed.extend(f"{item} in {name}" for item in changed)
    stream = io.StringIO()
    yaml.dump_all(documents, stream)
    dumped = stream.getvalue()
    if "\r\n" in body:
        # ruamel writes "\n": a rewritten document of a CRLF file keeps the file's line ends.
        dumped = dumped.replace("\r\n", "\n").replace("\n", "\r\n")
    return prefix + dumped


def _round_trip(mapping_indent: int, dash_offset: int) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold long lines the author wrote on one line
    yaml.indent(mapping=mapping_indent, sequence=dash_offset + 2, offset=dash_offset)
    return yaml


def guess_indentation(text: str) -> tuple[int, int]:
    """(mapping indent, indent of "- " under its key) as the author wrote them; (2, 0) when unsure.

    ruamel's own guess mixes the two up for the common "mappings by 2, dashes indented by 2" style.
    """
    mappings: Counter[int] = Counter()
    dashes: Counter[int] = Counter()
    previous: tuple[int, bool] | None = None  # (content column, line opens a nested block)
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        is_item = stripped.startswith("- ") or stripped == "-"
        if previous is not None and previous[1]:
            step = indent - previous[0]
            if is_item and step >= 0:
                dashes[step] += 1
            elif not is_item and step > 0:
                mappings[step] += 1
        content = indent + 2 if is_item else indent
        previous = (content, stripped.endswith(":"))
    mapping_indent = mappings.most_common(1)[0][0] if mappings else 2
    dash_offset = dashes.most_common(1)[0][0] if dashes else 0
    return mapping_indent, dash_offset


def _migrate_json(text: str, name: str) -> Migration:
    try:
        document = json.loads(text)
    except ValueError as exc:
        return Migration(text=text, problems=[f"{name}: not migrated, the JSON does not parse ({exc})"])
    changed = _migrate_document(document, 0)
    if not changed:
        return Migration(text=text)
    rendered = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return Migration(text=rendered, changed=[f"{item} in {name}" for item in changed])


def _migrate_document(document: Any, line_offset: int, list_version: str | None = None) -> list[str]:
    """Migrate one object; `list_version` is the apiVersion of a typed IngressList holding it."""
    if not isinstance(document, MutableMapping):
        return []
    items = document.get("items")
    kind = document.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        # The items of a typed list (`kubectl get ingress -o yaml` on old clusters) carry no kind or
        # apiVersion of their own: they are Ingresses of the list's apiVersion.
        typed = kind == "IngressList" and document.get("apiVersion") in LEGACY
        changed: list[str] = []
        for item in items:
            changed.extend(_migrate_document(item, line_offset, document["apiVersion"] if typed else None))
        if typed:
            document["apiVersion"] = V1
        return changed
    if list_version is not None and "kind" not in document and "apiVersion" not in document:
        old = list_version
    elif document.get("kind") == "Ingress" and document.get("apiVersion") in LEGACY:
        old = document["apiVersion"]
        document["apiVersion"] = V1
    else:
        return []
    spec = document.get("spec")
    if isinstance(spec, MutableMapping):
        if "backend" in spec:
            _rename(spec, "backend", "defaultBackend")
            _migrate_backend(spec["defaultBackend"])
        for rule in _list(spec.get("rules")):
            http = rule.get("http") if isinstance(rule, MutableMapping) else None
            if not isinstance(http, MutableMapping):
                continue
            for path in _list(http.get("paths")):
                if not isinstance(path, MutableMapping):
                    continue
                if path.get("pathType") is None:
                    _insert_after(path, "path", "pathType", IMPLEMENTATION_SPECIFIC)
                _migrate_backend(path.get("backend"))
    meta = document.get("metadata")
    name = meta.get("name") if isinstance(meta, MutableMapping) else None
    name = name if isinstance(name, str) and name else "(no name)"
    namespace = (meta.get("namespace") if isinstance(meta, MutableMapping) else None) or "default"
    line = _line_of(document, line_offset)
    return [f"Ingress {namespace}/{name} ({old} -> {V1}{f', line {line}' if line else ''})"]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _line_of(document: Any, line_offset: int) -> int:
    lc = getattr(document, "lc", None)
    line = getattr(lc, "line", None)
    return line_offset + line + 1 if isinstance(line, int) else 0


def _migrate_backend(backend: Any) -> None:
    if not isinstance(backend, MutableMapping) or (
        "serviceName" not in backend and "servicePort" not in backend
    ):
        return
    port_value = backend.get("servicePort")
    port: MutableMapping[str, Any] = _new_map(backend)
    if isinstance(port_value, str) and port_value.isdigit():
        port["number"] = int(port_value)
    elif isinstance(port_value, str):
        port["name"] = port_value
    elif port_value is not None:
        port["number"] = port_value
    service: MutableMapping[str, Any] = _new_map(backend)
    if "serviceName" in backend:
        service["name"] = backend["serviceName"]
        _move_comment(backend, "serviceName", service, "name")
    if "servicePort" in backend:
        service["port"] = port
        _move_comment(backend, "servicePort", port, next(iter(port), ""))
    keys = list(backend)
    position = min(keys.index(k) for k in ("serviceName", "servicePort") if k in backend)
    backend.pop("serviceName", None)
    backend.pop("servicePort", None)
    _insert(backend, position, "service", service)


def _new_map(parent: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if isinstance(parent, CommentedMap):
        child = CommentedMap()
        if parent.fa.flow_style():
            child.fa.set_flow_style()
        return child
    return {}


def _move_comment(
    source: MutableMapping[str, Any], key: str, target: MutableMapping[str, Any], new_key: str
) -> None:
    if isinstance(source, CommentedMap) and isinstance(target, CommentedMap) and new_key:
        comment = source.ca.items.pop(key, None)
        if comment is not None:
            target.ca.items[new_key] = comment


def _rename(mapping: MutableMapping[str, Any], old: str, new: str) -> None:
    keys = list(mapping)
    position = keys.index(old)
    value = mapping.pop(old)
    _insert(mapping, position, new, value)
    if isinstance(mapping, CommentedMap):
        comment = mapping.ca.items.pop(old, None)
        if comment is not None:
            mapping.ca.items[new] = comment


def _insert_after(mapping: MutableMapping[str, Any], after: str, key: str, value: Any) -> None:
    keys = list(mapping)
    position = keys.index(after) + 1 if after in keys else 0
    _insert(mapping, position, key, value)


def _insert(mapping: MutableMapping[str, Any], position: int, key: str, value: Any) -> None:
    if isinstance(mapping, CommentedMap):
        mapping.insert(position, key, value)
        return
    items = list(mapping.items())
    items.insert(position, (key, value))
    mapping.clear()
    mapping.update(items)
