"""One-shot issuance and revocation for the CLI (`certs request`, `certs revoke`)."""

from __future__ import annotations

import asyncio
import datetime
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingressctl.acme.ca import same_ca
from ingressctl.acme.challenges import ChallengeStore
from ingressctl.acme.client import AcmeClient
from ingressctl.acme.errors import AcmeError
from ingressctl.acme.keys import (
    account_key_from_der,
    account_key_to_der,
    generate_account_key,
    generate_key,
    key_to_pem,
    load_key_pem,
)
from ingressctl.acme.ledger import Outcome, RateLimitLedger, outcome_of
from ingressctl.acme.pemfiles import write_pem_files
from ingressctl.acme.responder import StandaloneResponder
from ingressctl.acme.storage import AccountRecord, AcmeJsonStorage, CertRecord, Resolver
from ingressctl.model import UsageError

Progress = Callable[[str], None]


@dataclass(slots=True)
class RequestOptions:
    domains: list[str]
    ca_url: str
    email: str = ""
    ca_bundle: str = ""
    challenge: str = "http-01"
    listen_host: str = ""
    listen_port: int = 80
    key_type: str = "ec256"
    eab_kid: str = ""
    eab_hmac: str = field(default="", repr=False)
    storage: Path | None = None
    resolver: str = "default"
    out_dir: Path | None = None
    timeout: float = 90.0


@dataclass(slots=True)
class RequestResult:
    domains: list[str]
    account_uri: str
    account_reused: bool
    fullchain_pem: bytes
    written: list[str]
    seconds: float


def _stored_account(resolver: Resolver, ca_url: str) -> AccountRecord | None:
    acct = resolver.account
    if acct is None or not acct.private_key:
        return None
    if acct.ca_server == ca_url or (not acct.ca_server and acct.uri and same_ca(ca_url, acct.uri)):
        return acct
    return None


async def request_certificate(opts: RequestOptions, progress: Progress) -> RequestResult:
    started = time.monotonic()
    if not opts.domains:
        raise UsageError("name at least one domain")
    if opts.storage is None and opts.out_dir is None:
        raise UsageError("say where the certificate goes: --storage acme.json or --out-dir DIR")
    domains = list(dict.fromkeys(d.strip().lower().rstrip(".") for d in opts.domains))
    store_obj = AcmeJsonStorage(opts.storage, opts.resolver) if opts.storage else None
    resolver = store_obj.load() if store_obj else Resolver(opts.resolver)  # refuse bad files before ordering
    # With a storage, the same persistent guard as `serve`: a cron job in a retry loop cannot hammer the CA.
    ledger = (
        RateLimitLedger(opts.storage.with_name(opts.storage.name + ".ratelimits")) if opts.storage else None
    )
    if ledger is not None:
        decision = ledger.check(domains)
        if not decision.allowed:
            when = datetime.datetime.fromtimestamp(decision.retry_at, datetime.UTC)
            raise AcmeError(
                f"rate-limit guard: {decision.reason}",
                code="guard",
                advice=f"Retry after {when:%Y-%m-%d %H:%M:%S} UTC (the ledger is {ledger.path})",
            )
    stored = _stored_account(resolver, opts.ca_url)
    account_key = account_key_from_der(stored.private_key) if stored else generate_account_key()
    client = AcmeClient(opts.ca_url, account_key, ca_bundle=opts.ca_bundle)
    progress(f"{'using the stored' if stored else 'registering an'} ACME account at {opts.ca_url}")
    account = await asyncio.to_thread(
        client.register, opts.email, eab_kid=opts.eab_kid, eab_hmac=opts.eab_hmac
    )
    key_pem = key_to_pem(generate_key(opts.key_type))
    challenges = ChallengeStore()
    responder = StandaloneResponder(challenges, opts.challenge, opts.listen_host, opts.listen_port)
    await responder.start()
    progress(f"{opts.challenge} responder listening on {opts.listen_host or '*'}:{opts.listen_port}")
    owner = f"certs-request-{os.getpid()}"
    if ledger is not None:  # written down before the CA hears of it, as `serve` does
        await asyncio.to_thread(ledger.begin_order, domains, owner)
    try:
        issued = await asyncio.to_thread(
            client.issue, domains, key_pem, challenges, challenge=opts.challenge, timeout=opts.timeout,
            progress=progress,
            on_order=(lambda url: ledger.order_placed(domains, url)) if ledger is not None else None,
        )  # fmt: skip
    except AcmeError as exc:
        if ledger is not None:
            await asyncio.to_thread(ledger.finish_order, domains, outcome_of(exc.code))
        raise
    finally:
        await responder.stop()
    if ledger is not None:
        await asyncio.to_thread(ledger.finish_order, domains, Outcome.VALID)
    written: list[str] = []
    if store_obj is not None:
        resolver.account = AccountRecord(
            email=opts.email or (stored.email if stored else ""),
            registration={"body": account.body, "uri": account.uri},
            private_key=account_key_to_der(account_key),
            ca_server=opts.ca_url,
        )
        certs = [c for c in resolver.certificates if c.main != domains[0]]
        certs.append(CertRecord(domains[0], tuple(domains[1:]), issued.fullchain_pem, key_pem))
        resolver.certificates = certs
        store_obj.save(resolver)
        written.append(str(store_obj.path))
    if opts.out_dir is not None:
        written += write_pem_files(opts.out_dir, issued.fullchain_pem, key_pem)
    return RequestResult(
        domains, account.uri, account.reused, issued.fullchain_pem, written, time.monotonic() - started
    )


def revoke_certificate(
    cert_pem: bytes,
    *,
    ca_url: str,
    ca_bundle: str = "",
    cert_key_pem: bytes | None = None,
    account: AccountRecord | None = None,
    reason: int = 0,
) -> None:
    """Revoke with the certificate's own key, or with the stored account that ordered it."""
    if cert_key_pem is not None:
        client = AcmeClient(ca_url, generate_account_key(), ca_bundle=ca_bundle)
        client.revoke(cert_pem, reason, cert_key=load_key_pem(cert_key_pem))
        return
    if account is None or not account.private_key or not account.uri:
        raise AcmeError("revocation needs the certificate's key (--key) or the account in --storage")
    client = AcmeClient(ca_url, account_key_from_der(account.private_key), ca_bundle=ca_bundle)
    client.use_account(account.uri)
    client.revoke(cert_pem, reason)
