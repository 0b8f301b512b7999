"""Rate and in-flight limits: Traefik 1.7's rate-limit (YAML) and ingress-nginx's limit-rps,
limit-rpm, limit-burst-multiplier, limit-connections and limit-whitelist."""

from __future__ import annotations

from ingressctl.model.access import InFlightLimit, RateLimit, RateSet, SourceKey, SourceKind
from ingressctl.routing.access_keys import (
    NGINX_LIMIT_BURST,
    NGINX_LIMIT_CONNECTIONS,
    NGINX_LIMIT_RPM,
    NGINX_LIMIT_RPS,
    NGINX_LIMIT_WHITELIST,
    RATE_LIMIT,
)
from ingressctl.routing.access_reader import AccessReader
from ingressctl.routing.annotation_values import HEADER_NAME, parse_duration

_NGINX_BURST_DEFAULT = 5
_TRAEFIK_LIMITED = 429
_NGINX_LIMITED = 503
_HINT = (
    "Write YAML: extractorFunc: client.ip, then rateset: with one or more named entries of "
    "period (e.g. 10s), average and burst."
)


def _source_key(r: AccessReader, raw: str) -> SourceKey | None:
    text = raw.strip()
    lowered = text.lower()
    if lowered == "client.ip":
        return SourceKey(SourceKind.CLIENT_IP)
    if lowered == "request.host":
        return SourceKey(SourceKind.HOST)
    if lowered.startswith("request.header."):
        header = text[len("request.header.") :]
        if HEADER_NAME.match(header):
            return SourceKey(SourceKind.HEADER, header)
    r.invalid(
        RATE_LIMIT,
        f"extractor {raw!r} is not client.ip, request.host or request.header.NAME",
        "Write e.g. extractorFunc: client.ip.",
    )
    return None


def traefik_rate_limit(r: AccessReader) -> RateLimit | None:
    raw = r.get(RATE_LIMIT)
    if raw is None:
        return None
    import yaml  # only this annotation needs PyYAML; validate starts without it

    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        r.invalid(RATE_LIMIT, f"not YAML ({str(exc).splitlines()[0]})", _HINT)
        return None
    if not isinstance(doc, dict):
        r.invalid(RATE_LIMIT, "not a YAML mapping", _HINT)
        return None
    fields = {str(k).lower(): v for k, v in doc.items()}
    unknown = sorted(set(fields) - {"extractorfunc", "rateset"})
    if unknown:
        r.invalid(RATE_LIMIT, f"unknown key(s) {', '.join(unknown)}", _HINT)
        return None
    source = _source_key(r, str(fields.get("extractorfunc", "")))
    rateset = fields.get("rateset")
    if not isinstance(rateset, dict) or not rateset:
        r.invalid(RATE_LIMIT, "rateset is missing or empty", _HINT)
        return None
    rates: list[RateSet] = []
    for name, entry in rateset.items():
        rate = _rate_set(r, str(name), entry)
        if rate is None:
            return None
        rates.append(rate)
    if source is None:
        return None
    return RateLimit(source, tuple(rates), _TRAEFIK_LIMITED, (), RATE_LIMIT)


def _rate_set(r: AccessReader, name: str, entry: object) -> RateSet | None:
    if not isinstance(entry, dict):
        r.invalid(RATE_LIMIT, f"rateset {name!r} is not a mapping", _HINT)
        return None
    values = {str(k).lower(): v for k, v in entry.items()}
    unknown = sorted(set(values) - {"period", "average", "burst"})
    period = parse_duration(str(values.get("period", "1s")))
    average = _positive_int(values.get("average"))
    burst = _positive_int(values.get("burst", 1))
    problem = ""
    if unknown:
        problem = f"unknown key(s) {', '.join(unknown)}"
    elif period is None or period <= 0:
        problem = f"period {values.get('period')!r} is not a positive duration"
    elif average is None:
        problem = f"average {values.get('average')!r} is not a positive whole number"
    elif burst is None:
        problem = f"burst {values.get('burst')!r} is not a positive whole number"
    if problem:
        r.invalid(RATE_LIMIT, f"rateset {name!r}: {problem}", _HINT)
        return None
    assert period is not None and average is not None and burst is not None
    return RateSet(name, period, average, burst)


def _positive_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def nginx_limits(r: AccessReader) -> tuple[RateLimit | None, InFlightLimit | None]:
    rps = r.integer(NGINX_LIMIT_RPS, positive=True)
    rpm = r.integer(NGINX_LIMIT_RPM, positive=True)
    conns = r.integer(NGINX_LIMIT_CONNECTIONS, positive=True)
    multiplier = r.integer(NGINX_LIMIT_BURST, positive=True) or _NGINX_BURST_DEFAULT
    exempt = r.cidrs(NGINX_LIMIT_WHITELIST) or ()
    if rps is None and rpm is None and conns is None:
        if NGINX_LIMIT_BURST in r.values or NGINX_LIMIT_WHITELIST in r.values:
            key = NGINX_LIMIT_BURST if NGINX_LIMIT_BURST in r.values else NGINX_LIMIT_WHITELIST
            r.warn(key, "has no effect without limit-rps, limit-rpm or limit-connections", "")
        return None, None
    rates: list[RateSet] = []
    if rps is not None:
        rates.append(RateSet("rps", 1.0, rps, rps * multiplier))
    if rpm is not None:
        rates.append(RateSet("rpm", 60.0, rpm, rpm * multiplier))
    source = SourceKey(SourceKind.CLIENT_IP)
    spelling = NGINX_LIMIT_RPS if rps is not None else NGINX_LIMIT_RPM
    rate = RateLimit(source, tuple(rates), _NGINX_LIMITED, exempt, spelling) if rates else None
    in_flight = (
        InFlightLimit(source, conns, _NGINX_LIMITED, exempt, NGINX_LIMIT_CONNECTIONS)
        if conns is not None
        else None
    )
    return rate, in_flight
