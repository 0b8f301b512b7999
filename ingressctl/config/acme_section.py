"""The [acme] table of traefik.toml (see sections.py for the conventions every table reader follows)."""

from __future__ import annotations

from ingressctl.config.reader import Section, show
from ingressctl.config.sections import Context
from ingressctl.model.config import AcmeConfig, AcmeDomain

LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
CA_SHORTCUTS = {"letsencrypt": LETSENCRYPT, "letsencrypt-staging": LETSENCRYPT_STAGING}


def read_acme(section: Section, ctx: Context) -> AcmeConfig:
    defaults = AcmeConfig()
    email = section.string("email", example="ops@example.com") or ""
    if email and "@" not in email:
        section.problems.error((*section.path, "email"), f"acme.email {show(email)} is not an e-mail address")
    storage = section.string("storage", example="acme.json")
    storage_file = section.string("storageFile", example="acme.json")
    if storage is not None and storage_file is not None:
        section.problems.error(
            (*section.path, "storageFile"), "acme.storage and acme.storageFile are the same setting: keep one"
        )
    chosen = storage if storage is not None else storage_file
    if chosen is not None and not chosen.startswith("secret:"):
        chosen = str(ctx.resolve(chosen))
    ca = section.string("caServer", example=LETSENCRYPT)
    if ca is not None:
        ca = CA_SHORTCUTS.get(ca.lower(), ca)
        if not ca.startswith(("https://", "http://")):
            section.problems.error(
                (*section.path, "caServer"),
                f'acme.caServer {show(ca)} must be a directory URL, "letsencrypt" or "letsencrypt-staging"',
            )
    ca_bundle = section.string("caBundle", example="pebble.minica.pem")
    if ca_bundle is not None:
        path = ctx.resolve(ca_bundle)
        if not path.is_file():
            section.problems.error(
                (*section.path, "caBundle"), f"acme.caBundle: file {str(path)!r} does not exist"
            )
        ca_bundle = str(path)
    key_type = section.choice(
        "keyType",
        {
            "EC256": "ec256",
            "EC384": "ec384",
            "RSA2048": "rsa2048",
            "RSA4096": "rsa4096",
            "RSA8192": "rsa8192",
        },
    )
    challenge = defaults.challenge
    http_entrypoint = defaults.http_entrypoint
    http = section.table("httpChallenge")
    tls_challenge = section.table("tlsChallenge")
    if http is not None:
        http_entrypoint = http.string("entryPoint", example="http") or http_entrypoint
        http.finish()
    if tls_challenge is not None:
        tls_challenge.finish()
        challenge = "tls-alpn-01"
        if http is not None:
            section.problems.error(
                (*section.path, "tlsChallenge"), "acme: choose one of httpChallenge and tlsChallenge"
            )
    section.unsupported("dnsChallenge", "use httpChallenge or tlsChallenge", error=True)
    section.unsupported("dnsProvider", "use httpChallenge or tlsChallenge", error=True)
    section.boolean("acmeLogging")  # accepted: ACME logs follow logLevel
    section.boolean("overrideCertificates")
    ask = section.string("onDemandAsk", example="http://127.0.0.1:5555/allowed") or ""
    if ask and not ask.startswith(("http://", "https://")):
        section.problems.error(
            (*section.path, "onDemandAsk"), f"acme.onDemandAsk {show(ask)} must be an http(s) URL"
        )
    domains: list[AcmeDomain] = []
    for domain in section.tables("domains"):
        main = domain.string("main", example="example.com")
        sans = domain.str_list("sans", example="www.example.com") or ()
        domain.finish()
        if not main:
            domain.problems.error(domain.path, f"{domain.name('main')} is required")
            continue
        domains.append(AcmeDomain(main=main.lower(), sans=tuple(s.lower() for s in sans)))
    config = AcmeConfig(
        email=email,
        storage=chosen if chosen is not None else defaults.storage,
        entrypoint=section.string("entryPoint", example="https") or defaults.entrypoint,
        ca_server=ca or defaults.ca_server,
        ca_bundle=ca_bundle or "",
        challenge=challenge,
        http_entrypoint=http_entrypoint,
        on_host_rule=section.boolean("onHostRule") or False,
        on_demand=section.boolean("onDemand") or False,
        on_demand_allow=section.str_list("onDemandAllow", example="*.example.com") or (),
        on_demand_ask=ask,
        domains=tuple(domains),
        key_type=key_type or defaults.key_type,
        eab_kid=section.string("eabKid") or "",
        eab_hmac=section.string("eabHmac") or "",
        orders_per_hour=section.integer("ordersPerHour", minimum=1) or defaults.orders_per_hour,
        orders_per_week=section.integer("ordersPerWeek", minimum=1) or defaults.orders_per_week,
    )
    if config.orders_per_week >= 5:
        section.problems.warn(
            (*section.path, "ordersPerWeek"),
            f"acme.ordersPerWeek = {config.orders_per_week} reaches Let's Encrypt's limit of 5 duplicate "
            "certificates per week: a crash loop can lock the names out for days; keep it at 4 or less",
        )
    if bool(config.eab_kid) != bool(config.eab_hmac):
        section.problems.error(section.path, "acme.eabKid and acme.eabHmac go together: set both or neither")
    section.finish()
    return config
