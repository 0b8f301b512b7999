"""ACME storage in a Secret: bytes in one key, written only over the version last read (no lost updates)."""

from __future__ import annotations

import base64
from collections.abc import Callable

from ingressctl.model import ConfigError, IngressctlError
from ingressctl.providers.kubernetes.client import ApiError, Connection, KubeApi
from ingressctl.providers.kubernetes.resources import ObjectMeta, SecretObject


class StorageConflict(IngressctlError):
    """The Secret changed between our read and our write (another replica saved first)."""


class SecretStore:
    """Bytes kept in one key of one Secret, written only over the version last read (no lost updates).

    `secret:NAMESPACE/NAME` stores acme.json in Secret NAME, key `acme.json`. Blocking: call it from
    a thread. A Secret holds at most 1 MiB, which is room for a few hundred certificates.
    """

    def __init__(self, connection: Connection, namespace: str, name: str, key: str = "acme.json") -> None:
        self.api = KubeApi(connection)
        self.namespace = namespace
        self.name = name
        self.key = key
        self._version: str | None = None  # None: not read yet; "": read, did not exist

    @classmethod
    def from_spec(cls, spec: str, connection: Connection, key: str = "acme.json") -> SecretStore:
        rest = spec.removeprefix("secret:")
        namespace, sep, name = rest.partition("/")
        if not spec.startswith("secret:") or not sep or not namespace or not name or "/" in name:
            raise ConfigError(
                f"acme storage {spec!r}: expected secret:NAMESPACE/NAME (e.g. secret:ingressctl/acme)"
            )
        return cls(connection, namespace, name, key)

    def describe(self) -> str:
        return f"Secret {self.namespace}/{self.name} (key {self.key})"

    def load_bytes(self) -> bytes | None:
        try:
            secret = self.api.get_secret(self.namespace, self.name)
        except ApiError as exc:
            if exc.status == 404:
                self._version = ""
                return None
            raise
        self._version = str((secret.get("metadata") or {}).get("resourceVersion") or "")
        value = (secret.get("data") or {}).get(self.key)
        if value is None:
            return None
        return base64.b64decode(value)

    def save_bytes(self, data: bytes) -> None:
        """Write over what `load_bytes` read; StorageConflict if someone wrote in between."""
        if self._version is None:
            self.load_bytes()
        metadata: ObjectMeta = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": {"app.kubernetes.io/managed-by": "ingressctl"},
        }
        if self._version:
            metadata["resourceVersion"] = self._version
        body: SecretObject = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata,
            "type": "Opaque",
            "data": {self.key: base64.b64encode(data).decode()},
        }
        try:
            if self._version:
                saved = self.api.replace_secret(self.namespace, self.name, body)
            else:
                saved = self.api.create_secret(self.namespace, body)
        except ApiError as exc:
            if exc.status == 409:
                self._version = None
                raise StorageConflict(f"{self.describe()} changed since it was read: {exc}") from None
            raise
        self._version = str((saved.get("metadata") or {}).get("resourceVersion") or "")

    def update(self, change: Callable[[bytes | None], bytes], attempts: int = 5) -> bytes:
        """Read, change, write; on a conflict read again and re-apply `change` (it must be pure)."""
        for _ in range(attempts):
            data = change(self.load_bytes())
            try:
                self.save_bytes(data)
                return data
            except StorageConflict:
                continue
        raise StorageConflict(f"{self.describe()}: still conflicting after {attempts} attempts")
