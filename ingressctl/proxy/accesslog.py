"""Access log lines (Common Log Format extended with router/service/upstream/duration, or JSON)."""

from __future__ import annotations

import logging
import time

from ingressctl.logging_setup import ACCESS_LOGGER_NAME, AccessRecord, format_access


class AccessLog:
    """Writes one line per request to the `ingressctl.access` logger."""

    __slots__ = ("_fmt", "_logger")

    def __init__(self, fmt: str = "common", logger: logging.Logger | None = None) -> None:
        if fmt not in ("common", "json"):
            raise ValueError(f"unknown access log format {fmt!r} (use common or json)")
        self._fmt = fmt
        self._logger = logger or logging.getLogger(ACCESS_LOGGER_NAME)

    def log(
        self,
        *,
        remote: str,
        method: str,
        target: str,
        version: str,
        status: int,
        size: int,
        referer: str,
        user_agent: str,
        user: str,
        entrypoint: str,
        router: str,
        service: str,
        upstream: str,
        duration: float,
        host: str,
    ) -> None:
        record = AccessRecord(
            time=time.time(),
            remote=remote,
            method=method,
            target=target,
            protocol=version,
            status=status,
            size=size,
            duration=duration,
            entrypoint=entrypoint,
            host=host,
            router=router,
            service=service,
            upstream=upstream,
            user=user,
            referer=referer,
            user_agent=user_agent,
        )
        self._logger.info(format_access(record, self._fmt))
