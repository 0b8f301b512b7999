"""htpasswd parsing and password verification against hashes made by real tools."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import time

import bcrypt
import pytest

from ingressctl.security import htpasswd
from ingressctl.security.htpasswd import parse, parse_basic_authorization, verify
from tests.needs import tool


def openssl_apr1(password: str, salt: str | None = None) -> str:
    args = ["openssl", "passwd", "-apr1"]
    if salt is not None:
        args += ["-salt", salt]
    out = subprocess.run([*args, "--", password], check=True, capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    htpasswd.clear_cache()


@pytest.mark.parametrize(
    "password",
    [
        "",
        "a",
        "secret",
        "exactly-16-chars",
        "0123456789abcdefghij0123456789abcdefghij!",
        "pässwörd",
        "with:colon",
    ],
)
def test_apr1_matches_openssl(password: str) -> None:
    hashed = openssl_apr1(password)
    assert hashed.startswith("$apr1$")
    salt = hashed.split("$")[2]
    assert htpasswd.apr1(password.encode(), salt) == hashed
    assert verify([("alice", hashed)], "alice", password)
    assert not verify([("alice", hashed)], "alice", password + "x")


def test_apr1_short_salt_from_openssl() -> None:
    hashed = openssl_apr1("hunter2", salt="ab")
    assert verify([("bob", hashed)], "bob", "hunter2")
    assert not verify([("bob", hashed)], "bob", "hunter3")


@pytest.mark.parametrize("prefix", ["$2b$", "$2a$", "$2y$"])
def test_bcrypt_variants(prefix: str) -> None:
    made = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    hashed = prefix + made[4:]
    assert verify([("carol", hashed)], "carol", "s3cret")
    assert not verify([("carol", hashed)], "carol", "S3cret")


def apache_bcrypt(user: str, password: str) -> str:
    """An htpasswd line made by Apache's own tool (cost 4: fast)."""
    out = subprocess.run(
        [tool("htpasswd", "apache2-utils"), "-nbB", "-C", "4", user, password],
        check=True,
        capture_output=True,
        text=True,
        timeout=10,
    )
    return out.stdout


def test_bcrypt_from_apache_htpasswd() -> None:
    result = parse(apache_bcrypt("dave", "pw"))
    assert result.problems == ()
    assert verify(result.users, "dave", "pw")
    assert not verify(result.users, "dave", "pw2")


LONG = "correct horse battery staple " * 3 + "and then some"  # 100 bytes
assert len(LONG.encode()) == 100


def test_bcrypt_passwords_longer_than_72_bytes_are_checked_on_their_first_72() -> None:
    """Apache's htpasswd hashes the first 72 bytes; Traefik (Go) and bcrypt 4 check those; bcrypt 5
    raises instead. ingressctl cuts the password itself: the same answer whatever bcrypt is installed."""
    result = parse(apache_bcrypt("frank", LONG))
    assert result.problems == ()
    assert verify(result.users, "frank", LONG)
    htpasswd.clear_cache()
    assert verify(result.users, "frank", LONG[:72] + "anything after byte 72 is not part of the hash")
    htpasswd.clear_cache()
    assert not verify(result.users, "frank", LONG[:71])
    assert not verify(result.users, "frank", "X" + LONG[1:])


def test_bcrypt_is_never_given_more_than_72_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cut does not depend on the installed bcrypt: checkpw (the real one, observed) never sees
    more than 72 bytes, so bcrypt 4 (which cuts) and bcrypt 5 (which raises) cannot answer differently."""
    seen: list[int] = []
    real = bcrypt.checkpw

    def observed(password: bytes, hashed: bytes) -> bool:
        seen.append(len(password))
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", observed)
    hashed = bcrypt.hashpw(LONG.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    assert verify([("gina", hashed)], "gina", LONG * 2)
    assert not verify([("gina", hashed)], "gina", "ü" * 100)  # 200 bytes of UTF-8
    assert seen and max(seen) == 72


def test_sha1() -> None:
    hashed = "{SHA}" + base64.b64encode(hashlib.sha1(b"letmein").digest()).decode()
    assert verify([("erin", hashed)], "erin", "letmein")
    assert not verify([("erin", hashed)], "erin", "letmeout")


def test_parse_skips_comments_and_reports_malformed_lines() -> None:
    apr = openssl_apr1("pw")
    text = f"# admins\n\nalice:{apr}\nno-colon-here\n:nouser\nbob:plaintext\ncarol:$1$salt$abc\nalice:{apr}\n"
    result = parse(text)
    assert result.users == (("alice", apr),)
    by_line = {p.line: p.message for p in result.problems}
    assert set(by_line) == {4, 5, 6, 7, 8}
    assert by_line[4] == 'expected "user:hash"'
    assert "plain-text passwords are not accepted" in by_line[6]
    assert "MD5-crypt ($1$)" in by_line[7]
    assert "listed twice" in by_line[8]


def test_crypt_des_and_plain_are_refused_at_verify_time_too() -> None:
    assert not verify([("u", "secret")], "u", "secret")  # a plain "hash" never verifies
    assert "crypt(3)" in (htpasswd.unsupported_reason("abJnggxhB/yWI") or "")


def test_unknown_user_and_wrong_user() -> None:
    users = [("alice", openssl_apr1("pw")), ("bob", openssl_apr1("pw2"))]
    assert verify(users, "bob", "pw2")
    assert not verify(users, "bob", "pw")  # alice's password is not bob's
    assert not verify(users, "mallory", "pw")
    assert not verify([], "anyone", "")


def test_unknown_user_costs_as_much_as_a_known_one() -> None:
    # bcrypt at cost 8 takes several ms; an unknown user must pay a hash too, not return at once.
    users = [("alice", bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=8)).decode())]

    # CPU time of this thread (bcrypt hashes in the caller's thread): other load on the machine
    # does not count, only the work verify() did.
    def timed(user: str, password: str) -> float:
        htpasswd.clear_cache()
        start = time.thread_time()
        verify(users, user, password)
        return time.thread_time() - start

    known = min(timed("alice", "wrong") for _ in range(3))
    unknown = min(timed("nobody", "wrong") for _ in range(3))
    assert unknown > known * 0.5, (known, unknown)


def test_successful_bcrypt_is_cached_but_failures_are_not() -> None:
    users = [("alice", bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=10)).decode())]
    assert htpasswd.is_slow(users, "alice", "pw")
    start = time.thread_time()  # CPU time of this thread: the machine's other load does not count
    assert verify(users, "alice", "pw")
    first = time.thread_time() - start
    assert not htpasswd.is_slow(users, "alice", "pw")
    start = time.thread_time()
    assert verify(users, "alice", "pw")
    second = time.thread_time() - start
    assert second < first / 10
    assert htpasswd.is_slow(users, "alice", "other")
    assert not verify(users, "alice", "other")
    # A changed hash for the same user is not served from the cache.
    changed = [("alice", bcrypt.hashpw(b"new", bcrypt.gensalt(rounds=4)).decode())]
    assert not verify(changed, "alice", "pw")


def test_cache_never_holds_the_password() -> None:
    users = [("alice", openssl_apr1("very-secret-password"))]
    assert verify(users, "alice", "very-secret-password")
    entries = list(htpasswd._cache._entries)
    assert entries and all(b"very-secret-password" not in key[1] for key in entries)
    assert all("very-secret-password" not in repr(key) for key in entries)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic " + base64.b64encode(b"alice:pw").decode(), ("alice", "pw")),
        ("basic " + base64.b64encode(b"alice:p:w").decode(), ("alice", "p:w")),
        ("Basic " + base64.b64encode(b"alice:").decode(), ("alice", "")),
        ("Basic " + base64.b64encode("jörg:pw".encode()).decode(), ("jörg", "pw")),
        ("Basic " + base64.b64encode("jörg:pw".encode("latin-1")).decode(), ("jörg", "pw")),
        ("Basic " + base64.b64encode(b"nocolon").decode(), None),
        ("Bearer abc", None),
        ("Basic", None),
        ("Basic !!!notbase64", None),
        ("", None),
    ],
)
def test_parse_basic_authorization(header: str, expected: tuple[str, str] | None) -> None:
    assert parse_basic_authorization(header) == expected


def test_malformed_hashes_are_reported_and_never_raise_at_verify_time() -> None:
    apr = openssl_apr1("pw")
    text = (
        f"ok:{apr}\n"
        "accent:$apr1$\u00e9$xxxxxxxxxxxxxxxxxxxxxx\n"
        "short:$2y$10$short\n"
        "sha:{SHA}not-base64\n"
        "cut:$apr1$abcdefgh$tooShort\n"
    )
    result = parse(text)
    assert result.users == (("ok", apr),)
    by_line = {p.line: p.message for p in result.problems}
    assert set(by_line) == {2, 3, 4, 5}
    assert all("malformed" in message and "htpasswd -B" in message for message in by_line.values())
    # A table built without parse (a Secret read elsewhere) must not make a request raise.
    bad = [("accent", "$apr1$\u00e9$xxxxxxxxxxxxxxxxxxxxxx"), ("short", "$2y$10$short")]
    assert not verify(bad, "accent", "pw")
    assert not verify(bad, "nobody", "pw")
    assert not verify(bad, "short", "pw")
