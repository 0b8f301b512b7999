"""htpasswd files and HTTP Basic credentials: parse, and verify passwords in constant time.

Supported hashes: apr1-MD5 (`$apr1$`, Apache's default), bcrypt (`$2y$`, `$2a$`, `$2b$`), SHA1 (`{SHA}`).
Plain text and crypt(3) are refused with a reason: accepting them would let a leaked file log anyone in.

bcrypt reads at most 72 bytes of a password. A longer password is checked on its first 72 bytes (UTF-8),
as Apache's htpasswd hashed it and as Traefik (Go's CompareHashAndPassword) and bcrypt 4 check it; the
cut is made here, so bcrypt 5 (which raises for longer input) behaves the same.

Timing: an unknown user costs the same as a known one (the password is checked against a real hash
of the table and the result dropped), and every comparison is `hmac.compare_digest`. bcrypt takes
50-250 ms, so successful verifications are remembered in a small LRU keyed by an HMAC of the
password under a per-process random key: a keep-alive client resending the same header pays once,
and the raw password is never stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

_BCRYPT_PREFIXES = ("$2y$", "$2a$", "$2b$")
BCRYPT_MAX_PASSWORD_BYTES = 72
_DES_CRYPT = re.compile(r"[./0-9A-Za-z]{13}")
# A user name reaches log lines and the dashboard: CR, LF, NUL, ESC and the other controls must not.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The complete form of each supported hash: a cut or edited hash is reported when the file is read,
# not discovered as a login that can never succeed.
_WELL_FORMED = {
    "apr1": re.compile(r"\$apr1\$[./0-9A-Za-z]{0,8}\$[./0-9A-Za-z]{22}"),
    "bcrypt": re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./0-9A-Za-z]{53}"),
    "sha1": re.compile(r"\{SHA\}[0-9A-Za-z+/]{27}="),
}


@dataclass(frozen=True, slots=True)
class HtpasswdProblem:
    line: int  # 1-based line in the htpasswd text
    message: str
    # False for problems that lose nothing (a user listed twice: the first entry is used).
    fatal: bool = True


@dataclass(frozen=True, slots=True)
class HtpasswdResult:
    users: tuple[tuple[str, str], ...]
    problems: tuple[HtpasswdProblem, ...]


def hash_scheme(hashed: str) -> str | None:
    """ "apr1", "bcrypt" or "sha1" for supported hashes, None otherwise."""
    if hashed.startswith("$apr1$"):
        return "apr1"
    if hashed.startswith(_BCRYPT_PREFIXES):
        return "bcrypt"
    if hashed.startswith("{SHA}"):
        return "sha1"
    return None


def unsupported_reason(hashed: str) -> str | None:
    """Why a hash cannot be used, or None when it can."""
    fix = "regenerate it with `htpasswd -B` (bcrypt)"
    scheme = hash_scheme(hashed)
    if scheme is not None:
        if _WELL_FORMED[scheme].fullmatch(hashed):
            return None
        return f"malformed {scheme} hash (cut short or edited?); {fix}"
    if hashed.startswith("$1$"):
        return f"MD5-crypt ($1$) hashes are not supported; {fix}"
    if hashed.startswith(("$5$", "$6$")):
        return f"SHA-crypt ({hashed[:3]}) hashes are not supported; {fix}"
    if hashed.startswith("$"):
        return f"unknown hash type {hashed.split('$')[1]!r}; {fix}"
    if _DES_CRYPT.fullmatch(hashed):
        return f"looks like a crypt(3) DES hash or a plain-text password, neither is accepted; {fix}"
    return f"plain-text passwords are not accepted; {fix}"


def parse(text: str) -> HtpasswdResult:
    """Parse htpasswd text: `user:hash` lines; `#` comments and blank lines are skipped."""
    users: list[tuple[str, str]] = []
    problems: list[HtpasswdProblem] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user or not hashed:
            problems.append(HtpasswdProblem(number, 'expected "user:hash"'))
            continue
        if _CONTROL.search(user):
            problems.append(HtpasswdProblem(number, f"user name {user!r} holds control characters"))
            continue
        reason = unsupported_reason(hashed)
        if reason is not None:
            problems.append(HtpasswdProblem(number, f"user {user!r}: {reason}"))
            continue
        if user in seen:
            problems.append(
                HtpasswdProblem(
                    number, f"user {user!r} is listed twice; the first entry is used", fatal=False
                )
            )
            continue
        seen.add(user)
        users.append((user, hashed))
    return HtpasswdResult(tuple(users), tuple(problems))


_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _to64(value: int, count: int) -> str:
    out = []
    for _ in range(count):
        out.append(_ITOA64[value & 0x3F])
        value >>= 6
    return "".join(out)


def apr1(password: bytes, salt: str) -> str:
    """Apache's apr1 variant of md5crypt (Poul-Henning Kamp's algorithm with the "$apr1$" magic)."""
    magic = b"$apr1$"
    salt_bytes = salt.encode("ascii")[:8]
    alternate = hashlib.md5(password + salt_bytes + password).digest()
    ctx = password + magic + salt_bytes
    remaining = len(password)
    while remaining > 0:
        ctx += alternate[: min(16, remaining)]
        remaining -= 16
    bits = len(password)
    while bits:
        ctx += b"\0" if bits & 1 else password[:1]
        bits >>= 1
    final = hashlib.md5(ctx).digest()
    # 1000 rounds, deliberately slow (by 1990s standards).
    for i in range(1000):
        block = password if i & 1 else final
        if i % 3:
            block += salt_bytes
        if i % 7:
            block += password
        block += final if i & 1 else password
        final = hashlib.md5(block).digest()
    f = final
    encoded = "".join(
        _to64((f[a] << 16) | (f[b] << 8) | f[c], 4)
        for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))
    )
    encoded += _to64(f[11], 2)
    return f"$apr1${salt_bytes.decode('ascii')}${encoded}"


def _check_hash(hashed: str, password: bytes) -> bool:
    if unsupported_reason(hashed) is not None:
        return False  # tables not read through parse() may hold anything
    scheme = hash_scheme(hashed)
    if scheme == "apr1":
        salt = hashed[len("$apr1$") :].split("$", 1)[0]
        return hmac.compare_digest(apr1(password, salt).encode(), hashed.encode())
    if scheme == "bcrypt":
        import bcrypt  # loaded by the first bcrypt user only: most tables are apr1

        try:
            return bcrypt.checkpw(password[:BCRYPT_MAX_PASSWORD_BYTES], hashed.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return False
    if scheme == "sha1":
        digest = base64.b64encode(hashlib.sha1(password).digest()).decode("ascii")
        return hmac.compare_digest(("{SHA}" + digest).encode(), hashed.encode())
    return False


# Used when the user table is empty, so an unknown user still costs one hash computation.
_DUMMY_HASH = "$apr1$ingressc$nM8x.329Qd7FmTBmlfTx4/"


class _SuccessCache:
    """LRU of (user, HMAC(password), hash) that verified; never holds a password."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._key = os.urandom(32)
        self._entries: OrderedDict[tuple[str, bytes, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, user: str, password: bytes, hashed: str) -> tuple[str, bytes, str]:
        return (user, hmac.new(self._key, password, hashlib.sha256).digest(), hashed)

    def hit(self, key: tuple[str, bytes, str]) -> bool:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return True
            return False

    def add(self, key: tuple[str, bytes, str]) -> None:
        with self._lock:
            self._entries[key] = None
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache = _SuccessCache()


def _lookup(users: Sequence[tuple[str, str]], user: str) -> str | None:
    found: str | None = None
    # Scan everything (no early exit) so the position of a name in the table does not show in timing.
    for name, hashed in users:
        if hmac.compare_digest(name.encode(), user.encode()) and found is None:
            found = hashed
    return found


def verify(users: Sequence[tuple[str, str]], user: str, password: str) -> bool:
    """True when `user` is in `users` (htpasswd pairs) and `password` matches its hash."""
    secret = password.encode("utf-8")
    hashed = _lookup(users, user)
    if hashed is None:
        # Same work as for a known user: check against a real hash of the table and drop the result.
        _check_hash(users[0][1] if users else _DUMMY_HASH, secret)
        return False
    key = _cache.key(user, secret, hashed)
    if _cache.hit(key):
        return True
    if _check_hash(hashed, secret):
        _cache.add(key)
        return True
    return False


def is_slow(users: Sequence[tuple[str, str]], user: str, password: str) -> bool:
    """True when `verify` would run bcrypt (not cached): async callers should use a thread then."""
    hashed = _lookup(users, user)
    if hashed is None:
        hashed = users[0][1] if users else _DUMMY_HASH
        return hash_scheme(hashed) == "bcrypt"
    if hash_scheme(hashed) != "bcrypt":
        return False
    return not _cache.hit(_cache.key(user, password.encode("utf-8"), hashed))


def clear_cache() -> None:
    """Forget remembered verifications (tests; or after credentials change)."""
    _cache.clear()


def parse_basic_authorization(header_value: str) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic ...` value, or None when it is not one."""
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        # RFC 7617 leaves the charset open; old clients send ISO-8859-1.
        text = decoded.decode("latin-1")
    user, sep, password = text.partition(":")
    if not sep:
        return None
    return user, password
