"""YAML text → plain values that keep their positions, with every problem as a Diagnostic.

Only PyYAML's composer is used (libyaml's when available): nodes are turned into values here, so
nothing outside the core schema is ever constructed, alias expansion is measured before anything
is expanded ("billion laughs" costs nothing), and duplicate keys are seen with both positions.

A file is cut into documents at `---` lines before parsing (YAML forbids a document marker at
column 0 inside any scalar), so a syntax error costs only its own document. Each document is first
offered to `fastyaml` (the plain YAML that manifests are made of, read line by line, about twice as
fast); whatever it declines comes here.
"""

from __future__ import annotations

from typing import Any, ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ingressctl.manifests.codes import SEVERITIES
from ingressctl.manifests.positioned import PosDict, PosList, unpack

# read_documents and split_documents live in yamldocs (which imports this module only when needed);
# re-exported for the callers and tests that read YAML through this module.
from ingressctl.manifests.yamldocs import FAST_READER, YamlDocument, read_documents, split_documents
from ingressctl.model import Diagnostic, Location

__all__ = ["FAST_READER", "YamlDocument", "read_documents", "read_with_pyyaml", "split_documents"]

_T = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = _T + "str", _T + "int", _T + "float", _T + "bool", _T + "null"
MAP, SEQ, MERGE = _T + "map", _T + "seq", _T + "merge"
_CORE_SCALARS = frozenset({STR, INT, FLOAT, BOOL, NULL})

# Extra nodes aliases may add to a document: generous for anchors shared by many objects, far
# below anything that hurts (a billion-laughs document asks for 10^9).
ALIAS_SLACK = 10_000
# Kubernetes objects nest about 10 deep; 100 leaves room for any CRD and stays far from the
# interpreter's recursion limit.
MAX_DEPTH = 100

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class IngressctlLoader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader with the YAML 1.1 timestamp/value/yaml implicit tags dropped.

    An unquoted `2024-01-01T00:00:00Z` stays a string, as it does when kubectl reads it.
    """

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag in _CORE_SCALARS or tag == MERGE]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }

    # The composer asks for a tag on every node; PyYAML's general resolver (path resolvers,
    # wildcard lists) costs a third of loading time, this one only what the core schema needs.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                resolvers = self.yaml_implicit_resolvers.get(value[:1])
                if resolvers:
                    for tag, regexp in resolvers:
                        if regexp.match(value):
                            return str(tag)
            return STR
        return SEQ if kind is SequenceNode else MAP


_CONSTRUCT = yaml.constructor.SafeConstructor()


def read_with_pyyaml(
    chunk: str, file: str, line_offset: int, docs: list[YamlDocument], diags: list[Diagnostic]
) -> None:
    """The whole of YAML, with a finding for each problem (the fast reader declined this chunk)."""
    loader = None
    try:
        loader = IngressctlLoader(chunk)
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            # Aliases need anchors: without an "&" there is nothing to measure.
            builder = _Builder(file, line_offset, diags, measure="&" in chunk)
            start = builder.location(node)
            value = builder.build(node)
            if value is not _FAILED:
                docs.append(YamlDocument(value, start))
    except yaml.YAMLError as exc:
        diags.append(_syntax_diagnostic(exc, chunk, file, line_offset))
    except RecursionError:
        diags.append(
            _diag(
                "IC004",
                "document nests too deeply to load",
                Location(file, line_offset + 1, 1),
                "Kubernetes objects nest about ten levels deep; check the structure of this document.",
            )
        )
    finally:
        if loader is not None:
            loader.dispose()


def _syntax_diagnostic(exc: yaml.YAMLError, chunk: str, file: str, line_offset: int) -> Diagnostic:
    line, column = line_offset + 1, 1
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        line, column = line_offset + mark.line + 1, mark.column + 1
        last_line = line_offset + chunk.rstrip("\n").count("\n") + 1
        if line > last_line:
            # "unexpected end of the document": point at the end of its last line, not at the next `---`.
            tail = chunk.rstrip("\n")
            line, column = last_line, len(tail) - (tail.rfind("\n") + 1) + 1
    elif isinstance(exc, yaml.reader.ReaderError):
        before = chunk[: max(0, min(exc.position, len(chunk)))]
        line = line_offset + before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    message = f"YAML syntax error: {problem}"
    if context:
        last_line = line_offset + chunk.rstrip("\n").count("\n") + 1
        where = (
            f" at line {min(last_line, line_offset + context_mark.line + 1)}"
            if context_mark is not None
            else ""
        )
        message += f" ({context}{where})"
    if "nesting depth" in message:
        return _diag(
            "IC004",
            "document nests too deeply to load",
            Location(file, line, column),
            "Kubernetes objects nest about ten levels deep; check the structure of this document.",
        )
    return _diag("IC001", message, Location(file, line, column), _syntax_hint(message))


def _syntax_hint(message: str) -> str:
    if "\\t" in message or "tab" in message:
        return "Indent YAML with spaces; tabs are not allowed."
    if "mapping values are not allowed" in message:
        return "A value containing ': ' needs quotes, or the indentation of this line is off."
    if "found undefined alias" in message:
        return "Define the anchor (&name) before using the alias (*name)."
    if "control characters" in message or "unacceptable character" in message:
        return "Remove the control character, or quote the value and escape it."
    return "Check the indentation and quoting at this position; the file's other documents were still read."


def _diag(
    code: str, message: str, location: Location | None, hint: str, related: tuple[Location, ...] = ()
) -> Diagnostic:
    return Diagnostic(code, SEVERITIES[code], message, location=location, hint=hint, related=related)


class _Failed:
    pass


_FAILED: Any = _Failed()


class _TooDeep(Exception):
    pass


class _Builder:
    """Turns one composed document into PosDict/PosList/scalars."""

    __slots__ = ("diags", "file", "line_offset", "measure")

    def __init__(self, file: str, line_offset: int, diags: list[Diagnostic], *, measure: bool = True) -> None:
        self.measure = measure
        self.file = file
        self.line_offset = line_offset
        self.diags = diags

    def location(self, node: Node) -> Location:
        mark = node.start_mark
        return Location(self.file, self.line_offset + mark.line + 1, mark.column + 1)

    def _pos(self, node: Node) -> tuple[int, int]:
        mark = node.start_mark
        return (self.line_offset + mark.line + 1, mark.column + 1)

    def build(self, root: Node) -> Any:
        if self.measure and (problem := self._expansion_problem(root)) is not None:
            self.diags.append(
                _diag(
                    "IC003",
                    problem,
                    self.location(root),
                    "Write the repeated parts out, or nest far fewer aliases; the document was not loaded.",
                )
            )
            return _FAILED
        try:
            return self._value(root, 0)
        except (_TooDeep, RecursionError):
            self.diags.append(
                _diag(
                    "IC004",
                    f"document nests more than {MAX_DEPTH} levels deep",
                    self.location(root),
                    "Kubernetes objects nest about ten levels deep; check the structure of this document.",
                )
            )
            return _FAILED

    def _expansion_problem(self, root: Node) -> str | None:
        """Count the nodes the document has and the nodes it would expand to, without expanding."""
        sizes: dict[int, int] = {}
        visiting: set[int] = set()
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            key = id(node)
            if done:
                visiting.discard(key)
                total = 1
                for child in _children(node):
                    total += sizes[id(child)]
                sizes[key] = total
                continue
            if key in sizes:
                continue
            if key in visiting:
                return "an alias refers to the node that contains it (a recursive structure)"
            visiting.add(key)
            stack.append((node, True))
            for child in _children(node):
                child_key = id(child)
                if child_key in visiting:
                    return "an alias refers to the node that contains it (a recursive structure)"
                if child_key not in sizes:
                    stack.append((child, False))
        distinct = len(sizes)
        expanded = sizes[id(root)]
        if expanded > distinct + max(ALIAS_SLACK, distinct):
            return (
                f'aliases expand {distinct} YAML nodes to {expanded} (a "billion laughs" document); '
                "refusing to expand it"
            )
        return None

    def _value(self, node: Node, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _TooDeep
        if isinstance(node, ScalarNode):
            return node.value if node.tag == STR else self._scalar(node)
        if isinstance(node, SequenceNode):
            if node.tag != SEQ:
                self._bad_tag(node)
                return None
            seq = PosList()
            at = seq.items_at
            offset = self.line_offset + 1
            for item in node.value:
                seq.append(self._value(item, depth + 1))
                mark = item.start_mark
                at.append((offset + mark.line) << 32 | (mark.column + 1))
            return seq
        if isinstance(node, MappingNode):
            if node.tag != MAP:
                self._bad_tag(node)
                return None
            return self._mapping(node, depth)
        return None  # pragma: no cover - the composer makes only these three

    def _mapping(self, node: MappingNode, depth: int) -> PosDict:
        out = PosDict()
        keys_at = out.keys_at
        values_at = out.values_at
        offset = self.line_offset + 1
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == STR and isinstance(key_node, ScalarNode):
                key = key_node.value
            elif isinstance(key_node, ScalarNode) and key_node.tag == MERGE:
                merges.append(value_node)
                continue
            else:
                key = self._key(key_node)
                if key is None:
                    continue
            if key in keys_at:
                first = unpack(out.keys_at[key])
                self.diags.append(
                    _diag(
                        "IC002",
                        f"duplicate key {key!r} (first at line {first[0]}); the last value is used",
                        self.location(key_node),
                        "Remove one of the two keys; tools disagree on which one wins.",
                        related=(Location(self.file, first[0], first[1]),),
                    )
                )
            if value_node.tag == STR and isinstance(value_node, ScalarNode):
                out[key] = value_node.value
            else:
                out[key] = self._value(value_node, depth + 1)
            mark = key_node.start_mark
            keys_at[key] = (offset + mark.line) << 32 | (mark.column + 1)
            mark = value_node.start_mark
            values_at[key] = (offset + mark.line) << 32 | (mark.column + 1)
        for source in merges:
            sources = source.value if isinstance(source, SequenceNode) else [source]
            for item in sources:
                merged = self._value(item, depth + 1) if isinstance(item, MappingNode) else None
                if not isinstance(merged, PosDict):
                    self.diags.append(
                        _diag(
                            "IC006",
                            "a merge key (<<) needs a mapping or a list of mappings",
                            self.location(item),
                            "Point << at an anchored mapping (<<: *defaults).",
                        )
                    )
                    continue
                for key, value in merged.items():
                    if key not in out:
                        out[key] = value
                        out.keys_at[key] = merged.keys_at[key]
                        out.values_at[key] = merged.values_at[key]
        return out

    def _key(self, node: Node) -> str | None:
        if not isinstance(node, ScalarNode):
            self.diags.append(
                _diag(
                    "IC007",
                    "mapping key is not a plain scalar",
                    self.location(node),
                    "Kubernetes objects only have string keys; rewrite this key as text.",
                )
            )
            return None
        if node.tag not in _CORE_SCALARS:
            self._bad_tag(node)
            return None
        return str(node.value)

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag == STR:
            return node.value
        if tag not in _CORE_SCALARS:
            self._bad_tag(node)
            return None
        try:
            if tag == INT:
                return _CONSTRUCT.construct_yaml_int(node)
            if tag == FLOAT:
                return _CONSTRUCT.construct_yaml_float(node)
            if tag == BOOL:
                return _CONSTRUCT.construct_yaml_bool(node)
            return None
        except (ValueError, KeyError, TypeError, IndexError):
            kind = tag.rsplit(":", 1)[-1]
            self.diags.append(
                _diag(
                    "IC006",
                    f"{node.value!r} is not a valid {kind}",
                    self.location(node),
                    f"Remove the !!{kind} tag or write a valid {kind}.",
                )
            )
            return None

    def _bad_tag(self, node: Node) -> None:
        tag = node.tag
        shown = "!!" + tag[len(_T) :] if tag.startswith(_T) else tag
        if tag in _CORE_SCALARS or tag in (MAP, SEQ):
            what = (
                "a list"
                if isinstance(node, SequenceNode)
                else "a mapping"
                if isinstance(node, MappingNode)
                else "text"
            )
            problem = f"tag {shown} cannot apply to {what}"
        else:
            problem = f"tag {shown} is outside the YAML core schema"
        self.diags.append(
            _diag(
                "IC005",
                f"{problem}; the value was not loaded",
                self.location(node),
                "Manifests use plain strings, numbers, booleans, lists and mappings; remove the tag.",
            )
        )


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        out: list[Node] = []
        for key, value in node.value:
            out.append(key)
            out.append(value)
        return out
    return []
