"""Every refusal names the file, the line, the key and the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ingressctl.config import ConfigOverrides, load_static_config
from ingressctl.model import ConfigError

Problems = Callable[..., list[str]]


def test_redirect_to_undefined_entrypoint_suggests_the_nearest(problems: Problems) -> None:
    assert problems(
        """
        [entryPoints]
          [entryPoints.http]
          address = ":80"
            [entryPoints.http.redirect]
            entryPoint = "httpss"
          [entryPoints.https]
          address = ":443"
            [entryPoints.https.tls]
        """
    ) == [
        'traefik.toml:5: entryPoints.http.redirect.entryPoint "httpss" is not defined (did you mean "https"?)'
    ]


def test_wrong_type_is_named_with_an_example(problems: Problems) -> None:
    assert problems(
        """
        [entryPoints.http]
        address = 80
        """
    ) == ['traefik.toml:2: entryPoints.http.address must be a string like ":80", got 80']


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("80", 'needs a port, like ":80" or "127.0.0.1:8080"'),
        (":http", "port 'http' is not a number between 0 and 65535"),
        (":70000", "port '70000' is not a number between 0 and 65535"),
        ("::1:80", 'an IPv6 host must be in brackets, like "[::1]:8080"'),
        ("[zz]:80", "'zz' is not an IPv6 address"),
        ("bad host:80", "'bad host' is not an IP address or host name"),
    ],
)
def test_bad_addresses(problems: Problems, address: str, why: str) -> None:
    assert problems(f'[entryPoints.web]\naddress = "{address}"\n') == [
        f'traefik.toml:2: entryPoints.web.address "{address}": {why}'
    ]


def test_all_problems_are_listed_in_line_order_with_suggestions(problems: Problems) -> None:
    assert problems(
        """
        logLevl = "debug"
        defaultEntryPoints = ["http", "htps"]
        [entryPoints.http]
        adress = ":80"
        [kubernetes]
        namespace = ["a"]
        [acme]
        emial = "x@y.z"
        entryPoint = "http"
        """
    ) == [
        'traefik.toml:1: unknown key logLevl (did you mean "logLevel"?)',
        'traefik.toml:2: defaultEntryPoints entry "htps" is not defined (did you mean "http"?)',
        'traefik.toml:3: entryPoints.http.address is required, like ":80"',
        'traefik.toml:4: unknown key entryPoints.http.adress (did you mean "address"?)',
        'traefik.toml:6: unknown key kubernetes.namespace (did you mean "namespaces"?)',
        'traefik.toml:8: unknown key acme.emial (did you mean "email"?)',
    ]


def test_unsupported_provider_is_a_clear_error(problems: Problems) -> None:
    lines = problems(
        """
        [entryPoints.http]
        address = ":80"

        [file]
        watch = true
        """
    )
    assert lines == [
        "traefik.toml:4: [file] is not supported: ingressctl reads Ingresses from [kubernetes] or from "
        'manifest files ([ingressctl] manifests = ["dir/"]); remove this table'
    ]


def test_wrong_types_everywhere(problems: Problems) -> None:
    assert problems(
        """
        defaultEntryPoints = 3
        [entryPoints.http]
        address = ":80"
        [entryPoints.http.forwardedHeaders]
        trustedIPs = ["10.0.0.0/33"]
        [acme]
        onHostRule = "yes"
        keyType = "EC255"
        entryPoint = "http"
        [ingressctl]
        workers = 0
        throttle = "soon"
        """
    ) == [
        'traefik.toml:1: defaultEntryPoints must be a list of strings like ["http"], got 3',
        'traefik.toml:5: entryPoints.http.forwardedHeaders.trustedIPs: "10.0.0.0/33" '
        "is not an IP address or CIDR",
        'traefik.toml:7: acme.onHostRule must be true or false, got "yes"',
        'traefik.toml:8: acme.keyType must be one of "EC256", "EC384", "RSA2048", "RSA4096", "RSA8192", '
        'got "EC255" (did you mean "EC256"?)',
        'traefik.toml:9: acme.entryPoint "http" has no TLS: add [entryPoints.http.tls]',
        "traefik.toml:11: ingressctl.workers must be an integer >= 1, got 0",
        'traefik.toml:12: ingressctl.throttle must be a duration in seconds or like "10s", "500ms", '
        'got "soon"',
    ]


def test_missing_certificate_file_names_key_and_path(problems: Problems, tmp_path: Path) -> None:
    (tmp_path / "site.key").write_text("key")
    assert problems(
        """
        [entryPoints.https]
        address = ":443"
          [entryPoints.https.tls]
            [[entryPoints.https.tls.certificates]]
            certFile = "site.crt"
            keyFile = "site.key"
        """
    ) == [
        f'traefik.toml:5: entryPoints.https.tls.certificates[0].certFile: file "site.crt" '
        f"({tmp_path / 'site.crt'}) does not exist"
    ]


def test_tls_versions_below_12_are_refused(problems: Problems) -> None:
    assert problems(
        """
        [entryPoints.https]
        address = ":443"
        [entryPoints.https.tls]
        minVersion = "VersionTLS11"
        """
    ) == [
        'traefik.toml:4: entryPoints.https.tls.minVersion "VersionTLS11": TLS 1.0 and 1.1 are not offered, '
        'use "VersionTLS12" or "VersionTLS13"'
    ]


def test_security_settings_we_cannot_enforce_are_errors_not_warnings(problems: Problems) -> None:
    lines = problems(
        """
        [entryPoints.https]
        address = ":443"
        whiteList = { sourceRange = ["10.0.0.0/8"] }
        [entryPoints.https.tls]
        [entryPoints.https.tls.clientCA]
        files = ["ca.pem"]
        [entryPoints.https.auth.digest]
        users = ["a:b"]
        """
    )
    # clientCA is implemented: a CA file that cannot be read is an error (never an open entrypoint).
    assert lines[1].startswith('traefik.toml:6: entryPoints.https.tls.clientCA.files: "ca.pem" (')
    assert lines[1].endswith(") cannot be read: No such file or directory")
    assert [lines[0], lines[2]] == [
        "traefik.toml:3: [entryPoints.https.whiteList] is not supported: use the "
        "ingress.kubernetes.io/whitelist-source-range annotation on the Ingress",
        "traefik.toml:7: [entryPoints.https.auth.digest] is not supported: only [auth.basic] is implemented",
    ]


def test_plain_passwords_and_bad_users_file(
    problems: Problems, tmp_path: Path, apr1_hash: Callable[[str], str]
) -> None:
    (tmp_path / "users").write_text(f"ok:{apr1_hash('pw')}\nbroken\n")
    assert problems(
        """
        [entryPoints.http]
        address = ":80"
        [entryPoints.http.auth.basic]
        users = ["admin:admin"]
        usersFile = "users"
        [api]
        [api.auth.basic]
        usersFile = "nope"
        """
    ) == [
        "traefik.toml:4: entryPoints.http.auth.basic.users entry 1: user 'admin': plain-text passwords are "
        "not accepted; regenerate it with `htpasswd -B` (bcrypt)",
        f'traefik.toml:5: {tmp_path / "users"}:2: expected "user:hash"',
        f"traefik.toml:8: api.auth.basic.usersFile: cannot read {tmp_path / 'nope'}: "
        "No such file or directory",
    ]


def test_duplicate_addresses_and_self_redirect(problems: Problems) -> None:
    assert problems(
        """
        [entryPoints.a]
        address = ":8000"
        [entryPoints.a.redirect]
        entryPoint = "a"
        [entryPoints.b]
        address = "0.0.0.0:8000"
        [entryPoints.c]
        address = "[::]:8000"
        [entryPoints.v4]
        address = "127.0.0.1:8001"
        [entryPoints.v6]
        address = "[::1]:8001"
        [entryPoints.any4]
        address = "0.0.0.0:8001"
        """
    ) == [
        "traefik.toml:4: entryPoints.a.redirect.entryPoint redirects entrypoint 'a' to itself",
        # ":8000" listens on IPv6 and IPv4: every other address on port 8000 collides with it.
        'traefik.toml:6: entryPoints.b.address "0.0.0.0:8000" is already used by entrypoint \'a\' (":8000")',
        'traefik.toml:8: entryPoints.c.address "[::]:8000" is already used by entrypoint \'a\' (":8000")',
        # The IPv4 wildcard collides with IPv4 addresses only.
        "traefik.toml:14: entryPoints.any4.address \"0.0.0.0:8001\" is already used by entrypoint 'v4' "
        '("127.0.0.1:8001")',
    ]


def test_invalid_toml_reports_line_and_column(write_config: Callable[[str], Path]) -> None:
    path = write_config('[entryPoints.http]\naddress = ":80"\naddress = ":81"\n')
    with pytest.raises(ConfigError) as caught:
        load_static_config(str(path), ConfigOverrides())
    assert str(caught.value).startswith(f"{path}:3:")
    assert "invalid TOML" in str(caught.value)
    path = write_config("[entryPoints.http\n")
    with pytest.raises(ConfigError, match=r"traefik.toml:1:\d+: invalid TOML"):
        load_static_config(str(path), ConfigOverrides())


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_static_config(str(tmp_path / "absent.toml"), ConfigOverrides())
    assert caught.value.exit_code == 2
    assert (
        str(caught.value)
        == f"{tmp_path / 'absent.toml'}: configuration file not found (give an existing file to --config)"
    )
    with pytest.raises(ConfigError, match="is a directory"):
        load_static_config(str(tmp_path), ConfigOverrides())
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_static_config(str(binary), ConfigOverrides())


def test_bad_overrides_are_named_by_flag() -> None:
    with pytest.raises(ConfigError) as caught:
        load_static_config(
            None,
            ConfigOverrides(
                entrypoints=[("web", "8000"), ("bad name", ":1")], log_level="verbose", workers=0
            ),
        )
    assert str(caught.value).splitlines() == [
        '--entrypoint web=8000: address "8000" needs a port, like ":80" or "127.0.0.1:8080"',
        "--entrypoint bad name=:1: may hold only letters, digits, '-' and '_'",
        '--log-level "verbose": use one of debug, info, warning, error',
        "--workers 0: must be at least 1",
    ]


def test_auth_without_users(problems: Problems) -> None:
    assert problems(
        """
        [entryPoints.http]
        address = ":80"
        [entryPoints.http.auth.basic]
        realm = "x"
        """
    ) == ["traefik.toml:3: [entryPoints.http.auth.basic] has neither users nor usersFile"]


def test_toml_syntax_positions_are_one_based_and_end_of_file_is_named(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config("logLevel = = 1\n")
    with pytest.raises(ConfigError, match=r"traefik.toml:1:12: invalid TOML: Unexpected character: '='"):
        load_static_config(str(path), ConfigOverrides())
    path = write_config('logLevel = "INFO"\ndefaultEntryPoints = ["http",\n')
    with pytest.raises(ConfigError) as caught:
        load_static_config(str(path), ConfigOverrides())
    message = str(caught.value)
    assert message.startswith(f"{path}:2:")
    assert "the file ends in the middle of a value" in message and "\\x00" not in message


def test_a_mistyped_key_file_gets_a_key_file_example(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        '[entryPoints.https]\naddress = ":443"\n[entryPoints.https.tls]\n'
        '[[entryPoints.https.tls.certificates]]\ncertFile = "site.crt"\nkeyFile = 3\n'
    )
    with pytest.raises(ConfigError, match=r'keyFile must be a string like "certs/site.key", got 3'):
        load_static_config(str(path), ConfigOverrides())


def test_users_file_that_is_not_text_is_a_config_error(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "users.htpasswd").write_bytes(b"\xff\xfe\xfaalice:x\n")
    path = write_config(
        '[entryPoints.http]\naddress = ":8000"\n[entryPoints.http.auth.basic]\nusersFile = "users.htpasswd"\n'
    )
    with pytest.raises(ConfigError, match=r"traefik.toml:4: .*usersFile: .*users.htpasswd is not UTF-8 text"):
        load_static_config(str(path), ConfigOverrides())


def test_users_file_with_a_bom(write_config, tmp_path: Path, apr1_hash) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "users.htpasswd").write_bytes(b"\xef\xbb\xbf" + f"alice:{apr1_hash('pw')}\n".encode())
    path = write_config(
        '[entryPoints.http]\naddress = ":8000"\n[entryPoints.http.auth.basic]\nusersFile = "users.htpasswd"\n'
    )
    config = load_static_config(str(path), ConfigOverrides())
    (entrypoint,) = config.entrypoints
    assert entrypoint.auth is not None and [user for user, _ in entrypoint.auth.users] == ["alice"]


def test_regex_redirect_alone_is_refused_and_names_the_tls_entrypoint(problems: Problems) -> None:
    # The classic Traefik v1 http→https setup: ignoring it would serve plain HTTP instead of redirecting.
    assert problems(
        """
        [entryPoints]
          [entryPoints.http]
          address = ":80"
            [entryPoints.http.redirect]
            regex = "^http://(.*)"
            replacement = "https://$1"
          [entryPoints.websecure]
          address = ":443"
            [entryPoints.websecure.tls]
        """
    ) == [
        "traefik.toml:5: entryPoints.http.redirect.regex/replacement are not supported (ingressctl "
        'redirects to entrypoints only): for http→https use entryPoint = "websecure" in '
        "[entryPoints.http.redirect]"
    ]


def test_half_a_regex_redirect_is_refused_too(problems: Problems) -> None:
    assert problems(
        """
        [entryPoints.http]
        address = ":80"
        [entryPoints.http.redirect]
        replacement = "https://example.com"
        """
    ) == [
        "traefik.toml:4: entryPoints.http.redirect.replacement is not supported (ingressctl redirects to "
        'entrypoints only): for http→https use entryPoint = "https" in [entryPoints.http.redirect]'
    ]


def test_regex_next_to_entry_point_is_a_warning_and_the_redirect_stays(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        """
        [entryPoints.http]
        address = ":80"
          [entryPoints.http.redirect]
          entryPoint = "https"
          regex = "^http://(.*)"
          replacement = "https://$1"
        [entryPoints.https]
        address = ":443"
          [entryPoints.https.tls]
        """
    )
    config = load_static_config(str(path), ConfigOverrides())
    http = config.entrypoint("http")
    assert http is not None and http.redirect is not None and http.redirect.entrypoint == "https"
    assert config.warnings == (
        f"{path}:5: entryPoints.http.redirect.regex is not supported: the redirect goes to entryPoint, "
        "as in Traefik v1 (ignored)",
        f"{path}:6: entryPoints.http.redirect.replacement is not supported: the redirect goes to "
        "entryPoint, as in Traefik v1 (ignored)",
    )


def test_redirect_without_a_target_still_asks_for_entry_point(problems: Problems) -> None:
    assert problems(
        """
        [entryPoints.http]
        address = ":80"
        [entryPoints.http.redirect]
        permanent = true
        """
    ) == ["traefik.toml:3: entryPoints.http.redirect.entryPoint is required"]


def test_a_realm_with_control_characters_is_refused(
    problems: Problems, apr1_hash: Callable[[str], str]
) -> None:
    # The realm is sent in every WWW-Authenticate header: CR/LF there would split the response.
    assert problems(
        f"""
        [entryPoints.https]
        address = ":443"
          [entryPoints.https.auth.basic]
          realm = "Staff\\r\\nX-Injected: 1"
          users = ["alice:{apr1_hash("pw")}"]
        """
    ) == [
        "traefik.toml:4: entryPoints.https.auth.basic.realm holds control characters (\\r, \\n); "
        "write it on one line"
    ]
