"""`[entryPoints.X.tls] cipherSuites`: Traefik v1's Go names become OpenSSL names; mistakes name a line."""

from __future__ import annotations

from collections.abc import Callable

from ingressctl.model.config import StaticConfig

Problems = Callable[..., list[str]]
Load = Callable[..., StaticConfig]

KEY = "traefik.toml:4: entryPoints.https.tls.cipherSuites"
HEAD = """
[entryPoints.https]
address = ":443"
  [entryPoints.https.tls]
"""


def test_go_names_map_to_openssl_names_in_order(load: Load) -> None:
    config = load(
        HEAD
        + '  cipherSuites = ["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",\n'
        + '                  "tls_ecdhe_ecdsa_with_aes_256_gcm_sha384", "TLS_AES_128_GCM_SHA256"]\n'
    )
    https = config.entrypoint("https")
    assert https is not None and https.tls is not None
    # Case-insensitive like every key; TLS 1.3 names are accepted and left out (TLS 1.3 is not configurable).
    assert https.tls.cipher_suites == ("ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES256-GCM-SHA384")
    assert config.warnings == ()


def test_without_cipher_suites_the_default_profile_is_used(load: Load) -> None:
    https = load(HEAD).entrypoint("https")
    assert https is not None and https.tls is not None and https.tls.cipher_suites == ()


def test_suites_outside_the_profile_are_honoured_with_a_warning(load: Load) -> None:
    config = load(
        HEAD + '  cipherSuites = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA"]\n'
    )
    https = config.entrypoint("https")
    assert https is not None and https.tls is not None
    assert https.tls.cipher_suites == ("ECDHE-RSA-AES128-GCM-SHA256", "AES128-SHA")
    assert [w.split(": ", 1)[1] for w in config.warnings] == [
        "entryPoints.https.tls.cipherSuites: TLS_RSA_WITH_AES_128_CBC_SHA are outside Mozilla's intermediate "
        "profile (CBC, SHA-1 MAC or RSA key exchange); offered because they are listed"
    ]
    assert config.warnings[0].split(": ", 1)[0].endswith("traefik.toml:4")


def test_unknown_and_broken_names_are_errors_with_the_line(problems: Problems) -> None:
    assert problems(
        HEAD
        + '  cipherSuites = ["ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "nope"]\n'
    ) == [
        f'{KEY}: unknown cipher suite "ECDHE-RSA-AES128-GCM-SHA256" '
        "(that is OpenSSL's name; write Go's, as Traefik did: \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\")",
        f'{KEY}: unknown cipher suite "nope" '
        '(write Go\'s names, e.g. "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")',
        f'{KEY}: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA" is refused: 3DES is open to Sweet32',
    ]


def test_a_string_list_is_accepted_as_in_traefik_flags(load: Load) -> None:
    https = load(
        HEAD
        + '  cipherSuites = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"\n'
    ).entrypoint("https")
    assert https is not None and https.tls is not None
    assert https.tls.cipher_suites == ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384")
