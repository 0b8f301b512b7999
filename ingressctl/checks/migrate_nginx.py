"""`ingressctl migrate --from ingress-nginx`: rewrite what has a clean equivalent, mark what needs a human.

- The class: `kubernetes.io/ingress.class: nginx` and `spec.ingressClassName: nginx` become the class
  ingressctl serves (`--ingress-class`, default `ingressctl`). (Taking over with `serve --ingress-class
  nginx --controller-name k8s.io/ingress-nginx` needs no rewrite at all.)
- ingress-nginx annotations ingressctl implements stay as they are: it reads their spellings.
- An Ingress with TLS and no ssl-redirect gets `ssl-redirect: "true"` written out: ingress-nginx
  redirects such hosts to https by default, ingressctl (outside takeover mode) only when told.
- Every other `nginx.ingress.kubernetes.io/*` annotation gets an end-of-line comment saying what
  becomes of it (routing/nginx_annotations.py): REFUSED (its routes answer 503), lost, changes, or not
  an ingress-nginx key: there a human must decide.
Comments, key order and quoting are kept (ruamel.yaml round trip, as `migrate` does for v1beta1);
documents without an ingress-nginx Ingress are copied byte for byte.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, FoldedScalarString, LiteralScalarString

from ingressctl.manifests.migrate import Migration, migrate_text, rewrite_chunk
from ingressctl.manifests.yamldocs import split_documents
from ingressctl.routing.nginx_annotations import Status, nginx_status
from ingressctl.routing.nginx_catalog import DIFFERENCES, PREFIX

CLASS_ANNOTATION = "kubernetes.io/ingress.class"
NGINX_CLASS = "nginx"
MARK = "ingressctl:"
SSL_REDIRECT = PREFIX + "ssl-redirect"
SSL_REDIRECT_NOTE = "ingress-nginx's default, written out: ingressctl redirects to https only when told"


def migrate_nginx_text(text: str, name: str = "<stdin>", ingress_class: str = "ingressctl") -> Migration:
    """v1beta1 → v1 first (as `migrate`), then the ingress-nginx rewrite of every YAML document."""
    first = migrate_text(text, name)
    if name.endswith(".json") or first.problems:
        return first
    result = Migration(text="", changed=list(first.changed), problems=list(first.problems))
    out: list[str] = []
    for line_offset, chunk in split_documents(first.text):
        out.append(_chunk(chunk, name, line_offset, ingress_class, result))
    result.text = "".join(out)
    return result


def _chunk(chunk: str, name: str, line_offset: int, ingress_class: str, result: Migration) -> str:
    if "Ingress" not in chunk or "nginx" not in chunk:
        return chunk
    return rewrite_chunk(
        chunk,
        name,
        line_offset,
        result,
        lambda documents, body: [c for doc in documents for c in _document(doc, ingress_class, body)],
    )


def _document(document: Any, ingress_class: str, text: str = "") -> list[str]:
    if not isinstance(document, MutableMapping):
        return []
    if document.get("kind") == "IngressList" or (
        isinstance(document.get("kind"), str) and str(document["kind"]).endswith("List")
    ):
        return [c for item in document.get("items") or [] for c in _document(item, ingress_class, text)]
    if document.get("kind") not in ("Ingress", None):
        return []
    meta = document.get("metadata")
    if not isinstance(meta, MutableMapping):
        return []
    ref = f"Ingress {meta.get('namespace') or 'default'}/{meta.get('name') or '(no name)'}"
    changes: list[str] = []
    annotations = meta.get("annotations")
    spec = document.get("spec")
    if isinstance(annotations, MutableMapping) and annotations.get(CLASS_ANNOTATION) == NGINX_CLASS:
        annotations[CLASS_ANNOTATION] = ingress_class
        changes.append(f"{ref}: {CLASS_ANNOTATION} nginx -> {ingress_class}")
    if isinstance(spec, MutableMapping) and spec.get("ingressClassName") == NGINX_CLASS:
        spec["ingressClassName"] = ingress_class
        changes.append(f"{ref}: ingressClassName nginx -> {ingress_class}")
    if changes and ingress_class != NGINX_CLASS and _needs_ssl_redirect(annotations, spec):
        if not isinstance(annotations, CommentedMap):
            annotations = meta["annotations"] = CommentedMap()
        annotations[SSL_REDIRECT] = DoubleQuotedScalarString("true")
        annotations.yaml_add_eol_comment(f"{MARK} {SSL_REDIRECT_NOTE}", SSL_REDIRECT)
        changes.append(f'{ref}: {SSL_REDIRECT}: "true" written ({SSL_REDIRECT_NOTE})')
    if isinstance(annotations, CommentedMap):
        for key in list(annotations):
            note = _note(str(key))
            if note is None or _has_mark(annotations, key):
                continue
            if isinstance(annotations[key], LiteralScalarString | FoldedScalarString):
                # After a block scalar an end-of-line comment would land below its text: put it
                # above, naming the key (ruamel keeps such a comment with the previous key).
                above = f"{MARK} {key}: {note}"
                if above in text:
                    continue
                annotations.yaml_set_comment_before_after_key(
                    key, before=above, indent=_column(annotations, key)
                )
            else:
                annotations.yaml_add_eol_comment(f"{MARK} {note}", key)
            changes.append(f"{ref}: {key}: {note}")
    return changes


def _needs_ssl_redirect(annotations: Any, spec: Any) -> bool:
    """An Ingress with TLS that leaves ssl-redirect to ingress-nginx's default (true)."""
    if not isinstance(spec, MutableMapping) or not spec.get("tls"):
        return False
    written = annotations if isinstance(annotations, MutableMapping) else {}
    return SSL_REDIRECT not in written and PREFIX + "force-ssl-redirect" not in written


def _note(key: str) -> str | None:
    status = nginx_status(key)
    if status is None or status.status is Status.SUPPORTED:
        return None
    name = key[len(PREFIX) :]
    if status.status is Status.CHANGES:
        return f"changes: {DIFFERENCES.get(name, status.detail)}"
    if status.status is Status.REFUSED:
        return (
            "REFUSED: its routes answer 503 under ingressctl; decide: remove it or use ingressctl's own "
            "annotation"
        )
    if status.status is Status.LOST:
        return f"lost: not implemented ({status.does}); decide whether the route can do without it"
    return f"unknown: {status.detail}"


def _column(annotations: CommentedMap, key: Any) -> int:
    position = annotations.lc.data.get(key) if hasattr(annotations, "lc") else None
    return int(position[1]) if position else 4


def _has_mark(annotations: CommentedMap, key: Any) -> bool:
    """A comment of ours is already there (migrate run twice adds nothing)."""
    comments = annotations.ca.items.get(key)
    if not comments:
        return False
    return MARK in repr(comments)
