"""Process-wide logging: text or JSON lines with structured fields, secrets redacted.

Modules log with stdlib `logging` and pass structured fields through `extra=`
(`log.info("reloaded", extra={"routes": 12, "provider": "kubernetes"})`); this module decides
how they are printed. Access log lines (logger `ingressctl.access`) are already formatted by
`format_access` and are written as they are, one per line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final, Protocol

from ingressctl.model import ConfigError, Route

ACCESS_LOGGER_NAME: Final = "ingressctl.access"
LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS: Final = ("text", "json")
ACCESS_FORMATS: Final = ("common", "json")
REDACTED: Final = "[REDACTED]"

# ------------------------------------------------------------------ redaction

_SENSITIVE_FIELD = re.compile(
    r"(?i)(^|_)(password|passwd|token|authorization|cookie|key_pem|private_key|eab_hmac|hmac|api_key"
    r"|credentials?)$|^(secret|pass)$"
)
_PATTERNS: Final = (
    # PEM private keys of any type, also when cut off at the end of the text.
    (
        re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(-----END \1PRIVATE KEY-----|\Z)", re.DOTALL),
        "[REDACTED PRIVATE KEY]",
    ),
    # htpasswd hashes: apr1-MD5, bcrypt, SHA1.
    (re.compile(r"\$apr1\$[./0-9A-Za-z]{0,8}\$[./0-9A-Za-z]{22}"), "[REDACTED HASH]"),
    (re.compile(r"\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}"), "[REDACTED HASH]"),
    (re.compile(r"\{SHA\}[A-Za-z0-9+/]{27}="), "[REDACTED HASH]"),
    # Authorization header values (Basic carries the password, Bearer is the token).
    (re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]{8,}"), r"\1 " + REDACTED),
    # key=value / key: value / "key": "value" for names that carry secrets.
    (
        re.compile(
            r"""(?i)\b(password|passwd|token|secret|eab_hmac|hmac_key|api_key)(["']?\s*[=:]\s*["']?)([^\s"',;&]+)"""
        ),
        r"\1\2" + REDACTED,
    ),
)


def redact(text: str) -> str:
    """Remove key material, password hashes and credentials from a line of text."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def is_sensitive_field(name: str) -> bool:
    """True for field names whose values are credentials (password, token, key_pem, ...)."""
    return _SENSITIVE_FIELD.match(name) is not None


def _redact_value(key: str, value: Any) -> Any:
    if is_sensitive_field(key):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return redact(str(value))


# ------------------------------------------------------------------ formatters

_STANDARD_ATTRS: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a call passed through `extra=`, redacted."""
    return {k: _redact_value(k, v) for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


def _timestamp(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


def _field_text(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\\'):
        return json.dumps(text, ensure_ascii=False)
    return text


class TextFormatter(logging.Formatter):
    """`2026-01-02T03:04:05.678Z INFO  ingressctl.server: reloaded routes=12 provider=kubernetes`."""

    def format(self, record: logging.LogRecord) -> str:
        # One record, one line: a newline in a message (from input text) must not forge another record.
        message = redact(record.getMessage()).rstrip("\n").replace("\r", "\\r").replace("\n", "\\n")
        line = f"{_timestamp(record.created)} {record.levelname:<5} {record.name}: {message}"
        fields = _fields(record)
        if fields:
            line += " " + " ".join(f"{k}={_field_text(v)}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in _fields(record).items():
            doc.setdefault(key, value)
        if record.exc_info:
            doc["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False, default=str)


class _RawFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


def configure_logging(
    level: str = "INFO",
    fmt: str = "text",
    *,
    stream: IO[str] | None = None,
    access_stream: IO[str] | None = None,
) -> None:
    """Set up the root logger (stderr by default) and the access logger (stdout by default).

    Raises ConfigError for an unknown level or format. Calling it again replaces the handlers.
    """
    name = level.upper()
    if name == "WARN":
        name = "WARNING"
    if name not in LEVELS:
        raise ConfigError(f"unknown log level {level!r}; use one of {', '.join(LEVELS).lower()}")
    if fmt not in FORMATS:
        raise ConfigError(f"unknown log format {fmt!r}; use text or json")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(name)
    # Libraries that are chatty at INFO (the kubernetes client logs every request) stay at WARNING.
    for noisy in ("urllib3", "kubernetes", "asyncio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))

    access = logging.getLogger(ACCESS_LOGGER_NAME)
    for old in list(access.handlers):
        access.removeHandler(old)
    access_handler = logging.StreamHandler(access_stream if access_stream is not None else sys.stdout)
    access_handler.setFormatter(_RawFormatter())
    access.addHandler(access_handler)
    access.setLevel(logging.INFO)
    access.propagate = False


# ------------------------------------------------------------------ access log

_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One finished request, as the proxy saw it."""

    time: float
    remote: str
    method: str
    target: str  # path and query as received
    protocol: str  # "HTTP/1.1"
    status: int
    size: int  # response body bytes sent
    duration: float  # seconds, request start to last byte
    entrypoint: str
    host: str = ""
    router: str = ""
    service: str = ""
    upstream: str = ""
    user: str = ""
    referer: str = ""
    user_agent: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


def _clf_time(ts: float) -> str:
    t = time.gmtime(ts)
    clock = f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{clock} +0000"


def _quoted(value: str) -> str:
    # A client controls the target, referer and agent: escape so one request stays one line.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") or "-"


def format_access(record: AccessRecord, fmt: str = "common") -> str:
    """One access log line.

    common: Common Log Format extended like Traefik's, then entrypoint, router, service, upstream
    and the duration in milliseconds:
      `1.2.3.4 - - [02/Jan/2026:03:04:05 +0000] "GET /x HTTP/1.1" 200 5 "-" "curl/8"
       "web" "default/a#0.0" "default/a:80" "10.0.0.1:8080" 1.234ms` (one line)
    json: the same fields as one JSON object.
    """
    if fmt == "json":
        doc: dict[str, Any] = {
            "time": _timestamp(record.time),
            "remote": record.remote,
            "user": record.user or None,
            "method": record.method,
            "host": record.host or None,
            "target": record.target,
            "protocol": record.protocol,
            "status": record.status,
            "size": record.size,
            "referer": record.referer or None,
            "user_agent": record.user_agent or None,
            "entrypoint": record.entrypoint,
            "router": record.router or None,
            "service": record.service or None,
            "upstream": record.upstream or None,
            "duration_ms": round(record.duration * 1000, 3),
            **dict(record.extra),
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    if fmt != "common":
        raise ConfigError(f"unknown access log format {fmt!r}; use common or json")
    return (
        f"{record.remote or '-'} - {_quoted(record.user)} [{_clf_time(record.time)}] "
        f'"{_quoted(record.method)} {_quoted(record.target)} {record.protocol}" '
        f"{record.status} {record.size} "
        f'"{_quoted(record.referer)}" "{_quoted(record.user_agent)}" "{record.entrypoint}" '
        f'"{_quoted(record.router)}" "{_quoted(record.service)}" "{_quoted(record.upstream)}" '
        f"{record.duration * 1000:.3f}ms"
    )


# ------------------------------------------------------------------ configuration changes


class _Table(Protocol):
    @property
    def routes(self) -> Sequence[Route]: ...

    @property
    def default_route(self) -> Route | None: ...


def _routes(table: _Table | None) -> dict[str, Route]:
    if table is None:
        return {}
    out = {r.id: r for r in table.routes}
    if table.default_route is not None:
        out.setdefault(table.default_route.id, table.default_route)
    return out


def _names(ids: Iterable[str], limit: int = 5) -> str:
    ordered = sorted(ids)
    shown = ", ".join(ordered[:limit])
    return shown + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


def summarize_change(old: _Table | None, new: _Table | None, also: str = "") -> str:
    """One line saying what a reload changed: `routes 12 (+2 -1 ~1); added: a, b; removed: c; changed: d`.

    `also`: other changes the reload made (certificates), appended; with it, never "no change".
    """
    before, after = _routes(old), _routes(new)
    added = after.keys() - before.keys()
    removed = before.keys() - after.keys()
    changed = {k for k in after.keys() & before.keys() if after[k] != before[k]}
    line = f"routes {len(after)} (+{len(added)} -{len(removed)} ~{len(changed)})"
    for label, ids in (("added", added), ("removed", removed), ("changed", changed)):
        if ids:
            line += f"; {label}: {_names(ids)}"
    if also:
        return f"{line}; {also}"
    return line if added or removed or changed else line + "; no change"
