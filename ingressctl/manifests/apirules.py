"""What the Kubernetes API server refuses in an Ingress, checked the way it checks it.

The regular expressions and limits are those of the API's validation code, so that `validate`
refuses exactly what `kubectl apply` would, on Ingresses of every class:

- k8s.io/apimachinery/pkg/util/validation/validation.go (kubernetes/kubernetes, staging, commit
  008b3652): dns1123LabelFmt, dns1123SubdomainFmt, dns1035LabelFmt, wildcardDNS1123SubdomainFmt,
  DNS1123LabelMaxLength 63, DNS1123SubdomainMaxLength 253, DNS1035LabelMaxLength 63,
  IsValidPortNum (1-65535), IsValidPortName (IANA_SVC_NAME: at most 15 of [-a-z0-9], a letter,
  no "--", no hyphen at either end).
- k8s.io/apimachinery/pkg/api/validate/content/kube.go (commit 26c03096): IsLabelKey (the
  "qualified name": optional DNS-subdomain prefix and "/", a name of at most 63 matching
  `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`), IsLabelValue (at most 63, the same or empty).
- k8s.io/apimachinery/pkg/api/validation/objectmeta.go: annotation keys are qualified names checked
  lower-cased; all annotations together (keys and values) at most 256 KiB.
- pkg/apis/networking/validation/validation.go (kubernetes/kubernetes, commit 019c5dc5): an
  Ingress name is a DNS-1123 subdomain, its namespace a DNS-1123 label; a rule host is not an IP
  address and is a DNS-1123 subdomain, or with a `*` a wildcard subdomain; TLS hosts likewise;
  Exact and Prefix paths are absolute and contain none of `//`, `/./`, `/../`, `%2f`, `%2F` nor end
  in `/..` or `/.`; ImplementationSpecific paths, when given, are absolute; a backend's Service name
  is a DNS-1035 label; spec.tls[].secretName and spec.ingressClassName are DNS-1123 subdomains.

Each check returns the reasons the value is refused (empty: accepted), worded for people.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Final

DNS1123_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT: Final = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT: Final = "[a-z]([-a-z0-9]*[a-z0-9])?"
WILDCARD_DNS1123_SUBDOMAIN_FMT: Final = "\\*\\." + DNS1123_SUBDOMAIN_FMT
LABEL_KEY_FMT: Final = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT: Final = "(" + LABEL_KEY_FMT + ")?"

DNS1123_LABEL_MAX: Final = 63
DNS1123_SUBDOMAIN_MAX: Final = 253
DNS1035_LABEL_MAX: Final = 63
LABEL_KEY_NAME_MAX: Final = 63
LABEL_VALUE_MAX: Final = 63
PORT_NAME_MAX: Final = 15
TOTAL_ANNOTATION_SIZE_MAX: Final = 256 * (1 << 10)

INVALID_PATH_SEQUENCES: Final = ("//", "/./", "/../", "%2f", "%2F")
INVALID_PATH_SUFFIXES: Final = ("/..", "/.")
PATH_TYPES: Final = ("Exact", "Prefix", "ImplementationSpecific")

# Go's regexp `^...$` on a string: `$` does not match before a final newline, so fullmatch.
_DNS1123_LABEL = re.compile(DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN = re.compile(DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL = re.compile(DNS1035_LABEL_FMT)
_WILDCARD = re.compile(WILDCARD_DNS1123_SUBDOMAIN_FMT)
_LABEL_KEY = re.compile(LABEL_KEY_FMT)
_LABEL_VALUE = re.compile(LABEL_VALUE_FMT)
_PORT_NAME_CHARS = re.compile("[-a-z0-9]+")
_LETTER = re.compile("[a-z]")
# Go's ParseIPSloppy accepts IPv4 with leading zeros ("010.1.1.1"); Python's ipaddress does not.
_SLOPPY_IPV4 = re.compile(r"[0-9]+(\.[0-9]+){3}")


_DOT: Final = 46
_HYPHEN: Final = 45


def _plain_subdomain(value: str) -> bool:
    """Whether `value` is a DNS-1123 subdomain (DNS1123_SUBDOMAIN_FMT, at most 253 characters).

    The names and hosts of nearly every object are accepted and differ from object to object (the
    memos below miss): this loop over the characters (compiled: integer comparisons) answers for
    them in a fraction of the regular expression's time. The same as the expression: labels of
    [-a-z0-9] between dots, none empty, none starting or ending with '-'.
    tests/manifests/test_api_rules.py compares both."""
    if not 0 < len(value) <= DNS1123_SUBDOMAIN_MAX:
        return False
    previous = _DOT  # a label starts
    for character in value:
        code = ord(character)
        if 97 <= code <= 122 or 48 <= code <= 57:  # a-z, 0-9
            pass
        elif code == _HYPHEN:
            if previous == _DOT:
                return False  # a label starting with '-'
        elif code == _DOT:
            if previous in (_DOT, _HYPHEN):
                return False  # an empty label, or one ending with '-'
        else:
            return False
        previous = code
    return previous not in (_DOT, _HYPHEN)


def _utf8_len(value: str) -> int:
    # Go measures strings in bytes.
    return len(value) if value.isascii() else len(value.encode("utf-8"))


def dns1123_label(value: str) -> list[str]:
    """IsDNS1123Label: namespaces."""
    return list(_dns1123_label(value))


@lru_cache(maxsize=4096)
def _dns1123_label(value: str) -> tuple[str, ...]:
    # Memoised: the same namespaces come with every object of a large input.
    errors = []
    if _utf8_len(value) > DNS1123_LABEL_MAX:
        errors.append(f"must be no more than {DNS1123_LABEL_MAX} characters")
    if not _DNS1123_LABEL.fullmatch(value):
        if _DNS1123_SUBDOMAIN.fullmatch(value):
            errors.append("must not contain dots")
        else:
            errors.append(
                "must consist of lower-case letters, digits and '-', and start and end with a letter or digit"
            )
    return tuple(errors)


@lru_cache(maxsize=4096)
def _dns1123_subdomain(value: str) -> tuple[str, ...]:
    errors = []
    if _utf8_len(value) > DNS1123_SUBDOMAIN_MAX:
        errors.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters")
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        errors.append(
            "must consist of lower-case letters, digits, '-' and '.', and start and end with a letter "
            "or digit"
        )
    return tuple(errors)


def dns1123_subdomain(value: str) -> list[str]:
    """IsDNS1123Subdomain: object names, hosts, Secret and class names."""
    if _plain_subdomain(value):
        return []
    return list(_dns1123_subdomain(value))


def dns1035_label(value: str) -> list[str]:
    """IsDNS1035Label: Service names."""
    if (
        len(value) <= DNS1035_LABEL_MAX
        and "." not in value
        and _plain_subdomain(value)
        and value[0] not in "0123456789"
    ):
        return []
    return list(_dns1035_label(value))


@lru_cache(maxsize=4096)
def _dns1035_label(value: str) -> tuple[str, ...]:
    # Memoised: an Ingress names the same Service in most of its paths.
    errors = []
    if _utf8_len(value) > DNS1035_LABEL_MAX:
        errors.append(f"must be no more than {DNS1035_LABEL_MAX} characters")
    if not _DNS1035_LABEL.fullmatch(value):
        errors.append(
            "must consist of lower-case letters, digits and '-', start with a letter and end with a "
            "letter or digit"
        )
    return tuple(errors)


def wildcard_dns1123_subdomain(value: str) -> list[str]:
    """IsWildcardDNS1123Subdomain: `*.` and a DNS-1123 subdomain."""
    errors = []
    if _utf8_len(value) > DNS1123_SUBDOMAIN_MAX:
        errors.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters")
    if not _WILDCARD.fullmatch(value):
        errors.append(
            "a wildcard must be '*.' followed by a DNS name (one leading '*.' label, lower case, no port)"
        )
    return errors


def is_ip(value: str) -> bool:
    """netutils.ParseIPSloppy(value) != nil: IPv4 (leading zeros allowed) or IPv6."""
    if ":" not in value and value.strip("0123456789."):
        return False  # neither IPv4 (digits and dots) nor IPv6: a name, nearly always
    if _SLOPPY_IPV4.fullmatch(value):
        return all(int(part) <= 255 for part in value.split("."))
    if ":" not in value:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    # Go rejects a zone ("fe80::1%eth0") in ParseIP.
    return "%" not in value


def rule_host(host: str) -> list[str]:
    """validateIngressRules for one non-empty host."""
    errors = ["must be a DNS name, not an IP address"] if is_ip(host) else []
    if "*" in host:
        return errors + wildcard_dns1123_subdomain(host)
    return errors + dns1123_subdomain(host)


def tls_host(host: str) -> list[str]:
    """validateIngressTLS for one host (no IP-address check there, as in the API server)."""
    if "*" in host:
        return wildcard_dns1123_subdomain(host)
    return dns1123_subdomain(host)


def http_path(path: str, path_type: str) -> list[str]:
    """validateHTTPIngressPath's checks of `path` for a known `path_type`."""
    return list(_http_path(path, path_type))


@lru_cache(maxsize=4096)
def _http_path(path: str, path_type: str) -> tuple[str, ...]:
    # Memoised: the same keys, paths and port names come with every object of a large input.
    if path_type == "ImplementationSpecific":
        return ("must be an absolute path (start with '/')",) if path and not path.startswith("/") else ()
    errors = [] if path.startswith("/") else ["must be an absolute path (start with '/')"]
    if path:
        errors += [f"must not contain '{seq}'" for seq in INVALID_PATH_SEQUENCES if seq in path]
        errors += [f"cannot end with '{suffix}'" for suffix in INVALID_PATH_SUFFIXES if path.endswith(suffix)]
    return tuple(errors)


def port_number(number: int) -> list[str]:
    """IsValidPortNum."""
    return [] if 1 <= number <= 65535 else ["must be between 1 and 65535, inclusive"]


def port_name(name: str) -> list[str]:
    """IsValidPortName (IANA_SVC_NAME)."""
    return list(_port_name(name))


@lru_cache(maxsize=4096)
def _port_name(name: str) -> tuple[str, ...]:
    # Memoised: the same keys, paths and port names come with every object of a large input.
    errors = []
    if _utf8_len(name) > PORT_NAME_MAX:
        errors.append(f"must be no more than {PORT_NAME_MAX} characters")
    if not _PORT_NAME_CHARS.fullmatch(name):
        errors.append("must contain only lower-case letters, digits and '-'")
    if not _LETTER.search(name):
        errors.append("must contain at least one letter (a-z)")
    if "--" in name:
        errors.append("must not contain consecutive hyphens")
    if name.startswith("-") or name.endswith("-"):
        errors.append("must not begin or end with a hyphen")
    return tuple(errors)


def qualified_name(key: str) -> list[str]:
    """IsLabelKey / IsQualifiedName: `[prefix/]name`."""
    return list(_qualified_name(key))


@lru_cache(maxsize=4096)
def _qualified_name(key: str) -> tuple[str, ...]:
    # Memoised: the same keys, paths and port names come with every object of a large input.
    parts = key.split("/")
    if len(parts) > 2:
        return ("must be a name with an optional DNS-subdomain prefix and one '/' (example.com/my-key)",)
    errors = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors += [f"prefix part {msg}" for msg in _dns1123_subdomain(prefix)]
    if not name:
        errors.append("name part must be non-empty")
    elif _utf8_len(name) > LABEL_KEY_NAME_MAX:
        errors.append(f"name part must be no more than {LABEL_KEY_NAME_MAX} characters")
    if not _LABEL_KEY.fullmatch(name):
        errors.append(
            "name part must consist of letters, digits, '-', '_' and '.', and start and end with a "
            "letter or digit"
        )
    return tuple(errors)


def label_value(value: str) -> list[str]:
    """IsLabelValue."""
    return list(_label_value(value))


@lru_cache(maxsize=4096)
def _label_value(value: str) -> tuple[str, ...]:
    # Memoised: the same keys, paths and port names come with every object of a large input.
    errors = []
    if _utf8_len(value) > LABEL_VALUE_MAX:
        errors.append(f"must be no more than {LABEL_VALUE_MAX} characters")
    if not _LABEL_VALUE.fullmatch(value):
        errors.append(
            "must be empty or consist of letters, digits, '-', '_' and '.', and start and end with a "
            "letter or digit"
        )
    return tuple(errors)


def annotation_key(key: str) -> list[str]:
    """ValidateAnnotations: a qualified name, case ignored."""
    return qualified_name(key.lower())


def annotations_size(annotations: Mapping[str, str]) -> list[str]:
    """ValidateAnnotationsSize: keys and values together at most 256 KiB."""
    total = sum(_utf8_len(k) + _utf8_len(v) for k, v in annotations.items())
    if total > TOTAL_ANNOTATION_SIZE_MAX:
        return [f"may not be more than {TOTAL_ANNOTATION_SIZE_MAX} bytes in total (they are {total})"]
    return []
