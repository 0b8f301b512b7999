"""The ACME protocol flow on top of certbot's `acme` library (the only module that imports it).

Everything here is synchronous (the library uses `requests`); async callers run it with
`asyncio.to_thread`. Differences from the library's own helpers, and why:
- polling every 50 ms instead of `poll_and_finalize`'s 1 s sleeps (issuance in ~0.1 s instead of 1-2 s);
- `badNonce` retried up to ten times (the library retries once);
- the last HTTP response is kept so that `Retry-After` of a `rateLimited` problem reaches the user;
- TLS-ALPN-01 registered as a challenge type (the library dropped it in 4.0);
- every library error becomes an `AcmeError` with advice.
"""

from __future__ import annotations

import datetime
import email.utils
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from acme import challenges, client, crypto_util, errors, messages
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from josepy.jwa import ES256, ES384, RS256
from josepy.jwk import JWK, JWKEC, JWKRSA

from ingressctl.acme.challenges import ChallengeStore
from ingressctl.acme.errors import AcmeError, advise, problem_code
from ingressctl.acme.keys import PrivateKey

log = logging.getLogger("ingressctl.acme")

CHALLENGE_TYPES = ("http-01", "tls-alpn-01")
_KEPT = ("status", "contact", "orders", "termsOfServiceAgreed")
POLL_INTERVAL = 0.05
BAD_NONCE_RETRIES = 10  # a fresh nonce comes with every answer; retrying is cheap and safe


@challenges.ChallengeResponse.register
class TLSALPN01Response(challenges.KeyAuthorizationChallengeResponse):
    typ = "tls-alpn-01"


@challenges.Challenge.register
class TLSALPN01(challenges.KeyAuthorizationChallenge):
    response_cls = TLSALPN01Response
    typ = "tls-alpn-01"

    def validation(self, account_key: JWK, **kwargs: Any) -> str:
        return str(self.key_authorization(account_key))


class _Network(client.ClientNetwork):
    """ClientNetwork that remembers the last response (for Retry-After) and retries badNonce harder."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_response: requests.Response | None = None

    def _send_request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        response: requests.Response = super()._send_request(method, url, *args, **kwargs)
        self.last_response = response
        return response

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        for attempt in range(BAD_NONCE_RETRIES):
            try:
                response: requests.Response = self._post_once(*args, **kwargs)
                return response
            except messages.Error as error:
                if error.code != "badNonce" or attempt == BAD_NONCE_RETRIES - 1:
                    raise
                log.debug("badNonce from the CA, retrying (%d/%d)", attempt + 1, BAD_NONCE_RETRIES)
        raise AssertionError("unreachable")


def _retry_after(response: requests.Response | None) -> datetime.datetime | None:
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    now = datetime.datetime.now(datetime.UTC)
    if value.strip().isdigit():
        return now + datetime.timedelta(seconds=int(value))
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


@dataclass(frozen=True, slots=True)
class Account:
    uri: str
    email: str
    body: dict[str, Any]  # the registration body as the CA returned it (contact, status, orders)
    reused: bool


@dataclass(frozen=True, slots=True)
class Issued:
    domains: tuple[str, ...]
    fullchain_pem: bytes  # leaf first
    key_pem: bytes
    cert_url: str


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


class AcmeClient:
    """One account at one CA. Thread-safe for concurrent orders: each order uses its own network object."""

    def __init__(
        self,
        directory_url: str,
        account_key: rsa.RSAPrivateKey,
        *,
        ca_bundle: str = "",
        timeout: float = 30.0,
        user_agent: str = "ingressctl",
    ) -> None:
        self.directory_url = directory_url
        self._jwk = JWKRSA(key=account_key)
        self._verify: bool | str = ca_bundle or True
        self._timeout = timeout
        self._user_agent = user_agent
        self._directory: messages.Directory | None = None
        self._account: messages.RegistrationResource | None = None
        self._lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------------------------------
    def _net(self) -> _Network:
        return _Network(
            self._jwk,
            account=self._account,
            alg=RS256,
            verify_ssl=self._verify,
            user_agent=self._user_agent,
            timeout=int(self._timeout),
        )

    @contextmanager
    def _translate(
        self, what: str, net: _Network | None, domain: str = "", challenge: str = ""
    ) -> Iterator[None]:
        try:
            yield
        except AcmeError:
            raise
        except errors.ValidationError as exc:
            raise _validation_error(exc, challenge) from None
        except messages.Error as exc:
            code = problem_code(str(exc.typ))
            retry = _retry_after(net.last_response if net else None) if code == "rateLimited" else None
            ident = exc.identifier.value if exc.identifier is not None else domain
            detail = str(exc.detail or "")
            raise AcmeError(
                f"{what} failed: {code}: {detail}".rstrip(": "),
                code=code,
                detail=detail,
                advice=advise(code, domain=ident, challenge=challenge, retry_after=retry),
                domain=ident,
                retry_after=retry,
            ) from None
        except errors.TimeoutError:
            raise AcmeError(f"{what} timed out", code="timeout", advice=advise("timeout")) from None
        except requests.exceptions.SSLError as exc:
            raise AcmeError(
                f"{what} failed: cannot verify the TLS certificate of {self.directory_url}: {exc}",
                code="tls",
                advice="For a private CA (such as Pebble) pass its API CA with --ca-bundle",
            ) from None
        except requests.exceptions.RequestException as exc:
            raise AcmeError(
                f"{what} failed: cannot reach {self.directory_url}: {exc}",
                code="network",
                advice="Check the --ca-server URL and the network",
            ) from None
        except errors.Error as exc:
            raise AcmeError(f"{what} failed: {exc}", code="client") from None

    def directory(self) -> messages.Directory:
        if self._directory is None:
            net = self._net()
            with self._translate("reading the ACME directory", net):
                self._directory = client.ClientV2.get_directory(self.directory_url, net)
        return self._directory

    def _client(self, net: _Network) -> client.ClientV2:
        return client.ClientV2(self.directory(), net)

    # -- account --------------------------------------------------------------------------------------
    def register(self, email: str = "", *, eab_kid: str = "", eab_hmac: str = "") -> Account:
        """Register the key, or find the account this key already has at the CA (reuse)."""
        with self._lock:
            net = self._net()
            net.account = None  # newAccount must be signed with the JWK, not a kid
            acme = self._client(net)
            data: dict[str, Any] = {"terms_of_service_agreed": True}
            if email:
                data["email"] = email
            if eab_kid or eab_hmac:
                if not (eab_kid and eab_hmac):
                    raise AcmeError("external account binding needs both --eab-kid and --eab-hmac")
                data["external_account_binding"] = messages.ExternalAccountBinding.from_data(
                    account_public_key=self._jwk.public_key(),
                    kid=eab_kid,
                    hmac_key=eab_hmac,
                    directory=acme.directory,
                )
            reused = False
            with self._translate("registering the ACME account", net):
                try:
                    regr = acme.new_account(messages.NewRegistration.from_data(**data))
                except errors.ConflictError as conflict:
                    reused = True
                    regr = messages.RegistrationResource(uri=str(conflict), body=messages.Registration())
                    net.account = regr
                    regr = acme.query_registration(regr)
            self._account = regr
            raw = regr.body.to_partial_json() if regr.body else {}
            # What Traefik keeps of the registration; the key and the EAB echo are not needed.
            body = {k: list(v) if isinstance(v, tuple) else v for k, v in raw.items() if k in _KEPT}
            return Account(uri=str(regr.uri), email=email, body=body, reused=reused)

    def use_account(self, uri: str) -> None:
        """Use an account known from storage without a round trip (register() verifies it instead)."""
        self._account = messages.RegistrationResource(uri=uri, body=messages.Registration())

    # -- issuance -------------------------------------------------------------------------------------
    def issue(
        self,
        domains: Sequence[str],
        key_pem: bytes,
        store: ChallengeStore,
        *,
        challenge: str = "http-01",
        timeout: float = 90.0,
        progress: Progress = _quiet,
        resume_url: str = "",
        on_order: Callable[[str], None] | None = None,
    ) -> Issued:
        """Order a certificate for `domains` (first is the subject), answering challenges via `store`.

        `resume_url`: carry on with that existing order (RFC 8555 §7.4: fetch it and its authorizations,
        answer what is still pending, finalize with `key_pem`) instead of placing a new one.
        `on_order(url)` is called as soon as the CA has accepted a new order, before any challenge.
        """
        if self._account is None:
            raise AcmeError("no ACME account: register first")
        if challenge not in CHALLENGE_TYPES:
            raise AcmeError(f"unknown challenge type {challenge!r}; use one of {', '.join(CHALLENGE_TYPES)}")
        deadline = time.monotonic() + timeout
        net = self._net()
        acme = self._client(net)
        first = domains[0]
        csr = crypto_util.make_csr(key_pem, list(domains))
        with self._translate(f"ordering a certificate for {', '.join(domains)}", net, first, challenge):
            if resume_url:
                progress(f"resuming the order {resume_url}")
                order = self._fetch_order(acme, net, resume_url, csr)
            else:
                progress(f"ordering a certificate for {', '.join(domains)}")
                order = acme.new_order(csr)
                if on_order is not None:
                    on_order(str(order.uri))
            answered: list[tuple[messages.AuthorizationResource, str]] = []
            try:
                for authzr in order.authorizations:
                    name = authzr.body.identifier.value
                    if authzr.body.status == messages.STATUS_VALID:
                        progress(f"{name}: already authorized")
                        continue
                    if authzr.body.status != messages.STATUS_PENDING:  # a resumed order that failed
                        raise errors.ValidationError([authzr])
                    challb = next((c for c in authzr.body.challenges if c.chall.typ == challenge), None)
                    if challb is None:
                        offered = ", ".join(sorted(c.chall.typ for c in authzr.body.challenges))
                        raise AcmeError(
                            f"the CA does not offer {challenge} for {name} (it offers {offered})",
                            advice="choose another --challenge",
                            domain=name,
                        )
                    response, validation = challb.chall.response_and_validation(net.key)
                    token = challb.chall.encode("token")
                    if challenge == "http-01":
                        store.add_http01(token, validation)
                    else:
                        store.add_tls_alpn01(name, validation)
                    answered.append((authzr, token))
                    if challb.status == messages.STATUS_PENDING:  # not yet answered (a resumed one may be)
                        progress(f"{name}: answering {challenge}")
                        acme.answer_challenge(challb, response)
                for authzr, _ in answered:
                    self._wait_authorization(acme, authzr, deadline, progress)
            finally:
                for authzr, token in answered:
                    store.remove_http01(token)
                    store.remove_tls_alpn01(authzr.body.identifier.value)
            progress("finalizing the order")
            order = self._finalize(acme, net, order, deadline)
        return Issued(
            domains=tuple(domains),
            fullchain_pem=order.fullchain_pem.encode(),
            key_pem=key_pem,
            cert_url=str(order.body.certificate or ""),
        )

    def _fetch_order(
        self, acme: client.ClientV2, net: _Network, url: str, csr_pem: bytes
    ) -> messages.OrderResource:
        """An existing order and its authorizations, by POST-as-GET (RFC 8555 §7.4, §7.5)."""
        new_nonce = acme.directory["newNonce"]
        body = messages.Order.from_json(net.post(url, None, new_nonce_url=new_nonce).json())
        authorizations = [
            messages.AuthorizationResource(
                uri=authz_url,
                body=messages.Authorization.from_json(
                    net.post(authz_url, None, new_nonce_url=new_nonce).json()
                ),
            )
            for authz_url in body.authorizations
        ]
        return messages.OrderResource(uri=url, body=body, authorizations=authorizations, csr_pem=csr_pem)

    def _wait_authorization(
        self,
        acme: client.ClientV2,
        authzr: messages.AuthorizationResource,
        deadline: float,
        progress: Progress,
    ) -> None:
        while True:
            authzr, _ = acme.poll(authzr)
            status = authzr.body.status
            if status == messages.STATUS_VALID:
                progress(f"{authzr.body.identifier.value}: validated")
                return
            if status != messages.STATUS_PENDING:
                raise errors.ValidationError([authzr])
            if time.monotonic() > deadline:
                raise errors.TimeoutError()
            time.sleep(POLL_INTERVAL)

    def _finalize(
        self, acme: client.ClientV2, net: _Network, order: messages.OrderResource, deadline: float
    ) -> messages.OrderResource:
        # A resumed order may be finalized already (processing, valid): then only wait for it.
        while order.body.status in (messages.STATUS_PENDING, messages.STATUS_READY):
            try:
                order = acme.begin_finalization(order)
                break
            except messages.Error as exc:
                # The order can trail its authorizations by a moment; anything else is real.
                if exc.code != "orderNotReady" or time.monotonic() > deadline:
                    raise
                time.sleep(POLL_INTERVAL)
        new_nonce = acme.directory["newNonce"]
        while True:
            body = order.body
            if body.status == messages.STATUS_VALID and body.certificate:
                cert = net.post(body.certificate, None, new_nonce_url=new_nonce)
                done: messages.OrderResource = order.update(fullchain_pem=cert.text)
                return done
            if body.status == messages.STATUS_INVALID:
                if body.error is not None:
                    raise body.error
                raise AcmeError("the CA marked the order invalid without saying why")
            if time.monotonic() > deadline:
                raise errors.TimeoutError()
            time.sleep(POLL_INTERVAL)
            response = net.post(order.uri, None, new_nonce_url=new_nonce)
            order = order.update(body=messages.Order.from_json(response.json()))

    # -- revocation -----------------------------------------------------------------------------------
    def revoke(self, cert_pem: bytes, reason: int = 0, *, cert_key: PrivateKey | None = None) -> None:
        """Revoke with the account that ordered it, or (RFC 8555 §7.6) signed by the certificate's own key."""
        leaf = x509.load_pem_x509_certificate(cert_pem)
        if cert_key is not None:
            if isinstance(cert_key, rsa.RSAPrivateKey):
                jwk: JWK = JWKRSA(key=cert_key)
                alg = RS256
            else:
                jwk = JWKEC(key=cert_key)
                alg = ES384 if cert_key.curve.key_size == 384 else ES256
            net = _Network(jwk, alg=alg, verify_ssl=self._verify, user_agent=self._user_agent)
        elif self._account is None:
            raise AcmeError("no ACME account: register first")
        else:
            net = self._net()
        with self._translate("revoking the certificate", net):
            self._client(net).revoke(leaf, reason)


def _validation_error(exc: errors.ValidationError, challenge: str) -> AcmeError:
    """The first failed challenge of the first failed authorization, with advice; the rest in detail."""
    lines: list[str] = []
    first: tuple[str, str, str] | None = None
    for authzr in exc.failed_authzrs:
        name = authzr.body.identifier.value
        for chall in authzr.body.challenges:
            if chall.error is None:
                continue
            code = problem_code(str(chall.error.typ))
            detail = str(chall.error.detail or "")
            lines.append(f"{name}: {chall.chall.typ}: {code}: {detail}")
            if first is None:
                first = (name, code, detail)
    if first is None:
        return AcmeError("validation failed without an error from the CA", code="invalid")
    name, code, detail = first
    return AcmeError(
        f"validation of {name} failed: {code}: {detail}",
        code=code,
        detail="\n".join(lines),
        advice=advise(code, domain=name, challenge=challenge),
        domain=name,
    )
