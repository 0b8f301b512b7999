"""The Kubernetes provider: list and watch the API with the official client, publish whole Snapshots.

Rooms (each imports only those above it in this list):
- `resources`  TypedDicts of the raw API JSON read and written (the typed boundary);
- `kinds`, `backoff`, `errors`, `problems`  resource kinds and keys, back-off, one-line messages,
  problems logged once (pure);
- `client`     the connection and typed blocking calls: the only importer of `kubernetes`;
- `cache`      converted objects per stream, Snapshots built from them (pure);
- `address`    the address Ingress status publishes: flags, a Service, this pod's node (pure);
- `status`     finding this pod's node address, and the Ingress status writer;
- `watch`      list → watch → relist per kind and scope, in threads, typed events to the loop;
- `lease`      Lease-based leader election;  `secretstore`  ACME storage in a Secret;
- `provider`   the provider: streams → cache → Snapshots;
- `oneshot`    one LIST of everything for the CLI.

The names below stay importable from the package so callers need not know the rooms.
"""

from ingressctl.providers.kubernetes.address import PublishAddress
from ingressctl.providers.kubernetes.client import ApiError, Connection, KubeApi, StreamBroken, connect
from ingressctl.providers.kubernetes.lease import LeaderElector, unique_holder_identity
from ingressctl.providers.kubernetes.oneshot import list_snapshot, list_update
from ingressctl.providers.kubernetes.provider import KubernetesProvider
from ingressctl.providers.kubernetes.secretstore import SecretStore, StorageConflict
from ingressctl.providers.kubernetes.status import IngressState
from ingressctl.providers.kubernetes.watch import StreamSpec, Timing, stream_specs

__all__ = [
    "ApiError",
    "Connection",
    "IngressState",
    "KubeApi",
    "KubernetesProvider",
    "LeaderElector",
    "PublishAddress",
    "SecretStore",
    "StorageConflict",
    "StreamBroken",
    "StreamSpec",
    "Timing",
    "connect",
    "list_snapshot",
    "list_update",
    "stream_specs",
    "unique_holder_identity",
]
