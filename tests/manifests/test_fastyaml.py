"""The fast reader gives exactly what PyYAML gives (values and positions), or declines.

Whatever it accepts must load to the same values with the same positions as the full PyYAML
path, and PyYAML must find nothing wrong with it: a document the fast reader reads differently
would silently change routes.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.generate import write_manifests
from ingressctl.manifests.loader import load_paths
from ingressctl.manifests.positioned import PosDict, PosList
from ingressctl.manifests.yamlread import FAST_READER, YamlDocument, read_with_pyyaml, split_documents
from ingressctl.model import Diagnostic

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _same(fast: Any, slow: Any) -> bool:
    if isinstance(slow, float) and isinstance(fast, float) and math.isnan(slow):
        return math.isnan(fast)
    if type(fast) is not type(slow):
        return False
    if isinstance(slow, PosDict):
        return (
            list(fast) == list(slow)
            and fast.keys_at == slow.keys_at
            and fast.values_at == slow.values_at
            and all(_same(fast[key], slow[key]) for key in slow)
        )
    if isinstance(slow, PosList):
        return (
            len(fast) == len(slow)
            and fast.items_at == slow.items_at
            and all(_same(a, b) for a, b in zip(fast, slow, strict=True))
        )
    return bool(fast == slow)


def check_text(text: str) -> int:
    """Compare both readers on every document of `text`; return how many the fast reader read."""
    read = 0
    for offset, chunk in split_documents(text):
        fast = FAST_READER.read(chunk, offset)
        if fast is None:
            continue
        read += 1
        docs: list[YamlDocument] = []
        diags: list[Diagnostic] = []
        read_with_pyyaml(chunk, "f", offset, docs, diags)
        assert diags == [], f"fast reader accepted what PyYAML refuses: {chunk!r}"
        assert len(docs) == 1, chunk
        value, (line, column) = fast
        assert (docs[0].location.line, docs[0].location.column) == (line, column), chunk
        assert _same(value, docs[0].value), f"{chunk!r}\nfast: {value!r}\nslow: {docs[0].value!r}"
    return read


def test_examples_fixtures_and_generated_manifests_read_the_same(tmp_path: Path) -> None:
    files = sorted((REPO / "examples").rglob("*.yaml")) + sorted(FIXTURES.rglob("*.yaml"))
    read = sum(check_text(path.read_text()) for path in files)
    assert read > 20
    write_manifests(tmp_path, 40, per_file=40)
    (generated,) = tmp_path.iterdir()
    # The shape kubectl, Helm and the benchmarks write takes the fast path, every document of it.
    assert check_text(generated.read_text()) == 120


def test_positions_found_on_first_use_are_those_pyyaml_gives() -> None:
    # The fast reader finds a mapping's key and value positions when first asked for (PosDict.
    # positions_from): an indentless sequence whose items start with `- key:`, nested blocks after
    # such items, nulls, comments and blank lines between keys must give PyYAML's positions.
    text = (
        "spec:\n"
        "  rules:\n"
        "  - host: a\n"
        "    http:\n"
        "      paths:\n"
        "      - path: /\n"
        "        backend:\n"
        "          port: {number: 80}\n"
        "\n"
        "      - path: /x  # comment\n"
        "  - host:\n"
        "    http:\n"
        "  tls:\n"
        "  - hosts:\n"
        "    - a\n"
        "  # comment\n"
        "  empty: # comment\n"
        "  last:\n"
        "    - - nested\n"
    )
    assert check_text(text.replace("    - - nested\n", "    - x\n")) == 1
    assert check_text(text) == 0  # `- - x` is left to PyYAML


SCALARS = [
    "web",
    "Prefix",
    "/api",
    "/",
    "a b",
    "a#b",
    "it's",
    'say "hi"',
    "x:y",
    "http://h:80/p",
    "10.1.0.1",
    "80",
    "-1",
    "+1",
    "0x1F",
    "0o17",
    "017",
    "1_000",
    "1:20",
    "1.5",
    ".5",
    "1e3",
    "1.0e+3",
    ".inf",
    "-.inf",
    ".nan",
    "yes",
    "no",
    "on",
    "Off",
    "true",
    "False",
    "y",
    "n",
    "~",
    "null",
    "Null",
    "",
    " ",
    "-",
    "- x",
    "?x",
    ":x",
    "a: b",
    "a:",
    "#x",
    "a #b",
    "[x]",
    "{x}",
    "&a",
    "*a",
    "!x",
    "|",
    ">",
    "@x",
    "`x",
    "%x",
    "...",
    "---",
    "<<",
    "=",
    "café",
    "2024-01-01",
    "2024-01-01T00:00:00Z",
    "a,b",
    "a\\b",
    "\\",
    "'",
    '"',
    "web,websecure",
    "traefik.ingress.kubernetes.io/router.entrypoints",
    "0",
    "00",
    "-0",
    "1.",
    "a  b",
]
KEYS = ["name", "port", "a", "b.c/d-e", "80", "yes", "null", "x_y", "apiVersion", "kind", "spec", "-k", "k k"]

# Values the fast reader reads itself, so that most documents made of them take the fast path.
COMMON = ["web", "/api", "80", "true", "10.1.0.1", "Prefix", "x.y/z", "1.5", "~", "null", "a b", "it's", ""]
COMMON_KEYS = ["name", "port", "a", "b.c/d-e", "80", "spec", "x_y"]


def trees(values: list[str], keys: list[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.sampled_from(values),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(keys), children, max_size=4)
        ),
        max_leaves=14,
    )


@st.composite
def rendered(draw: st.DrawFn, values: list[str] = SCALARS, keys: list[str] = KEYS) -> str:
    """A YAML rendering of a random tree in a random mixture of styles (some of them invalid)."""
    tree = draw(trees(values, keys))
    lines: list[str] = []

    def scalar(value: str) -> str:
        style = draw(st.sampled_from(["plain", "plain", "single", "double"]))
        if style == "single":
            return "'" + value.replace("'", "''") + "'"
        if style == "double":
            return '"' + value + '"'
        return value

    def comment() -> str:
        return draw(st.sampled_from(["", "", "", " # note", "  #x", "#glued", " "]))

    def flow(value: Any) -> str:
        if isinstance(value, dict):
            sep = draw(st.sampled_from([", ", ",", " , "]))
            return "{" + sep.join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
        if isinstance(value, list):
            sep = draw(st.sampled_from([", ", ","]))
            return "[" + sep.join(flow(v) for v in value) + "]"
        return scalar(value)

    def block(value: Any, indent: int, lead: str) -> None:
        """Write `value` whose first line starts with `lead` (a key or a dash) at `indent`."""
        pad = " " * indent
        if not isinstance(value, dict | list) or draw(st.integers(0, 5)) == 0 or not value:
            lines.append(f"{pad}{lead}{' ' if lead else ''}{flow(value)}{comment()}".rstrip("\n"))
            return
        step = draw(st.sampled_from([2, 2, 4, 1, 3]))
        if lead:
            lines.append(f"{pad}{lead}{comment()}")
            if draw(st.integers(0, 6)) == 0:
                lines.append(draw(st.sampled_from(["", "   ", "# between", "  # indented comment"])))
            if isinstance(value, list) and lead.endswith(":") and draw(st.booleans()):
                step = 0  # an indentless sequence
        inner = indent + step if lead else indent
        if isinstance(value, dict):
            for key, item in value.items():
                block(item, inner, f"{key}:")
        else:
            for item in value:
                if isinstance(item, dict) and item and draw(st.booleans()):
                    first, *rest = list(item.items())
                    dash = draw(st.sampled_from(["- ", "-  "]))
                    mark = len(lines)
                    block(first[1], inner, f"{dash}{first[0]}:")
                    if len(lines) > mark:
                        for key, sub in rest:
                            block(sub, inner + len(dash), f"{key}:")
                else:
                    block(item, inner, "-")

    if isinstance(tree, dict | list) and tree:
        block(tree, draw(st.sampled_from([0, 0, 2])), "")
    else:
        lines.append(flow(tree))
    head = draw(st.sampled_from(["", "---\n", "--- # doc\n", "# top\n"]))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    return head + newline.join(lines) + newline


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rendered())
def test_random_documents_read_the_same_or_fall_back(text: str) -> None:
    check_text(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rendered(COMMON, COMMON_KEYS))
def test_random_common_documents_read_the_same(text: str) -> None:
    check_text(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "\n",
                "  ",
                "- ",
                ": ",
                "a",
                "b: ",
                "'",
                '"',
                "[",
                "]",
                "{",
                "}",
                ",",
                "#",
                " #",
                "1",
                "x",
                "\t",
                "-",
                "?",
                "\r",
                "...",
                "---",
            ]
        ),
        max_size=40,
    )
)
def test_token_soup_reads_the_same_or_falls_back(pieces: list[str]) -> None:
    check_text("".join(pieces))


def test_fast_reader_declines_what_it_does_not_know() -> None:
    for text in [
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: |\n  text\n",
        "a: b\n  c\n",
        '"a": 1\n',
        "a: 1\na: 2\n",
        "a: 'multi\n  line'\n",
        'a: "esc\\n"\n',
        "a:\n\t- x\n",
        "? a\n: b\n",
        "a: [x,\n  y]\n",
        "<<: {a: 1}\n",
        # document end markers and directives, after any kind of root (no search finds them)
        "a: 1\n...\n",
        "a: 1\n%YAML 1.1\n",
        "  a: 1\n...\n",
        "- a\n...\n",
        "a:\n  b: 1\n...\n",
        "a:\n- b\n...\n",
        "--- \na: 1\n...\n",
    ]:
        assert all(FAST_READER.read(chunk, offset) is None for offset, chunk in split_documents(text)), text


def test_duplicates_and_syntax_errors_are_still_reported_by_the_full_reader(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\nspec: {ports: [{port: 80}]}\n"
    )
    assert [d.code for d in load_paths([str(path)]).diagnostics] == ["IC002"]


def test_many_manifests_load_quickly(tmp_path: Path) -> None:
    write_manifests(tmp_path, 1000)
    start = time.process_time()
    result = load_paths([str(tmp_path)])
    elapsed = time.process_time() - start
    assert len(result.snapshot.ingresses) == 1000 and result.diagnostics == []
    # About 0.2 s on a quiet machine; PyYAML's composer alone took longer than this bound.
    assert elapsed < 1.5, f"{elapsed:.2f}s for 3000 objects"


def test_long_runs_of_spaces_cost_linear_time() -> None:
    start = time.process_time()
    for text in ("a: x" + " " * 200_000 + "y\n", "a:" + " " * 200_000 + "\n", "- " + " " * 200_000 + "x  \n"):
        check_text(text)
    assert time.process_time() - start < 1.0


def test_the_copied_resolver_table_is_pyyamls() -> None:
    """fastyaml carries its own copy of PyYAML's core resolvers (so validate need not import PyYAML)."""
    from ingressctl.manifests.fastyaml import CORE_RESOLVERS
    from ingressctl.manifests.yamlread import IngressctlLoader

    def table(resolvers: dict[Any, Any]) -> dict[Any, list[tuple[str, str, int]]]:
        return {
            first: [(tag, regexp.pattern, regexp.flags) for tag, regexp in entries]
            for first, entries in resolvers.items()
            if entries
        }

    assert table(CORE_RESOLVERS) == table(IngressctlLoader.yaml_implicit_resolvers)


def test_characters_sent_to_pyyaml_are_exactly_those_it_treats_specially() -> None:
    """Every code point: the fast reader declines a text with it iff PyYAML's printable set excludes it
    (or it is a line break other than LF), as the former negated class said."""
    import re

    from ingressctl.manifests.fastyaml import UNUSUAL_CHARACTERS

    allowed = re.compile(
        "[\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
    )
    differ = [
        c for c in range(0x110000) if bool(UNUSUAL_CHARACTERS.match(chr(c))) == bool(allowed.match(chr(c)))
    ]
    assert differ == []


def test_plain_scalars_resolve_as_pyyaml_resolves_them() -> None:
    scalars = [
        "0",
        "7",
        "42",
        "-3",
        "+5",
        "010",
        "0o7",
        "0x1F",
        "0b101",
        "1_000",
        "1:30",
        "190:20:30",
        "3.5",
        "-1.5e+3",
        ".inf",
        "-.Inf",
        ".NaN",
        "1.0",
        "yes",
        "No",
        "TRUE",
        "off",
        "On",
        "y",
        "n",
        "null",
        "Null",
        "~",
        "true",
        "false",
        "web",
        "0.1.2",
        "1e3",
        "12abc",
        "08",
        "09",
        "-0",
    ]
    for scalar in scalars:
        assert check_text(f"a: {scalar}\n") == 1, scalar
        check_text(f"b: [{scalar}]\n")


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["---", "--- #c", "---x", "----", " ---", "--", "a: 1", "", "\r", "\t", "-", "%YAML 1.1"]
        ),
        max_size=12,
    ),
    st.sampled_from(["\n", "\r\n", " \n", "\t\n"]),
    st.booleans(),
)
def test_document_starts_are_those_of_the_regular_expression(
    lines: list[str], newline: str, final_newline: bool
) -> None:
    from ingressctl.manifests.yamldocs import _DOC_START, document_starts

    text = newline.join(lines) + (newline if final_newline else "")
    assert document_starts(text) == [match.start() for match in _DOC_START.finditer(text)]


def test_documents_with_characters_pyyaml_refuses_are_left_to_it() -> None:
    clean = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  # a comment\n"
    assert FAST_READER.read(clean, 0) is not None  # its lines are now in the table
    for character in ["\x00", "\x01", "\t", "\x0b", "\x7f", "\x85", "\u2028", "\ufeff", "\ud800"]:
        for bad in [
            clean.replace("web", f"we{character}b"),
            clean.replace("# a comment", f"# a {character}comment"),
            clean + f"{character}\n",
            clean.replace("kind:", f"ki{character}nd:"),
        ]:
            assert FAST_READER.read(bad, 0) is None, repr(bad)
    assert FAST_READER.read(clean, 0) is not None


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from([" ", "  ", "-", "- ", ":", ": ", "a", "Z9", "_", ".", "/", "#", "'", "[", "é"]),
        max_size=14,
    )
)
def test_lines_are_cut_as_the_line_pattern_says(pieces: list[str]) -> None:
    """_Resolver.line cuts a line by hand; it must cut it exactly as fastyaml.LINE_PATTERN does."""
    import re

    from ingressctl.manifests import fastyaml

    text = "".join(pieces)
    match = re.fullmatch(fastyaml.LINE_PATTERN, text)
    assert match is not None
    indent, dash, key, colon, rest = match.groups(default="")
    rest = rest.rstrip(" ")
    token = fastyaml.FastReader().resolver.line(text)
    if key:
        column = len(indent) + len(dash)
        expected = (len(indent), bool(dash), key, column, rest, column + len(key) + len(colon))
    elif dash:
        expected = (len(indent), True, None, 0, rest, len(indent) + len(dash))
    elif rest and rest[0] != "#":
        expected = (len(indent), False, None, 0, rest, len(indent))
    else:
        assert token is fastyaml._BLANK, text
        return
    got = (token.indent, token.dash, token.key, token.key_column, token.rest, token.column)
    assert got == expected, text


def test_flow_scalars_and_keys_are_cut_as_their_patterns_say() -> None:
    """The flow reader cuts plain scalars and `key: ` by hand, exactly as FLOW_PLAIN_PATTERN and
    FLOW_KEY_PATTERN do: every pair of printable ASCII characters (and one beyond) as their start."""
    import re

    from ingressctl.manifests import fastyaml

    plain = re.compile(fastyaml.FLOW_PLAIN_PATTERN)
    key = re.compile(fastyaml.FLOW_KEY_PATTERN)
    characters = [chr(code) for code in range(0x20, 0x7F)] + ["é"]
    for first in characters:
        for second in characters:
            text = first + second + "z: 1}"
            match = plain.match(text)
            assert fastyaml._flow_plain_end(text, 0, len(text)) == (match.end() if match else 0), text
            for inner in (text, first + second + "1}"):
                read = FAST_READER.read(f"a: {{{inner}\n", 0)
                assert (read is not None) == bool(key.match(inner.lstrip(" "))), inner


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["---", "--- #c", "---x", "----", "---\t", " ---", "--", "a: 1", "", "%YAML 1.1", "% x"]
        ),
        max_size=12,
    ),
    st.booleans(),
)
def test_documents_cut_from_lines_are_those_cut_from_the_text(lines: list[str], final_newline: bool) -> None:
    """read_documents cuts a text without carriage returns by its lines (document_start_lines):
    the same pieces, at the same lines, as split_documents."""
    from ingressctl.manifests.yamldocs import document_start_lines

    text = "\n".join(lines) + ("\n" if final_newline else "")
    split = text.split("\n")
    starts = document_start_lines(split)
    ends = [*starts[1:], len(split)]
    pieces = [
        (start, "\n".join(split[start:end]) + ("\n" if end < len(split) else ""))
        for start, end in zip(starts, ends, strict=True)
    ]
    assert pieces == list(split_documents(text))
