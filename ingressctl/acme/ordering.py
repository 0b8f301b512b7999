"""The blocking half of the certificate manager: the account at the CA and the orders (worker threads).

Every order is written down in the ledger's journal before the CA hears of it, its URL as soon as the
CA answers, and its outcome when it ends: a process killed at any point leaves enough behind for the
next one to resume the order instead of placing another (see ledger.py).
"""

from __future__ import annotations

import threading

from cryptography import x509

from ingressctl.acme.ca import same_ca
from ingressctl.acme.challenges import ChallengeStore
from ingressctl.acme.client import AcmeClient, Issued
from ingressctl.acme.errors import AcmeError
from ingressctl.acme.keys import (
    account_key_from_der,
    account_key_to_der,
    generate_account_key,
    generate_key,
    key_to_pem,
)
from ingressctl.acme.ledger import Outcome, PendingOrder, RateLimitLedger
from ingressctl.acme.storage import AccountRecord, CertRecord, Resolver, Storage
from ingressctl.model.config import AcmeConfig
from ingressctl.tls.inspect import key_matches


class OrderDesk:
    """The account and the stored state of one resolver, and the orders placed with them."""

    def __init__(
        self,
        config: AcmeConfig,
        ca_url: str,
        storage: Storage,
        ledger: RateLimitLedger,
        *,
        resolver: str,
        owner: str,
        issue_timeout: float,
    ) -> None:
        self.config = config
        self.ca_url = ca_url
        self.storage = storage
        self.ledger = ledger
        self.owner = owner  # this process's journal entries (anybody else's are left-overs)
        self.issue_timeout = issue_timeout
        self.resolver = Resolver(resolver)  # replaced by what the storage holds at start
        self.stopped = False
        self._client: AcmeClient | None = None
        self._lock = threading.Lock()

    def account_client(self) -> AcmeClient:
        """Runs in a worker thread. Uses the stored account as it is, or registers one and stores it."""
        with self._lock:
            if self._client is not None:
                return self._client
            stored = self.resolver.account
            reuse = (
                stored is not None
                and bool(stored.private_key)
                and (
                    stored.ca_server == self.ca_url
                    or (not stored.ca_server and same_ca(self.ca_url, stored.uri))
                )
            )
            if reuse and stored is not None and stored.uri:
                # The CA knows this account (we stored its URL): no newAccount, no lookup, no write.
                client = AcmeClient(
                    self.ca_url,
                    account_key_from_der(stored.private_key),
                    ca_bundle=self.config.ca_bundle,
                    timeout=30,
                )
                client.use_account(stored.uri)
                self._client = client
                return client
            key = account_key_from_der(stored.private_key) if reuse and stored else generate_account_key()
            client = AcmeClient(self.ca_url, key, ca_bundle=self.config.ca_bundle, timeout=30)
            account = client.register(
                self.config.email, eab_kid=self.config.eab_kid, eab_hmac=self.config.eab_hmac
            )
            self.resolver.account = AccountRecord(
                email=self.config.email,
                registration={"body": account.body, "uri": account.uri},
                private_key=account_key_to_der(key),
                ca_server=self.ca_url,
            )
            self._save()
            self._client = client
            return client

    def issue(
        self, names: tuple[str, ...], challenges: ChallengeStore, resume: PendingOrder | None = None
    ) -> Issued:
        """Place an order (written down in the journal first), or finish `resume`, one left behind."""
        client = self.account_client()
        if resume is not None and resume.key_pem:
            key_pem = resume.key_pem
        else:
            key_pem = key_to_pem(generate_key(self.config.key_type))
        if resume is None:
            self.ledger.begin_order(names, self.owner, key_pem)  # written down before the CA hears of it
        issued = client.issue(
            names,
            key_pem,
            challenges,
            challenge=self.config.challenge,
            timeout=self.issue_timeout,
            resume_url=resume.url if resume is not None else "",
            on_order=lambda url: self.ledger.order_placed(names, url),
        )
        self.ledger.finish_order(names, Outcome.VALID)  # counted even if the save below fails
        if not key_matches(x509.load_pem_x509_certificate(issued.fullchain_pem), key_pem):
            # A resumed order finalized with a key the journal did not keep: the certificate is useless.
            raise AcmeError(
                f"the resumed order for {', '.join(names)} was finalized with a key that was lost",
                code="lost-key",
                advice="A new order follows after the back-off",
            )
        with self._lock:
            certs = [c for c in self.resolver.certificates if c.main != names[0]]
            certs.append(
                CertRecord(
                    main=names[0], sans=tuple(names[1:]), certificate=issued.fullchain_pem, key=key_pem
                )
            )
            self.resolver.certificates = certs
            self._save()
        return issued

    def _save(self) -> None:
        if self.stopped:  # the manager was stopped (lost leadership): another may own the storage
            return
        self.storage.save(self.resolver)
