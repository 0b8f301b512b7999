"""Validate/compile throughput on generated manifests, and RoutingTable.match() latency.

Reference: kubeconform's published rate is about 7,500 objects/s; the target is to beat it with the
whole `ingressctl validate` CLI (process start included), and to keep match() under 5 µs whatever the
table size.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

from benchmarks.generate import write_manifests
from benchmarks.report import table
from ingressctl.manifests.parallel import available_processes

KUBECONFORM_OBJECTS_PER_SECOND = 7500.0
TARGET_OBJECTS_PER_SECOND = 2 * KUBECONFORM_OBJECTS_PER_SECOND
# CLI runs per size: the machine is shared, so the table gives the best and the median run.
RUNS = 3


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# `python -m ingressctl validate …`, plus one stderr line with the CPU seconds of the main process
# alone (forked workers leave with os._exit and never print it).
_CLI_WITH_OWN_CPU = """
import atexit, os, resource, sys
def own_cpu(pid=os.getpid()):
    if os.getpid() == pid:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(f"own-cpu-s {usage.ru_utime + usage.ru_stime}", file=sys.stderr, flush=True)
atexit.register(own_cpu)
sys.argv = ["ingressctl", *sys.argv[1:]]
from ingressctl.cli.entry import main
main()
"""


def _installed_env(pycache: Path) -> dict[str, str]:
    """The environment of an installed copy, which has its bytecode (pip and the image compile it):
    with PYTHONDONTWRITEBYTECODE set, as in this machine's environment, every run would compile
    every module it imports again (about 0.15 s of the main process, before its worker forks). The
    bytecode goes to a temporary prefix (as in validate_startup.py)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _validate_cli(directory: Path, env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the process and its workers, CPU seconds of the main process)
    of one `validate` run.

    On a shared machine wall time depends on the other load; the CPU times do not. The main process
    runs from start to finish (the workers run beside it), so on an idle machine the wall time is at
    least max(its CPU, all the CPU / cores): `objects / that` is the best rate this run allows, the
    figure to compare before and after a change on a busy machine.
    """
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CLI_WITH_OWN_CPU, "validate", str(directory), "--format", "json"],
        capture_output=True,
        timeout=600,
        check=False,
        env=env,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"validate failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    own = next(
        float(line.split()[1]) for line in proc.stderr.decode().splitlines() if line.startswith("own-cpu-s ")
    )
    return elapsed, _children_cpu() - cpu, own


def _in_process(directory: Path) -> tuple[float, float, object]:
    from ingressctl.manifests import load_paths
    from ingressctl.routing import compile as compile_routes
    from ingressctl.routing.options import CompileOptions

    t0 = time.perf_counter()
    loaded = load_paths([str(directory)], parallel=True)  # as `validate` reads
    t1 = time.perf_counter()
    table, _ = compile_routes(loaded.snapshot, CompileOptions())
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, table


def _match_us(table: object, hosts: list[str]) -> float:
    match = table.match  # type: ignore[attr-defined]
    n = len(hosts)
    counter = iter(range(10**9))

    def one() -> None:
        i = next(counter) % n
        match(hosts[i], "/api/v1/items")

    number = 200_000
    best = min(timeit.repeat(one, number=number, repeat=3))
    return best / number * 1e6


def run() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for count in (1_000, 10_000):
        with tempfile.TemporaryDirectory(prefix="ingressctl-bench-") as tmp:
            directory = Path(tmp)
            objects = write_manifests(directory, count)
            load_before = os.getloadavg()[0]
            env = _installed_env(Path(tmp) / ".pycache")  # a dot: validate does not walk it
            _validate_cli(directory, env)  # writes the bytecode
            runs = [_validate_cli(directory, env) for _ in range(RUNS)]
            walls = [run[0] for run in runs]
            wall = statistics.median(walls)
            cpu = min(run[1] for run in runs)
            own_cpu = min(run[2] for run in runs)
            bound = max(own_cpu, cpu / max(1, available_processes()))
            load_s, compile_s, table = _in_process(directory)
            hosts = [f"app-{i}.example.test" for i in range(0, count, max(1, count // 1000))]
            match_us = _match_us(table, hosts)
            rows.append(
                {
                    "ingresses": count,
                    "objects": objects,
                    "validate_cli_s": wall,
                    "validate_cpu_s": cpu,
                    "objects_per_s": objects / wall,
                    "objects_per_s_best": objects / min(walls),
                    "load_average": (load_before + os.getloadavg()[0]) / 2,
                    "vs_kubeconform": objects / wall / KUBECONFORM_OBJECTS_PER_SECOND,
                    "main_cpu_s": own_cpu,
                    "objects_per_s_cpu_bound": objects / bound,
                    "load_s": load_s,
                    "compile_s": compile_s,
                    "match_us": match_us,
                }
            )
    # match() on a one-route table, to show it does not grow with the table
    from ingressctl.model import ObjectRef, PathType, Route, RouteBackend
    from ingressctl.model.routes import HostKind
    from ingressctl.routing import RoutingTable

    route = Route(
        id="bench/one#r0p0",
        host="app-0.example.test",
        host_kind=HostKind.EXACT,
        path="/",
        path_type=PathType.PREFIX,
        backend=RouteBackend("bench", "one", "80"),
        source=ObjectRef("Ingress", "bench", "one"),
    )
    rows.append({"ingresses": 1, "match_us": _match_us(RoutingTable([route]), ["app-0.example.test"])})
    return rows


def render(rows: list[dict[str, object]]) -> str:
    def cells(r: dict[str, Any]) -> tuple[object, ...]:
        if "objects" not in r:  # a match-only row
            return (r["ingresses"], *("–" * 11), f"{r['match_us']:.2f}")
        return (
            r["ingresses"],
            r["objects"],
            f"{r['validate_cli_s']:.2f}",
            f"{r['objects_per_s']:.0f}",
            f"{r['objects_per_s_best']:.0f}",
            f"{r['vs_kubeconform']:.2f}×",
            f"{r['objects_per_s_cpu_bound']:.0f}",
            f"{r['load_average']:.1f}",
            *(f"{r[key]:.2f}" for key in ("validate_cpu_s", "main_cpu_s", "load_s", "compile_s", "match_us")),
        )

    headers = (
        "Ingresses",
        "objects",
        f"validate CLI (s, median of {RUNS})",
        "objects/s (median)",
        "objects/s (best)",
        "× kubeconform 7.5k/s",
        f"objects/s idle bound (CPU; target ≥ {TARGET_OBJECTS_PER_SECOND:.0f})",
        "load average",
        "CPU user+sys (s)",
        "main process CPU (s)",
        "load (s)",
        "compile (s)",
        "match() µs",
    )
    title = "## Validate / compile / match"
    return "\n".join([title, "", *table(headers, (cells(r) for r in rows))])


if __name__ == "__main__":
    print(render(run()))
