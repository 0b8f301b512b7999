"""Loading in several processes gives exactly what loading in one does: objects, order, findings,
locations, skipped kinds; and a worker that fails costs nothing but time."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from ingressctl.manifests import LoadResult, load_paths, loader, parallel
from ingressctl.manifests.loader import load_parallel, load_serial, read_inputs
from ingressctl.manifests.parallel import (
    MIN_BYTES,
    Claims,
    StreamingWorker,
    Worker,
    available_processes,
    dumps,
    reading_processes,
)
from ingressctl.model import Location

ROOT = Path(__file__).resolve().parents[2]
FINDINGS = Path(__file__).resolve().parent / "fixtures" / "findings"

_APP = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app-{i}
  namespace: team-{ns}
  annotations:
    traefik.ingress.kubernetes.io/router.entrypoints: web
spec:
  tls:
    - hosts: [app-{i}.example.test]
      secretName: app-{i}-tls
  rules:
    - host: app-{i}.example.test
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: app-{i}
                port:
                  number: 80
---
apiVersion: v1
kind: Service
metadata:
  name: app-{i}
  namespace: team-{ns}
spec:
  ports:
    - name: http
      port: 80
      targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings-{i}}}
"""


def _manifests(directory: Path, app_files: int = 12) -> Path:
    """A tree of more than 20 files: every finding fixture, the examples, and generated apps."""
    shutil.copytree(FINDINGS, directory / "findings")
    for example in ("v1", "v1beta1"):
        shutil.copytree(ROOT / "examples" / example, directory / "examples" / example)
    apps = directory / "apps"
    apps.mkdir()
    for n in range(app_files):
        (apps / f"apps-{n:02d}.yaml").write_text(
            "---\n".join(_APP.format(i=n * 10 + i, ns=i % 3) for i in range(10))
        )
    # A file the fast reader declines (anchors) and one the API would send (a typed list).
    (apps / "anchors.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: shared, namespace: team-0, labels: &l {app: a}}\n"
        "spec:\n  selector: *l\n  ports: [{port: 80}]\n"
    )
    (apps / "list.yaml").write_text(
        "apiVersion: v1\nkind: ServiceList\nitems:\n"
        "  - metadata: {name: listed, namespace: team-1}\n    spec:\n      ports:\n        - port: 8080\n"
        "  - metadata: {name: broken, namespace: team-1}\n    spec: {ports: [{port: x}]}\n"
    )
    return directory


def _same(one: LoadResult, other: LoadResult) -> None:
    assert other.snapshot == one.snapshot
    for group in ("ingresses", "services", "endpoint_slices", "endpoints", "secrets", "ingress_classes"):
        assert [o for o in getattr(other.snapshot, group)] == [o for o in getattr(one.snapshot, group)]
    assert other.diagnostics == one.diagnostics
    assert other.files == one.files
    assert other.documents == one.documents
    assert list(other.skipped.items()) == list(one.skipped.items())


@pytest.mark.parametrize("processes", [2, 3, 7])
def test_parallel_load_equals_sequential(tmp_path: Path, processes: int) -> None:
    inputs = read_inputs([str(_manifests(tmp_path))])
    assert len(inputs) >= 20
    sequential = load_serial(inputs)
    parallel = load_parallel(inputs, processes, min_bytes=0)
    _same(sequential, parallel)
    assert sequential.diagnostics, "the fixtures hold findings: they must come through the workers"
    assert sequential.skipped.get("ConfigMap") == 120

    # Field locations of objects another process read are found by reading the file again.
    for ours, theirs in zip(sequential.snapshot.ingresses, parallel.snapshot.ingresses, strict=True):
        for path in [(), ("spec", "rules", 0, "host"), ("spec", "tls", 0, "secretName"), ("metadata", "x")]:
            assert parallel.location_of(theirs, *path) == sequential.location_of(ours, *path)
    last = next(ing for ing in parallel.snapshot.ingresses if ing.meta.name == "app-119")
    host = parallel.location_of(last, "spec", "rules", 0, "host")
    assert isinstance(host, Location) and host.file.endswith("apps-11.yaml") and host.line > 200


def test_public_api_parallel_flag(tmp_path: Path) -> None:
    directory = str(_manifests(tmp_path, app_files=80))
    assert sum(len(text) for _, text in read_inputs([directory])) >= MIN_BYTES  # large enough to fork
    _same(load_paths([directory]), load_paths([directory], parallel=True))


def test_validate_cli_same_report_on_one_cpu(tmp_path: Path) -> None:
    """`validate` reads in parallel; pinned to one CPU it reads sequentially: the reports are equal."""
    directory = str(_manifests(tmp_path, app_files=80))
    assert sum(len(text) for _, text in read_inputs([directory])) >= MIN_BYTES  # large enough to fork
    command = [sys.executable, "-m", "ingressctl", "validate", directory, "--format", "json"]
    spread = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    pinned = subprocess.run(["taskset", "-c", "0", *command], capture_output=True, text=True, timeout=120)
    assert spread.returncode == pinned.returncode == 1
    assert spread.stdout == pinned.stdout
    assert '"IC001"' in spread.stdout and "anchors.yaml" not in spread.stdout


def test_failed_worker_gives_none() -> None:
    def boom() -> object:
        raise RuntimeError("a bug in a worker")

    assert Worker(boom).result() is None
    assert Worker(lambda: ("fine", 1)).result() == ("fine", 1)


@pytest.mark.timeout(60)
def test_cancelled_worker_exits() -> None:
    """A caller that fails before reading the answer does not leave a worker blocked on the pipe."""
    worker = Worker(lambda: "x" * 10_000_000)  # far more than a pipe holds
    worker.cancel()  # returns once the worker has exited
    with pytest.raises(ChildProcessError):
        os.waitpid(worker.pid, 0)


def test_streaming_worker_sends_every_value_in_order() -> None:
    """Values taken in between (poll) and at the end (finish) add up to what the task yielded,
    including values larger than a pipe holds."""
    values = [("small", 1), "x" * 3_000_000, list(range(100_000)), None, {"last": b"\x00" * 10}]
    worker = StreamingWorker(lambda: iter(values))
    for _ in range(3):
        worker.poll()
    assert worker.finish() == values


def test_streaming_worker_that_fails_half_way_gives_none() -> None:
    def task() -> Iterator[object]:
        yield "a first value"
        raise RuntimeError("a bug in a worker")

    worker = StreamingWorker(task)
    worker.poll()
    assert worker.finish() is None


@pytest.mark.timeout(60)
def test_cancelled_streaming_worker_exits() -> None:
    worker = StreamingWorker(lambda: iter(["x" * 10_000_000, "y"]))  # far more than a pipe holds
    worker.cancel()
    with pytest.raises(ChildProcessError):
        os.waitpid(worker.pid, 0)


def _lingering(code: int) -> NoReturn:
    """A worker's end that takes long (as freeing a large heap does): it waits to be killed."""
    time.sleep(600)
    os._exit(code)


@pytest.mark.timeout(120)
def test_an_answer_is_used_before_its_worker_has_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker forked from a large heap takes tens of milliseconds to end once it has answered:
    its answer, whole, is used at once, and the worker is collected later without waiting."""
    monkeypatch.setattr(parallel, "_leave", _lingering)
    workers: list[int] = []
    try:
        worker = Worker(lambda: ("answer", 1))
        workers.append(worker.pid or 0)
        assert worker.result() == ("answer", 1)
        streaming = StreamingWorker(lambda: iter(["a", None, "c"]))
        workers.append(streaming.pid or 0)
        assert streaming.finish() == ["a", None, "c"]
        for pid in workers:
            assert os.waitpid(pid, os.WNOHANG) == (0, 0), "the worker has not ended yet"
    finally:
        for pid in workers:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


def test_fast_pickle_round_trips_model_objects(tmp_path: Path) -> None:
    import pickle

    loaded = load_paths([str(_manifests(tmp_path))])
    data = (loaded.snapshot, loaded.diagnostics)
    assert pickle.loads(dumps(data)) == data


def test_model_objects_are_rebuilt_by_the_builders_of_the_receiving_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a worker sends is rebuilt with `ingressctl.model.builders` (the fast ones once
    speed_up_model has run) instead of calling each class: the same objects, cheaper to unpickle."""
    import pickle

    from ingressctl.model import builders

    loaded = load_paths([str(_manifests(tmp_path))])
    data = dumps(loaded.snapshot)
    made: dict[str, int] = {}

    def counting(name: str, build: object) -> object:
        def builder(*fields: object) -> object:
            made[name] = made.get(name, 0) + 1
            return build(*fields)  # type: ignore[operator]

        return builder

    for name in builders.BUILT:
        monkeypatch.setattr(builders, name, counting(name, getattr(builders, name)))
    assert pickle.loads(data) == loaded.snapshot
    ingresses, services = len(loaded.snapshot.ingresses), len(loaded.snapshot.services)
    assert made["ingress"] == ingresses and made["service"] == services and made["endpoint_slice"] > 0
    assert made["location"] > ingresses and made["object_meta"] >= ingresses + services


def test_reading_processes_by_size() -> None:
    assert reading_processes([10] * 5, 2) == 1  # small input: one process
    assert reading_processes([10] * 5, 2, min_bytes=0) == 2
    assert reading_processes([100_000] * 40, 2) == 2
    assert reading_processes([100_000] * 40, 1) == 1
    assert reading_processes([3_000_000, 3_000_000], 8) == 2  # never more processes than files
    assert reading_processes([3_000_000], 8) == 1
    assert reading_processes([MIN_BYTES // 2 - 1, MIN_BYTES // 2], 2) == 1
    assert reading_processes([MIN_BYTES // 2, MIN_BYTES // 2], 2) == 2
    assert available_processes() >= 1


def test_claims_hand_out_each_number_once_across_processes() -> None:
    """Processes taking numbers at the same time get every number exactly once between them."""
    claims = Claims(Claims.LIMIT)

    def take_all() -> list[int]:
        taken = []
        while (number := claims.take()) is not None:
            taken.append(number)
        return taken

    workers = [Worker(take_all) for _ in range(3)]
    here = take_all()
    claims.close()
    theirs = [worker.result() for worker in workers]
    assert all(isinstance(numbers, list) for numbers in theirs)
    everything = sorted(here + [n for numbers in theirs for n in numbers])
    assert everything == list(range(Claims.LIMIT))
    with pytest.raises(ValueError):
        Claims(Claims.LIMIT + 1)
    empty = Claims(0)
    assert empty.take() is None
    empty.close()


def test_many_files_are_taken_in_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """More files than Claims holds numbers: processes take runs of files, same result."""
    inputs = read_inputs([str(_manifests(tmp_path))])
    monkeypatch.setattr(Claims, "LIMIT", 7)
    assert len(loader._runs(len(inputs))) <= 7
    _same(load_serial(inputs), load_parallel(inputs, 3, min_bytes=0))


def test_failed_reading_worker_costs_only_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that fails after taking files (half-way through its second one): the parent reads
    whatever that worker took, and the result is the same."""
    inputs = read_inputs([str(_manifests(tmp_path))])
    real = loader._read_claimed

    taken = tmp_path / "taken-by-the-worker"

    def failing(*args: object) -> Iterator[object]:
        pieces = real(*args)  # type: ignore[arg-type]
        first = next(pieces)
        yield first
        second = next(pieces)  # takes a second run, then dies before sending it
        taken.write_text(f"{first[0]} {second[0]}")  # type: ignore[index]
        raise RuntimeError("a bug in a worker")

    monkeypatch.setattr(loader, "_read_claimed", failing)
    told: list[tuple[int, int]] = []
    parallel = load_parallel(inputs, 2, min_bytes=0, on_files=lambda done, total: told.append((done, total)))
    _same(load_serial(inputs), parallel)
    assert len(taken.read_text().split()) == 2, "the worker took two runs before failing"
    assert told[0] == (0, len(inputs)) and told[-1] == (len(inputs), len(inputs))


@pytest.mark.parametrize("processes", [1, 2])
def test_meanwhile_runs_once_here_while_the_workers_read(tmp_path: Path, processes: int) -> None:
    """`validate` imports the compiler in `meanwhile`: once, in this process, after the reading
    workers started (they read while it runs), and the result is unchanged."""
    inputs = read_inputs([str(_manifests(tmp_path))])
    calls: list[tuple[int, int]] = []
    forked = 0
    real_fork = os.fork

    def counting_fork() -> int:
        nonlocal forked
        forked += 1
        return real_fork()

    def meanwhile() -> None:
        calls.append((os.getpid(), forked))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fork", counting_fork)
        parallel = load_parallel(inputs, processes, min_bytes=0, meanwhile=meanwhile)
    assert calls == [(os.getpid(), processes - 1)]
    _same(load_serial(inputs), parallel)


def test_the_compiler_is_not_loaded_before_the_reading_worker_forks(tmp_path: Path) -> None:
    """`validate` on a large input forks its reading worker before it imports the compiler and
    the rules (the worker does not need them; they load while it reads)."""
    directory = str(_manifests(tmp_path, app_files=80))
    probe = (
        "import os, sys\n"
        "real_fork = os.fork\n"
        "def fork():\n"
        "    if not hasattr(sys, 'loaded_at_fork'):\n"
        "        sys.loaded_at_fork = sorted(m for m in sys.modules if m.startswith('ingressctl.'))\n"
        "        print('LOADED', *sys.loaded_at_fork, file=sys.stderr, flush=True)\n"
        "    return real_fork()\n"
        "os.fork = fork\n"
        f"sys.argv = ['ingressctl', 'validate', {directory!r}, '--format', 'json']\n"
        "from ingressctl.cli.entry import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1, done.stderr
    line = next(line for line in done.stderr.splitlines() if line.startswith("LOADED "))
    loaded = set(line.split()[1:])
    assert "ingressctl.manifests.loader" in loaded
    assert not loaded & {"ingressctl.routing.compiler", "ingressctl.checks.runner", "ingressctl.checks.lint"}
    assert '"IC001"' in done.stdout


def test_no_process_to_spare_costs_only_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fork() refused (memory, a limit on processes): the workers are failed ones, and this
    process does their work."""

    def refused() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    inputs = read_inputs([str(_manifests(tmp_path))])
    sequential = load_serial(inputs)
    monkeypatch.setattr(os, "fork", refused)
    assert Worker(lambda: 42).result() is None
    streaming = StreamingWorker(lambda: iter([1, 2]))
    streaming.poll()
    assert streaming.finish() is None
    Worker(lambda: 42).cancel()
    StreamingWorker(lambda: iter([1])).cancel()
    _same(sequential, load_parallel(inputs, 2, min_bytes=0))
