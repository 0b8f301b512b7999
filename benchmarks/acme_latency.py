"""New Ingress host → first HTTPS request that verifies against the CA's root, through `ingressctl serve`.

End to end, as a user sees it: a real Pebble (Let's Encrypt's test CA, Debian package `pebble`, started
here on free loopback ports through `tests/pebble.py`), the real `ingressctl serve` subprocess with a
Traefik-style traefik.toml (`[acme]` onHostRule, caServer = Pebble, caBundle = Pebble's API CA), and a
loopback backend. Each sample writes one new Ingress manifest (with `spec.tls` for its host) into the
watched directory and polls, every 20 ms, with a fresh TLS connection that trusts only Pebble's root
(management API `/roots/0`) and SNI = the new host, until a request answers 200 from the backend:
file poll + compile + table swap + ACME order (account registration on the first sample) + challenge
+ finalize + certificate store + handshake. Pebble runs without its random validation sleep
(PEBBLE_VA_NOSLEEP=1), as in docs/acme-testing.md. Traefik 3.7 needs 3.1–7.3 s for the same
with a fresh acme.json, 0.3–7.4 s with the account already stored (docs/acme-testing.md, section 6).

    .venv/bin/python -m benchmarks.acme_latency [--hosts 10] [--challenge http-01,tls-alpn-01]

Needs `/usr/bin/pebble` (apt-get install pebble); without it `run()` raises RuntimeError saying so.
"""

from __future__ import annotations

import argparse
import datetime
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.report import table
from tests.pebble import PEBBLE, pebble_lab
from tests.serve_acme.lab import Serve, acme_config, echo_backend, tls_ingress, wait_verified, write_manifest

TRAEFIK = {"http-01": "3.1–7.3 s (fresh), 0.3–7.4 s (account stored)", "tls-alpn-01": "5.2–12.3 s (fresh)"}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z")


def _logged_at(serve: Serve, pattern: str) -> float | None:
    """Wall-clock time of the first serve log line matching `pattern` (its timestamp, not when we read it)."""
    regex = re.compile(pattern)
    for line in list(serve.lines):
        stamp = _STAMP.match(line)
        if stamp and regex.search(line):
            parsed = datetime.datetime.fromisoformat(stamp.group(1)).replace(tzinfo=datetime.UTC)
            return parsed.timestamp()
    return None


def _measure(workdir: Path, challenge: str, hosts: int) -> dict[str, Any]:
    (workdir / "pebble").mkdir()
    with pebble_lab(workdir / "pebble") as (_dns, pebble), echo_backend() as backend:
        manifests = workdir / "manifests"
        manifests.mkdir()
        config = workdir / "traefik.toml"
        https = f"127.0.0.1:{pebble.tls_port}" if challenge == "tls-alpn-01" else "127.0.0.1:0"
        config.write_text(
            acme_config(
                pebble,
                workdir / "acme.json",
                challenge="tls" if challenge == "tls-alpn-01" else "http",
                https_address=https,
            )
        )
        root = pebble.root_file()
        serve = Serve.start(config, manifests)
        try:
            serve.wait_ready()
            address = serve.addresses["https"]
            samples: list[float] = []
            to_order: list[float] = []  # manifest written → order started (file poll, compile, table)
            ordering: list[float] = []  # order started → certificate in the store (ACME)
            for i in range(hosts):
                host = f"app{i}.{challenge.replace('-', '')}.example.test"
                written, written_wall = time.monotonic(), time.time()
                write_manifest(manifests, f"app{i}", tls_ingress(f"app{i}", host, backend))
                _, served = wait_verified(address, host, root, timeout=60, interval=0.02)
                samples.append(served - written)
                escaped = re.escape(host)
                requested = _logged_at(serve, rf"requesting a certificate for {escaped}\b")
                installed = _logged_at(serve, rf"ACME certificate for {escaped} installed")
                if requested is not None and installed is not None:
                    to_order.append(requested - written_wall)
                    ordering.append(installed - requested)
        finally:
            serve.stop()
    return {
        "challenge": challenge,
        "hosts": hosts,
        "first_s": samples[0],
        "p50_s": statistics.median(samples),
        "p90_s": _percentile(samples, 90),
        "max_s": max(samples),
        "min_s": min(samples),
        "to_order_p50_s": statistics.median(to_order) if to_order else None,
        "acme_p50_s": statistics.median(ordering) if ordering else None,
        "traefik": TRAEFIK.get(challenge, ""),
    }


def run(hosts: int = 10, challenges: tuple[str, ...] = ("http-01", "tls-alpn-01")) -> list[dict[str, Any]]:
    """One row per challenge type: time from writing the Ingress to the first verified HTTPS answer."""
    if not Path(PEBBLE).exists():
        raise RuntimeError(f"{PEBBLE} is missing: apt-get install pebble")
    rows = []
    for challenge in challenges:
        with tempfile.TemporaryDirectory(prefix="ingressctl-acme-bench-") as tmp:
            rows.append(_measure(Path(tmp), challenge, hosts))
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    headers = (
        "challenge",
        "hosts",
        "first (with account registration)",
        "p50",
        "p90",
        "max",
        "min",
        "p50 write → order",
        "p50 order → installed",
        "Traefik 3.7",
    )
    cells = (
        (
            r["challenge"],
            r["hosts"],
            *(
                _seconds(r[key])
                for key in ("first_s", "p50_s", "p90_s", "max_s", "min_s", "to_order_p50_s", "acme_p50_s")
            ),
            r["traefik"],
        )
        for r in rows
    )
    title = "### ACME: new Ingress host → first verified HTTPS answer (ingressctl serve + Pebble, onHostRule)"
    return "\n".join([title, "", *table(headers, cells, align="lrrrrrrrrl")])


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--challenge", default="http-01,tls-alpn-01")
    args = parser.parse_args()
    print(render(run(args.hosts, tuple(c for c in args.challenge.split(",") if c))), flush=True)


if __name__ == "__main__":
    main()
