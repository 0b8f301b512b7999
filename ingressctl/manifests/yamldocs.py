"""YAML text → documents: cut at `---` lines, each read by `fastyaml` or, when it declines, by PyYAML.

The entry point of YAML reading. It does not import PyYAML: plain manifests (what nearly every CI
job validates) are read by `fastyaml` alone, and `yamlread` (PyYAML's composer, with every finding)
is imported the first time a document needs it. See yamlread for why documents are cut first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final, final

from ingressctl.manifests.fastyaml import FastReader
from ingressctl.model import Diagnostic, Location, builders

FAST_READER: Final = FastReader()
_DOC_START: Final = re.compile(r"^---(?=[ \t\r\n]|\Z)", re.M)
_DIRECTIVE: Final = re.compile(r"^%", re.M)


@final
class YamlDocument:
    """One document of a file, as loaded, and where it starts.

    A plain class, not a frozen dataclass: compiled by mypyc, making one is a native call; the
    dataclass's `__init__` (Python, `object.__setattr__` per field) cost ~3,400 instructions.
    """

    __slots__ = ("location", "value")

    def __init__(self, value: Any, location: Location) -> None:
        self.value: Final = value  # PosDict, PosList, a scalar, or None for an empty document
        self.location: Final = location

    def __repr__(self) -> str:
        return f"YamlDocument(value={self.value!r}, location={self.location!r})"


def read_documents(text: str, file: str) -> tuple[list[YamlDocument], list[Diagnostic]]:
    """Every document of `text` that loads, and a Diagnostic for each problem found."""
    docs: list[YamlDocument] = []
    diags: list[Diagnostic] = []
    if "\r" in text:
        for line_offset, chunk in split_documents(text):
            _read_chunk(chunk, file, line_offset, docs, diags)
    else:
        _read_lines(text.split("\n"), file, docs, diags)
    if diags and _looks_like_json(text, file):
        # JSON that YAML 1.1 refuses (tabs as indentation, "\/" escapes) is still JSON.
        import json  # only then: a YAML file is read without it (validate start-up, issue 18)

        try:
            value = json.loads(text)
        except ValueError:
            pass
        else:
            return [YamlDocument(value, Location(file, 1, 1))], []
    return docs, diags


def _looks_like_json(text: str, file: str) -> bool:
    return file.endswith(".json") or text.lstrip()[:1] in ("{", "[")


def split_documents(text: str) -> Iterator[tuple[int, str]]:
    """Cut `text` at each `---` line: (0-based line of the piece's start, the piece)."""
    starts = document_starts(text)
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    if len(starts) > 1 and _DIRECTIVE.search(text, 0, starts[1]):
        # `%YAML 1.1` belongs to the document after it.
        del starts[1]
    line = 0
    previous = 0
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        line += text.count("\n", previous, start)
        previous = start
        yield line, text[start:end]


def document_starts(text: str) -> list[int]:
    """Where each `---` line starts: what `_DOC_START.finditer` finds, without scanning every
    position of the text with a regular expression (a few percent of reading a large input)."""
    starts = [0] if text.startswith("---") and text[3:4] in _AFTER_MARKER else []
    at = text.find("\n---")
    while at >= 0:
        at += 1
        if text[at + 3 : at + 4] in _AFTER_MARKER:
            starts.append(at)
        at = text.find("\n---", at)
    return starts


# What may follow `---` on its line (or nothing: the end of the text).
_AFTER_MARKER: Final = frozenset({"", " ", "\t", "\r", "\n"})


def _read_lines(lines: list[str], file: str, docs: list[YamlDocument], diags: list[Diagnostic]) -> None:
    """read_documents of a text without carriage returns, split into lines once: each document is
    read from its lines, as split_documents cuts it, without copying its text or counting lines
    (its text is joined again only for PyYAML)."""
    starts = document_start_lines(lines)
    count = len(lines)
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else count
        fast = FAST_READER.read_lines(lines, start, end, start)
        if fast is not None:
            value, (line, column) = fast
            docs.append(YamlDocument(value, builders.location(file, line, column)))
            continue
        chunk = "\n".join(lines[start:end])
        if end < count:
            chunk += "\n"
        _read_with_pyyaml(chunk, file, start, docs, diags)


def document_start_lines(lines: list[str]) -> list[int]:
    """split_documents's cuts, as line indexes of `lines` (a text without carriage returns)."""
    starts = [0]
    directive = False  # a `%` line before the first cut after line 0
    decided = False  # that first cut was seen
    for index in range(len(lines)):
        line = lines[index]
        size = len(line)
        if size == 0 or (line[0] != "-" and line[0] != "%"):
            continue  # nearly every line: one code point compared (mypyc)
        if (
            size >= 3
            and line[0] == "-"
            and line[1] == "-"
            and line[2] == "-"
            and (size == 3 or line[3] == " " or line[3] == "\t")
        ):
            if index == 0:
                continue
            if not decided:
                decided = True
                if directive:
                    continue  # `%YAML 1.1` belongs to the document after it: no cut
            starts.append(index)
        elif not decided and line[0] == "%":
            directive = True
    return starts


def _read_chunk(
    chunk: str, file: str, line_offset: int, docs: list[YamlDocument], diags: list[Diagnostic]
) -> None:
    fast = FAST_READER.read(chunk, line_offset)
    if fast is not None:
        value, (line, column) = fast
        docs.append(YamlDocument(value, builders.location(file, line, column)))
        return
    _read_with_pyyaml(chunk, file, line_offset, docs, diags)


def _read_with_pyyaml(
    chunk: str, file: str, line_offset: int, docs: list[YamlDocument], diags: list[Diagnostic]
) -> None:
    # The rest of YAML (anchors, block scalars, tags, syntax errors) needs PyYAML: imported here,
    # so that a CI job validating plain manifests never pays for it.
    from ingressctl.manifests.yamlread import read_with_pyyaml

    read_with_pyyaml(chunk, file, line_offset, docs, diags)
