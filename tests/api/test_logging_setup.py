"""Structured logs (text and JSON) with secrets redacted; access log lines; reload summaries."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from ingressctl.logging_setup import AccessRecord, configure_logging, format_access, redact, summarize_change
from ingressctl.model import ConfigError, Upstream
from tests.api.conftest import APR1_HASH, BCRYPT_HASH, PRIVATE_KEY_PEM, SHA_HASH, TOKEN, Table, make_route


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root, access = logging.getLogger(), logging.getLogger("ingressctl.access")
    saved = (list(root.handlers), root.level, list(access.handlers), access.level, access.propagate)
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    access.handlers[:], access.level, access.propagate = saved[2], saved[3], saved[4]


def emit_examples(log: logging.Logger) -> None:
    log.info("reloaded", extra={"routes": 12, "provider": "kubernetes", "token": TOKEN})
    log.warning("secret default/admins has a weak hash: bob:%s", BCRYPT_HASH)
    log.error("bad secret %s", PRIVATE_KEY_PEM.decode())
    log.debug("hidden at INFO")
    log.info("upstream said", extra={"header": "Authorization: Basic YWxpY2U6czNjcmV0", "host": "a b"})


def test_text_format_has_fields_and_no_secrets() -> None:
    out = io.StringIO()
    configure_logging("info", "text", stream=out)
    emit_examples(logging.getLogger("ingressctl.server"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # the debug line is filtered
    assert lines[0].endswith(
        "INFO  ingressctl.server: reloaded routes=12 provider=kubernetes token=[REDACTED]"
    )
    assert "bob:[REDACTED HASH]" in lines[1]
    assert lines[2].endswith("bad secret [REDACTED PRIVATE KEY]")
    assert 'header="Authorization: Basic [REDACTED]" host="a b"' in lines[3]
    for secret in (TOKEN, "$2y$", "PRIVATE KEY-----", "YWxpY2U6czNjcmV0"):
        assert secret not in out.getvalue()


def test_json_format_is_one_object_per_line() -> None:
    out = io.StringIO()
    configure_logging("DEBUG", "json", stream=out)
    emit_examples(logging.getLogger("ingressctl.server"))
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(docs) == 5
    assert docs[0]["level"] == "info" and docs[0]["logger"] == "ingressctl.server"
    assert docs[0]["message"] == "reloaded"
    assert docs[0]["routes"] == 12 and docs[0]["token"] == "[REDACTED]"
    assert docs[0]["time"].endswith("Z")
    assert TOKEN not in out.getvalue() and "$2y$" not in out.getvalue()


def test_exceptions_are_logged_redacted() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    try:
        raise ValueError(f"cannot parse users {APR1_HASH}")
    except ValueError:
        logging.getLogger("x").exception("failed")
    doc = json.loads(out.getvalue())
    assert "ValueError: cannot parse users [REDACTED HASH]" in doc["exception"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"alice:{APR1_HASH}", "alice:[REDACTED HASH]"),
        (f"carol:{SHA_HASH}", "carol:[REDACTED HASH]"),
        (f"token={TOKEN}&x=1", "token=[REDACTED]&x=1"),
        ('{"password": "hunter2"}', '{"password": "[REDACTED]"}'),
        ("Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig", "Bearer [REDACTED]"),
        ("secretName=web-tls", "secretName=web-tls"),  # a Secret's name is not a secret
        ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE", "[REDACTED PRIVATE KEY]"),  # cut off
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_bad_level_or_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="log level 'loud'"):
        configure_logging("loud", "text")
    with pytest.raises(ConfigError, match="log format 'xml'"):
        configure_logging("info", "xml")


RECORD = AccessRecord(
    time=1767323045.5,  # 2026-01-02T03:04:05.5Z
    remote="192.0.2.7",
    method="GET",
    target='/search?q="x"',
    protocol="HTTP/1.1",
    status=200,
    size=512,
    duration=0.0123,
    entrypoint="web",
    host="shop.example.com",
    router="default/shop#0.0",
    service="default/shop:80",
    upstream="10.0.0.1:8080",
    user_agent="curl/8.5\nfake line",
)


def test_access_log_common_format() -> None:
    line = format_access(RECORD)
    assert line == (
        '192.0.2.7 - - [02/Jan/2026:03:04:05 +0000] "GET /search?q=\\"x\\" HTTP/1.1" 200 512 "-" '
        '"curl/8.5\\nfake line" "web" "default/shop#0.0" "default/shop:80" "10.0.0.1:8080" 12.300ms'
    )
    assert "\n" not in line


def test_access_log_json_format_and_the_access_logger() -> None:
    doc = json.loads(format_access(RECORD, "json"))
    assert doc["router"] == "default/shop#0.0" and doc["upstream"] == "10.0.0.1:8080"
    assert doc["status"] == 200 and doc["duration_ms"] == 12.3 and doc["time"] == "2026-01-02T03:04:05.500Z"
    with pytest.raises(ConfigError):
        format_access(RECORD, "apache")
    # Access lines are written as they are (not wrapped in the JSON of the process log).
    out, access = io.StringIO(), io.StringIO()
    configure_logging("WARNING", "json", stream=out, access_stream=access)
    logging.getLogger("ingressctl.access").info(format_access(RECORD, "json"))
    assert json.loads(access.getvalue()) == doc
    assert out.getvalue() == ""


def test_summarize_change_lists_added_removed_and_changed_routes() -> None:
    a = make_route("default", "a", "0.0", "a.example.com", "/", "a")
    b = make_route("default", "b", "0.0", "b.example.com", "/", "b")
    b2 = make_route("default", "b", "0.0", "b.example.com", "/", "b", upstreams=(Upstream("10.0.0.9", 80),))
    c = make_route("default", "c", "0.0", "c.example.com", "/", "c")
    old, new = Table((a, b), (), None), Table((b2, c), (), None)
    assert summarize_change(old, new) == (
        "routes 2 (+1 -1 ~1); added: default/c#0.0; removed: default/a#0.0; changed: default/b#0.0"
    )
    assert summarize_change(new, new) == "routes 2 (+0 -0 ~0); no change"
    assert summarize_change(None, old) == "routes 2 (+2 -0 ~0); added: default/a#0.0, default/b#0.0"
    many = Table(
        tuple(make_route("ns", f"i{n}", "0.0", f"h{n}.example.com", "/", "s") for n in range(8)), (), None
    )
    assert summarize_change(None, many).endswith("ns/i4#0.0 and 3 more")
