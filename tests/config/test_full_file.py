"""A Traefik v1 configuration using every key we accept, read into StaticConfig."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingressctl.config import ConfigOverrides, compile_options, load_static_config
from ingressctl.model.config import StaticConfig

FULL = """
# Traefik v1.7 style, as found in the wild, plus ingressctl's own keys.
defaultEntryPoints = ["http", "https"]
logLevel = "WARN"
checkNewVersion = false
sendAnonymousUsage = false
graceTimeOut = "15s"
insecureSkipVerify = true

[entryPoints]
  [entryPoints.http]
  address = ":80"
    [entryPoints.http.redirect]
    entryPoint = "https"
    permanent = true
    [entryPoints.http.forwardedHeaders]
    trustedIPs = ["10.0.0.0/8", "192.168.1.7"]
  [entryPoints.https]
  address = "0.0.0.0:443"
  compress = true
    [entryPoints.https.tls]
    minVersion = "VersionTLS13"
    cipherSuites = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]
      [[entryPoints.https.tls.certificates]]
      certFile = "certs/site.crt"
      keyFile = "certs/site.key"
      [[entryPoints.https.tls.certificates]]
      certFile = "/ABS/other.crt"
      keyFile = "/ABS/other.key"
    [entryPoints.https.auth.basic]
    realm = "staff"
    users = ["alice:APR_ALICE"]
    usersFile = "users.htpasswd"
    [entryPoints.https.proxyProtocol]
    trustedIPs = ["127.0.0.1/32"]
  [entryPoints.admin]
  address = "[::1]:9000"
    [entryPoints.admin.redirect]
    entryPoint = "https"
    regex = "^http://(.*)"
    replacement = "https://$1"
  [entryPoints.traefik]
  address = "127.0.0.1:8081"

[api]
entryPoint = "traefik"
dashboard = true
  [api.auth.basic]
  users = ["ops:APR_OPS"]

[traefikLog]
format = "json"

[accessLog]
format = "json"
filePath = "/var/log/access.log"

[kubernetes]
endpoint = "https://10.0.0.1:6443"
token = "tok"
certAuthFilePath = "ca.crt"
namespaces = ["default", "web"]
labelselector = "app=web"
ingressClass = "public"
throttleDuration = "2s"

[acme]
email = "ops@example.com"
storage = "acme.json"
entryPoint = "https"
onHostRule = true
onDemand = true
caServer = "letsencrypt-staging"
acmeLogging = true
keyType = "RSA4096"
caBundle = "ca.crt"
onDemandAllow = ["*.example.com"]
onDemandAsk = "http://127.0.0.1:5555/ask"
eabKid = "kid"
eabHmac = "hmac"
  [acme.tlsChallenge]
  [[acme.domains]]
  main = "Example.com"
  sans = ["www.example.com"]
  [[acme.domains]]
  main = "other.example"

[ingressctl]
workers = 3
controllerName = "example.com/ingress"
allowExternalNameServices = true
throttle = "200ms"
gracePeriod = 30
manifests = ["manifests/", "/srv/extra.yaml"]
"""


def write_full(tmp_path: Path, apr1_hash: Callable[[str], str]) -> Path:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "site.crt").write_text("pem")
    (tmp_path / "certs" / "site.key").write_text("pem")
    other = tmp_path / "abs"
    other.mkdir()
    (other / "other.crt").write_text("pem")
    (other / "other.key").write_text("pem")
    (tmp_path / "ca.crt").write_text("pem")
    (tmp_path / "users.htpasswd").write_text(f"# staff\nbob:{apr1_hash('bobpw')}\nalice:{apr1_hash('dup')}\n")
    text = FULL.replace("/ABS", str(other)).replace("APR_ALICE", apr1_hash("alicepw"))
    text = text.replace("APR_OPS", apr1_hash("opspw"))
    path = tmp_path / "traefik.toml"
    path.write_text(text)
    return path


def test_every_key(tmp_path: Path, apr1_hash: Callable[[str], str]) -> None:
    path = write_full(tmp_path, apr1_hash)
    config = load_static_config(str(path), ConfigOverrides())
    assert isinstance(config, StaticConfig)
    assert [e.name for e in config.entrypoints] == ["http", "https", "admin"]  # "traefik" serves the API
    assert config.default_entrypoints == ("http", "https")
    assert config.log_level == "WARNING"
    assert config.log_format == "json"
    assert config.access_log and config.access_log_format == "json"
    assert config.grace_period_seconds == 30.0  # [ingressctl] gracePeriod beats graceTimeOut
    assert config.throttle_seconds == 0.2

    http = config.entrypoint("http")
    assert http is not None and http.port == 80 and http.host == "0.0.0.0"
    assert http.redirect is not None and http.redirect.entrypoint == "https" and http.redirect.permanent
    assert http.trusted_ips == ("10.0.0.0/8", "192.168.1.7/32")

    https = config.entrypoint("https")
    assert https is not None and https.tls is not None
    assert https.tls.min_version == "1.3"
    assert https.tls.cipher_suites == ("ECDHE-ECDSA-AES128-GCM-SHA256",)  # Go's name, as OpenSSL's
    assert [c.cert_file for c in https.tls.certificates] == [
        str(tmp_path / "certs" / "site.crt"),
        str(tmp_path / "abs" / "other.crt"),
    ]
    assert https.auth is not None and https.auth.realm == "staff"
    # `users` first; the file adds bob, and its second alice does not replace the first.
    assert [u for u, _ in https.auth.users] == ["alice", "bob"]
    assert https.proxy_protocol is not None and https.proxy_protocol.trusted_ips == ("127.0.0.1/32",)

    admin = config.entrypoint("admin")
    assert admin is not None and admin.host == "::1" and admin.port == 9000

    assert config.api is not None
    assert config.api.address == "127.0.0.1:8081"
    assert config.api.auth is not None and [u for u, _ in config.api.auth.users] == ["ops"]

    kube = config.kubernetes
    assert kube is not None
    assert kube.endpoint == "https://10.0.0.1:6443" and kube.token == "tok"
    assert kube.cert_auth_file_path == str(tmp_path / "ca.crt")
    assert kube.namespaces == ("default", "web") and kube.label_selector == "app=web"
    assert config.ingress_class == "public"

    acme = config.acme
    assert acme is not None
    assert acme.email == "ops@example.com"
    assert acme.storage == str(tmp_path / "acme.json")
    assert acme.ca_server == "https://acme-staging-v02.api.letsencrypt.org/directory"
    assert acme.challenge == "tls-alpn-01"
    assert acme.on_host_rule and acme.on_demand
    assert acme.key_type == "rsa4096"
    assert acme.ca_bundle == str(tmp_path / "ca.crt")
    assert acme.on_demand_allow == ("*.example.com",)
    assert acme.on_demand_ask == "http://127.0.0.1:5555/ask"
    assert (acme.eab_kid, acme.eab_hmac) == ("kid", "hmac")
    assert [(d.main, d.sans) for d in acme.domains] == [
        ("example.com", ("www.example.com",)),
        ("other.example", ()),
    ]
    assert config.workers == 3
    assert config.controller_name == "example.com/ingress"
    assert config.allow_external_name_services
    assert config.manifests == (str(tmp_path / "manifests"), "/srv/extra.yaml")
    assert config.source == str(path)

    # Accepted but not implemented: each is a warning with its line, none an error.
    warned = "\n".join(config.warnings)
    for key in (
        "insecureSkipVerify",
        "entryPoints.admin.redirect.regex",
        "entryPoints.admin.redirect.replacement",
        "accessLog.filePath",
    ):
        assert key in warned, key
    assert all(w.startswith(f"{path}:") and w.endswith("(ignored)") for w in config.warnings)
    line_of_regex = FULL.splitlines().index('    regex = "^http://(.*)"') + 1
    assert any(
        w.startswith(f"{path}:{line_of_regex}: entryPoints.admin.redirect.regex ") for w in config.warnings
    )
    # compress = true is implemented (ingressctl.proxy.middlewares.compress).
    assert "compress" not in warned
    assert [e.name for e in config.entrypoints if e.compress] == ["https"]

    options = compile_options(config)
    assert options.ingress_class == "public"
    assert options.extra_classes == ()  # a custom class means exactly that class
    assert options.controller_name == "example.com/ingress"
    assert options.allow_external_name_services
    assert options.acme_enabled
    assert options.default_entrypoints == ("http", "https")


def test_keys_are_case_insensitive_like_traefik_v1(load: Callable[..., StaticConfig]) -> None:
    config = load(
        """
        [entrypoints.http]
        Address = ":8080"
        [kubernetes]
        labelSelector = "a=b"
        """
    )
    assert config.entrypoints[0].address == ":8080"
    assert config.kubernetes is not None and config.kubernetes.label_selector == "a=b"
