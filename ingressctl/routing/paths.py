"""Request paths: canonical form for matching, and the keys routes are indexed by."""

from __future__ import annotations

from ingressctl.model import PathType

_HEX = frozenset("0123456789abcdefABCDEF")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~")
# Encodings that would let a path mean one thing to the router and another to the backend.
_AMBIGUOUS = frozenset({"2F", "5C", "00", "2E"})
# Escapes some decoders turn into `.`, `/` or `\\` although they are not those characters: overlong
# UTF-8 (`%C0%AE`; C0 and C1 never start valid UTF-8, E0 80..9F is overlong too) and the
# full-width forms U+FF0E, U+FF0F, U+FF3C (which NFKC normalisation, as IIS and some frameworks
# apply, maps onto them).
_LOOKALIKE_ESCAPES = ("%C0", "%C1", "%E0%8", "%E0%9", "%EF%BC%8E", "%EF%BC%8F", "%EF%BC%BC")
_LOOKALIKE_CHARS = frozenset("\uff0e\uff0f\uff3c")


def canonical_path(raw_path: str) -> str | None:
    """Resolve `.`/`..` (never above the root) and merge duplicate slashes.

    Percent-escapes of unreserved characters are decoded, other escapes are kept (hex upper-cased).
    Returns None for input that is ambiguous or malformed (encoded `/`, `\\`, NUL or `.`, a bad escape,
    a raw backslash or control character, a path not starting with `/`): the proxy answers 400.
    So is a dot segment with path parameters (`..;x`, `.;`, `..%3B`): Tomcat and other servlet
    containers drop the parameters and resolve the `..` that this router would have taken for a
    name, reaching a path that an allow-list or auth rule was meant to guard. Also refused:
    encodings some decoders turn into `.`, `/` or `\\` (overlong UTF-8, full-width forms).
    """
    if not raw_path:
        return "/"
    if raw_path[0] != "/":
        return None
    if (
        "%" not in raw_path
        and "/." not in raw_path
        and "//" not in raw_path
        and "\\" not in raw_path
        and raw_path.isascii()
        and raw_path.isprintable()
    ):
        return raw_path
    if "\\" in raw_path or not raw_path.isprintable() or not _LOOKALIKE_CHARS.isdisjoint(raw_path):
        return None
    segments = raw_path.split("/")[1:]
    out: list[str] = []
    trailing = False
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        if "%" in segment:
            decoded = _decode_segment(segment)
            if decoded is None:
                return None
            segment = decoded
            if any(escape in segment for escape in _LOOKALIKE_ESCAPES):
                return None
        if ";" in segment or "%3B" in segment:
            name = segment.split(";", 1)[0].split("%3B", 1)[0]
            if name in (".", ".."):
                return None
        if segment in ("", "."):
            trailing = i == last
            continue
        if segment == "..":
            if out:
                out.pop()
            trailing = i == last
            continue
        trailing = False
        out.append(segment)
    if not out:
        return "/"
    return "/" + "/".join(out) + ("/" if trailing else "")


def without_parameters(path: str) -> str:
    """The path as a servlet container routes it: each segment's `;parameters` removed
    (`/admin;jsessionid=1/x` → `/admin/x`)."""
    return "/".join(segment.partition(";")[0] for segment in path.split("/"))


def _decode_segment(segment: str) -> str | None:
    parts: list[str] = []
    i = 0
    n = len(segment)
    while i < n:
        ch = segment[i]
        if ch != "%":
            parts.append(ch)
            i += 1
            continue
        hex_digits = segment[i + 1 : i + 3]
        if len(hex_digits) != 2 or not set(hex_digits) <= _HEX:
            return None
        upper = hex_digits.upper()
        if upper in _AMBIGUOUS:
            return None
        decoded = chr(int(upper, 16))
        parts.append(decoded if decoded in _UNRESERVED else "%" + upper)
        i += 3
    return "".join(parts)


def prefix_key(path: str) -> str:
    """The index key of a Prefix path: trailing slashes dropped (`/foo/` ≡ `/foo`, `/` → "")."""
    return path.rstrip("/")


def match_length(path: str, path_type: PathType) -> int:
    """How long a declared path counts as when ranking matches (longest wins)."""
    if path_type is PathType.PREFIX:
        return max(len(prefix_key(path)), 1)
    return len(path)


def path_matches(path: str, path_type: PathType, request_path: str) -> bool:
    """Reference semantics of one declared path (the index in table.py must agree with this)."""
    if path_type is PathType.EXACT:
        return request_path == path
    if path_type is PathType.PREFIX:
        key = prefix_key(path)
        return request_path == key or request_path.startswith(key + "/")
    return request_path.startswith(path)
