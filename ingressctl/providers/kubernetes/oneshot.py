"""One LIST of everything, for the CLI (`routes --kubernetes`, `validate --kubernetes`, `serve --check`).

The same streams, the same listing and the same EndpointSlice → Endpoints fallback as the watch
(`watch.list_stream_once`), folded into the same Cache: what the CLI reports is what `serve` would see.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ingressctl.model import InputError, Snapshot
from ingressctl.model.config import KubernetesConfig
from ingressctl.providers.base import ProviderUpdate
from ingressctl.providers.kubernetes.cache import Cache
from ingressctl.providers.kubernetes.client import TRANSPORT_ERRORS, ApiError, Connection, StreamBroken
from ingressctl.providers.kubernetes.errors import describe_transport_error
from ingressctl.providers.kubernetes.provider import KubernetesProvider
from ingressctl.providers.kubernetes.watch import Timing, list_stream_once, stream_specs

log = logging.getLogger(__package__)  # one logger for the whole provider


def list_update(
    config: KubernetesConfig,
    *,
    namespaces: Sequence[str] | None = None,
    label_selector: str | None = None,
    serviceaccount_dir: str | None = None,
    timing: Timing | None = None,
    connection: Connection | None = None,
    gateway: bool = False,
) -> ProviderUpdate:
    """LIST everything once (for `routes --kubernetes` / `validate --kubernetes`). Raises InputError.

    gateway: the Gateway API kinds too; a cluster without their CRDs (404) has none of them.
    """
    provider = KubernetesProvider(
        config,
        namespaces=namespaces,
        label_selector=label_selector,
        serviceaccount_dir=serviceaccount_dir,
        timing=timing,
        connection=connection,
        gateway=gateway,
    )
    api = provider.api()
    cache = Cache()
    refused: list[str] = []
    for spec in stream_specs(provider.namespaces, provider.label_selector, gateway=gateway):
        try:
            listing = list_stream_once(api, spec)
        except ApiError as exc:
            if not (
                (spec.kind.custom and exc.status == 404) or (spec.kind.may_be_refused and exc.status == 403)
            ):
                raise InputError(f"kubernetes: {exc}") from None
            if exc.status == 403:  # the Ingress side is still worth reading: said once all is read
                refused.append(str(exc))
            cache.add_stream(spec.id, spec.kind)  # 404: the CRD is not installed, no such objects
            cache.replace(spec.id, ())
            continue
        except StreamBroken as exc:
            raise InputError(f"kubernetes: {exc}") from None
        except TRANSPORT_ERRORS as exc:
            message = describe_transport_error("list", spec.kind.qualified, api.endpoint, exc)
            raise InputError(f"kubernetes: {message}") from None
        cache.add_stream(spec.id, listing.kind)
        cache.replace(spec.id, listing.items)
    for message in refused:
        log.warning("kubernetes: %s; those objects are not read", message)
    snapshot, diagnostics = cache.snapshot()
    return ProviderUpdate("kubernetes", snapshot, diagnostics)


def list_snapshot(
    config: KubernetesConfig,
    *,
    namespaces: Sequence[str] | None = None,
    label_selector: str | None = None,
    serviceaccount_dir: str | None = None,
    timing: Timing | None = None,
    connection: Connection | None = None,
    gateway: bool = False,
) -> Snapshot:
    """The Snapshot `list_update` reads (without the loader's diagnostics)."""
    return list_update(
        config,
        namespaces=namespaces,
        label_selector=label_selector,
        serviceaccount_dir=serviceaccount_dir,
        timing=timing,
        connection=connection,
        gateway=gateway,
    ).snapshot
