"""Quick proxy comparison: ingressctl vs a plain aiohttp proxy (ClientSession), same run, same pinning.

    .venv/bin/python -m benchmarks.proxy_quick            # 3 scenarios, BENCH_DURATION s each, 1 round
    .venv/bin/python -m benchmarks.proxy_quick --plain-proxy HTTP_PORT HTTPS_PORT BACKEND_PORT CERT KEY

The plain proxy is the baseline of shared/docs/performance.md: a shared ClientSession, the response
body streamed back. `make bench` (proxy_bench) compares against Traefik; this one needs no download.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.proxy_bench import (
    HOST,
    SCENARIOS,
    Proxy,
    free_port,
    run_wrk,
    start_backend,
    start_ingressctl,
    wait_http,
)

DURATION = float(os.environ.get("BENCH_DURATION", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
ONLY = [n for n in os.environ.get("BENCH_SCENARIOS", "").split(",") if n]


def plain_proxy(http_port: int, https_port: int, backend_port: int, cert: str, key: str) -> None:
    import asyncio
    import ssl

    import aiohttp
    from aiohttp import web

    if os.environ.get("PLAIN_UVLOOP", "1") == "1":
        import uvloop

        uvloop.install()

    async def main() -> None:
        session = aiohttp.ClientSession(auto_decompress=False)
        base = f"http://127.0.0.1:{backend_port}"

        async def handler(request: web.BaseRequest) -> web.StreamResponse:
            async with session.request(
                request.method,
                base + request.raw_path,
                headers=request.headers,
                data=request.content if request.body_exists else None,
                allow_redirects=False,
            ) as upstream:
                resp = web.StreamResponse(status=upstream.status, headers=upstream.headers)
                await resp.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await resp.write(chunk)
                await resp.write_eof()
                return resp

        server = web.Server(handler, access_log=None)
        runner = web.ServerRunner(server)
        await runner.setup()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        await web.TCPSite(runner, "127.0.0.1", http_port).start()
        await web.TCPSite(runner, "127.0.0.1", https_port, ssl_context=ctx).start()
        await asyncio.Event().wait()

    asyncio.run(main())


def start_ingressctl_lean(work: Path, backend_port: int) -> Proxy:
    """`serve` through serve_cmd.main_fast (what `python -m ingressctl serve` could dispatch to)."""
    import benchmarks.proxy_bench as pb

    shim = work / "python-lean"
    shim.write_text(
        "#!/bin/sh\n"
        "# called as: python-lean -m ingressctl serve ARGS...\n"
        "shift 3\n"
        f'exec {sys.executable} -c "import sys; from ingressctl.cli.serve_cmd import main_fast; '
        'sys.exit(main_fast(sys.argv[1:]))" "$@"\n'
    )
    shim.chmod(0o755)
    real = pb.sys.executable
    pb.sys.executable = str(shim)
    try:
        proxy = start_ingressctl(work, backend_port)
    finally:
        pb.sys.executable = real
    proxy.name = "ingressctl-lean"
    return proxy


def start_plain(work: Path, backend_port: int) -> Proxy:
    from ingressctl.tls.selfsigned import generate_default_certificate

    cert, key = generate_default_certificate()
    (work / "cert.pem").write_bytes(cert)
    (work / "key.pem").write_bytes(key)
    http_port, https_port = free_port(), free_port()
    cmd = [
        "taskset",
        "-c",
        "1",
        sys.executable,
        "-m",
        "benchmarks.proxy_quick",
        "--plain-proxy",
        str(http_port),
        str(https_port),
        str(backend_port),
        str(work / "cert.pem"),
        str(work / "key.pem"),
    ]
    proc = subprocess.Popen(cmd)
    wait_http(f"http://127.0.0.1:{http_port}/")
    return Proxy("plain-aiohttp", proc, http_port, https_port)


def run() -> None:
    with tempfile.TemporaryDirectory(prefix="ingressctl-quick-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx workers run as www-data when started by root
        backend, backend_port = start_backend(work)
        proxies: list[Proxy] = []
        try:
            (work / "i").mkdir()
            (work / "p").mkdir()
            proxies = [start_ingressctl(work / "i", backend_port), start_plain(work / "p", backend_port)]
            if os.environ.get("BENCH_LEAN") == "1":
                (work / "l").mkdir()
                proxies.append(start_ingressctl_lean(work / "l", backend_port))
            scenarios = [s for s in SCENARIOS if not ONLY or s in ONLY]
            for proxy in proxies:
                for scenario in scenarios:
                    run_wrk(proxy, scenario, 1)
            for _ in range(ROUNDS):
                for scenario in scenarios:
                    for proxy in proxies:
                        proxy.results.setdefault(scenario, []).append(run_wrk(proxy, scenario, DURATION))
            rows = []
            for scenario in scenarios:
                cells = []
                for proxy in proxies:
                    res = proxy.results[scenario]
                    rps = statistics.median(r["rps"] for r in res)
                    mbps = statistics.median(r["mbps"] for r in res)
                    p99 = statistics.median(r["p99_ms"] for r in res)
                    cpu = statistics.median(r["cpu_us_per_req"] for r in res)
                    errs = sum(r["errors"] for r in res)
                    cells.append((proxy.name, rps, mbps, p99, cpu, errs))
                rows.append((scenario, cells))
            print(f"host {HOST}, {DURATION:g}s x {ROUNDS} rounds; wrk+nginx on CPU 0, proxy on CPU 1")
            print("| scenario | proxy | req/s | MB/s | p99 ms | CPU us/req | errors | ratio req/s |")
            print("|---|---|---|---|---|---|---|---|")
            for scenario, cells in rows:
                base = cells[1][1]
                for name, rps, mbps, p99, cpu, errs in cells:
                    print(
                        f"| {scenario} | {name} | {rps:.0f} | {mbps:.0f} | {p99:.1f} | {cpu:.0f} "
                        f"| {errs:.0f} | {rps / base:.2f} |"
                    )
            for proxy in proxies:
                print(f"peak RSS {proxy.name}: {proxy.rss():.1f} MB")
        finally:
            for proxy in proxies:
                proxy.stop()
            backend.terminate()
            backend.wait(10)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--plain-proxy":
        a = sys.argv[2:]
        plain_proxy(int(a[0]), int(a[1]), int(a[2]), a[3], a[4])
    else:
        run()
