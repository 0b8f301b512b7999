"""ACME state in a Kubernetes Secret: BlobAcmeStorage over a real SecretStore and the test API server."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingressctl.acme.ledger import Outcome, RateLimitLedger
from ingressctl.acme.manager import CertificateManager
from ingressctl.acme.storage import (
    AccountRecord,
    BlobAcmeStorage,
    BlobStore,
    CertRecord,
    Resolver,
    parse_acme_json,
)
from ingressctl.model import ConfigError
from ingressctl.model.config import AcmeConfig, KubernetesConfig
from ingressctl.providers.kubernetes import Connection, KubernetesProvider, SecretStore
from tests.acme import test_manager as manager_tests
from tests.acme.samples import ACCOUNT_URI, account_der, make_chain, registration
from tests.kubeapi import KubeAPIServer, rule
from tests.kubeapi.fixtures import secret
from tests.pebble import Pebble
from tests.support.polling import eventually

pytestmark = pytest.mark.timeout(60)

SPEC = "secret:ingressctl/acme"


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeAPIServer]:
    with KubeAPIServer(tmp_path / "kubeapi") as server:
        yield server


def connection(server: KubeAPIServer, token: str = "test-token") -> Connection:
    kubeconfig = server.write_kubeconfig(token=token, context=f"ctx-{token}")
    return KubernetesProvider(KubernetesConfig(kubeconfig=str(kubeconfig))).connection


def storage(server: KubeAPIServer, resolver: str = "default", token: str = "test-token") -> BlobAcmeStorage:
    """What the server wires for `storage = "secret:ingressctl/acme"`."""
    return BlobAcmeStorage(SecretStore.from_spec(SPEC, connection(server, token)), resolver)


def stored_json(server: KubeAPIServer) -> dict[str, object]:
    obj = server.get("Secret", "ingressctl", "acme")
    assert obj is not None
    document: dict[str, object] = json.loads(base64.b64decode(obj["data"]["acme.json"]))
    return document


def sample_resolver(name: str, host: str) -> Resolver:
    chain, key = make_chain([host, f"www.{host}"])
    account = AccountRecord(
        email="ops@example.test",
        registration=registration(),
        private_key=account_der(),
        ca_server="https://127.0.0.1:14000/dir",
    )
    return Resolver(name, account, [CertRecord(main=host, sans=(f"www.{host}",), certificate=chain, key=key)])


def test_secret_store_is_a_blob_store(kube_api: KubeAPIServer) -> None:
    store: BlobStore = SecretStore.from_spec(SPEC, connection(kube_api))  # mypy checks the protocol
    assert BlobAcmeStorage(store, "le").describe() == "Secret ingressctl/acme (key acme.json) (resolver 'le')"


def test_account_and_certificate_round_trip(kube_api: KubeAPIServer) -> None:
    first = storage(kube_api)
    empty = first.load()  # no Secret yet: an empty resolver, nothing created
    assert (empty.name, empty.account, empty.certificates) == ("default", None, [])
    assert kube_api.get("Secret", "ingressctl", "acme") is None

    saved = sample_resolver("default", "shop.example.test")
    first.save(saved)

    # A new process (a restarted or another replica) reads the same account and certificate.
    loaded = storage(kube_api).load()
    assert loaded.account is not None and saved.account is not None
    assert loaded.account.uri == ACCOUNT_URI and loaded.account.email == "ops@example.test"
    assert loaded.account.private_key == saved.account.private_key
    assert loaded.account.ca_server == "https://127.0.0.1:14000/dir"
    (cert,) = loaded.certificates
    assert cert.domains == ("shop.example.test", "www.shop.example.test")
    assert (cert.certificate, cert.key) == (saved.certificates[0].certificate, saved.certificates[0].key)

    # The Secret holds a Traefik v2 acme.json (so `ingressctl acme` / Traefik tooling can read it).
    obj = kube_api.get("Secret", "ingressctl", "acme")
    assert obj is not None and obj["type"] == "Opaque"
    parsed = parse_acme_json(json.dumps(stored_json(kube_api)), "secret")
    assert parsed.layout == "traefik-v2" and [r.name for r in parsed.resolvers] == ["default"]

    # Saving again (a renewal) replaces the resolver, without a conflict with our own write.
    renewed = sample_resolver("default", "shop.example.test")
    first.save(renewed)
    (again,) = storage(kube_api).load().certificates
    assert again.certificate == renewed.certificates[0].certificate != cert.certificate


def test_other_resolvers_in_the_secret_survive(kube_api: KubeAPIServer) -> None:
    storage(kube_api, "staging").save(sample_resolver("staging", "a.example.test"))
    storage(kube_api, "production").save(sample_resolver("production", "b.example.test"))
    assert set(stored_json(kube_api)) == {"staging", "production"}
    assert storage(kube_api, "staging").load().certificates[0].main == "a.example.test"
    assert storage(kube_api, "missing").load().certificates == []


class WriteBetween:
    """A SecretStore whose first write attempt has `other` write in between our read and our write.

    The interleaving two replicas hit by chance, made to happen every time: the real store, the real
    API server and its 409 decide what follows.
    """

    def __init__(self, store: SecretStore, other: Callable[[], None]) -> None:
        self.store = store
        self.other = other
        self.attempts = 0

    def load_bytes(self) -> bytes | None:
        return self.store.load_bytes()

    def describe(self) -> str:
        return self.store.describe()

    def update(self, fn: Callable[[bytes | None], bytes], /) -> object:
        def change(current: bytes | None) -> bytes:
            self.attempts += 1
            data = fn(current)
            if self.attempts == 1:
                self.other()
            return data

        return self.store.update(change)


def test_concurrent_writers_both_survive(kube_api: KubeAPIServer) -> None:
    one = storage(kube_api, "one")
    one.save(sample_resolver("one", "one.example.test"))
    writer_two = WriteBetween(
        SecretStore.from_spec(SPEC, connection(kube_api)),
        lambda: storage(kube_api, "three").save(sample_resolver("three", "three.example.test")),
    )
    two = BlobAcmeStorage(writer_two, "two")
    two.save(sample_resolver("two", "two.example.test"))

    # The first write of "two" met the write of "three": 409, read again, re-applied, written.
    assert writer_two.attempts == 2
    conflicts = [r for r in kube_api.request_log() if r.method == "PUT" and r.status == 409]
    assert len(conflicts) == 1
    assert set(stored_json(kube_api)) == {"one", "two", "three"}
    for name in ("one", "two", "three"):
        assert storage(kube_api, name).load().certificates[0].main == f"{name}.example.test"


def test_racing_threads_lose_no_resolver(kube_api: KubeAPIServer) -> None:
    names = [f"r{i}" for i in range(4)]
    stores = {name: storage(kube_api, name) for name in names}
    barrier = threading.Barrier(len(names))
    errors: list[BaseException] = []

    def save(name: str) -> None:
        try:
            barrier.wait(10)
            for round_ in range(3):
                stores[name].save(sample_resolver(name, f"{name}-{round_}.example.test"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert set(stored_json(kube_api)) == set(names)
    for name in names:
        assert storage(kube_api, name).load().certificates[0].main == f"{name}-2.example.test"


def test_a_corrupt_secret_is_never_overwritten(kube_api: KubeAPIServer) -> None:
    garbage = base64.b64encode(b'{"default": {"Account": ').decode()
    kube_api.apply(secret("acme", "ingressctl", data={"acme.json": garbage}))
    store = storage(kube_api)
    with pytest.raises(ConfigError, match=r"Secret ingressctl/acme \(key acme.json\).*not valid JSON"):
        store.load()
    with pytest.raises(ConfigError, match="not valid JSON"):
        store.save(sample_resolver("default", "a.example.test"))
    obj = kube_api.get("Secret", "ingressctl", "acme")
    assert obj is not None and obj["data"]["acme.json"] == garbage


def test_a_secret_not_fully_understood_is_never_overwritten(kube_api: KubeAPIServer) -> None:
    newer = {"default": {"Account": {"Email": "x@y", "Profile": "short"}, "Certificates": []}}
    data = base64.b64encode(json.dumps(newer).encode()).decode()
    kube_api.apply(secret("acme", "ingressctl", data={"acme.json": data}))
    store = storage(kube_api)
    with pytest.raises(ConfigError, match=r"default\.Account: unknown key 'Profile'.*will not overwrite it"):
        store.load()
    with pytest.raises(ConfigError, match="will not overwrite it"):
        store.save(sample_resolver("default", "a.example.test"))
    obj = kube_api.get("Secret", "ingressctl", "acme")
    assert obj is not None and obj["data"]["acme.json"] == data


def test_a_traefik_v1_secret_is_not_rewritten(kube_api: KubeAPIServer) -> None:
    v1 = base64.b64encode(json.dumps({"DomainsCertificate": {"Certs": []}, "Email": "x@y"}).encode()).decode()
    kube_api.apply(secret("acme", "ingressctl", data={"acme.json": v1}))
    with pytest.raises(ConfigError, match=r"traefik-v1 acme.json.*will not overwrite it"):
        storage(kube_api).save(sample_resolver("default", "a.example.test"))


def test_api_errors_become_config_errors_naming_the_secret(kube_api: KubeAPIServer) -> None:
    kube_api.add_token("reader", "reader")
    kube_api.set_rules([rule("reader", ["get"], ["secrets"])])
    store = storage(kube_api, token="reader")
    assert store.load().certificates == []  # may read (404: nothing stored yet) ...
    with pytest.raises(ConfigError) as caught:  # ... but not create
        store.save(sample_resolver("default", "a.example.test"))
    message = str(caught.value)
    assert message.startswith("ACME storage Secret ingressctl/acme (key acme.json): cannot write: ")
    assert "not allowed to create secrets" in message and "403" in message

    kube_api.stop()  # the API server is gone
    with pytest.raises(ConfigError, match=r"ACME storage Secret ingressctl/acme .*cannot read: "):
        storage_after = BlobAcmeStorage(store.store, "default")
        storage_after.load()


# ---------------------------------------------------------------------------------------- with the manager

proxy = manager_tests.proxy  # the fixture answering Pebble's challenges for the managers under test


async def test_manager_keeps_its_state_in_the_secret(
    pebble: Pebble,
    proxy: tuple[manager_tests.Served, list[CertificateManager]],
    kube_api: KubeAPIServer,
    tmp_path: Path,
) -> None:
    """Issue against Pebble with storage = "secret:..." wired as the server does; a restart reuses it."""
    served, managers = proxy
    config = dataclasses.replace(manager_tests._config(pebble, tmp_path / "unused.json"), storage=SPEC)
    with pytest.raises(ConfigError, match="Secret storage needs the kubernetes provider"):
        CertificateManager(config)  # no storage passed: the manager cannot reach a cluster by itself

    first = CertificateManager(config, on_certificate=served.on_certificate, storage=storage(kube_api))
    managers.append(first)
    await first.start()
    first.set_hosts({"kube.example.test"}, set())
    await served.wait(1)
    await first.stop()
    assert not (tmp_path / "unused.json").exists()
    stored = parse_acme_json(json.dumps(stored_json(kube_api)), "secret").resolver("default")
    assert stored is not None and stored.account is not None and stored.account.uri
    assert [c.main for c in stored.certificates] == ["kube.example.test"]
    assert stored.certificates[0].certificate == served.received[0][2]

    again = manager_tests.Served(workdir=tmp_path)
    second = CertificateManager(config, on_certificate=again.on_certificate, storage=storage(kube_api))
    managers.append(second)
    await second.start()
    # Published from the Secret at start: no new order, the same certificate.
    assert [(main, pem) for _, main, pem in again.received] == [("kube.example.test", served.received[0][2])]
    await second.stop()


async def test_the_ledger_in_a_secret_holds_the_caps_for_every_replica(
    pebble: Pebble,
    proxy: tuple[manager_tests.Served, list[CertificateManager]],
    kube_api: KubeAPIServer,
    tmp_path: Path,
) -> None:
    """An order placed by one replica (the former leader) counts for the next one: the ledger is a Secret."""
    served, managers = proxy

    def ledger_store() -> SecretStore:
        return SecretStore(connection(kube_api), "ingressctl", "acme-ratelimits", key="ratelimits.json")

    names = ["replica.example.test"]
    former_leader = RateLimitLedger(ledger_store())
    former_leader.begin_order(names, owner="replica-a")
    former_leader.finish_order(names, Outcome.VALID)  # and its certificate did not reach the storage
    config = AcmeConfig(
        email="ops@example.test",
        storage=SPEC,
        ca_server=pebble.directory_url,
        ca_bundle=str(pebble.api_ca),
        on_host_rule=True,
        orders_per_hour=1,
    )
    leader = CertificateManager(
        config, on_certificate=served.on_certificate, storage=storage(kube_api), ledger_store=ledger_store()
    )
    managers.append(leader)
    await leader.start()
    leader.set_hosts(set(names), set())
    await eventually(lambda: [c.status for c in leader.certificates()] == ["held"], "the order held back")
    (held,) = leader.certificates()
    assert "1 orders for this set of names in the last hour (cap 1)" in held.last_error
    assert served.received == []
    stored = kube_api.get("Secret", "ingressctl", "acme-ratelimits")
    assert stored is not None
    ledger = json.loads(base64.b64decode(stored["data"]["ratelimits.json"]))
    assert len(ledger["sets"]["replica.example.test"]["orders"]) == 1
