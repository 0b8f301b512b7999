"""A fast reader for the YAML that Kubernetes manifests are made of, with PyYAML as the fallback.

libyaml's composer creates two Mark objects and a Node per scalar and calls back into Python to
resolve every tag; turning its nodes into values then walks them again. This reader takes about
half the time of that path on generated manifests (measured with `benchmarks/generate.py`).

Nearly every manifest written by people or emitted by kubectl, Helm or Kustomize uses a small
part of YAML: block mappings and sequences, plain and simply quoted scalars on one line,
one-line flow collections (`[a, b]`, `{ready: true}`) and comments. This module reads exactly
that part, line by line, into the same `PosDict`/`PosList` values (same positions) as the
PyYAML path.

It never guesses. Anything outside that part (anchors, aliases, tags, block scalars, multi-line
scalars, escapes, quoted keys, tabs, duplicate keys, anything unusual with indentation, any
syntax error) makes `FastReader.read` answer None, and the document is read by PyYAML as before, with
its findings. `tests/manifests/test_fastyaml.py` compares both readers on generated documents.
"""

from __future__ import annotations

import re
from typing import Any, Final, final

from ingressctl.manifests.positioned import Pos, PosDict, PosList

_T: Final = "tag:yaml.org,2002:"
_STR: Final = _T + "str"
_INT: Final = _T + "int"
_FLOAT: Final = _T + "float"
_BOOL: Final = _T + "bool"
_NULL: Final = _T + "null"

# Deeper documents go to PyYAML, which reports them (IC004) when they are far too deep.
_MAX_DEPTH: Final = 40

# Characters that PyYAML refuses or reads as line breaks (NEL, LS, PS), tabs, a BOM inside the text.
# Written as the characters to find, not as the complement of those allowed: compiling a negated
# class over all of Unicode cost ~10 ms of every start-up (an exhaustive test checks they agree).
# A raw string (`re` reads the escapes): mypyc cannot put the surrogates in a C string literal.
UNUSUAL_CHARACTERS: Final = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]"
)
# First characters a plain scalar may not start with (`-`, `?`, `:` only when a space follows).
_INDICATORS: Final = frozenset("-?:,[]{}#&*!|>'\"%@`")


# PyYAML's YAML 1.1 implicit resolvers for the core scalars and the merge key (yaml/resolver.py,
# Resolver.add_implicit_resolver), copied so that reading a plain manifest does not import PyYAML
# (tens of milliseconds of `validate`'s start-up). tests/manifests/test_fastyaml.py checks that this
# table equals the one yamlread's loader gets from PyYAML.
_BOOL_RE = re.compile(
    r"""^(?:yes|Yes|YES|no|No|NO
                    |true|True|TRUE|false|False|FALSE
                    |on|On|ON|off|Off|OFF)$""",
    re.X,
)
_FLOAT_RE = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
                    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
                    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT_RE = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
                    |[-+]?0[0-7_]+
                    |[-+]?(?:0|[1-9][0-9_]*)
                    |[-+]?0x[0-9a-fA-F_]+
                    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$""",
    re.X,
)
_MERGE_RE = re.compile(r"^(?:<<)$")
_NULL_RE = re.compile(
    r"""^(?: ~
                    |null|Null|NULL
                    | )$""",
    re.X,
)
_NUMBER = [(_FLOAT, _FLOAT_RE), (_INT, _INT_RE)]
_BOOLEAN = [(_BOOL, _BOOL_RE)]
_BOOL_OR_NULL = [(_BOOL, _BOOL_RE), (_NULL, _NULL_RE)]
CORE_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    "": [(_NULL, _NULL_RE)],
    "~": [(_NULL, _NULL_RE)],
    "<": [(_T + "merge", _MERGE_RE)],
    ".": [(_FLOAT, _FLOAT_RE)],
    **{first: _NUMBER for first in "+-0123456789"},
    **{first: _BOOLEAN for first in "yYtTfFoO"},
    **{first: _BOOL_OR_NULL for first in "nN"},
}
# PyYAML's SafeConstructor.bool_values: what construct_yaml_bool returns for each spelling.
_BOOL_VALUES: Final = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}
_DECIMAL: Final = re.compile(r"0|[1-9][0-9]*")


class _Unsupported(Exception):
    """This document is outside the fast reader's part of YAML: PyYAML reads it."""


class _Resolver:
    """Plain scalar text → the value PyYAML's core-schema resolution gives, memoised."""

    __slots__ = ("cache", "constructor", "lines", "resolvers")

    def __init__(self, resolvers: dict[Any, Any], constructor: Any = None) -> None:
        self.resolvers = resolvers
        self.constructor = constructor  # PyYAML's SafeConstructor, made on first need
        self.cache: dict[str, Any] = {}
        self.lines: dict[str, _Token] = {}  # line text -> its _Token, or _BLANK

    def line(self, text: str) -> _Token:
        """The token of one line (see _Document), remembered for the next time it is seen.

        Checked here for characters PyYAML refuses (not in every document read): a line kept in
        the table has none, and most lines of a large input are found in the table.

        The line is cut as the pattern `_LINE` says, by hand: compiled by mypyc, comparing code
        points costs a tenth of three regular expression calls (search, match, groups).
        """
        size = len(text)
        at = 0
        while at < size:
            code = ord(text[at])
            if code < 0x20 or code >= 0x7F:  # rare: not printable ASCII
                if UNUSUAL_CHARACTERS.search(text):
                    raise _Unsupported
                break
            at += 1
        at = 0
        while at < size and text[at] == " ":
            at += 1
        indent = at
        dash = False
        if at < size and text[at] == "-" and (at + 1 == size or text[at + 1] == " "):
            dash = True
            at += 1
            while at < size and text[at] == " ":
                at += 1
        key_column = at
        end = at
        while end < size and _is_key_character(ord(text[end])):
            end += 1
        token: _Token
        if (
            end > at
            and _is_key_start(ord(text[at]))
            and end < size
            and text[end] == ":"
            and (end + 1 == size or text[end + 1] == " ")
        ):
            key = text[at:end]
            at = end + 1
            while at < size and text[at] == " ":
                at += 1
            rest = text[at:]
            if rest and rest[-1] == " ":
                rest = rest.rstrip(" ")
            token = _Token(indent, dash, key, key_column, rest, at, self._scalar(rest))
        else:
            rest = text[at:]
            if rest and rest[-1] == " ":
                rest = rest.rstrip(" ")
            if dash:
                token = _Token(indent, True, None, 0, rest, at, _INLINE)
            elif rest and rest[0] != "#":
                token = _Token(indent, False, None, 0, rest, indent, _INLINE)
            else:
                token = _BLANK
        if len(text) <= _LONGEST_KEPT:
            if len(self.lines) >= _LINES_KEPT:
                self.lines.clear()
            self.lines[text] = token
        return token

    def _scalar(self, rest: str) -> Any:
        """The value of `key: rest` when `rest` is a plain scalar alone; _NESTED when there is no
        value on the line (nothing, or a comment); _INLINE otherwise."""
        if not rest or rest[0] == "#":
            return _NESTED
        first = rest[0]
        if first not in _PLAIN_START or " #" in rest or ": " in rest or rest[-1] == ":":
            return _INLINE
        if first not in self.resolvers:
            return rest
        try:
            return self.plain(rest)
        except Exception:  # reading the document reports it (or declines) at its place
            return _INLINE

    def plain(self, text: str) -> Any:
        candidates = self.resolvers.get(text[:1])
        if not candidates:
            return text
        cache = self.cache
        if text in cache:
            return cache[text]
        value: Any = text
        for tag, regexp in candidates:
            if regexp.match(text):
                value = self._construct(tag, text)
                break
        if len(cache) > 4096:
            cache.clear()
        cache[text] = value
        return value

    def _construct(self, tag: str, text: str) -> Any:
        if tag == _STR:
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return _BOOL_VALUES[text.lower()]
        if tag == _INT and _DECIMAL.fullmatch(text):
            return int(text)  # what construct_yaml_int gives for a plain decimal
        if tag not in (_INT, _FLOAT):
            raise _Unsupported  # the merge key `<<`, or a tag this reader does not know
        from yaml.constructor import SafeConstructor  # octal, hex, sexagesimal, floats: rare
        from yaml.nodes import ScalarNode

        if self.constructor is None:
            self.constructor = SafeConstructor()
        node = ScalarNode(tag, text)
        if tag == _INT:
            return self.constructor.construct_yaml_int(node)
        return self.constructor.construct_yaml_float(node)


class FastReader:
    """Reads one document (the text between two `---` lines) or declines with None."""

    __slots__ = ("resolver",)

    def __init__(self, resolvers: dict[Any, Any] | None = None, constructor: Any = None) -> None:
        self.resolver = _Resolver(CORE_RESOLVERS if resolvers is None else resolvers, constructor)

    def read(self, chunk: str, line_offset: int) -> tuple[Any, Pos] | None:
        """(value, position of the document's root) or None when PyYAML must read the chunk."""
        if "\r" in chunk:
            if chunk.count("\r") != chunk.count("\r\n"):
                return None
            chunk = chunk.replace("\r\n", "\n")
        lines = chunk.split("\n")
        return self.read_lines(lines, 0, len(lines), line_offset)

    def read_lines(self, lines: list[str], start: int, end: int, line_offset: int) -> tuple[Any, Pos] | None:
        """`read` of the document made of `lines[start:end]` (no carriage returns in them), whose
        first line is line `line_offset` (0-based) of its file."""
        try:
            return _Document(self.resolver, lines, start, end, line_offset).read()
        except (_Unsupported, RecursionError, ValueError, IndexError):
            return None


# One line of a document: indentation, a sequence dash and the spaces after it, a `key`, the colon
# and spaces after it, and the rest (a value, a comment, nothing); trailing spaces are stripped.
# _Resolver.line cuts lines this way by hand; tests/manifests/test_fastyaml.py checks it against
# this pattern.
LINE_PATTERN: Final = r"( *)(- +|-(?=$))?(?:([A-Za-z0-9_][A-Za-z0-9_./-]*)(:(?: +|(?=$))))?(.*)"


def _is_key_start(code: int) -> bool:
    """`[A-Za-z0-9_]`: the first character of a key."""
    return 97 <= code <= 122 or 65 <= code <= 90 or 48 <= code <= 57 or code == 95


def _is_key_character(code: int) -> bool:
    """`[A-Za-z0-9_./-]`: any other character of a key."""
    return 97 <= code <= 122 or 65 <= code <= 90 or 45 <= code <= 57 or code == 95


_PLAIN_START: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_.")


@final
class _Token:
    """A significant line, whatever its line number. A native class, not a tuple: mypyc reads its
    fields from the struct, where a tuple read from the token list was type-checked and unpacked
    field by field on every line."""

    __slots__ = ("column", "dash", "indent", "key", "key_column", "rest", "scalar")

    def __init__(
        self, indent: int, dash: bool, key: str | None, key_column: int, rest: str, column: int, scalar: Any
    ) -> None:
        self.indent = indent  # columns of indentation
        self.dash = dash  # starts with a sequence dash
        self.key = key  # `key:`, or None
        self.key_column = key_column  # 0-based column of the key
        self.rest = rest  # after the colon (or dash): a value, a comment, nothing
        self.column = column  # 0-based column of rest
        # The value of `key: plain scalar`, _NESTED for `key:` alone, _INLINE when rest needs `inline`.
        self.scalar = scalar


_INLINE: Final[Any] = object()
_NESTED: Final[Any] = object()  # `key:` alone, or with a comment: the value is below (or null)
_BLANK: Final = _Token(0, False, None, 0, "", 0, None)  # an empty or comment-only line
# Lines seen before → their token: manifests repeat most of their lines (`kind: Service`,
# `pathType: Prefix`, `- name: http`), so most lines of a large input are read once.
_LINES_KEPT: Final = 65_536
_LONGEST_KEPT: Final = 200  # a long line (a certificate, a JSON annotation) rarely comes again


class _Document:
    __slots__ = ("numbers", "resolver", "tokens")

    def __init__(self, resolver: _Resolver, lines: list[str], start: int, end: int, line_offset: int) -> None:
        self.resolver = resolver
        tokens: list[_Token] = []
        numbers: list[int] = []
        seen = resolver.lines
        number = line_offset
        for index in range(start, end):
            text = lines[index]
            number += 1
            token = seen.get(text)
            if token is None:
                token = resolver.line(text)
            if token is not _BLANK:
                tokens.append(token)
                numbers.append(number)
        self.tokens = tokens
        self.numbers = numbers

    def read(self) -> tuple[Any, Pos]:
        tokens = self.tokens
        at = 0
        if tokens and tokens[0].rest.startswith("---") and tokens[0].indent == 0 and tokens[0].key is None:
            first = tokens[0].rest
            if tokens[0].dash or (first != "---" and not first.startswith("--- #")):
                raise _Unsupported  # content on the `---` line
            at = 1
        if at >= len(tokens):
            raise _Unsupported  # an empty document: PyYAML decides what it is
        # Document end markers (`...`) and directives (`%`) need no search: such a line is not
        # indented, has no key and no dash, and the reading declines every such line (a mapping
        # at column 1 stops at a line without a key, a sequence there at one without a dash, a
        # deeper root at any line of column 1; what is left unread makes it decline).
        indent = tokens[at].indent
        position = (self.numbers[at], indent + 1)
        value, at = self.block(at, indent, 0)
        if at != len(tokens):
            raise _Unsupported  # something less indented than the root: a syntax error
        return value, position

    # ------------------------------------------------------------------ block structure

    def block(self, at: int, indent: int, depth: int) -> tuple[Any, int]:
        if depth > _MAX_DEPTH:
            raise _Unsupported
        if self.tokens[at].dash:
            return self.sequence(at, indent, depth)
        return self.mapping(at, indent, depth)

    def mapping(self, at: int, indent: int, depth: int) -> tuple[PosDict, int]:
        out: PosDict = _new_dict(PosDict)
        # Where each key stands is found only when asked for (_positions): here, its token's index.
        starts: list[int] = []
        tokens = self.tokens
        out.positions_from = (_positions, tokens, self.numbers, starts, indent)
        end = len(tokens)
        while at < end:
            token = tokens[at]
            here = token.indent
            if here != indent:
                if here < indent:
                    break
                raise _Unsupported  # a continuation line or bad indentation
            if token.dash:
                break  # an indentless sequence ends, or a syntax error: the caller decides
            key = token.key
            if key is None:
                raise _Unsupported
            starts.append(at)
            at += 1
            scalar = token.scalar
            if scalar is not _NESTED:
                if scalar is _INLINE:
                    scalar = self.inline(token.rest, self.numbers[at - 1], token.column)
                out[key] = scalar
                if at < end and tokens[at].indent > indent:
                    raise _Unsupported  # a multi-line scalar
                continue
            # `key:` alone: a nested block, an indentless sequence, or null.
            if at < end:
                below = tokens[at]
                if below.indent > indent or (below.indent == indent and below.dash):
                    # self.block, inlined: one call less for every nested value
                    if depth >= _MAX_DEPTH:
                        raise _Unsupported
                    if below.dash:
                        out[key], at = self.sequence(at, below.indent, depth + 1)
                    else:
                        out[key], at = self.mapping(at, below.indent, depth + 1)
                    continue
            out[key] = None
        if len(out) != len(starts):
            # A duplicate key (checked once here rather than before every key): PyYAML's path
            # reports it.
            raise _Unsupported
        return out, at

    def sequence(self, at: int, indent: int, depth: int) -> tuple[PosList, int]:
        out: PosList = _new_list(PosList)
        items_at: list[int] = []
        out.items_at = items_at
        tokens = self.tokens
        numbers = self.numbers
        end = len(tokens)
        while at < end:
            token = tokens[at]
            here = token.indent
            if here != indent:
                if here < indent:
                    break
                raise _Unsupported
            if not token.dash:
                break  # the mapping holding an indentless sequence goes on
            line = numbers[at]
            key = token.key
            if key is not None:
                # `- key: value`: a mapping whose keys stand at the column of this first key. The
                # dash's column is kept in the key-column place (unused for a token without a dash):
                # _positions needs it when this item is the first of an indentless sequence.
                key_column = token.key_column
                tokens[at] = _Token(key_column, False, key, here, token.rest, token.column, token.scalar)
                items_at.append(line << 32 | (key_column + 1))
                value, at = self.mapping(at, key_column, depth + 1)
                out.append(value)
                if at < end and indent < tokens[at].indent < key_column:
                    raise _Unsupported
                continue
            at += 1
            rest = token.rest
            column = token.column
            if not rest or rest[0] == "#":
                if at < end and tokens[at].indent > indent:
                    below = tokens[at].indent
                    items_at.append(numbers[at] << 32 | (below + 1))
                    nested, at = self.block(at, below, depth + 1)  # not `value`: a PosDict (mypyc)
                    out.append(nested)
                else:
                    items_at.append(line << 32 | (indent + 2))
                    out.append(None)
                continue
            if rest == "-" or rest.startswith("- "):
                raise _Unsupported  # `- - x`
            items_at.append(line << 32 | (column + 1))
            out.append(self.inline(rest, line, column))
            if at < end and tokens[at].indent > indent:
                raise _Unsupported  # a multi-line scalar
        return out, at

    # ------------------------------------------------------------------ one-line values

    def inline(self, text: str, line: int, column: int) -> Any:
        """The value written on one line from 0-based `column`; comments after it are allowed."""
        first = text[0]
        if first in "[{":
            value, end = self.flow(text, 0, line, column, 0)
            self.tail(text, end)
            return value
        if first == '"' or first == "'":
            value, end = self.quoted(text, 0)
            self.tail(text, end)
            return value
        cut = text.find(" #")
        if cut >= 0:
            text = text[:cut].rstrip(" ")
        if first in _INDICATORS and (first not in "-?:" or len(text) < 2 or text[1] == " "):
            raise _Unsupported
        if ": " in text or text.endswith(":"):
            raise _Unsupported  # PyYAML: "mapping values are not allowed here"
        return self.resolver.plain(text)

    @staticmethod
    def tail(text: str, end: int) -> None:
        rest = text[end:]
        if rest and not (rest[0] == " " and rest.lstrip(" ").startswith("#")) and rest.strip(" "):
            raise _Unsupported

    @staticmethod
    def quoted(text: str, start: int) -> tuple[str, int]:
        quote = text[start]
        if quote == '"':
            end = text.find('"', start + 1)
            if end < 0:
                raise _Unsupported  # continues on the next line
            value = text[start + 1 : end]
            if "\\" in value:
                raise _Unsupported  # escapes: PyYAML knows all of them
            return value, end + 1
        parts: list[str] = []
        position = start + 1
        while True:
            end = text.find("'", position)
            if end < 0:
                raise _Unsupported
            parts.append(text[position:end])
            if text[end + 1 : end + 2] == "'":
                parts.append("'")
                position = end + 2
                continue
            return "".join(parts), end + 1

    def flow(self, text: str, start: int, line: int, column: int, depth: int) -> tuple[Any, int]:
        """A flow collection starting at `text[start]`, all on this line: (value, index after it)."""
        if depth > _MAX_DEPTH:
            raise _Unsupported
        if text[start] == "[":
            return self.flow_sequence(text, start, line, column, depth)
        return self.flow_mapping(text, start, line, column, depth)

    def flow_sequence(self, text: str, start: int, line: int, column: int, depth: int) -> tuple[PosList, int]:
        out: PosList = _new_list(PosList)
        items_at: list[int] = []
        out.items_at = items_at
        size = len(text)
        position = _after_spaces(text, start + 1, size)
        if position < size and text[position] == "]":
            return out, position + 1
        while True:
            items_at.append(line << 32 | (column + position + 1))
            value, position = self.flow_node(text, position, line, column, depth)
            out.append(value)
            position = _after_spaces(text, position, size)
            if position < size and text[position] == "]":
                return out, position + 1
            position = _after_separator(text, position, size)

    def flow_mapping(self, text: str, start: int, line: int, column: int, depth: int) -> tuple[PosDict, int]:
        out: PosDict = _new_dict(PosDict)
        keys_at: dict[str, int] = {}
        values_at: dict[str, int] = {}
        out.positions_from = (_known_positions, keys_at, values_at)
        size = len(text)
        position = _after_spaces(text, start + 1, size)
        if position < size and text[position] == "}":
            return out, position + 1
        while True:
            # FLOW_KEY_PATTERN
            end = position
            if end < size and _is_key_start(ord(text[end])):
                end += 1
                while end < size and _is_key_character(ord(text[end])):
                    end += 1
            if end == position or end + 1 >= size or text[end] != ":" or text[end + 1] != " ":
                raise _Unsupported
            key = text[position:end]
            if key in keys_at:
                raise _Unsupported
            keys_at[key] = line << 32 | (column + position + 1)
            position = _after_spaces(text, end + 1, size)
            values_at[key] = line << 32 | (column + position + 1)
            out[key], position = self.flow_node(text, position, line, column, depth)
            position = _after_spaces(text, position, size)
            if position < size and text[position] == "}":
                return out, position + 1
            position = _after_separator(text, position, size)

    def flow_node(self, text: str, start: int, line: int, column: int, depth: int) -> tuple[Any, int]:
        size = len(text)
        if start < size:
            first = text[start]
            if first == "[" or first == "{":
                return self.flow(text, start, line, column, depth + 1)
            if first == '"' or first == "'":
                return self.quoted(text, start)
        end = _flow_plain_end(text, start, size)
        if end == start:
            raise _Unsupported
        if end < size:
            after = text[end]
            if after != "," and after != "]" and after != "}" and after != " ":
                raise _Unsupported
        return self.resolver.plain(text[start:end]), end


# The parts of a flow collection, as patterns (tests/manifests/test_fastyaml.py checks the functions
# that follow them): a key and its colon, a plain scalar (no spaces, no `:`, nothing a flow
# collection uses).
FLOW_KEY_PATTERN: Final = r"([A-Za-z0-9_][A-Za-z0-9_./-]*): +"
FLOW_PLAIN_PATTERN: Final = r"(?:[A-Za-z0-9_./~(]|-(?=[A-Za-z0-9.]))[A-Za-z0-9_./~()=+@%;!*&$^<>?-]*"


def _after_spaces(text: str, at: int, size: int) -> int:
    while at < size and text[at] == " ":
        at += 1
    return at


def _after_separator(text: str, at: int, size: int) -> int:
    """Where the next item starts after the `,` at `at` (and its spaces)."""
    if at >= size or text[at] != ",":
        raise _Unsupported
    at = _after_spaces(text, at + 1, size)
    if at >= size or text[at] == "," or text[at] == "]" or text[at] == "}":
        raise _Unsupported  # a trailing or doubled comma
    return at


def _flow_plain_end(text: str, start: int, size: int) -> int:
    """The end of the FLOW_PLAIN_PATTERN scalar at `start`; `start` when there is none."""
    if start >= size:
        return start
    code = ord(text[start])
    if code == 45:  # `-` only before [A-Za-z0-9.]
        if start + 1 >= size:
            return start
        after = ord(text[start + 1])
        if not (97 <= after <= 122 or 65 <= after <= 90 or 48 <= after <= 57 or after == 46):
            return start
    elif not (
        97 <= code <= 122 or 65 <= code <= 90 or 46 <= code <= 57 or code == 95 or code == 126 or code == 40
    ):
        return start
    end = start + 1
    while end < size:
        code = ord(text[end])
        # [A-Za-z0-9_./~()=+@%;!*&$^<>?-] as ranges of code points
        if not (
            97 <= code <= 122
            or 59 <= code <= 90
            or 45 <= code <= 57
            or 40 <= code <= 43
            or 36 <= code <= 38
            or code == 33
            or code == 94
            or code == 95
            or code == 126
        ):
            break
        end += 1
    return end


def _known_positions(
    found: tuple[Any, dict[str, int], dict[str, int]],
) -> tuple[dict[str, int], dict[str, int]]:
    """PosDict.positions_from of a flow mapping, whose positions are known when it is read."""
    return found[1], found[2]


# A PosDict or PosList without running its __init__ (a Python call): the reader sets what it needs.
_new_dict: Final = dict.__new__
_new_list: Final = list.__new__


_Found = tuple[Any, list[_Token], list[int], list[int], int]


def _positions(found: _Found) -> tuple[dict[str, int], dict[str, int]]:
    """(keys_at, values_at) of a mapping read by _Document.mapping, from its keys' token indexes
    (PosDict.positions_from: this function, the tokens, their line numbers, the indexes, the indent).

    The same rules as the reading: a value on the key's line stands where it starts; a nested
    block (or an indentless sequence) at its first line; a null just after the colon.
    """
    _, tokens, numbers, starts, indent = found
    keys_at: dict[str, int] = {}
    values_at: dict[str, int] = {}
    end = len(tokens)
    for at in starts:
        token = tokens[at]
        key = token.key
        assert key is not None  # _Document.mapping keeps only tokens with a key
        rest = token.rest
        line = numbers[at]
        keys_at[key] = line << 32 | (indent + 1)
        if rest and rest[0] != "#":
            values_at[key] = line << 32 | (token.column + 1)
            continue
        if at + 1 < end:
            below = tokens[at + 1]
            below_indent = below.indent
            below_dash = below.dash
            if below.key is not None and not below_dash and below.key_column < below_indent:
                # A `- key:` item that _Document.sequence rewrote: it was read here as a dash.
                below_indent, below_dash = below.key_column, True
            if below_indent > indent or (below_indent == indent and below_dash):
                values_at[key] = numbers[at + 1] << 32 | (below_indent + 1)
                continue
        values_at[key] = line << 32 | (indent + len(key) + 2)
    return keys_at, values_at
