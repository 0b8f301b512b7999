"""Basic-auth users from a Secret, for both spellings: Traefik 1.7's auth-type basic +
auth-secret (routing/annotations.py) and ingress-nginx's auth-type / auth-secret /
auth-secret-type. A Secret that cannot be used makes the routes answer 503, never open."""

from __future__ import annotations

from ingressctl.model import BasicAuth, Secret, Severity
from ingressctl.routing import codes
from ingressctl.routing.access_keys import (
    NGINX_AUTH_REALM,
    NGINX_AUTH_SECRET,
    NGINX_AUTH_SECRET_TYPE,
    NGINX_AUTH_TYPE,
)
from ingressctl.routing.access_reader import AccessReader
from ingressctl.routing.annotation_values import AnnotationReader

Users = tuple[tuple[str, str], ...]


def htpasswd_users(text: str) -> tuple[Users, str]:
    """The users of htpasswd lines, or why they cannot be used (then the routes fail closed)."""
    from ingressctl.security import htpasswd  # hashing libraries only when auth is present

    parsed = htpasswd.parse(text)
    fatal = [p for p in parsed.problems if p.fatal]
    if fatal:
        # Refusing the whole Secret is deliberate: a user whose line was dropped would otherwise be
        # locked out silently, and a plain-text password must never look like a working login.
        return (), "; ".join(f"htpasswd line {p.line}: {p.message}" for p in fatal)
    if not parsed.users:
        return (), "the htpasswd data holds no user"
    return parsed.users, ""


def secret_text(secret: Secret, keys: tuple[str, ...]) -> tuple[str | None, str]:
    """(htpasswd text of the first of `keys` the Secret has, or None with why not)."""
    for key in keys:
        raw = secret.data.get(key)
        if raw is None:
            continue
        try:
            return raw.decode("utf-8"), ""
        except UnicodeDecodeError:
            return None, "the htpasswd data is not UTF-8 text"
    return None, f"Secret {secret.meta.namespace}/{secret.meta.name} has no 'auth' key"


def report_secret_not_in_input(r: AnnotationReader, key: str, ns: str, name: str) -> str:
    """The rule of TLS Secrets and Services: a Secret missing from an input not declared complete
    is information; the routes still answer 503 until it is there (fail closed). Returns why."""
    r.finding_at(
        key,
        f"basic auth Secret {ns}/{name} is not part of the input; if the cluster lacks it, "
        "every route of this Ingress answers 503",
        "Pass the Secret manifest too, and --require-services to make a missing one an error.",
        Severity.INFO,
        codes.AUTH_INVALID,
    )
    return f"Secret {ns}/{name} is not part of the input"


def report_broken(r: AnnotationReader, key: str, problem: str, hint: str) -> None:
    r.finding_at(
        key,
        f"basic auth is broken ({problem}); every route of this Ingress answers 503",
        hint,
        Severity.ERROR,
        codes.AUTH_INVALID,
    )


def nginx_basic_auth(r: AccessReader) -> tuple[BasicAuth | None, str]:
    """ingress-nginx basic auth, or why it cannot be used (then the routes answer 503)."""
    auth_type = r.get(NGINX_AUTH_TYPE)
    secret_ref = r.get(NGINX_AUTH_SECRET)
    if auth_type is None and secret_ref is None:
        return None, ""
    kind = (auth_type or "").strip().lower()
    problem = ""
    key = NGINX_AUTH_TYPE
    if auth_type is None:
        problem = f"{NGINX_AUTH_SECRET} is set but {NGINX_AUTH_TYPE} is not"
    elif kind == "digest":
        problem = "auth-type digest is not supported by ingressctl"
    elif kind != "basic":
        problem = f"auth-type {auth_type!r} is not basic or digest"
    elif not secret_ref or not secret_ref.strip():
        problem = f"auth-type basic needs {NGINX_AUTH_SECRET}"
    else:
        key = NGINX_AUTH_SECRET
        ns, _, name = secret_ref.strip().rpartition("/")
        ns = ns or r.ingress.meta.namespace
        secret_type = (r.get(NGINX_AUTH_SECRET_TYPE) or "auth-file").strip().lower()
        secret = r.lookup_secret(ns, name)
        realm = (r.get(NGINX_AUTH_REALM) or "").strip() or "ingressctl"
        if secret_type not in ("auth-file", "auth-map"):
            key = NGINX_AUTH_SECRET_TYPE
            problem = f"auth-secret-type {secret_type!r} is not auth-file or auth-map"
        elif secret is None and not r.secrets_in_input:
            return None, report_secret_not_in_input(r, key, ns, name)
        elif secret is None:
            problem = f"Secret {ns}/{name} does not exist"
        else:
            users, problem = _nginx_users(secret, secret_type)
            if not problem:
                return BasicAuth(realm=realm, users=users, source=f"Secret {ns}/{name}"), ""
    report_broken(
        r,
        key,
        problem,
        f"Set {NGINX_AUTH_TYPE}: basic and {NGINX_AUTH_SECRET} to a Secret holding htpasswd users "
        f"({NGINX_AUTH_SECRET_TYPE}: auth-file or auth-map).",
    )
    return None, problem


def _nginx_users(secret: Secret, secret_type: str) -> tuple[Users, str]:
    ref = f"Secret {secret.meta.namespace}/{secret.meta.name}"
    if secret_type != "auth-map":
        text, problem = secret_text(secret, ("auth",))
        return htpasswd_users(text) if text is not None else ((), problem)
    lines: list[str] = []
    for user, value in sorted(secret.data.items()):
        try:
            hashed = value.decode("utf-8").strip()
        except UnicodeDecodeError:
            return (), f"{ref} key {user!r} is not UTF-8 text"
        if ":" in user or not user:
            return (), f"{ref} key {user!r} is not a user name"
        lines.append(f"{user}:{hashed}")
    return htpasswd_users("\n".join(lines))
